package tracing

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// The cost every traced call pays when no exporter is configured.
func BenchmarkStartWithoutExporter(b *testing.B) {
	ctx := WithRemoteParent(context.Background(), sample)
	tracer := Tracer()
	b.ReportAllocs()
	for b.Loop() {
		c, span := tracer.Start(ctx, "x", trace.WithSpanKind(trace.SpanKindServer))
		_ = Traceparent(c)
		span.End()
	}
}

func BenchmarkTraceparent(b *testing.B) {
	ctx := WithRemoteParent(context.Background(), sample)
	b.ReportAllocs()
	for b.Loop() {
		_ = Traceparent(ctx)
	}
}
