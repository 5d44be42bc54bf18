package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Retention deletes bookkeeping rows that reached a final state longer ago
// than the retention, so that these tables do not grow forever. Tasks (user
// data) and the audit log task_events (immutable) are never touched. Rows
// go in small batches, so no statement runs long or holds many locks; a
// purge is idempotent, and replicas running it at once only repeat each
// other's work. Safe for concurrent use.
//
// What goes, and why the rest stays:
//
//   - reminder_schedule: rows 'sent' or 'cancelled' last changed before the
//     cutoff, except a sent reminder the task still lists. The task's actor
//     plans its alarms against these rows: a reminder it lists whose time
//     has passed and that has no row would count as new (refused as in the
//     past, or fired again), and a sent one can still be snoozed. A missing
//     cancelled row, a missing overdue notice, or a missing row of a
//     reminder the task no longer lists plans exactly as the row did. Only
//     the task's reminder_status summary may change on its next write ('sent'
//     or 'cancelled' history gone: null), and GET /tasks/{id}/reminders no
//     longer shows that history.
//   - recurring_series: rows of series whose task is gone (deleted), last
//     changed before the cutoff. A series task that exists keeps its row
//     even once ended (one row per task, like the task): without it the
//     series would start over from its first occurrence if reopened.
//   - operations (with their operation_items): completed or failed ones
//     last changed before the cutoff. GET /api/v1/operations/{id} answers
//     404 for them, and a failed one can no longer be retried.
type Retention struct {
	pool *pgxpool.Pool
}

// NewRetention returns a Retention on pool.
func NewRetention(pool *pgxpool.Pool) *Retention { return &Retention{pool: pool} }

// Purged counts the rows one purge deleted, per table.
type Purged struct {
	Reminders  int64 // reminder_schedule
	Series     int64 // recurring_series
	Operations int64 // operations, each with its operation_items
}

// Total is the number of rows deleted (operation items not counted).
func (p Purged) Total() int64 { return p.Reminders + p.Series + p.Operations }

// Batch sizes: rows per statement. An operation takes its items with it
// (a series-wide change has an item per instance), hence fewer at once.
const (
	purgeBatch          = 5000
	purgeOperationBatch = 100
)

// The purge statements; each deletes at most one batch ($2) of rows last
// changed before $1.
const (
	purgeReminders = `DELETE FROM reminder_schedule WHERE ctid IN (
		SELECT r.ctid FROM reminder_schedule r
		WHERE r.status <> 'pending' AND r.updated_at < $1
			AND NOT (r.status = 'sent' AND r.reminder_type <> 'overdue' AND EXISTS (
				SELECT 1 FROM tasks t WHERE t.id = r.task_id
					AND t.reminders @> jsonb_build_array(jsonb_build_object('id', r.reminder_id::text))))
		LIMIT $2)`
	purgeSeries = `DELETE FROM recurring_series WHERE ctid IN (
		SELECT s.ctid FROM recurring_series s
		WHERE s.updated_at < $1 AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = s.task_id)
		LIMIT $2)`
	// FOR UPDATE: a retry resetting a failed operation (Operations.Reset)
	// either waits and then finds it gone, or wins and the row no longer
	// qualifies. Its items go with it (ON DELETE CASCADE), in the same
	// statement, so a retried operation never loses the items that make
	// its activities idempotent.
	purgeOperations = `DELETE FROM operations WHERE id IN (
		SELECT id FROM operations
		WHERE status IN ('completed', 'failed') AND updated_at < $1
		LIMIT $2 FOR UPDATE SKIP LOCKED)`
)

// Purge deletes the final rows last changed before cutoff (see Retention),
// batch by batch until none is left or ctx is done.
func (r *Retention) Purge(ctx context.Context, cutoff time.Time) (Purged, error) {
	var p Purged
	for _, step := range []struct {
		table string
		sql   string
		batch int
		n     *int64
	}{
		{"reminder_schedule", purgeReminders, purgeBatch, &p.Reminders},
		{"recurring_series", purgeSeries, purgeBatch, &p.Series},
		{"operations", purgeOperations, purgeOperationBatch, &p.Operations},
	} {
		for {
			tag, err := r.pool.Exec(ctx, step.sql, cutoff, step.batch)
			if err != nil {
				return p, fmt.Errorf("purge %s: %w", step.table, err)
			}
			*step.n += tag.RowsAffected()
			if tag.RowsAffected() < int64(step.batch) {
				break
			}
			if err := ctx.Err(); err != nil {
				return p, err
			}
		}
	}
	return p, nil
}
