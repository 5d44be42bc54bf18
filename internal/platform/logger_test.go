package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/taskflow/taskflow/internal/tracing"
)

func logLine(t *testing.T, log func(*slog.Logger)) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	logger, err := NewLogger(&buf, "debug", "test")
	if err != nil {
		t.Fatal(err)
	}
	log(logger)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	return line
}

func TestLoggerAddsTraceAndCorrelation(t *testing.T) {
	t.Parallel()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	traced := tracing.WithCorrelationID(tracing.WithRemoteParent(context.Background(), tp), "req-7")
	for _, tc := range []struct {
		name string
		log  func(*slog.Logger)
		want map[string]any // nil value: the key must be absent
	}{
		{"context with both", func(l *slog.Logger) { l.InfoContext(traced, "hello") },
			map[string]any{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7", "correlation_id": "req-7", "app": "test"}},
		{"derived logger", func(l *slog.Logger) { l.With("component", "x").WarnContext(traced, "hello") },
			map[string]any{"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "correlation_id": "req-7", "component": "x"}},
		{"own correlation id wins", func(l *slog.Logger) { l.InfoContext(traced, "hello", "correlation_id", "mine") },
			map[string]any{"correlation_id": "mine", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}},
		{"no context", func(l *slog.Logger) { l.Info("hello") },
			map[string]any{"trace_id": nil, "span_id": nil, "correlation_id": nil}},
		{"correlation only", func(l *slog.Logger) {
			l.ErrorContext(tracing.WithCorrelationID(context.Background(), "c"), "hello")
		}, map[string]any{"trace_id": nil, "correlation_id": "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			line := logLine(t, tc.log)
			for k, want := range tc.want {
				got, ok := line[k]
				if want == nil {
					if ok {
						t.Errorf("%s = %v, want it absent", k, got)
					}
					continue
				}
				if got != want {
					t.Errorf("%s = %v, want %v (line %v)", k, got, want, line)
				}
			}
		})
	}
}
