package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// relayLockKey is the advisory lock held by the one active outbox relay.
const relayLockKey = 7_283_346_002

// Outbox gives the outbox relay its queries. Safe for concurrent use.
type Outbox struct {
	pool *pgxpool.Pool
}

// NewOutbox returns an Outbox on pool.
func NewOutbox(pool *pgxpool.Pool) *Outbox { return &Outbox{pool: pool} }

// Message is one outbox row: an event not yet published (rows are deleted
// once published).
type Message struct {
	ID        int64
	EventID   uuid.UUID
	TaskID    uuid.UUID
	Topic     string
	Payload   []byte // a structured CloudEvent
	CreatedAt time.Time
	// Traceparent is the W3C trace context of the write that enqueued the
	// event ("" when it had none).
	Traceparent string
}

// Lease is the relay's leadership: a session advisory lock held on one
// dedicated connection. Every query of the leader runs on that connection,
// so a leader whose session died (and so lost the lock) cannot go on
// publishing. A Lease is used by one goroutine at a time.
type Lease struct {
	conn *pgxpool.Conn
}

// TryLease takes the relay leadership if no other relay holds it.
func (o *Outbox) TryLease(ctx context.Context) (*Lease, bool, error) {
	conn, err := o.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("acquire relay connection: %w", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, relayLockKey).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("try relay lock: %w", err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return &Lease{conn: conn}, true, nil
}

// Fetch returns up to limit messages in id order.
func (l *Lease) Fetch(ctx context.Context, limit int) ([]Message, error) {
	rows, err := l.conn.Query(ctx, `SELECT id, event_id, task_id, topic, payload::text, created_at, coalesce(traceparent, '') FROM outbox
		ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("fetch outbox: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Message, error) {
		var m Message
		var payload string
		err := r.Scan(&m.ID, &m.EventID, &m.TaskID, &m.Topic, &payload, &m.CreatedAt, &m.Traceparent)
		m.Payload = []byte(payload)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("fetch outbox: %w", err)
	}
	return msgs, nil
}

// DeleteSent removes the messages with ids: they were published. (Their
// history is the audit log; an UPDATE marking them sent cost a new row
// version, index entries and a later DELETE.)
func (l *Lease) DeleteSent(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := l.conn.Exec(ctx, `DELETE FROM outbox WHERE id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("delete sent outbox rows: %w", err)
	}
	return nil
}

// Release gives the leadership up. Safe to call more than once.
func (l *Lease) Release() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, relayLockKey); err != nil {
		// The session is broken; closing it releases the lock server-side.
		_ = l.conn.Conn().Close(ctx)
	}
	l.conn.Release()
	l.conn = nil
}

// Stats reports the unsent backlog: how many rows and the age of the oldest.
func (o *Outbox) Stats(ctx context.Context) (pending int64, oldest time.Duration, err error) {
	var created *time.Time
	// The oldest row by id (the primary key) rather than min(created_at),
	// which would read the whole backlog twice.
	err = o.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM outbox),
		(SELECT created_at FROM outbox ORDER BY id LIMIT 1)`).Scan(&pending, &created)
	if err != nil {
		return 0, 0, fmt.Errorf("outbox stats: %w", err)
	}
	if created != nil {
		oldest = time.Since(*created)
	}
	return pending, oldest, nil
}

// Purge deletes idempotency keys created before keysBefore, in batches so
// that no statement runs long.
func (o *Outbox) Purge(ctx context.Context, keysBefore time.Time) (int64, error) {
	var total int64
	for {
		tag, err := o.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE ctid IN
			(SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT 5000)`, keysBefore)
		if err != nil {
			return total, fmt.Errorf("purge: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 5000 {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
