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

// ErrNotificationsRejected marks a batch PostgreSQL refused for its data
// (a data exception or an integrity violation, class 22 or 23, or a row
// too large): storing the same batch again cannot succeed, and some
// notification of it is at fault. Any other error may pass.
var ErrNotificationsRejected = errors.New("notifications rejected")

// Save stores a batch; events already stored (by another instance, or a
// redelivery) are left as they are. See ErrNotificationsRejected.
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
	// The store is a replay buffer, so its commits do not wait for the
	// WAL flush (the wait is on every event's way to the browsers): a
	// server crash can lose the last fraction of a second of it, and a
	// reconnect after an event no longer stored falls back to the audit
	// log, or to a resync. One round trip: a batch is one implicit
	// transaction, which the setting is local to.
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
	b.Queue(`INSERT INTO notifications (event_id, user_id, event_type, task_id, occurred_at, data)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[], $6::json[])
		ON CONFLICT (event_id) DO NOTHING`, ids, users, types, tasks, occurred, data)
	err := n.pool.SendBatch(ctx, b).Close()
	if err != nil && rejected(err) {
		return fmt.Errorf("%w: %w", ErrNotificationsRejected, err)
	}
	if err != nil {
		return fmt.Errorf("save notifications: %w", err)
	}
	return nil
}

// ErrUnknownEvent: the event to resume after is not (or no longer) stored.
var ErrUnknownEvent = errors.New("event not stored")

// After returns what userID may have missed after the event with id
// last, at most limit+1 events so that a caller can tell there were more;
// the event last itself is left out.
//
// The anchor is the store's own order, never the producer's occurred_at
// (an event held up on its partition is stored late): every event stored
// after last (seq > seq(last)), in the order stored, and also those stored
// up to margin before it, because a stream does not receive events in
// exactly that order: each instance pushes an event when it has handled
// it, and one may lag on a partition behind the instance that stored it
// first (repeats are for the client to drop, by id).
//
// The audit log (task_events) also has the events no notifier stored
// (none was running; a new instance starts at the topic's newest offset):
// those the auditor received since margin before last was stored are
// merged in by their receive time. An event in both is taken from the
// notifier's store. last itself may be an event of either.
func (n *Notifications) After(ctx context.Context, userID string, last uuid.UUID, margin time.Duration, limit int) ([]Notification, error) {
	var stored, audited []Notification
	// One snapshot for the three reads: an event stored meanwhile is in
	// both stores or in neither.
	err := pgx.BeginTxFunc(ctx, n.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var seq pgtype.Int8 // NULL when last is only in the audit log
		var storedAt time.Time
		err := tx.QueryRow(ctx, `SELECT seq, received_at FROM notifications WHERE event_id = $1 AND user_id = $2
			UNION ALL SELECT NULL, received_at FROM task_events WHERE event_id = $1 AND user_id = $2
			ORDER BY seq NULLS LAST LIMIT 1`, pgUUID(last), userID).Scan(&seq, &storedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrUnknownEvent
		}
		if err != nil {
			return fmt.Errorf("find event %s: %w", last, err)
		}
		since := storedAt.Add(-margin)
		// seq > NULL is never true: then the margin alone decides.
		if stored, err = collectNotifications(ctx, tx, `SELECT event_id, user_id, event_type, task_id, occurred_at, received_at, data::text
			FROM notifications WHERE user_id = $1 AND (seq > $2 OR received_at >= $3) AND event_id <> $4
			ORDER BY seq LIMIT $5`, userID, seq, since, pgUUID(last), limit+1); err != nil {
			return fmt.Errorf("replay after %s: %w", last, err)
		}
		if audited, err = collectNotifications(ctx, tx, `SELECT e.event_id, e.user_id, e.event_type, e.task_id, e.occurred_at, e.received_at, e.payload::text
			FROM task_events e WHERE e.user_id = $1 AND e.received_at >= $2 AND e.event_id <> $3
				AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.event_id = e.event_id)
			ORDER BY e.received_at, e.event_id LIMIT $4`, userID, since, pgUUID(last), limit+1); err != nil {
			return fmt.Errorf("replay after %s from the audit log: %w", last, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Merge: the store's order, with each audited event before the first
	// stored one received after it.
	out := make([]Notification, 0, min(len(stored)+len(audited), limit+1))
	for len(out) <= limit && (len(stored) > 0 || len(audited) > 0) {
		if len(audited) > 0 && (len(stored) == 0 || audited[0].ReceivedAt.Before(stored[0].ReceivedAt)) {
			out, audited = append(out, audited[0]), audited[1:]
		} else {
			out, stored = append(out, stored[0]), stored[1:]
		}
	}
	return out, nil
}

func collectNotifications(ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]Notification, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var nt Notification
		var id, taskID pgtype.UUID
		var data string
		err := r.Scan(&id, &nt.UserID, &nt.Type, &taskID, &nt.OccurredAt, &nt.ReceivedAt, &data)
		nt.EventID, nt.TaskID, nt.Data = id.Bytes, taskID.Bytes, []byte(data)
		return nt, err
	})
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
