package redact

import (
	"context"
	"log/slog"
)

// ReplaceAttr is a slog.HandlerOptions.ReplaceAttr that masks secrets in
// messages, string values and errors.
func (r *Redactor) ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(r.String(a.Value.String()))
	case slog.KindAny:
		switch v := a.Value.Any().(type) {
		case error:
			a.Value = slog.StringValue(r.String(v.Error()))
		case []string:
			out := make([]string, len(v))
			for i, s := range v {
				out[i] = r.String(s)
			}
			a.Value = slog.AnyValue(out)
		case interface{ String() string }:
			a.Value = slog.StringValue(r.String(v.String()))
		}
	}
	return a
}

// Handler wraps h so that every record's message is masked too (some
// handlers do not pass the message through ReplaceAttr).
func (r *Redactor) Handler(h slog.Handler) slog.Handler { return &handler{h: h, r: r} }

type handler struct {
	h slog.Handler
	r *Redactor
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }
func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.r.ReplaceAttr(nil, a))
		return true
	})
	return h.h.Handle(ctx, out)
}
func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(as))
	for i, a := range as {
		masked[i] = h.r.ReplaceAttr(nil, a)
	}
	return &handler{h: h.h.WithAttrs(masked), r: h.r}
}
func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{h: h.h.WithGroup(name), r: h.r}
}
