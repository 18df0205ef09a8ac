package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// LogBuffer is an io.Writer that many goroutines may write to at once (a
// daemon's slog handler), read back with String.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// CheckJSONLines reports every line of logs that is not one JSON object,
// or that holds a key twice at its top level (slog writes duplicates when
// a logger gets the same attribute from two With calls).
func CheckJSONLines(logs string) []string {
	var bad []string
	for i, line := range strings.Split(strings.TrimRight(logs, "\n"), "\n") {
		if line == "" {
			continue
		}
		if err := checkJSONLine(line); err != nil {
			bad = append(bad, fmt.Sprintf("line %d: %v: %s", i+1, err, line))
		}
	}
	return bad
}

func checkJSONLine(line string) error {
	dec := json.NewDecoder(strings.NewReader(line))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return fmt.Errorf("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}
