package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Notification is one event as the notifier stores it for replay.
type Notification struct {
	EventID    uuid.UUID
	UserID     string
	Type       string
	TaskID     uuid.UUID
	OccurredAt time.Time
	ReceivedAt time.Time
	Data       []byte // the event body (JSON, one line)
}

// Notifications stores what the notifier delivers, for replay. Safe for
// concurrent use.
type Notifications struct {
	pool *pgxpool.Pool
}

// NewNotifications returns a Notifications on pool.
func NewNotifications(pool *pgxpool.Pool) *Notifications { return &Notifications{pool: pool} }

// Save stores a batch; events already stored (by another instance, or a
// redelivery) are left as they are.
func (n *Notifications) Save(ctx context.Context, batch []Notification) error {
	if len(batch) == 0 {
		return nil
	}
	ids := make([]pgtype.UUID, len(batch))
	users := make([]string, len(batch))
	types := make([]string, len(batch))
	tasks := make([]pgtype.UUID, len(batch))
	occurred := make([]time.Time, len(batch))
	data := make([]string, len(batch))
	for i, nt := range batch {
		ids[i], users[i], types[i], tasks[i], occurred[i], data[i] = pgUUID(nt.EventID), nt.UserID, nt.Type, pgUUID(nt.TaskID), nt.OccurredAt, string(nt.Data)
	}
	_, err := n.pool.Exec(ctx, `INSERT INTO notifications (event_id, user_id, event_type, task_id, occurred_at, data)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[], $6::json[])
		ON CONFLICT (event_id) DO NOTHING`, ids, users, types, tasks, occurred, data)
	if err != nil {
		return fmt.Errorf("save notifications: %w", err)
	}
	return nil
}

// ErrUnknownEvent: the event to resume after is not (or no longer) stored.
var ErrUnknownEvent = errors.New("event not stored")

// After returns userID's events that occurred since the one with id last
// (less margin: the relay and the notifier instances may see events of
// different tasks in different orders), oldest first, at most limit+1 so
// that a caller can tell there were more. It reads the notifier's store
// and the audit log (task_events), which also holds events published while
// no notifier was running; an event in both is returned once. The event
// last itself is left out.
func (n *Notifications) After(ctx context.Context, userID string, last uuid.UUID, margin time.Duration, limit int) ([]Notification, error) {
	var since time.Time
	err := n.pool.QueryRow(ctx, `SELECT occurred_at FROM notifications WHERE event_id = $1 AND user_id = $2
		UNION ALL SELECT occurred_at FROM task_events WHERE event_id = $1 AND user_id = $2 LIMIT 1`, pgUUID(last), userID).Scan(&since)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrUnknownEvent
	}
	if err != nil {
		return nil, fmt.Errorf("find event %s: %w", last, err)
	}
	rows, err := n.pool.Query(ctx, `SELECT event_id, user_id, event_type, task_id, occurred_at, received_at, data FROM (
			SELECT DISTINCT ON (event_id) event_id, user_id, event_type, task_id, occurred_at, received_at, data FROM (
				SELECT event_id, user_id, event_type, task_id, occurred_at, received_at, data::text AS data, 0 AS src
				FROM notifications WHERE user_id = $1 AND occurred_at >= $2
				UNION ALL
				SELECT event_id, user_id, event_type, task_id, occurred_at, received_at, payload::text, 1
				FROM task_events WHERE user_id = $1 AND occurred_at >= $2
			) both_stores WHERE event_id <> $3 ORDER BY event_id, src
		) events ORDER BY occurred_at, event_id LIMIT $4`, userID, since.Add(-margin), pgUUID(last), limit+1)
	if err != nil {
		return nil, fmt.Errorf("replay after %s: %w", last, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var nt Notification
		var id, taskID pgtype.UUID
		var data string
		err := r.Scan(&id, &nt.UserID, &nt.Type, &taskID, &nt.OccurredAt, &nt.ReceivedAt, &data)
		nt.EventID, nt.TaskID, nt.Data = id.Bytes, taskID.Bytes, []byte(data)
		return nt, err
	})
	if err != nil {
		return nil, fmt.Errorf("replay after %s: %w", last, err)
	}
	return out, nil
}

// Purge deletes notifications received before before, in batches.
func (n *Notifications) Purge(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		tag, err := n.pool.Exec(ctx, `DELETE FROM notifications WHERE event_id IN
			(SELECT event_id FROM notifications WHERE received_at < $1 LIMIT 5000)`, before)
		if err != nil {
			return total, fmt.Errorf("purge notifications: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 5000 || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}
