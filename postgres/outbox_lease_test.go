package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

func outboxAttempts(tb testing.TB, pool *pgxpool.Pool) (ids []int64, attempts map[int64]int) {
	tb.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id, attempts FROM outbox ORDER BY id`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	attempts = map[int64]int{}
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, id)
		attempts[id] = n
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return ids, attempts
}

func waitUntil(tb testing.TB, at time.Time) {
	tb.Helper()
	time.Sleep(time.Until(at) + 50*time.Millisecond)
}

// The lease: one holder at a time until it expires or is released; each
// holder gets a new epoch; a holder that lost the lease can neither fetch
// nor change the outbox (fencing), and its successor can.
func TestOutboxLeaseExpiresAndFencesTheDeposedHolder(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewTasks(pool)
	now := time.Now()
	for range 3 {
		tk := newTask(t, "alice", task.Draft{Title: "x"}, now)
		if _, err := store.Insert(context.Background(), tk, task.NewEvent(task.EventCreated, tk, nil, "", now), nil, task.Extras{}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	outbox := postgres.NewOutbox(pool)
	// Each lease statement must finish within ttl/3; 1.5 s leaves room for
	// a loaded CI machine running -race (500 ms timed out there).
	const ttl = 1500 * time.Millisecond

	a, ok, err := outbox.TryLease(ctx, "a", ttl)
	if err != nil || !ok {
		t.Fatalf("a's lease: %v %v", ok, err)
	}
	if _, ok, err := outbox.TryLease(ctx, "b", ttl); err != nil || ok {
		t.Fatalf("b took a held lease: %v %v", ok, err)
	}
	msgs, err := a.Fetch(ctx, 10)
	if err != nil || len(msgs) != 3 || msgs[0].Attempts != 0 {
		t.Fatalf("a fetched %+v, %v", msgs, err)
	}
	// a publishes the first, fails the second.
	if err := a.Settle(ctx, []int64{msgs[0].ID}, []int64{msgs[1].ID}); err != nil {
		t.Fatal(err)
	}
	ids, attempts := outboxAttempts(t, pool)
	if len(ids) != 2 || attempts[msgs[1].ID] != 1 || attempts[msgs[2].ID] != 0 {
		t.Fatalf("after a's settle: rows %v, attempts %v", ids, attempts)
	}
	if err := a.Renew(ctx); err != nil {
		t.Fatal(err)
	}

	// a hangs: it stops renewing and never releases; b takes over once the
	// lease expired.
	waitUntil(t, a.Until())
	b, ok, err := outbox.TryLease(ctx, "b", ttl)
	if err != nil || !ok {
		t.Fatalf("b's takeover of the expired lease: %v %v", ok, err)
	}
	if b.Epoch() <= a.Epoch() {
		t.Fatalf("b's epoch %d, a's %d: a takeover must increment it", b.Epoch(), a.Epoch())
	}

	// a wakes up: everything it tries is refused and changes nothing.
	if err := a.DeleteSent(ctx, []int64{msgs[1].ID, msgs[2].ID}); !errors.Is(err, postgres.ErrLeaseLost) {
		t.Fatalf("the deposed a's DeleteSent = %v, want ErrLeaseLost", err)
	}
	if err := a.Settle(ctx, nil, []int64{msgs[2].ID}); !errors.Is(err, postgres.ErrLeaseLost) {
		t.Fatalf("the deposed a's Settle = %v, want ErrLeaseLost", err)
	}
	if err := a.Renew(ctx); !errors.Is(err, postgres.ErrLeaseLost) {
		t.Fatalf("the deposed a's Renew = %v, want ErrLeaseLost", err)
	}
	if got, err := a.Fetch(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("the deposed a fetched %d rows (%v)", len(got), err)
	}
	if ids, attempts := outboxAttempts(t, pool); len(ids) != 2 || attempts[msgs[1].ID] != 1 || attempts[msgs[2].ID] != 0 {
		t.Fatalf("the deposed a changed the outbox: rows %v, attempts %v", ids, attempts)
	}
	if err := a.Release(); err != nil { // a no-op: it is b's now
		t.Fatal(err)
	}
	if _, ok, err := outbox.TryLease(ctx, "c", ttl); err != nil || ok {
		t.Fatalf("c took b's lease after a released its old one: %v %v", ok, err)
	}

	// b carries on, and hands over at once when it releases.
	got, err := b.Fetch(ctx, 10)
	if err != nil || len(got) != 2 || got[0].ID != msgs[1].ID || got[0].Attempts != 1 {
		t.Fatalf("b fetched %+v, %v", got, err)
	}
	if err := b.DeleteSent(ctx, []int64{got[0].ID, got[1].ID}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := outboxAttempts(t, pool); len(ids) != 0 {
		t.Fatalf("rows left: %v", ids)
	}
	bEpoch := b.Epoch()
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	c, ok, err := outbox.TryLease(ctx, "c", ttl)
	if err != nil || !ok {
		t.Fatalf("c after b released: %v %v", ok, err)
	}
	if c.Epoch() != bEpoch+1 {
		t.Fatalf("c's epoch %d, want %d", c.Epoch(), bEpoch+1)
	}
}
