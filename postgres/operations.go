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

// Operation is a change that spans many tasks, run as a Dapr workflow.
type Operation struct {
	ID        uuid.UUID       `json:"id"`
	UserID    string          `json:"user_id"`
	Kind      string          `json:"kind"`    // series.update | series.delete
	TaskID    uuid.UUID       `json:"task_id"` // the series
	Status    string          `json:"status"`  // pending | running | completed | failed
	Request   json.RawMessage `json:"request"`
	Total     *int            `json:"total"` // tasks to deal with, once known
	Done      int             `json:"done"`  // tasks dealt with so far
	Result    json.RawMessage `json:"result"`
	Error     *string         `json:"error"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// Operations stores operations and their progress. Safe for concurrent use.
type Operations struct {
	pool *pgxpool.Pool
}

// NewOperations returns an Operations on pool.
func NewOperations(pool *pgxpool.Pool) *Operations { return &Operations{pool: pool} }

// Create records a new pending operation; creating one that exists is a no-op.
func (o *Operations) Create(ctx context.Context, op Operation) error {
	_, err := o.pool.Exec(ctx, `INSERT INTO operations (id, user_id, kind, task_id, status, request)
		VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT (id) DO NOTHING`,
		pgUUID(op.ID), op.UserID, op.Kind, pgUUID(op.TaskID), []byte(op.Request))
	if err != nil {
		return fmt.Errorf("create operation %s: %w", op.ID, err)
	}
	return nil
}

// Start marks the operation running with total tasks to deal with.
func (o *Operations) Start(ctx context.Context, id uuid.UUID, total int) error {
	_, err := o.pool.Exec(ctx, `UPDATE operations SET status = 'running', total = $2, updated_at = now()
		WHERE id = $1 AND status IN ('pending', 'running')`, pgUUID(id), total)
	if err != nil {
		return fmt.Errorf("start operation %s: %w", id, err)
	}
	return nil
}

// Record notes what the operation did to one task. Recording the same task
// again (a retried activity) changes nothing.
func (o *Operations) Record(ctx context.Context, id, taskID uuid.UUID, outcome string) error {
	_, err := o.pool.Exec(ctx, `INSERT INTO operation_items (operation_id, task_id, outcome) VALUES ($1, $2, $3)
		ON CONFLICT (operation_id, task_id) DO NOTHING`, pgUUID(id), pgUUID(taskID), outcome)
	if err != nil {
		return fmt.Errorf("record operation %s item: %w", id, err)
	}
	return nil
}

// Finish ends the operation: completed with a result summarising its items
// (outcome -> count), or failed with a message when failure is not empty.
func (o *Operations) Finish(ctx context.Context, id uuid.UUID, failure string) error {
	status, errText := "completed", (*string)(nil)
	if failure != "" {
		status, errText = "failed", &failure
	}
	_, err := o.pool.Exec(ctx, `UPDATE operations SET status = $2, error = $3, updated_at = now(),
		result = (SELECT coalesce(jsonb_object_agg(outcome, n), '{}') FROM
			(SELECT outcome, count(*) AS n FROM operation_items WHERE operation_id = $1 GROUP BY outcome) c)
		WHERE id = $1`, pgUUID(id), status, errText)
	if err != nil {
		return fmt.Errorf("finish operation %s: %w", id, err)
	}
	return nil
}

// Get returns userID's operation id with its progress; task.ErrNotFound if
// there is none (or it is another user's).
func (o *Operations) Get(ctx context.Context, userID string, id uuid.UUID) (Operation, error) {
	var op Operation
	var opID, taskID pgtype.UUID
	var request, result []byte
	err := o.pool.QueryRow(ctx, `SELECT o.id, o.user_id, o.kind, o.task_id, o.status, o.request, o.total,
			(SELECT count(*) FROM operation_items i WHERE i.operation_id = o.id), o.result, o.error, o.created_at, o.updated_at
		FROM operations o WHERE o.id = $1 AND o.user_id = $2`, pgUUID(id), userID).
		Scan(&opID, &op.UserID, &op.Kind, &taskID, &op.Status, &request, &op.Total, &op.Done, &result, &op.Error,
			&op.CreatedAt, &op.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Operation{}, task.ErrNotFound
	}
	if err != nil {
		return Operation{}, fmt.Errorf("get operation %s: %w", id, err)
	}
	op.ID, op.TaskID = opID.Bytes, taskID.Bytes
	op.Request, op.Result = request, result
	op.CreatedAt, op.UpdatedAt = op.CreatedAt.UTC(), op.UpdatedAt.UTC()
	return op, nil
}
