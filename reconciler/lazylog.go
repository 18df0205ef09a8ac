package reconciler

import (
	"context"
	"log/slog"
	"sync"
)

// lazyHandler adds attrs to its parent's records, formatting them (the
// parent's WithAttrs) only when a first record is handled: a pass builds
// one logger per app, and most app runs log nothing.
type lazyHandler struct {
	parent slog.Handler
	attrs  []slog.Attr
	once   sync.Once
	h      slog.Handler
}

// lazyLogger is parent with attrs, formatted on first use.
func lazyLogger(parent *slog.Logger, attrs ...slog.Attr) *slog.Logger {
	return slog.New(&lazyHandler{parent: parent.Handler(), attrs: attrs})
}

func (l *lazyHandler) handler() slog.Handler {
	l.once.Do(func() { l.h = l.parent.WithAttrs(l.attrs) })
	return l.h
}

func (l *lazyHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.parent.Enabled(ctx, level)
}

func (l *lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	return l.handler().Handle(ctx, r)
}

func (l *lazyHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return l.handler().WithAttrs(attrs)
}

func (l *lazyHandler) WithGroup(name string) slog.Handler {
	return l.handler().WithGroup(name)
}
