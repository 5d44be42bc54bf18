package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskflow/taskflow/task"
)

// Errors of the ops store.
var (
	// ErrAlreadyReplayed: the dead letter was replayed before.
	ErrAlreadyReplayed = errors.New("the dead letter was already replayed")
	// ErrNotReplayable: the dead letter's message is not a task event, so
	// there is nothing to put back on the topic.
	ErrNotReplayable = errors.New("the dead letter's message is not a task event")
)

// Ops is what the operator's view reads and changes across all users:
// dead letters, app instances, pending reminders and operations. Safe for
// concurrent use.
type Ops struct {
	pool *pgxpool.Pool
}

// NewOps returns an Ops on pool.
func NewOps(pool *pgxpool.Pool) *Ops { return &Ops{pool: pool} }

// DeadLetter is a message a subscriber gave up on, as the ops view sees it.
type DeadLetter struct {
	ID            int64           `json:"id"`
	MessageID     string          `json:"message_id"`
	EventID       string          `json:"event_id,omitempty"`
	Subscriber    string          `json:"subscriber"`
	Topic         string          `json:"topic"`
	Reason        string          `json:"reason"`
	Message       json.RawMessage `json:"message,omitempty"`
	MessageBase64 string          `json:"message_base64,omitempty"`
	FailedAt      time.Time       `json:"failed_at"`
	ReceivedAt    time.Time       `json:"received_at"`
	ReplayedAt    *time.Time      `json:"replayed_at"`
	ReplayedBy    *string         `json:"replayed_by"`
}

// AddDeadLetter stores dl once per MessageID; it reports whether it was new.
func (o *Ops) AddDeadLetter(ctx context.Context, dl DeadLetter) (bool, error) {
	var message []byte
	if len(dl.Message) > 0 {
		message = dl.Message
	}
	tag, err := o.pool.Exec(ctx, `INSERT INTO dead_letters (message_id, event_id, subscriber, topic, reason, message,
			message_base64, failed_at) VALUES ($1, nullif($2, ''), $3, $4, $5, $6, nullif($7, ''), $8)
		ON CONFLICT (message_id) DO NOTHING`,
		dl.MessageID, dl.EventID, dl.Subscriber, dl.Topic, dl.Reason, message, dl.MessageBase64, dl.FailedAt)
	if err != nil {
		return false, fmt.Errorf("store dead letter %s: %w", dl.MessageID, err)
	}
	return tag.RowsAffected() == 1, nil
}

const deadLetterColumns = `id, message_id, coalesce(event_id, ''), subscriber, topic, reason, message,
	coalesce(message_base64, ''), failed_at, received_at, replayed_at, replayed_by`

func scanDeadLetter(row pgx.Row) (DeadLetter, error) {
	var dl DeadLetter
	var message []byte
	err := row.Scan(&dl.ID, &dl.MessageID, &dl.EventID, &dl.Subscriber, &dl.Topic, &dl.Reason, &message,
		&dl.MessageBase64, &dl.FailedAt, &dl.ReceivedAt, &dl.ReplayedAt, &dl.ReplayedBy)
	if message != nil {
		dl.Message = message
	}
	dl.FailedAt, dl.ReceivedAt = dl.FailedAt.UTC(), dl.ReceivedAt.UTC()
	if dl.ReplayedAt != nil {
		t := dl.ReplayedAt.UTC()
		dl.ReplayedAt = &t
	}
	return dl, err
}

// DeadLetters lists up to limit dead letters, newest first, without their
// messages; only those not replayed yet when pendingOnly.
func (o *Ops) DeadLetters(ctx context.Context, pendingOnly bool, limit int) ([]DeadLetter, error) {
	rows, err := o.pool.Query(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters
		WHERE NOT $1 OR replayed_at IS NULL ORDER BY id DESC LIMIT $2`, pendingOnly, limit)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeadLetter, error) {
		dl, err := scanDeadLetter(r)
		dl.Message, dl.MessageBase64 = nil, ""
		return dl, err
	})
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// DeadLetter returns one dead letter with its message; task.ErrNotFound
// if there is none.
func (o *Ops) DeadLetter(ctx context.Context, id int64) (DeadLetter, error) {
	dl, err := scanDeadLetter(o.pool.QueryRow(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return DeadLetter{}, task.ErrNotFound
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("get dead letter %d: %w", id, err)
	}
	return dl, nil
}

// PendingDeadLetters counts the dead letters not replayed yet.
func (o *Ops) PendingDeadLetters(ctx context.Context) (int64, error) {
	var n int64
	if err := o.pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count dead letters: %w", err)
	}
	return n, nil
}

// ReplayDeadLetter puts the dead letter's task event back on its topic
// through the outbox (so the relay publishes it in order with the task's
// other events, and the subscribers' event-id dedupe makes a replay of a
// message they did take harmless) and marks it replayed by whom, in one
// transaction. It fails with ErrAlreadyReplayed, ErrNotReplayable or
// task.ErrNotFound.
func (o *Ops) ReplayDeadLetter(ctx context.Context, id int64, by string) (DeadLetter, error) {
	var out DeadLetter
	err := pgx.BeginFunc(ctx, o.pool, func(tx pgx.Tx) error {
		dl, err := scanDeadLetter(tx.QueryRow(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return task.ErrNotFound
		}
		if err != nil {
			return err
		}
		if dl.ReplayedAt != nil {
			return ErrAlreadyReplayed
		}
		if dl.Topic != task.Topic || len(dl.Message) == 0 {
			return ErrNotReplayable
		}
		ev, err := task.ParseCloudEvent(dl.Message)
		if err != nil || ev.EventID == uuid.Nil || ev.TaskID == uuid.Nil {
			return ErrNotReplayable
		}
		if _, err := tx.Exec(ctx, `INSERT INTO outbox (event_id, task_id, topic, payload) VALUES ($1, $2, $3, $4)`,
			pgUUID(ev.EventID), pgUUID(ev.TaskID), dl.Topic, []byte(dl.Message)); err != nil {
			return err
		}
		out, err = scanDeadLetter(tx.QueryRow(ctx, `UPDATE dead_letters SET replayed_at = now(), replayed_by = $2
			WHERE id = $1 RETURNING `+deadLetterColumns, id, by))
		return err
	})
	if err != nil && !errors.Is(err, task.ErrNotFound) && !errors.Is(err, ErrAlreadyReplayed) && !errors.Is(err, ErrNotReplayable) {
		return DeadLetter{}, fmt.Errorf("replay dead letter %d: %w", id, err)
	}
	return out, err
}

// AppInstance is one running app process and what its sidecar reported.
type AppInstance struct {
	AppID        string          `json:"app_id"`
	InstanceID   string          `json:"instance_id"`
	Host         string          `json:"host"`
	AppVersion   string          `json:"app_version"`
	StartedAt    time.Time       `json:"started_at"`
	HeartbeatAt  time.Time       `json:"heartbeat_at"`
	Sidecar      json.RawMessage `json:"sidecar"`
	SidecarError *string         `json:"sidecar_error"`
	// ActiveActors counts the app's own activations by actor type (Dapr
	// 1.18's metadata lists hosted types without counts).
	ActiveActors map[string]int `json:"active_actors,omitempty"`
}

// Heartbeat records that inst is alive, with its sidecar's latest report.
func (o *Ops) Heartbeat(ctx context.Context, inst AppInstance) error {
	var sidecar []byte
	if len(inst.Sidecar) > 0 {
		sidecar = inst.Sidecar
	}
	_, err := o.pool.Exec(ctx, `INSERT INTO app_instances (app_id, instance_id, host, app_version, started_at,
			heartbeat_at, sidecar, sidecar_error, active_actors) VALUES ($1, $2, $3, $4, $5, now(), $6, $7, $8)
		ON CONFLICT (app_id, instance_id) DO UPDATE SET heartbeat_at = now(), sidecar = excluded.sidecar,
			sidecar_error = excluded.sidecar_error, app_version = excluded.app_version, active_actors = excluded.active_actors`,
		inst.AppID, inst.InstanceID, inst.Host, inst.AppVersion, inst.StartedAt, sidecar, inst.SidecarError, inst.ActiveActors)
	if err != nil {
		return fmt.Errorf("heartbeat of %s/%s: %w", inst.AppID, inst.InstanceID, err)
	}
	return nil
}

// Forget removes an instance that is stopping, and instances silent since
// before staleBefore (processes that died without saying so).
func (o *Ops) Forget(ctx context.Context, appID, instanceID string, staleBefore time.Time) error {
	_, err := o.pool.Exec(ctx, `DELETE FROM app_instances WHERE (app_id = $1 AND instance_id = $2) OR heartbeat_at < $3`,
		appID, instanceID, staleBefore)
	if err != nil {
		return fmt.Errorf("forget instance %s/%s: %w", appID, instanceID, err)
	}
	return nil
}

// Instances lists the app instances, by app and start.
func (o *Ops) Instances(ctx context.Context) ([]AppInstance, time.Time, error) {
	var now time.Time
	if err := o.pool.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		return nil, now, fmt.Errorf("list app instances: %w", err)
	}
	rows, err := o.pool.Query(ctx, `SELECT app_id, instance_id, host, app_version, started_at, heartbeat_at, sidecar,
		sidecar_error, active_actors FROM app_instances ORDER BY app_id, started_at, instance_id`)
	if err != nil {
		return nil, now, fmt.Errorf("list app instances: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AppInstance, error) {
		var in AppInstance
		var sidecar []byte
		err := r.Scan(&in.AppID, &in.InstanceID, &in.Host, &in.AppVersion, &in.StartedAt, &in.HeartbeatAt, &sidecar, &in.SidecarError, &in.ActiveActors)
		if sidecar != nil {
			in.Sidecar = sidecar
		}
		in.StartedAt, in.HeartbeatAt = in.StartedAt.UTC(), in.HeartbeatAt.UTC()
		return in, err
	})
	if err != nil {
		return nil, now, fmt.Errorf("list app instances: %w", err)
	}
	return out, now.UTC(), nil
}

// PendingReminder is a reminder or a series tick that has yet to fire.
type PendingReminder struct {
	Kind         string     `json:"kind"` // reminder | series_tick
	TaskID       uuid.UUID  `json:"task_id"`
	UserID       string     `json:"user_id"`
	ReminderID   *uuid.UUID `json:"reminder_id,omitempty"`
	ReminderType string     `json:"reminder_type,omitempty"`
	// DueAt is when a reminder is to fire; for a series tick, the occurrence
	// its next instance is created for (the tick itself fires up to the
	// series' largest reminder offset earlier).
	DueAt time.Time `json:"due_at"`
}

// PendingReminders lists up to limit pending reminders and series ticks,
// the earliest due (so the late ones) first, with the database's now.
func (o *Ops) PendingReminders(ctx context.Context, limit int) ([]PendingReminder, time.Time, error) {
	var now time.Time
	if err := o.pool.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		return nil, now, fmt.Errorf("list pending reminders: %w", err)
	}
	rows, err := o.pool.Query(ctx, `
		(SELECT 'reminder', task_id, user_id, reminder_id, reminder_type, trigger_at FROM reminder_schedule
			WHERE status = 'pending' ORDER BY trigger_at LIMIT $1)
		UNION ALL
		(SELECT 'series_tick', task_id, user_id, NULL, '', next_occurrence FROM recurring_series
			WHERE ended_at IS NULL AND next_occurrence IS NOT NULL ORDER BY next_occurrence LIMIT $1)
		ORDER BY 6, 2 LIMIT $1`, limit)
	if err != nil {
		return nil, now, fmt.Errorf("list pending reminders: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PendingReminder, error) {
		var p PendingReminder
		var taskID, reminderID pgtype.UUID
		err := r.Scan(&p.Kind, &taskID, &p.UserID, &reminderID, &p.ReminderType, &p.DueAt)
		p.TaskID = taskID.Bytes
		if reminderID.Valid {
			id := uuid.UUID(reminderID.Bytes)
			p.ReminderID = &id
		}
		p.DueAt = p.DueAt.UTC()
		return p, err
	})
	if err != nil {
		return nil, now, fmt.Errorf("list pending reminders: %w", err)
	}
	return out, now.UTC(), nil
}

// AllOperations lists up to limit operations of every user, those running
// or failed first, newest first within each; status filters when set.
func (o *Operations) AllOperations(ctx context.Context, status string, limit int) ([]Operation, error) {
	rows, err := o.pool.Query(ctx, `SELECT o.id, o.user_id, o.kind, o.task_id, o.status, o.request, o.total,
			(SELECT count(*) FROM operation_items i WHERE i.operation_id = o.id), o.result, o.error, o.created_at, o.updated_at
		FROM operations o WHERE $1 = '' OR o.status = $1
		ORDER BY CASE o.status WHEN 'running' THEN 0 WHEN 'pending' THEN 1 WHEN 'failed' THEN 2 ELSE 3 END, o.created_at DESC
		LIMIT $2`, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list operations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Operation, error) {
		var op Operation
		var opID, taskID pgtype.UUID
		var request, result []byte
		err := r.Scan(&opID, &op.UserID, &op.Kind, &taskID, &op.Status, &request, &op.Total, &op.Done, &result, &op.Error,
			&op.CreatedAt, &op.UpdatedAt)
		op.ID, op.TaskID = opID.Bytes, taskID.Bytes
		op.Request, op.Result = request, result
		op.CreatedAt, op.UpdatedAt = op.CreatedAt.UTC(), op.UpdatedAt.UTC()
		return op, err
	})
	if err != nil {
		return nil, fmt.Errorf("list operations: %w", err)
	}
	return out, nil
}

// Operation returns any user's operation; task.ErrNotFound if there is none.
func (o *Operations) Operation(ctx context.Context, id uuid.UUID) (Operation, error) {
	var userID string
	if err := o.pool.QueryRow(ctx, `SELECT user_id FROM operations WHERE id = $1`, pgUUID(id)).Scan(&userID); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return Operation{}, task.ErrNotFound
		}
		return Operation{}, fmt.Errorf("get operation %s: %w", id, err)
	}
	return o.Get(ctx, userID, id)
}

// Reset returns a failed operation to pending for a retry, keeping the
// items it recorded (the workflow's activities skip what they did). It
// reports false when the operation is not failed.
func (o *Operations) Reset(ctx context.Context, id uuid.UUID) (bool, error) {
	tag, err := o.pool.Exec(ctx, `UPDATE operations SET status = 'pending', error = NULL, result = NULL, updated_at = now()
		WHERE id = $1 AND status = 'failed'`, pgUUID(id))
	if err != nil {
		return false, fmt.Errorf("reset operation %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}
