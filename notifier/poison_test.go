package notifier

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskflow/taskflow/auditor"
	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/internal/subscribe"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// One message PostgreSQL refuses, in a delivery with good ones, must not
// hold the partition up: the good ones are stored and pushed, the bad one
// is dead-lettered (or, if even that fails, dropped), never retried.
func TestPoisonMessageIsDeadLettered(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	dlq := &deadLetters{}
	n, err := New(Config{}, postgres.NewNotifications(pool), fakeVerifier{}, dlq, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := server(t, n)
	c, _ := connect(t, srv, "lee")
	c.next(t) // the retry hint

	good := []subscribe.Message{msg("lee", task.EventCreated, "one"), msg("lee", task.EventUpdated, "two"),
		msg("lee", task.EventUpdated, "three"), msg("lee", task.EventCompleted, "four")}
	// The store keeps event bodies as json, not jsonb: a \u0000 escape
	// (which jsonb refuses, 22P05) is stored and delivered like any other.
	nul := good[2]
	nul.Data = []byte(`{"event_id":"` + nul.Event.EventID.String() + `","title":"nul \u0000"}`)
	good[2] = nul
	// PostgreSQL refuses text that is not UTF-8 (22021, a data exception).
	notUTF8 := msg("lee", task.EventUpdated, "")
	notUTF8.Data = []byte(`{"event_id":"` + notUTF8.Event.EventID.String() + `","title":"` + "\xff\xfe" + `"}`)
	notUTF8.CloudEvent = []byte(`{"id":"ce-1","data":` + string(notUTF8.Data) + `}`)
	notUTF8.EntryID = "entry-utf8"
	// An event without its user belongs to no one.
	noUser := msg("", task.EventCreated, "nobody's")
	noUser.CloudEvent = []byte(`{"id":"ce-2","data":` + string(noUser.Data) + `}`)
	noUser.EntryID = "entry-nouser"
	batch := []subscribe.Message{good[0], notUTF8, good[1], good[2], noUser, good[3]}

	st := n.Handle(context.Background(), batch)
	if want := slices.Repeat([]subscribe.Status{subscribe.Success}, len(batch)); !slices.Equal(st, want) {
		t.Fatalf("statuses %v, want %v", st, want)
	}
	rows, err := pool.Query(context.Background(), `SELECT event_id FROM notifications ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		t.Fatal(err)
	}
	var want []uuid.UUID
	for _, m := range good {
		want = append(want, m.Event.EventID)
	}
	if !slices.Equal(stored, want) {
		t.Fatalf("stored %v, want the good ones in order %v", stored, want)
	}
	for _, m := range good {
		if ev := c.next(t); ev.id != m.Event.EventID.String() {
			t.Fatalf("pushed %+v, want %s", ev, m.Event.EventID)
		}
	}
	dlq.mu.Lock()
	got := slices.Clone(dlq.got)
	dlq.mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("dead letters %+v, want 2", got)
	}
	for _, w := range []struct {
		m      subscribe.Message
		reason string
	}{{notUTF8, "22021"}, {noUser, "user_id"}} {
		i := slices.IndexFunc(got, func(dl auditor.DeadLetter) bool { return dl.EntryID == w.m.EntryID })
		if i < 0 {
			t.Errorf("no dead letter for %s", w.m.EntryID)
			continue
		}
		dl := got[i]
		if dl.Subscriber != "notifier" || dl.Topic != task.Topic || dl.EventID != w.m.Event.EventID.String() ||
			!strings.Contains(dl.Reason, w.reason) || (string(dl.Message) != string(w.m.CloudEvent) && dl.MessageBase64 == "") {
			t.Errorf("dead letter %+v, want event %s for %q with the message", dl, w.m.Event.EventID, w.reason)
		}
	}

	// When the dead letter cannot be published either, the message is
	// dropped (and counted), still never retried: it would block the
	// partition for every notifier for as long as the DLQ is down.
	dlq.mu.Lock()
	dlq.fail = true
	dlq.mu.Unlock()
	again := msg("lee", task.EventUpdated, "five")
	bad := msg("lee", task.EventUpdated, "")
	bad.Data = []byte(`{"title":"` + "\xff" + `"}`)
	if st := n.Handle(context.Background(), []subscribe.Message{bad, again}); !slices.Equal(st, []subscribe.Status{subscribe.Drop, subscribe.Success}) {
		t.Fatalf("with the DLQ down: %v, want DROP for the poison one", st)
	}
	if ev := c.next(t); ev.id != again.Event.EventID.String() {
		t.Fatalf("pushed %+v", ev)
	}
}
