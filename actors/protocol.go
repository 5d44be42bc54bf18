package actors

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// TaskActorType is the Dapr actor type hosting one actor per task; the actor
// id is the task id.
const TaskActorType = "TaskActor"

// Request carries what every TaskActor method needs to know about its caller.
type Request struct {
	UserID        string `json:"user_id"`
	CorrelationID string `json:"correlation_id,omitempty"`
	// Traceparent is the caller's W3C trace context (the Client sets it):
	// the actor's span is its child.
	Traceparent string `json:"traceparent,omitempty"`
	// IfMatch, when non-zero, is the version the caller expects the task to
	// have (the HTTP If-Match header); a different version is refused.
	IfMatch int64 `json:"if_match,omitempty"`
}

// traced is a request that carries the caller's trace context and
// correlation id. *Request has it, and so every request embedding Request.
type traced interface {
	trace() (traceparent, correlationID string)
	setTraceparent(string)
}

func (r *Request) trace() (string, string)           { return r.Traceparent, r.CorrelationID }
func (r *Request) setTraceparent(tp string)          { r.Traceparent = tp }
func (n *CompletionNotice) trace() (string, string)  { return n.Traceparent, "" }
func (n *CompletionNotice) setTraceparent(tp string) { n.Traceparent = tp }
func (o *SeriesOperation) trace() (string, string)   { return o.Traceparent, o.CorrelationID }
func (o *SeriesOperation) setTraceparent(tp string)  { o.Traceparent = tp }

// CreateRequest is the argument of TaskActor.Create.
type CreateRequest struct {
	Request
	Draft       task.Draft           `json:"draft"`
	Idempotency *task.IdempotencyKey `json:"idempotency,omitempty"`
	// FirePastReminders fires reminders whose time has passed at once
	// instead of refusing them.
	FirePastReminders bool `json:"fire_past_reminders,omitempty"`
}

// UpdateRequest is the argument of TaskActor.Update.
type UpdateRequest struct {
	Request
	Patch             task.Patch `json:"patch"`
	FirePastReminders bool       `json:"fire_past_reminders,omitempty"`
}

// SnoozeRequest is the argument of TaskActor.Snooze: re-arm one reminder
// For a while from now, or Until a time.
type SnoozeRequest struct {
	Request
	ReminderID uuid.UUID     `json:"reminder_id"`
	For        time.Duration `json:"for,omitempty"`
	Until      *time.Time    `json:"until,omitempty"`
}

// InstanceRequest is the argument of TaskActor.CreateInstance: the series
// (as it is now) asks the instance's actor to create the instance.
type InstanceRequest struct {
	Request
	Series     task.Task `json:"series"`
	Occurrence time.Time `json:"occurrence"`
}

// CompletionNotice is the argument of TaskActor.SeriesInstanceCompleted:
// an instance tells its series that it was completed.
type CompletionNotice struct {
	InstanceID  uuid.UUID `json:"instance_id"`
	CompletedAt time.Time `json:"completed_at"`
	Traceparent string    `json:"traceparent,omitempty"`
}

// Series operation kinds.
const (
	OpSeriesUpdate = "series.update"
	OpSeriesDelete = "series.delete"
)

// SeriesOperation is a series-wide change: the series and its open
// instances, run as a Dapr workflow whose instance id is ID.
type SeriesOperation struct {
	ID            uuid.UUID  `json:"id"`
	UserID        string     `json:"user_id"`
	SeriesID      uuid.UUID  `json:"series_id"`
	Kind          string     `json:"kind"`
	Patch         task.Patch `json:"patch"`
	CorrelationID string     `json:"correlation_id,omitempty"`
	// Traceparent is the trace context of the call that applies the
	// operation to one task (the Client sets it per call).
	Traceparent string `json:"traceparent,omitempty"`
}

// Operation control actions (TaskActor.ControlOperation).
const (
	ActionRetry     = "retry"
	ActionTerminate = "terminate"
)

// ControlRequest is the argument of TaskActor.ControlOperation: an
// operator retries or terminates one of the series' operations.
type ControlRequest struct {
	OperationID uuid.UUID `json:"operation_id"`
	Action      string    `json:"action"`
	By          string    `json:"by"` // the operator
}

// HeldRequest is the argument of TaskActor.HeldReminders.
type HeldRequest struct {
	Names []string `json:"names"`
}

// OperationRequest is the argument of TaskActor.StartSeriesOperation.
type OperationRequest struct {
	Request
	Kind  string     `json:"kind"`
	Patch task.Patch `json:"patch"`
}

// Outcomes of a series operation on one task.
const (
	OutcomeUpdated   = "updated"
	OutcomeUnchanged = "unchanged"
	OutcomeDeleted   = "deleted"
	OutcomeKept      = "kept" // completed meanwhile: history stays
	OutcomeGone      = "gone" // deleted meanwhile
)

// Reply is what every TaskActor method returns. Errors travel in the body:
// Dapr turns an actor method's Go error into an opaque failure, and callers
// must tell "not found" from "invalid" from "internal".
type Reply struct {
	Task     *task.Task `json:"task,omitempty"`
	Replayed bool       `json:"replayed,omitempty"` // an idempotent create was replayed
	Changed  bool       `json:"changed,omitempty"`  // the call changed the task
	// OperationID is set by StartSeriesOperation: the workflow started.
	OperationID *uuid.UUID `json:"operation_id,omitempty"`
	// Outcome is set by the series operation methods.
	Outcome string `json:"outcome,omitempty"`
	// Alarm is set by Snooze: the reminder as it is now.
	Alarm *task.Alarm `json:"alarm,omitempty"`
	// Held is set by HeldReminders: reminder name -> scheduled.
	Held  map[string]bool `json:"held,omitempty"`
	Error *Error          `json:"error,omitempty"`
}

// ErrorCode classifies a failed actor call.
type ErrorCode string

// The error codes.
const (
	CodeNotFound            ErrorCode = "not_found"
	CodeValidation          ErrorCode = "validation"
	CodeVersionMismatch     ErrorCode = "version_mismatch"
	CodeIdempotencyMismatch ErrorCode = "idempotency_mismatch"
	CodeConflict            ErrorCode = "conflict"
	CodeNotSeries           ErrorCode = "not_series"
	CodeReminderNotFound    ErrorCode = "reminder_not_found"
	CodeOperationState      ErrorCode = "operation_state"
	CodeUnavailable         ErrorCode = "unavailable"
	CodeInternal            ErrorCode = "internal"
)

// Error is a typed actor error.
type Error struct {
	Code    ErrorCode         `json:"code"`
	Message string            `json:"message"`
	Fields  []task.FieldError `json:"fields,omitempty"`
}

// errorReply classifies err for the wire.
func errorReply(err error) *Reply {
	var ve *task.ValidationError
	switch {
	case errors.As(err, &ve):
		return &Reply{Error: &Error{Code: CodeValidation, Message: "invalid input", Fields: ve.Fields}}
	case errors.Is(err, task.ErrNotFound):
		return &Reply{Error: &Error{Code: CodeNotFound, Message: task.ErrNotFound.Error()}}
	case errors.Is(err, task.ErrVersionMismatch):
		return &Reply{Error: &Error{Code: CodeVersionMismatch, Message: task.ErrVersionMismatch.Error()}}
	case errors.Is(err, task.ErrIdempotencyMismatch):
		return &Reply{Error: &Error{Code: CodeIdempotencyMismatch, Message: task.ErrIdempotencyMismatch.Error()}}
	case errors.Is(err, task.ErrConflict):
		return &Reply{Error: &Error{Code: CodeConflict, Message: task.ErrConflict.Error()}}
	case errors.Is(err, task.ErrNotSeries):
		return &Reply{Error: &Error{Code: CodeNotSeries, Message: task.ErrNotSeries.Error()}}
	case errors.Is(err, task.ErrReminderNotFound):
		return &Reply{Error: &Error{Code: CodeReminderNotFound, Message: task.ErrReminderNotFound.Error()}}
	case errors.Is(err, ErrOperationState):
		// The message is ours and says why: safe to show.
		return &Reply{Error: &Error{Code: CodeOperationState, Message: err.Error()}}
	case errors.Is(err, ErrUnavailable), postgres.IsUnavailable(err):
		return &Reply{Error: &Error{Code: CodeUnavailable, Message: "a dependency is unavailable; retry"}}
	default:
		return &Reply{Error: &Error{Code: CodeInternal, Message: "internal error"}}
	}
}

// Err turns a reply's error back into the domain error it stands for
// (nil when the call succeeded), so callers use errors.Is / errors.As.
func (r *Reply) Err() error {
	if r == nil || r.Error == nil {
		return nil
	}
	switch r.Error.Code {
	case CodeValidation:
		return &task.ValidationError{Fields: r.Error.Fields}
	case CodeNotFound:
		return task.ErrNotFound
	case CodeVersionMismatch:
		return task.ErrVersionMismatch
	case CodeIdempotencyMismatch:
		return task.ErrIdempotencyMismatch
	case CodeConflict:
		return task.ErrConflict
	case CodeNotSeries:
		return task.ErrNotSeries
	case CodeReminderNotFound:
		return task.ErrReminderNotFound
	case CodeUnavailable:
		return ErrUnavailable
	case CodeOperationState:
		return fmt.Errorf("%w: %s", ErrOperationState, r.Error.Message)
	default:
		return fmt.Errorf("task actor: %s", r.Error.Message)
	}
}
