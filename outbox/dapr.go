package outbox

import (
	"cmp"
	"context"
	"errors"
	"strconv"

	dapr "github.com/dapr/go-sdk/client"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskflow/taskflow/internal/tracing"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// BulkPublisher is the part of the Dapr client the relay uses.
type BulkPublisher interface {
	PublishEvents(ctx context.Context, pubsubName, topicName string, events []any, opts ...dapr.PublishEventsOption) dapr.PublishEventsResponse
}

// DaprPublisher publishes outbox messages with Dapr's bulk publish API. Each
// message is the structured CloudEvent stored in the outbox, sent as a raw
// payload: it already is a complete CloudEvent, so Dapr neither re-parses
// nor re-wraps it and the topic holds exactly what the outbox holds, plus
// the trace context. The task id is the Kafka partition key, so one task's
// events stay in one partition, in order.
//
// Each message is published in a producer span, a child of the write that
// enqueued it (the row's traceparent); the CloudEvent's traceparent
// extension attribute names that span, and the subscribers' spans are its
// children. Without an exporter the span records nothing and the row's
// traceparent travels on as it is.
type DaprPublisher struct {
	Client BulkPublisher
	PubSub string // component name, e.g. taskflow-pubsub
	// Tracer starts the publish spans; nil means tracing.Tracer().
	Tracer trace.Tracer
}

// Publish implements Publisher. Messages are grouped by topic in order.
func (p DaprPublisher) Publish(ctx context.Context, msgs []postgres.Message) (map[int64]error, error) {
	tracer := p.Tracer
	if tracer == nil {
		tracer = tracing.Tracer()
	}
	failed := map[int64]error{}
	var firstErr error
	spans := make([]trace.Span, len(msgs))
	defer func() {
		for i, span := range spans {
			if err, bad := failed[msgs[i].ID]; bad && span.IsRecording() {
				tracing.Fail(span, cmp.Or(err, errNotPublished))
			}
			span.End()
		}
	}()
	for start := 0; start < len(msgs); {
		end := start
		for end < len(msgs) && msgs[end].Topic == msgs[start].Topic {
			end++
		}
		events := make([]any, 0, end-start)
		for i, m := range msgs[start:end] {
			var data []byte
			spans[start+i], data = publishSpan(ctx, tracer, m)
			events = append(events, dapr.PublishEventsEvent{
				EntryID:     strconv.FormatInt(m.ID, 10),
				Data:        data,
				ContentType: "application/cloudevents+json",
				Metadata:    map[string]string{"partitionKey": m.TaskID.String()},
			})
		}
		res := p.Client.PublishEvents(ctx, p.PubSub, msgs[start].Topic, events, dapr.PublishEventsWithRawPayload())
		if res.Error != nil && firstErr == nil {
			firstErr = res.Error
		}
		for _, fe := range res.FailedEvents {
			ev, ok := fe.(dapr.PublishEventsEvent)
			if !ok {
				continue
			}
			if id, err := strconv.ParseInt(ev.EntryID, 10, 64); err == nil {
				failed[id] = res.Error
			}
		}
		if res.Error != nil && len(res.FailedEvents) == 0 {
			for _, m := range msgs[start:end] {
				failed[m.ID] = res.Error
			}
		}
		start = end
	}
	if len(failed) > 0 && firstErr == nil {
		firstErr = errNotPublished
	}
	return failed, firstErr
}

var errNotPublished = errors.New("some events were not published")

// publishSpan starts m's producer span, a child of the row's traceparent,
// and returns it with the CloudEvent to send: the stored one with its
// traceparent naming the span (the stored one as is when there is no trace
// context at all).
func publishSpan(ctx context.Context, tracer trace.Tracer, m postgres.Message) (trace.Span, []byte) {
	// The row's trace context is the parent, not the relay's loop.
	ctx = tracing.WithRemoteParent(trace.ContextWithSpanContext(ctx, trace.SpanContext{}), m.Traceparent)
	ctx, span := tracer.Start(ctx, m.Topic+" publish", trace.WithSpanKind(trace.SpanKindProducer))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", m.Topic),
			attribute.String("messaging.operation.type", "send"),
			tracing.EventIDKey.String(m.EventID.String()),
			tracing.TaskIDKey.String(m.TaskID.String()))
	}
	return span, task.WithTraceparent(m.Payload, tracing.Traceparent(ctx))
}
