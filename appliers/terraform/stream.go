package terraform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/redact"
)

// applyStream reads `terraform apply -json` output line by line: it reports
// finished resources to the observer, keeps error diagnostics for the error
// message, and takes the outputs from the final "outputs" message.
type applyStream struct {
	obs     appliers.Observer
	red     *redact.Redactor // masks the observer's steps
	buf     bytes.Buffer
	diags   []string
	outputs map[string]appliers.Output
	// needFetch: an output is sensitive, and its value is left out of the
	// stream; `terraform output -json` has it.
	needFetch bool
}

// uiMessage is the part of Terraform's machine-readable UI messages used here.
type uiMessage struct {
	Type    string `json:"type"`
	Message string `json:"@message"`
	Level   string `json:"@level"`
	Hook    struct {
		Resource struct {
			Addr string `json:"addr"`
		} `json:"resource"`
		Action string `json:"action"`
	} `json:"hook"`
	Diagnostic *struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
		Address  string `json:"address"`
		Range    *struct {
			Filename string `json:"filename"`
			Start    struct {
				Line int `json:"line"`
			} `json:"start"`
		} `json:"range"`
	} `json:"diagnostic"`
	Outputs map[string]struct {
		Sensitive bool            `json:"sensitive"`
		Type      json.RawMessage `json:"type"`
		Value     json.RawMessage `json:"value"`
	} `json:"outputs"`
}

func (s *applyStream) Write(p []byte) (int, error) {
	s.buf.Write(p)
	for {
		i := bytes.IndexByte(s.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := s.buf.Next(i + 1)
		s.line(line)
	}
	return len(p), nil
}

func (s *applyStream) flush() {
	if s.buf.Len() > 0 {
		s.line(s.buf.Bytes())
		s.buf.Reset()
	}
}

func (s *applyStream) line(line []byte) {
	var m uiMessage
	if err := json.Unmarshal(bytes.TrimSpace(line), &m); err != nil {
		return
	}
	switch m.Type {
	case "apply_complete", "apply_errored":
		if s.obs != nil && m.Message != "" {
			s.obs.Step(s.red.String(m.Message))
		}
	case "diagnostic":
		if d := m.Diagnostic; d != nil && d.Severity == "error" {
			var b strings.Builder
			fmt.Fprintf(&b, "Error: %s", d.Summary)
			if d.Range != nil {
				fmt.Fprintf(&b, "\n  on %s line %d", d.Range.Filename, d.Range.Start.Line)
			}
			if d.Address != "" {
				fmt.Fprintf(&b, " (%s)", d.Address)
			}
			if d.Detail != "" {
				b.WriteString("\n" + d.Detail)
			}
			s.diags = append(s.diags, b.String())
		}
	case "outputs":
		s.outputs = make(map[string]appliers.Output, len(m.Outputs))
		for k, o := range m.Outputs {
			if o.Sensitive && o.Value == nil {
				s.needFetch = true
			}
			s.outputs[k] = appliers.Output{Value: o.Value, Type: o.Type, Sensitive: o.Sensitive}
		}
	}
}

// joinDiagnostics adds the diagnostics of a JSON stream (where Terraform
// writes them instead of stderr) to a command's error.
func joinDiagnostics(err error, diags []string) error {
	if len(diags) == 0 || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%s\n%w", strings.Join(diags, "\n\n"), err)
}

// lineLogger logs each line written to it at debug level (a redact.Writer
// hands it one masked line per Write).
type lineLogger struct {
	log    *slog.Logger
	stream string
}

func (l lineLogger) Write(p []byte) (int, error) {
	if line := strings.TrimRight(string(p), "\r\n"); strings.TrimSpace(line) != "" {
		l.log.Debug("terraform output", "stream", l.stream, "line", line)
	}
	return len(p), nil
}
