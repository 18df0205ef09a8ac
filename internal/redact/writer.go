package redact

import (
	"bytes"
	"io"
	"sync"
)

// maxLine is how much a Writer buffers without a newline before it writes
// out all but the last keepTail bytes (a secret longer than keepTail split
// there could pass unmasked).
const (
	maxLine  = 64 << 10
	keepTail = 4 << 10
)

// Writer returns a writer that masks a stream before it reaches w: text is
// buffered up to each newline and written one redacted line at a time, so
// a secret split across two writes is still masked. Close writes out a
// last line without a newline (it does not close w). The writer is safe for
// concurrent use.
func (r *Redactor) Writer(w io.Writer) io.WriteCloser {
	return &lineWriter{r: r, w: w}
}

type lineWriter struct {
	r   *Redactor
	w   io.Writer
	mu  sync.Mutex
	buf bytes.Buffer
	err error
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.err != nil {
		return 0, lw.err
	}
	lw.buf.Write(p)
	for {
		i := bytes.IndexByte(lw.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		if err := lw.emit(lw.buf.Next(i + 1)); err != nil {
			return len(p), err
		}
	}
	if lw.buf.Len() > maxLine {
		if err := lw.emit(lw.buf.Next(lw.buf.Len() - keepTail)); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}

// Close writes out what is buffered.
func (lw *lineWriter) Close() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.err == nil && lw.buf.Len() > 0 {
		_ = lw.emit(lw.buf.Bytes())
		lw.buf.Reset()
	}
	return lw.err
}

func (lw *lineWriter) emit(b []byte) error {
	if _, err := io.WriteString(lw.w, lw.r.String(string(b))); err != nil {
		lw.err = err
	}
	return lw.err
}
