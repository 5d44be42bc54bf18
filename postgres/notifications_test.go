package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/postgres"
)

func TestNotificationsReplay(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	store := postgres.NewNotifications(pool)
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Microsecond)
	var notes []postgres.Notification
	for i := range 6 {
		user := []string{"amy", "ben"}[i%2]
		id := uuid.Must(uuid.NewV7())
		notes = append(notes, postgres.Notification{EventID: id, UserID: user, Type: "task.updated", TaskID: uuid.New(),
			OccurredAt: base.Add(time.Duration(i) * time.Minute), Data: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	if err := store.Save(ctx, notes[:4]); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(ctx, notes); err != nil { // a second instance stores the same events: no error, no repeat
		t.Fatal(err)
	}
	// An event no notifier stored (all were down), in the audit log only.
	audited := uuid.Must(uuid.NewV7())
	if _, err := pool.Exec(ctx, `INSERT INTO task_events (event_id, event_type, task_id, user_id, occurred_at, version, payload, partition_key)
		VALUES ($1, 'task.created', gen_random_uuid(), 'amy', $2, 1, '{"n": "audit"}', 'k')`, audited, base.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := store.After(ctx, "amy", notes[0].EventID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	for _, n := range got {
		ids = append(ids, n.EventID)
	}
	want := []uuid.UUID{notes[2].EventID, notes[4].EventID, audited}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("replay %v, want %v", ids, want)
	}
	if string(got[0].Data) != `{"n":2}` {
		t.Fatalf("data %s", got[0].Data)
	}
	// The margin reaches back before the last event seen.
	if got, _ := store.After(ctx, "amy", notes[2].EventID, 3*time.Minute, 10); len(got) != 3 || got[0].EventID != notes[0].EventID {
		t.Fatalf("with margin: %d events", len(got))
	}
	if _, err := store.After(ctx, "ben", notes[0].EventID, 0, 10); !errors.Is(err, postgres.ErrUnknownEvent) {
		t.Fatalf("another user's event: %v", err)
	}
	if _, err := store.After(ctx, "amy", uuid.New(), 0, 10); !errors.Is(err, postgres.ErrUnknownEvent) {
		t.Fatalf("unknown event: %v", err)
	}
	if n, err := store.Purge(ctx, time.Now().Add(time.Hour)); err != nil || n != 6 {
		t.Fatalf("purge %d %v", n, err)
	}
}
