package tracing

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const sample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestParseFormatRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
	}{
		{"sampled", sample, sample},
		{"not sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"},
		{"empty", "", ""},
		{"garbage", "hello", ""},
		{"zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		{"zero span id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", ""},
		{"version ff is invalid", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
		{"upper case hex", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", ""},
		{"short", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902-01", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sc := Parse(tc.in)
			got := ""
			if sc.IsValid() {
				got = Format(sc)
				if !sc.IsRemote() {
					t.Error("a parsed span context must be remote")
				}
			}
			if got != tc.want {
				t.Fatalf("Parse(%q) formats as %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWithRemoteParentAndTraceparent(t *testing.T) {
	t.Parallel()
	ctx := WithRemoteParent(context.Background(), sample)
	if got := Traceparent(ctx); got != sample {
		t.Fatalf("Traceparent = %q, want %q", got, sample)
	}
	if got := Traceparent(WithRemoteParent(context.Background(), "bogus")); got != "" {
		t.Fatalf("a malformed traceparent must leave no trace context, got %q", got)
	}
	// A malformed one keeps the parent ctx already has.
	if got := Traceparent(WithRemoteParent(ctx, "bogus")); got != sample {
		t.Fatalf("kept parent %q, want %q", got, sample)
	}
	if got := Traceparent(context.Background()); got != "" {
		t.Fatalf("no span: %q", got)
	}
}

// A span started from a propagated context is its child: same trace,
// parent span id from the traceparent, and its own traceparent differs.
func TestChildSpanOfRemoteParent(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, span := tp.Tracer("test").Start(WithRemoteParent(context.Background(), sample), "child")
	child := Traceparent(ctx)
	span.End()
	parent := Parse(sample)
	ended := rec.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans", len(ended))
	}
	s := ended[0]
	if s.SpanContext().TraceID() != parent.TraceID() || s.Parent().SpanID() != parent.SpanID() {
		t.Fatalf("span %v has parent %v, want a child of %v", s.SpanContext(), s.Parent(), parent)
	}
	if child == sample || Parse(child).SpanID() != s.SpanContext().SpanID() {
		t.Fatalf("Traceparent in the child's context = %q, want the child span's", child)
	}
}

// Without an SDK provider (no exporter configured: nothing in this package
// installs one) a span started on Tracer records nothing but carries the
// incoming trace context on unchanged: propagation costs no export.
func TestGlobalProviderWithoutSDKPassesTraceContextOn(t *testing.T) {
	t.Parallel()
	ctx, span := Tracer().Start(WithRemoteParent(context.Background(), sample), "x", trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	if span.IsRecording() {
		t.Fatal("a noop span records")
	}
	if got := Traceparent(ctx); got != sample {
		t.Fatalf("Traceparent = %q, want the incoming %q", got, sample)
	}
}

func TestCorrelationID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if CorrelationID(ctx) != "" {
		t.Fatal("empty context has a correlation id")
	}
	ctx = WithCorrelationID(ctx, "req-1")
	if got := CorrelationID(ctx); got != "req-1" {
		t.Fatalf("got %q", got)
	}
	if got := CorrelationID(WithCorrelationID(ctx, "")); got != "req-1" {
		t.Fatalf("an empty id must not hide the one set, got %q", got)
	}
}

func TestValidCorrelationID(t *testing.T) {
	t.Parallel()
	long := make([]byte, 129)
	for i := range long {
		long[i] = 'a'
	}
	for id, want := range map[string]bool{
		"req-1": true, "A.b_c:d-9": true, string(long[:128]): true,
		"": false, string(long): false, "a b": false, "a\nb": false, `a"b`: false, "é": false, "a/b": false,
	} {
		if got := ValidCorrelationID(id); got != want {
			t.Errorf("ValidCorrelationID(%q) = %v, want %v", id, got, want)
		}
	}
	if id := NewCorrelationID(); !ValidCorrelationID(id) || id == NewCorrelationID() {
		t.Errorf("NewCorrelationID gave %q", id)
	}
}
