package task

import "errors"

// Errors shared by the domain and its adapters; match them with errors.Is.
var (
	// ErrNotFound: no such task, or it belongs to another user (the two are
	// indistinguishable to a client on purpose).
	ErrNotFound = errors.New("task not found")
	// ErrVersionMismatch: the client's If-Match version is not the current one.
	ErrVersionMismatch = errors.New("task version does not match")
	// ErrIdempotencyMismatch: an Idempotency-Key was reused with a different request.
	ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")
	// ErrConflict: a concurrent writer changed the task (should not happen
	// with one actor per task; the write is refused rather than lost).
	ErrConflict = errors.New("task was changed concurrently")
	// ErrNotSeries: a series-wide change was asked of a task that is not a
	// recurring series.
	ErrNotSeries = errors.New("task is not a recurring series")
	// ErrDuplicateInstance: the series already has an instance for that
	// occurrence (the uniq_recurring_instance backstop).
	ErrDuplicateInstance = errors.New("series already has an instance for this occurrence")
	// ErrReminderNotFound: the task has no such (active) reminder.
	ErrReminderNotFound = errors.New("reminder not found")
)

// IdempotencyKey makes a create safe to retry: the first create with a key
// stores its response; a retry with the same key and request hash replays it.
type IdempotencyKey struct {
	Key         string `json:"key"`
	RequestHash []byte `json:"request_hash"`
}
