package task

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// EventType names a change to a task. The names are the CloudEvent types on
// the task-events topic; consumers rely on them.
type EventType string

// The event types.
const (
	EventCreated   EventType = "task.created"
	EventUpdated   EventType = "task.updated"
	EventCompleted EventType = "task.completed"
	EventDeleted   EventType = "task.deleted"
)

// Topic is the pub/sub topic every task event is published to.
const Topic = "task-events"

// EventSource is the CloudEvent source of task events.
const EventSource = "taskflow/actors"

// Event is the body of every task event. Version is the task's version after
// the change, so that consumers can order and de-duplicate (EventID is unique
// per change; a redelivery carries the same EventID).
type Event struct {
	EventID       uuid.UUID `json:"event_id"`
	EventType     EventType `json:"event_type"`
	TaskID        uuid.UUID `json:"task_id"`
	UserID        string    `json:"user_id"`
	OccurredAt    time.Time `json:"occurred_at"`
	CorrelationID string    `json:"correlation_id"`
	Version       int64     `json:"version"`
	ChangedFields []string  `json:"changed_fields"`
	Task          Task      `json:"task"`
}

// NewEvent describes a change that produced snapshot.
func NewEvent(typ EventType, snapshot Task, changed []string, correlationID string, at time.Time) Event {
	if changed == nil {
		changed = []string{}
	}
	return Event{
		EventID:       uuid.Must(uuid.NewV7()),
		EventType:     typ,
		TaskID:        snapshot.ID,
		UserID:        snapshot.UserID,
		OccurredAt:    at.UTC(),
		CorrelationID: correlationID,
		Version:       snapshot.Version,
		ChangedFields: changed,
		Task:          snapshot,
	}
}

// CloudEvent is the CloudEvents 1.0 JSON envelope an Event travels in.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// MarshalCloudEvent encodes e as a structured-mode CloudEvent.
func (e Event) MarshalCloudEvent() ([]byte, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.EventID, err)
	}
	return json.Marshal(CloudEvent{
		SpecVersion:     "1.0",
		ID:              e.EventID.String(),
		Source:          EventSource,
		Type:            string(e.EventType),
		Subject:         e.TaskID.String(),
		Time:            e.OccurredAt,
		DataContentType: "application/json",
		Data:            data,
	})
}

// ParseCloudEvent decodes a structured CloudEvent carrying an Event.
func ParseCloudEvent(b []byte) (Event, error) {
	var ce CloudEvent
	if err := json.Unmarshal(b, &ce); err != nil {
		return Event{}, fmt.Errorf("decode cloudevent: %w", err)
	}
	var e Event
	if err := json.Unmarshal(ce.Data, &e); err != nil {
		return Event{}, fmt.Errorf("decode event %s: %w", ce.ID, err)
	}
	return e, nil
}
