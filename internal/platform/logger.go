package platform

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/taskflow/taskflow/internal/tracing"
)

// NewLogger returns a JSON slog logger at level (debug, info, warn, error)
// tagged with the app name. A line logged with a context (InfoContext and
// the like) carries the context's trace_id and span_id and its
// correlation_id, when it has them (see ContextHandler).
func NewLogger(w io.Writer, level, app string) (*slog.Logger, error) {
	var l slog.Level
	switch strings.ToLower(level) {
	case "", "info":
		l = slog.LevelInfo
	case "debug":
		l = slog.LevelDebug
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return nil, fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", level)
	}
	return slog.New(ContextHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})}).With("app", app), nil
}

// ContextHandler adds what a record's context knows about the request or
// event it concerns: trace_id and span_id of the span in it (also one that
// records nothing, such as a propagated incoming traceparent) and the
// correlation_id (tracing.WithCorrelationID). A record that already has a
// correlation_id attribute keeps its own. It is safe for concurrent use as
// its inner handler is.
type ContextHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return h.Handler.Handle(ctx, r)
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	if id := tracing.CorrelationID(ctx); id != "" && !hasAttr(r, "correlation_id") {
		r.AddAttrs(slog.String("correlation_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return ContextHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h ContextHandler) WithGroup(name string) slog.Handler {
	return ContextHandler{h.Handler.WithGroup(name)}
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
