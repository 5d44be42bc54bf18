package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// relayLease names the outbox relay's row in outbox_lease.
const relayLease = "outbox-relay"

// ErrLeaseLost means another relay took the lease over (or this one's
// expired and was taken): the holder must stop publishing at once.
var ErrLeaseLost = errors.New("outbox relay lease lost")

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
	// Attempts counts the earlier publishes of this row that failed.
	Attempts int
}

// Lease is the relay's leadership: the outbox_lease row, held until its
// expiry unless renewed, with a fencing epoch that every takeover
// increments. The database's clock decides expiry; Until is this process's
// conservative view of it (its own clock, measured from before each
// acquire or renewal was sent), so a holder that stops before Until never
// overlaps a successor. Settle and DeleteSent check the epoch in their
// transaction: a deposed holder's writes are refused with ErrLeaseLost.
// Every lease query runs under a timeout of a third of the TTL (at most
// 5s), in the client and as the statement and lock timeouts in the server.
// A Lease is used by one goroutine at a time.
type Lease struct {
	pool    *pgxpool.Pool
	holder  string
	ttl     time.Duration
	timeout time.Duration
	epoch   int64
	until   time.Time
}

// TryLease takes the relay leadership for ttl if it is free (expired or
// released) or already this holder's; holder must be unique to the
// process. Taking it increments the epoch.
func (o *Outbox) TryLease(ctx context.Context, holder string, ttl time.Duration) (*Lease, bool, error) {
	l := &Lease{pool: o.pool, holder: holder, ttl: ttl, timeout: min(max(ttl/3, 50*time.Millisecond), 5*time.Second)}
	sent := time.Now()
	var epoch int64
	err := l.tx(ctx, l.timeout, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO outbox_lease AS l (name, holder, epoch, expires_at)
			VALUES ($1, $2, 1, now() + $3 * interval '1 microsecond')
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, epoch = l.epoch + 1, expires_at = excluded.expires_at
			WHERE l.expires_at <= now() OR l.holder = excluded.holder
			RETURNING epoch`, relayLease, holder, ttl.Microseconds()).Scan(&epoch)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("take the relay lease: %w", err)
	}
	l.epoch, l.until = epoch, sent.Add(ttl)
	return l, true, nil
}

// Epoch is the lease's fencing token.
func (l *Lease) Epoch() int64 { return l.epoch }

// Until is when the lease may expire, by this process's clock: the holder
// must not publish from then on unless it renewed.
func (l *Lease) Until() time.Time { return l.until }

// Renew extends the lease by its TTL from now. It fails with ErrLeaseLost
// if another holder took it over.
func (l *Lease) Renew(ctx context.Context) error {
	sent := time.Now()
	err := l.tx(ctx, l.timeout, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE outbox_lease SET expires_at = now() + $4 * interval '1 microsecond'
			WHERE name = $1 AND holder = $2 AND epoch = $3`, relayLease, l.holder, l.epoch, l.ttl.Microseconds())
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrLeaseLost
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("renew the relay lease (epoch %d): %w", l.epoch, err)
	}
	l.until = sent.Add(l.ttl)
	return nil
}

// Fetch returns up to limit messages in id order, none unless the lease is
// still this holder's and unexpired.
func (l *Lease) Fetch(ctx context.Context, limit int) ([]Message, error) {
	rows, err := l.pool.Query(ctx, `SELECT id, event_id, task_id, topic, payload::text, created_at, coalesce(traceparent, ''), attempts
		FROM outbox WHERE EXISTS (SELECT FROM outbox_lease WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > now())
		ORDER BY id LIMIT $4`, relayLease, l.holder, l.epoch, limit)
	if err != nil {
		return nil, fmt.Errorf("fetch outbox: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Message, error) {
		var m Message
		var payload string
		err := r.Scan(&m.ID, &m.EventID, &m.TaskID, &m.Topic, &payload, &m.CreatedAt, &m.Traceparent, &m.Attempts)
		m.Payload = []byte(payload)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("fetch outbox: %w", err)
	}
	return msgs, nil
}

// Settle records what a publish cycle did, in one transaction fenced by
// the epoch: it deletes the rows in done (published, or dead-lettered) and
// counts a failed attempt on those in failed. If another relay has taken
// the lease over it changes nothing and fails with ErrLeaseLost. (Rows are
// deleted, not marked: their history is the audit log, and an UPDATE
// marking them sent cost a new row version, index entries and a later
// DELETE.)
func (l *Lease) Settle(ctx context.Context, done, failed []int64) error {
	if len(done) == 0 && len(failed) == 0 {
		return nil
	}
	// Its commit does not wait for the WAL flush, which would hold up the
	// next cycle: should the server crash before the flush, the rows come
	// back and are published again, as after a crash of the relay between
	// publishing and settling (consumers drop repeats by event id).
	err := l.txWith(ctx, 5*time.Second, true, func(ctx context.Context, tx pgx.Tx) error {
		// FOR SHARE holds off a takeover until this transaction ends.
		var epoch int64
		err := tx.QueryRow(ctx, `SELECT epoch FROM outbox_lease WHERE name = $1 AND holder = $2 AND epoch = $3 FOR SHARE`,
			relayLease, l.holder, l.epoch).Scan(&epoch)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrLeaseLost
		}
		if err != nil {
			return err
		}
		if len(done) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE id = ANY($1)`, done); err != nil {
				return err
			}
		}
		if len(failed) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY($1)`, failed); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("settle outbox rows (epoch %d): %w", l.epoch, err)
	}
	return nil
}

// DeleteSent removes the published messages with ids, fenced like Settle.
func (l *Lease) DeleteSent(ctx context.Context, ids []int64) error {
	return l.Settle(ctx, ids, nil)
}

// Release gives the leadership up at once, so a standby need not wait for
// the expiry. It runs on its own context (it is called as the relay
// stops). Safe to call more than once, and after the lease was lost; if it
// fails the lease simply expires within its TTL.
func (l *Lease) Release() error {
	if l.epoch == 0 {
		return nil
	}
	err := l.tx(context.Background(), l.timeout, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE outbox_lease SET expires_at = now() WHERE name = $1 AND holder = $2 AND epoch = $3`,
			relayLease, l.holder, l.epoch)
		return err
	})
	epoch := l.epoch
	l.epoch, l.until = 0, time.Time{}
	if err != nil {
		return fmt.Errorf("release the relay lease (epoch %d): %w", epoch, err)
	}
	return nil
}

// tx runs fn in a transaction bounded by timeout: in the client (ctx) and
// in the server (statement and lock timeouts), so a lease query never
// waits on a lock or a sick server for longer than the lease can spare.
func (l *Lease) tx(ctx context.Context, timeout time.Duration, fn func(context.Context, pgx.Tx) error) error {
	return l.txWith(ctx, timeout, false, fn)
}

// txWith is tx, and with asyncCommit its commit returns before the WAL is
// flushed.
func (l *Lease) txWith(ctx context.Context, timeout time.Duration, asyncCommit bool, fn func(context.Context, pgx.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	settings := `SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $1, true)`
	if asyncCommit {
		settings += `, set_config('synchronous_commit', 'off', true)`
	}
	return pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		ms := strconv.FormatInt(timeout.Milliseconds(), 10)
		if _, err := tx.Exec(ctx, settings, ms); err != nil {
			return err
		}
		return fn(ctx, tx)
	})
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
