package outbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskflow/taskflow/internal/tracing"
	"github.com/taskflow/taskflow/outbox"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// bulkRecorder keeps what was published; ids in fail are refused.
type bulkRecorder struct {
	sent []dapr.PublishEventsEvent
	fail map[string]bool
}

func (b *bulkRecorder) PublishEvents(_ context.Context, _, _ string, events []any, _ ...dapr.PublishEventsOption) dapr.PublishEventsResponse {
	var res dapr.PublishEventsResponse
	for _, e := range events {
		ev := e.(dapr.PublishEventsEvent)
		if b.fail[ev.EntryID] {
			res.FailedEvents = append(res.FailedEvents, ev)
			res.Error = errors.New("broker refused")
			continue
		}
		b.sent = append(b.sent, ev)
	}
	return res
}

func outboxRow(t *testing.T, id int64, tp string) postgres.Message {
	t.Helper()
	ev := task.NewEvent(task.EventCreated, task.Task{ID: uuid.New(), UserID: "ada", Title: "x", Version: 1}, nil, "c", time.Now())
	ce, err := ev.MarshalCloudEvent()
	if err != nil {
		t.Fatal(err)
	}
	return postgres.Message{ID: id, EventID: ev.EventID, TaskID: ev.TaskID, Topic: task.Topic, Payload: ce, Traceparent: tp}
}

func envelopeTraceparent(t *testing.T, b []byte) string {
	t.Helper()
	_, ce, err := task.ParseCloudEventData(b)
	if err != nil {
		t.Fatal(err)
	}
	return ce.Traceparent
}

const writeTP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// Each event is published in a producer span, a child of the write that
// enqueued it, and the CloudEvent names that span for the subscribers.
func TestDaprPublisherPublishSpans(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test")
	bus := &bulkRecorder{fail: map[string]bool{"2": true}}
	p := outbox.DaprPublisher{Client: bus, PubSub: "ps", Tracer: tracer}
	failed, err := p.Publish(context.Background(), []postgres.Message{outboxRow(t, 1, writeTP), outboxRow(t, 2, writeTP)})
	if err == nil || len(failed) != 1 {
		t.Fatalf("failed %v, err %v", failed, err)
	}
	spans := rec.Ended()
	if len(spans) != 2 || len(bus.sent) != 1 {
		t.Fatalf("%d spans, %d sent", len(spans), len(bus.sent))
	}
	write := tracing.Parse(writeTP)
	for _, s := range spans {
		if s.SpanKind() != trace.SpanKindProducer || s.SpanContext().TraceID() != write.TraceID() || s.Parent().SpanID() != write.SpanID() {
			t.Errorf("span %q kind %v parent %v: want a producer child of the write", s.Name(), s.SpanKind(), s.Parent())
		}
	}
	if got := tracing.Parse(envelopeTraceparent(t, bus.sent[0].Data)); got.SpanID() != spans[0].SpanContext().SpanID() {
		t.Errorf("the CloudEvent names span %v, want the publish span %v", got.SpanID(), spans[0].SpanContext().SpanID())
	}
	if spans[0].Status().Code == codes.Error || spans[1].Status().Code != codes.Error {
		t.Errorf("statuses %v, %v: want the refused event's span failed only", spans[0].Status(), spans[1].Status())
	}
}

// Without an exporter (the global provider records nothing) the row's
// traceparent travels on as it is, and a row without one is sent as
// stored.
func TestDaprPublisherWithoutExporter(t *testing.T) {
	t.Parallel()
	bus := &bulkRecorder{}
	plain := outboxRow(t, 2, "")
	if _, err := (outbox.DaprPublisher{Client: bus, PubSub: "ps"}).Publish(context.Background(),
		[]postgres.Message{outboxRow(t, 1, writeTP), plain}); err != nil {
		t.Fatal(err)
	}
	if got := envelopeTraceparent(t, bus.sent[0].Data); got != writeTP {
		t.Errorf("traceparent %q, want the row's %q", got, writeTP)
	}
	if string(bus.sent[1].Data) != string(plain.Payload) {
		t.Errorf("a row without trace context was changed: %s", bus.sent[1].Data)
	}
}
