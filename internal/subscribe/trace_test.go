package subscribe

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskflow/taskflow/internal/tracing"
	"github.com/taskflow/taskflow/task"
)

// Each delivered message is consumed in a span of its own, a child of the
// publish span its CloudEvent names, and the handler sees that span and
// the event's correlation id in the message's context.
func TestBulkHandlerConsumerSpans(t *testing.T) {
	t.Parallel()
	publishes := []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"", // an event from a write without trace context
	}
	var events []task.Event
	var bodies []string
	for i, tp := range publishes {
		ev := task.NewEvent(task.EventCreated, task.Task{ID: uuid.New(), UserID: "ada", Title: "x", Version: 1}, nil,
			"corr-"+string(rune('a'+i)), time.Now())
		ce, err := ev.MarshalCloudEvent()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
		bodies = append(bodies, string(task.WithTraceparent(ce, tp)))
	}
	rec := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test")
	type seen struct {
		sc          trace.SpanContext
		correlation string
	}
	var got []seen
	fn := func(ctx context.Context, msgs []Message) []Status {
		out := make([]Status, len(msgs))
		for i, m := range msgs {
			mctx := m.Context(ctx)
			got = append(got, seen{trace.SpanContextFromContext(mctx), tracing.CorrelationID(mctx)})
			out[i] = Success
		}
		out[1] = Retry
		return out
	}
	h := BulkHandler(fn, slog.New(slog.DiscardHandler), WithTracer(tracer))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/events", strings.NewReader(bulkBody(t, bodies...))))

	ended := rec.Ended()
	if len(got) != 3 || len(ended) != 3 {
		t.Fatalf("handler saw %d messages, %d spans ended; want 3 and 3", len(got), len(ended))
	}
	for i, tp := range publishes {
		span := ended[i]
		if span.SpanKind() != trace.SpanKindConsumer {
			t.Errorf("span %d kind %v", i, span.SpanKind())
		}
		if got[i].sc.SpanID() != span.SpanContext().SpanID() {
			t.Errorf("message %d: handler context holds span %v, want its consumer span %v", i, got[i].sc.SpanID(), span.SpanContext().SpanID())
		}
		if got[i].correlation != events[i].CorrelationID {
			t.Errorf("message %d: correlation id %q, want %q", i, got[i].correlation, events[i].CorrelationID)
		}
		parent := tracing.Parse(tp)
		switch {
		case parent.IsValid() && (span.Parent().SpanID() != parent.SpanID() || span.SpanContext().TraceID() != parent.TraceID()):
			t.Errorf("message %d: span parent %v trace %v, want a child of %s", i, span.Parent().SpanID(), span.SpanContext().TraceID(), tp)
		case !parent.IsValid() && span.Parent().IsValid():
			t.Errorf("message %d: without a traceparent the span must be a root, has parent %v", i, span.Parent())
		}
	}
	if ended[1].Status().Code != codes.Error || ended[0].Status().Code == codes.Error {
		t.Errorf("statuses %v %v: a RETRY marks the span failed, a SUCCESS not", ended[0].Status(), ended[1].Status())
	}
}

func TestMessageContextWithoutSpan(t *testing.T) {
	t.Parallel()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	m := Message{Traceparent: tp, Event: task.Event{CorrelationID: "c1"}}
	ctx := m.Context(context.Background())
	if tracing.Traceparent(ctx) != tp || tracing.CorrelationID(ctx) != "c1" {
		t.Fatalf("context has %q and %q", tracing.Traceparent(ctx), tracing.CorrelationID(ctx))
	}
}
