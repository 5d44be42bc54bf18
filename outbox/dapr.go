package outbox

import (
	"context"
	"errors"
	"strconv"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/taskflow/taskflow/postgres"
)

// BulkPublisher is the part of the Dapr client the relay uses.
type BulkPublisher interface {
	PublishEvents(ctx context.Context, pubsubName, topicName string, events []any, opts ...dapr.PublishEventsOption) dapr.PublishEventsResponse
}

// DaprPublisher publishes outbox messages with Dapr's bulk publish API. Each
// message is the structured CloudEvent stored in the outbox, sent as a raw
// payload: it already is a complete CloudEvent, so Dapr neither re-parses
// nor re-wraps it and the topic holds exactly what the outbox holds. The
// task id is the Kafka partition key, so one task's events stay in one
// partition, in order.
type DaprPublisher struct {
	Client BulkPublisher
	PubSub string // component name, e.g. taskflow-pubsub
}

// Publish implements Publisher. Messages are grouped by topic in order.
func (p DaprPublisher) Publish(ctx context.Context, msgs []postgres.Message) (map[int64]error, error) {
	failed := map[int64]error{}
	var firstErr error
	for start := 0; start < len(msgs); {
		end := start
		for end < len(msgs) && msgs[end].Topic == msgs[start].Topic {
			end++
		}
		events := make([]any, 0, end-start)
		for _, m := range msgs[start:end] {
			events = append(events, dapr.PublishEventsEvent{
				EntryID:     strconv.FormatInt(m.ID, 10),
				Data:        m.Payload,
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
		firstErr = errors.New("some events were not published")
	}
	return failed, firstErr
}
