package platform

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskflow/taskflow/internal/tracing"
)

func TestTraceHTTP(t *testing.T) {
	t.Parallel()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		name    string
		headers map[string]string
		corr    string // "" means a generated one
		parent  bool
	}{
		{"traceparent and correlation id", map[string]string{"traceparent": tp, "X-Correlation-ID": "corr-1"}, "corr-1", true},
		{"request id", map[string]string{"X-Request-ID": "req-9"}, "req-9", false},
		{"unsafe correlation id is replaced", map[string]string{"X-Correlation-ID": "a b\nc"}, "", false},
		{"nothing", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := tracetest.NewSpanRecorder()
			tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test")
			var logs bytes.Buffer
			logger, _ := NewLogger(&logs, "info", "notifier")
			var inner trace.SpanContext
			var corr string
			mux := http.NewServeMux()
			mux.Handle("GET /api/v1/things/{id}", TraceHTTP(tracer, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inner, corr = trace.SpanContextFromContext(r.Context()), tracing.CorrelationID(r.Context())
				logger.InfoContext(r.Context(), "handled")
			})))
			req := httptest.NewRequest("GET", "/api/v1/things/7", nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)

			spans := rec.Ended()
			if len(spans) != 1 {
				t.Fatalf("%d spans", len(spans))
			}
			s := spans[0]
			if s.Name() != "GET /api/v1/things/{id}" || s.SpanKind() != trace.SpanKindServer || inner.SpanID() != s.SpanContext().SpanID() {
				t.Errorf("span %q kind %v; handler saw %v, want the span %v", s.Name(), s.SpanKind(), inner.SpanID(), s.SpanContext().SpanID())
			}
			if parent := tracing.Parse(tp); tc.parent != (s.Parent().SpanID() == parent.SpanID() && s.SpanContext().TraceID() == parent.TraceID()) {
				t.Errorf("span parent %v, want child of the traceparent: %v", s.Parent(), tc.parent)
			}
			echoed := w.Header().Get("X-Correlation-ID")
			if corr != echoed || (tc.corr != "" && corr != tc.corr) || !tracing.ValidCorrelationID(corr) {
				t.Errorf("correlation id %q, echoed %q, want %q", corr, echoed, tc.corr)
			}
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatal(err)
			}
			if line["trace_id"] != s.SpanContext().TraceID().String() || line["correlation_id"] != corr {
				t.Errorf("log line %v: want the span's trace_id and correlation_id %q", line, corr)
			}
		})
	}
}
