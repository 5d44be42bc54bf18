package task

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
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
	// EventReminderTriggered: one of the task's reminders fired.
	EventReminderTriggered EventType = "task.reminder.triggered"
	// EventOverdue: an open task reached its due date.
	EventOverdue EventType = "task.overdue"
)

// EventTypes lists every event type, in the order above.
var EventTypes = []EventType{EventCreated, EventUpdated, EventCompleted, EventDeleted, EventReminderTriggered, EventOverdue}

// Firing describes a reminder (or overdue notice) that fired: which, when
// it was due, when it fired and how late that was.
type Firing struct {
	ReminderID   uuid.UUID `json:"reminder_id"`
	ReminderType string    `json:"reminder_type"`
	ScheduledAt  time.Time `json:"scheduled_at"`
	FiredAt      time.Time `json:"fired_at"`
	LateMS       int64     `json:"late_ms"`
}

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
	// Reminder is set on task.reminder.triggered and task.overdue.
	Reminder *Firing `json:"reminder,omitempty"`
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
	// Traceparent is the CloudEvents distributed tracing extension: the
	// W3C trace context of the publish, set by the outbox relay.
	Traceparent string `json:"traceparent,omitempty"`
}

// MarshalCloudEvent encodes e as a structured-mode CloudEvent. The event
// is encoded once and spliced into the envelope: this runs on every write.
func (e Event) MarshalCloudEvent() ([]byte, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.EventID, err)
	}
	b := make([]byte, 0, len(data)+256)
	b = append(b, `{"specversion":"1.0","id":"`...)
	b = append(b, e.EventID.String()...)
	b = append(b, `","source":"`+EventSource+`","type":`...)
	b = strconv.AppendQuote(b, string(e.EventType))
	b = append(b, `,"subject":"`...)
	b = append(b, e.TaskID.String()...)
	b = append(b, `","time":"`...)
	b = e.OccurredAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","datacontenttype":"application/json","data":`...)
	b = append(b, data...)
	return append(b, '}'), nil
}

// WithTraceparent returns the structured CloudEvent ce with its
// traceparent extension attribute set to tp (ce itself when tp is empty).
// The attribute is appended as the envelope's last member, so it wins over
// one that ce may carry already; ce is not re-encoded.
func WithTraceparent(ce []byte, tp string) []byte {
	trim := func(b []byte) []byte { return bytes.TrimRight(b, " \t\r\n") }
	body := trim(ce)
	if tp == "" || len(body) == 0 || body[len(body)-1] != '}' {
		return ce
	}
	body = body[:len(body)-1]
	b := make([]byte, 0, len(body)+len(tp)+20)
	b = append(b, body...)
	if inner := trim(body); len(inner) > 0 && inner[len(inner)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, `"traceparent":`...)
	b = strconv.AppendQuote(b, tp)
	return append(b, '}')
}

// ParseCloudEvent decodes a structured CloudEvent carrying an Event.
func ParseCloudEvent(b []byte) (Event, error) {
	e, _, err := ParseCloudEventData(b)
	return e, err
}

// ParseCloudEventData is ParseCloudEvent that also returns the envelope,
// whose Data is the event body as it was encoded, for passing on
// unchanged, and whose Traceparent is the publish's trace context.
func ParseCloudEventData(b []byte) (Event, CloudEvent, error) {
	var ce CloudEvent
	if err := json.Unmarshal(b, &ce); err != nil {
		return Event{}, CloudEvent{}, fmt.Errorf("decode cloudevent: %w", err)
	}
	var e Event
	if err := json.Unmarshal(ce.Data, &e); err != nil {
		return Event{}, ce, fmt.Errorf("decode event %s: %w", ce.ID, err)
	}
	return e, ce, nil
}
