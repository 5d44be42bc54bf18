package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskflow/taskflow/internal/tracing"
	"github.com/taskflow/taskflow/task"
)

// Tasks stores task rows. Every write also inserts the change's event into
// the outbox in the same statement, so a change is never committed without
// its event nor an event published for a change that did not commit.
//
// Writes are guarded by the task's version (optimistic concurrency): the
// task's actor is the only writer and keeps the current snapshot, so each
// write is one round trip. A write whose expected version is stale changes
// nothing and returns task.ErrConflict.
//
// Tasks is safe for concurrent use.
type Tasks struct {
	pool   *pgxpool.Pool
	writes *groupCommit
}

// TasksConfig tunes how task writes share transactions (group commit).
// Zero values take the defaults.
type TasksConfig struct {
	// WriteConcurrency is how many write transactions run at once (4).
	// Fewer means bigger batches: less PostgreSQL CPU per write, but a
	// write may wait for the batch ahead of it.
	WriteConcurrency int
	// WriteBatch is the most writes one transaction takes (64).
	WriteBatch int
}

// NewTasks returns a Tasks on pool with the default TasksConfig.
func NewTasks(pool *pgxpool.Pool) *Tasks { return NewTasksConfig(pool, TasksConfig{}) }

// NewTasksConfig returns a Tasks on pool.
func NewTasksConfig(pool *pgxpool.Pool, cfg TasksConfig) *Tasks {
	if cfg.WriteConcurrency <= 0 {
		cfg.WriteConcurrency = 4
	}
	if cfg.WriteBatch <= 0 {
		cfg.WriteBatch = 64
	}
	return &Tasks{pool: pool, writes: newGroupCommit(pool, cfg.WriteConcurrency, cfg.WriteBatch)}
}

const taskColumns = `id, user_id, title, description, completed, completed_at, priority, tags,
	created_at, updated_at, version, due_date, recurrence_pattern, recurrence_end_date,
	parent_recurring_task_id, occurrence_date, reminder_offset, reminder_status, timezone, recurrence_mode, reminders`

// taskColumnCount is the number of columns in taskColumns.
const taskColumnCount = 21

// placeholders returns "$from, $from+1, ..." for n parameters.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

// taskValues returns t's values in taskColumns order.
func taskValues(t task.Task) []any {
	return []any{pgUUID(t.ID), t.UserID, t.Title, t.Description, t.Completed, t.CompletedAt, string(t.Priority), t.Tags,
		t.CreatedAt, t.UpdatedAt, t.Version, t.DueDate, t.RecurrencePattern, t.RecurrenceEndDate,
		pgUUIDPtr(t.ParentRecurringTaskID), t.OccurrenceDate, t.ReminderOffset, t.ReminderStatus, t.Timezone, t.RecurrenceMode,
		remindersJSON(t.Reminders)}
}

func remindersJSON(rs []task.Reminder) []byte {
	if len(rs) == 0 {
		return []byte("[]")
	}
	b, _ := json.Marshal(rs)
	return b
}

// pgUUID sends a UUID in PostgreSQL's binary format (google/uuid would
// otherwise go through its text form).
func pgUUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

func pgUUIDPtr(id *uuid.UUID) pgtype.UUID {
	if id == nil {
		return pgtype.UUID{}
	}
	return pgUUID(*id)
}

func scanTask(row pgx.Row, extra ...any) (task.Task, error) {
	var t task.Task
	var prio string
	var id, parent pgtype.UUID
	var reminders []byte
	dest := []any{&id, &t.UserID, &t.Title, &t.Description, &t.Completed, &t.CompletedAt, &prio, &t.Tags,
		&t.CreatedAt, &t.UpdatedAt, &t.Version, &t.DueDate, &t.RecurrencePattern, &t.RecurrenceEndDate,
		&parent, &t.OccurrenceDate, &t.ReminderOffset, &t.ReminderStatus, &t.Timezone, &t.RecurrenceMode, &reminders}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return task.Task{}, err
	}
	t.Reminders = []task.Reminder{}
	if err := json.Unmarshal(reminders, &t.Reminders); err != nil {
		return task.Task{}, fmt.Errorf("decode reminders: %w", err)
	}
	t.ID = id.Bytes
	if parent.Valid {
		p := uuid.UUID(parent.Bytes)
		t.ParentRecurringTaskID = &p
	}
	t.Priority = task.Priority(prio)
	if t.Tags == nil {
		t.Tags = []string{}
	}
	normaliseTimes(&t)
	return t, nil
}

func normaliseTimes(t *task.Task) {
	t.CreatedAt = t.CreatedAt.UTC()
	t.UpdatedAt = t.UpdatedAt.UTC()
	for _, p := range []**time.Time{&t.CompletedAt, &t.DueDate, &t.RecurrenceEndDate, &t.OccurrenceDate} {
		if *p != nil {
			u := (**p).UTC()
			*p = &u
		}
	}
}

// outboxInsert returns the event's INSERT, the final one of a write
// statement: $1..$4 are event_id, task_id, topic and payload, and the trace
// context of ctx (the actor's span, see traceparent) is appended to args;
// src is the CTE whose row (if any) gates the insert.
func outboxInsert(ctx context.Context, args *[]any, src string) string {
	*args = append(*args, traceparent(ctx))
	return fmt.Sprintf(`INSERT INTO outbox (event_id, task_id, topic, payload, traceparent)
	SELECT $1, $2, $3, $4, $%d::text FROM %s`, len(*args), src)
}

// traceparent is the outbox row's traceparent: the W3C trace context of
// the span in ctx, NULL without one. The relay publishes the event as a
// child of it.
func traceparent(ctx context.Context) pgtype.Text {
	tp := tracing.Traceparent(ctx)
	return pgtype.Text{String: tp, Valid: tp != ""}
}

// itemInsert returns a CTE (", item AS (...)") recording item for the row
// of src, appending its parameters to args; "" when item is nil.
func itemInsert(args *[]any, item *task.OperationItem, src string) string {
	if item == nil {
		return ""
	}
	n := len(*args)
	*args = append(*args, pgUUID(item.OperationID), item.Outcome)
	return fmt.Sprintf(`, item AS (
		INSERT INTO operation_items (operation_id, task_id, outcome) SELECT $%d, id, $%d FROM %s
		ON CONFLICT (operation_id, task_id) DO NOTHING)`, n+1, n+2, src)
}

func eventArgs(ev task.Event) ([]any, error) {
	payload, err := ev.MarshalCloudEvent()
	if err != nil {
		return nil, err
	}
	return []any{pgUUID(ev.EventID), pgUUID(ev.TaskID), task.Topic, payload}, nil
}

// Insert creates t and enqueues ev. With an idempotency key the key is
// claimed in the same statement: if it was already claimed with the same
// request hash, Insert writes nothing and returns the stored response as
// replay; with a different hash it returns task.ErrIdempotencyMismatch.
// An existing task with t's id is task.ErrConflict.
//
// x.Alarms are stored in the same transaction.
func (s *Tasks) Insert(ctx context.Context, t task.Task, ev task.Event, idem *task.IdempotencyKey, x task.Extras) (replay *task.Task, err error) {
	args, err := eventArgs(ev)
	if err != nil {
		return nil, err
	}
	args = append(args, taskValues(t)...) // $5..$24
	values := placeholders(5, taskColumnCount)
	var sql string
	if idem == nil {
		sql = `WITH ins AS (
			INSERT INTO tasks (` + taskColumns + `) VALUES (` + values + `)
			ON CONFLICT (id) DO NOTHING RETURNING id)` + alarmsInsert(&args, x.Alarms, "ins") + `
			` + outboxInsert(ctx, &args, "ins")
	} else {
		response, err := json.Marshal(t)
		if err != nil {
			return nil, fmt.Errorf("encode idempotent response: %w", err)
		}
		n := 5 + taskColumnCount
		args = append(args, idem.Key, idem.RequestHash, response) // $n..$n+2
		sql = fmt.Sprintf(`WITH idem AS (
			INSERT INTO idempotency_keys (user_id, key, request_hash, task_id, response)
			VALUES ($6, $%d, $%d, $5, $%d)
			ON CONFLICT (user_id, key) DO NOTHING RETURNING task_id),
		ins AS (
			INSERT INTO tasks (`+taskColumns+`)
			SELECT `+values+` FROM idem
			ON CONFLICT (id) DO NOTHING RETURNING id)`, n, n+1, n+2) + alarmsInsert(&args, x.Alarms, "ins") + `
			` + outboxInsert(ctx, &args, "ins")
	}
	tag, err := s.writes.exec(ctx, sql, args)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "uniq_recurring_instance" {
		return nil, fmt.Errorf("insert task %s: %w", t.ID, task.ErrDuplicateInstance)
	}
	if err != nil {
		return nil, fmt.Errorf("insert task %s: %w", t.ID, err)
	}
	if tag.RowsAffected() == 1 {
		return nil, nil
	}
	if idem == nil {
		return nil, fmt.Errorf("insert task %s: %w", t.ID, task.ErrConflict)
	}
	return s.replay(ctx, t.UserID, *idem)
}

func (s *Tasks) replay(ctx context.Context, userID string, idem task.IdempotencyKey) (*task.Task, error) {
	var hash, response []byte
	err := s.pool.QueryRow(ctx, `SELECT request_hash, response FROM idempotency_keys WHERE user_id = $1 AND key = $2`,
		userID, idem.Key).Scan(&hash, &response)
	if errors.Is(err, pgx.ErrNoRows) {
		// The key was claimed but its task id already existed: a collision
		// of ids, which UUIDv7 makes practically impossible.
		return nil, fmt.Errorf("idempotent create for key: %w", task.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("read idempotency key: %w", err)
	}
	if !bytes.Equal(hash, idem.RequestHash) {
		return nil, task.ErrIdempotencyMismatch
	}
	var t task.Task
	if err := json.Unmarshal(response, &t); err != nil {
		return nil, fmt.Errorf("decode idempotent response: %w", err)
	}
	return &t, nil
}

// LookupIdempotency returns the stored response for (userID, key) and
// whether the request hash matches; found is false if the key is unused.
func (s *Tasks) LookupIdempotency(ctx context.Context, userID string, idem task.IdempotencyKey) (replay *task.Task, found bool, err error) {
	replay, err = s.replay(ctx, userID, idem)
	switch {
	case errors.Is(err, task.ErrConflict):
		return nil, false, nil
	case err != nil:
		return nil, true, err
	}
	return replay, true, nil
}

// Update replaces the task with next if its stored version is still
// prevVersion, and enqueues ev. A non-nil item is recorded in the same
// statement (see task.OperationItem).
func (s *Tasks) Update(ctx context.Context, next task.Task, prevVersion int64, ev task.Event, x task.Extras) error {
	args, err := eventArgs(ev)
	if err != nil {
		return err
	}
	args = append(args, taskValues(next)...) // $5..$25
	args = append(args, prevVersion)         // $26
	sql := `WITH upd AS (
		UPDATE tasks SET title = $7, description = $8, completed = $9, completed_at = $10, priority = $11,
			tags = $12, updated_at = $14, version = $15, due_date = $16, recurrence_pattern = $17,
			recurrence_end_date = $18, parent_recurring_task_id = $19, occurrence_date = $20,
			reminder_offset = $21, reminder_status = $22, timezone = $23, recurrence_mode = $24, reminders = $25
		WHERE id = $5 AND user_id = $6 AND version = $26 AND created_at = $13
		RETURNING id)` + itemInsert(&args, x.Item, "upd") + alarmsInsert(&args, x.Alarms, "upd") + `
		` + outboxInsert(ctx, &args, "upd")
	tag, err := s.writes.exec(ctx, sql, args)
	if err != nil {
		return fmt.Errorf("update task %s: %w", next.ID, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("update task %s at version %d: %w", next.ID, prevVersion, task.ErrConflict)
	}
	return nil
}

// Delete removes the task if its stored version is still prevVersion, and
// enqueues ev (whose snapshot is the task as deleted). A non-nil item is
// recorded in the same statement.
func (s *Tasks) Delete(ctx context.Context, id uuid.UUID, prevVersion int64, ev task.Event, x task.Extras) error {
	args, err := eventArgs(ev)
	if err != nil {
		return err
	}
	args = append(args, pgUUID(id), prevVersion) // $5, $6
	sql := `WITH del AS (DELETE FROM tasks WHERE id = $5 AND version = $6 RETURNING id)` +
		itemInsert(&args, x.Item, "del") + alarmsInsert(&args, x.Alarms, "del") + `
		` + outboxInsert(ctx, &args, "del")
	tag, err := s.writes.exec(ctx, sql, args)
	if err != nil {
		return fmt.Errorf("delete task %s: %w", id, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("delete task %s at version %d: %w", id, prevVersion, task.ErrConflict)
	}
	return nil
}

// WriteStats reports how the task writes shared transactions so far.
func (s *Tasks) WriteStats() WriteStats { return s.writes.stats() }

// Get returns the task with id, whoever owns it.
func (s *Tasks) Get(ctx context.Context, id uuid.UUID) (task.Task, error) {
	t, err := scanTask(s.pool.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1`, pgUUID(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return task.Task{}, task.ErrNotFound
	}
	if err != nil {
		return task.Task{}, fmt.Errorf("get task %s: %w", id, err)
	}
	return t, nil
}

// GetForUser returns the task with id if userID owns it; otherwise
// task.ErrNotFound.
func (s *Tasks) GetForUser(ctx context.Context, userID string, id uuid.UUID) (task.Task, error) {
	t, err := scanTask(s.pool.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1 AND user_id = $2`, pgUUID(id), userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return task.Task{}, task.ErrNotFound
	}
	if err != nil {
		return task.Task{}, fmt.Errorf("get task %s: %w", id, err)
	}
	return t, nil
}
