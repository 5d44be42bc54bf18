package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// The notifier's store and the relay's settle commit without waiting for
// the WAL flush; the setting must end with their transaction. The relay
// shares its pool with the task writes, which are acknowledged to users
// and must stay durable: on a pool of one connection, every statement
// after them sees the server's setting again.
func TestAsyncCommitStaysInItsTransaction(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewPool(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	setting := func() string {
		t.Helper()
		var v string
		if err := pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	want := setting()
	if want == "off" {
		t.Fatalf("the server's synchronous_commit is already off: the test cannot tell")
	}

	notes := postgres.NewNotifications(pool)
	nt := postgres.Notification{EventID: uuid.Must(uuid.NewV7()), UserID: "amy", Type: "task.created", TaskID: uuid.New(),
		OccurredAt: time.Now(), Data: []byte(`{}`)}
	if err := notes.Save(ctx, []postgres.Notification{nt}); err != nil {
		t.Fatal(err)
	}
	if got := setting(); got != want {
		t.Fatalf("after saving notifications synchronous_commit = %q, want %q", got, want)
	}
	if got, err := notes.After(ctx, "amy", nt.EventID, time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("the saved notification is not there to resume after: %v %v", got, err) // After finds last, returns nothing after it
	}

	tk := newTask(t, "amy", task.Draft{Title: "x"}, time.Now())
	if _, err := postgres.NewTasks(pool).Insert(ctx, tk, task.NewEvent(task.EventCreated, tk, nil, "", time.Now()), nil, task.Extras{}); err != nil {
		t.Fatal(err)
	}
	lease, ok, err := postgres.NewOutbox(pool).TryLease(ctx, "relay-"+uuid.NewString(), 10*time.Second)
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	msgs, err := lease.Fetch(ctx, 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("fetch: %d %v", len(msgs), err)
	}
	if err := lease.Settle(ctx, []int64{msgs[0].ID}, nil); err != nil {
		t.Fatal(err)
	}
	if got := setting(); got != want {
		t.Fatalf("after settling synchronous_commit = %q, want %q", got, want)
	}
	if left, err := lease.Fetch(ctx, 10); err != nil || len(left) != 0 {
		t.Fatalf("settled row still in the outbox: %d %v", len(left), err)
	}
}
