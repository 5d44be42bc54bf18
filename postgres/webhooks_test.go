package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
	"github.com/taskflow/taskflow/webhook"
)

func mustCreateWebhook(t *testing.T, s *postgres.Webhooks, user string, types ...string) webhook.Webhook {
	t.Helper()
	w, err := s.Create(context.Background(), user, "https://hooks.example.com/"+user, types, "whsec_"+user)
	if err != nil {
		t.Fatalf("create webhook: %v", err)
	}
	return w
}

// TestWebhooksBelongToTheirUser: registrations are per user (another
// user's is not found, whatever the method), capped per user, and a
// patch re-enables, disables and changes them.
func TestWebhooksBelongToTheirUser(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	s := postgres.NewWebhooks(pool)
	ctx := context.Background()
	w := mustCreateWebhook(t, s, "ada", "task.created")
	if !w.Active || w.ConsecutiveFailures != 0 || w.LastStatus != nil || !slices.Equal(w.EventTypes, []string{"task.created"}) {
		t.Fatalf("created %+v", w)
	}
	if got, err := s.Get(ctx, "ada", w.ID); err != nil || got.URL != w.URL {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := s.Get(ctx, "bob", w.ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("bob's Get: %v", err)
	}
	off, on, u := false, true, "https://other.example.com/x"
	for name, err := range map[string]error{
		"update":     func() error { _, err := s.Update(ctx, "bob", w.ID, webhook.Patch{Active: &off}); return err }(),
		"rotate":     s.RotateSecret(ctx, "bob", w.ID, "whsec_bob"),
		"delete":     s.Delete(ctx, "bob", w.ID),
		"deliveries": func() error { _, err := s.Deliveries(ctx, "bob", w.ID, 10); return err }(),
	} {
		if !errors.Is(err, webhook.ErrNotFound) {
			t.Errorf("bob's %s: %v, want not found", name, err)
		}
	}
	if list, err := s.List(ctx, "bob"); err != nil || len(list) != 0 {
		t.Fatalf("bob's list %v %v", list, err)
	}

	// The owner disables it, then re-enables it with a new URL and types.
	got, err := s.Update(ctx, "ada", w.ID, webhook.Patch{Active: &off})
	if err != nil || got.Active || got.DisabledReason == nil {
		t.Fatalf("disable: %+v %v", got, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE webhooks SET consecutive_failures = 7, retry_at = now() + interval '1 hour' WHERE id = $1`, w.ID); err != nil {
		t.Fatal(err)
	}
	got, err = s.Update(ctx, "ada", w.ID, webhook.Patch{Active: &on, URL: &u, EventTypes: []string{"*"}})
	if err != nil || !got.Active || got.DisabledReason != nil || got.ConsecutiveFailures != 0 || got.URL != u ||
		!slices.Equal(got.EventTypes, []string{"*"}) {
		t.Fatalf("re-enable: %+v %v", got, err)
	}
	var retry *time.Time
	if err := pool.QueryRow(ctx, `SELECT retry_at FROM webhooks WHERE id = $1`, w.ID).Scan(&retry); err != nil || retry != nil {
		t.Fatalf("retry_at after re-enabling: %v %v", retry, err)
	}

	// At most MaxPerUser each, also when created at once.
	errs := make(chan error, webhook.MaxPerUser+5)
	for range webhook.MaxPerUser + 5 {
		go func() {
			_, err := s.Create(ctx, "cy", "https://hooks.example.com/cy", []string{"*"}, "whsec_cy")
			errs <- err
		}()
	}
	var created, refused int
	for range webhook.MaxPerUser + 5 {
		switch err := <-errs; {
		case err == nil:
			created++
		case errors.Is(err, webhook.ErrTooMany):
			refused++
		default:
			t.Fatal(err)
		}
	}
	if created != webhook.MaxPerUser || refused != 5 {
		t.Fatalf("%d created, %d refused; want %d and 5", created, refused, webhook.MaxPerUser)
	}

	if err := s.Delete(ctx, "ada", w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "ada", w.ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

// TestAuditEnqueuesWebhookDeliveries: an audit write enqueues one
// delivery per new event and matching active webhook of the event's
// user, in the same transaction and as the auditor's least-privilege
// database user (roles.sql) appending through the writer role; a
// redelivered event enqueues nothing twice.
func TestAuditEnqueuesWebhookDeliveries(t *testing.T) {
	t.Parallel()
	pool, dbURL := pgtest.NewPool(t)
	ctx := context.Background()
	s := postgres.NewWebhooks(pool)
	all := mustCreateWebhook(t, s, "ada", "*")
	completed := mustCreateWebhook(t, s, "ada", "task.completed", "task.deleted")
	paused := mustCreateWebhook(t, s, "ada", "*")
	off := false
	if _, err := s.Update(ctx, "ada", paused.ID, webhook.Patch{Active: &off}); err != nil {
		t.Fatal(err)
	}
	bobs := mustCreateWebhook(t, s, "bob", "*")

	auditorPool := auditorRole(t, pool, dbURL)
	audit := postgres.NewAudit(auditorPool)
	if err := audit.WriteAs(ctx, postgres.AuditWriterRole); err != nil {
		t.Fatal(err)
	}
	var kicks atomic.Int32
	audit.EnqueueWebhooks(func() { kicks.Add(1) })

	tk, bobTask := auditTask(t, "ada"), auditTask(t, "bob")
	at := time.Now().UTC()
	created := auditEvent(t, tk, task.EventCreated, 1, at)
	done := auditEvent(t, tk, task.EventCompleted, 2, at.Add(time.Millisecond))
	bobEv := auditEvent(t, bobTask, task.EventCreated, 1, at)
	mustWrite(t, audit, 3, created, done, bobEv)
	if kicks.Load() != 1 {
		t.Fatalf("%d kicks after a write that enqueued, want 1", kicks.Load())
	}
	mustWrite(t, audit, 0, done, created) // redelivered
	if kicks.Load() != 1 {
		t.Fatalf("a redelivery kicked the dispatcher")
	}

	want := map[uuid.UUID][]uuid.UUID{
		all.ID: {done.EventID, created.EventID}, completed.ID: {done.EventID}, paused.ID: nil, bobs.ID: {bobEv.EventID},
	}
	for id, events := range want {
		owner := "ada"
		if id == bobs.ID {
			owner = "bob"
		}
		ds, err := s.Deliveries(ctx, owner, id, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []uuid.UUID
		for _, d := range ds {
			got = append(got, d.EventID)
			if d.State != webhook.StatePending || d.Attempts != 0 || d.NextAttemptAt == nil {
				t.Errorf("new delivery %+v", d)
			}
		}
		if !slices.Equal(got, events) {
			t.Errorf("webhook %s: deliveries of %v, want %v (newest first)", id, got, events)
		}
	}
}

// TestAuditWaitsForAWebhookBeingDeleted: a user deleting (or disabling) a
// webhook while the auditor writes one of their events neither rejects
// the audit batch (a foreign-key failure would send the event to the dead
// letters) nor leaves a delivery pending for a webhook that is gone.
func TestAuditWaitsForAWebhookBeingDeleted(t *testing.T) {
	t.Parallel()
	pool, dbURL := pgtest.NewPool(t)
	ctx := context.Background()
	s := postgres.NewWebhooks(pool)
	for _, change := range []string{"delete", "disable"} {
		t.Run(change, func(t *testing.T) {
			user := "eve-" + change
			hook := mustCreateWebhook(t, s, user, "*")
			audit := postgres.NewAudit(auditorRole(t, pool, dbURL))
			if err := audit.WriteAs(ctx, postgres.AuditWriterRole); err != nil {
				t.Fatal(err)
			}
			audit.EnqueueWebhooks(func() {})

			// The user's change, not yet committed, holds the webhook's row.
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			stmt := `DELETE FROM webhooks WHERE id = $1`
			if change == "disable" {
				stmt = `UPDATE webhooks SET active = false WHERE id = $1`
			}
			if _, err := tx.Exec(ctx, stmt, hook.ID); err != nil {
				t.Fatal(err)
			}
			ev := auditEvent(t, auditTask(t, user), task.EventCreated, 1, time.Now().UTC())
			done := make(chan error, 1)
			go func() {
				_, err := audit.Write(ctx, []task.AuditRecord{ev})
				done <- err
			}()
			// The write must wait for the change (a lock wait), not race it.
			deadline := time.Now().Add(10 * time.Second)
			for {
				var waiting bool
				if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
					WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%webhook_deliveries%')`).Scan(&waiting); err != nil {
					t.Fatal(err)
				}
				if waiting {
					break
				}
				select {
				case err := <-done:
					t.Fatalf("the audit write did not wait for the webhook's change: %v", err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("the audit write never waited for the webhook's change")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("the audit write failed: %v", err)
			}
			var stored, pending int
			if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM task_events WHERE event_id = $1),
				(SELECT count(*) FROM webhook_deliveries WHERE event_id = $1)`, ev.EventID).Scan(&stored, &pending); err != nil {
				t.Fatal(err)
			}
			if stored != 1 || pending != 0 {
				t.Errorf("after the %s: %d audit rows, %d deliveries; want 1 and 0", change, stored, pending)
			}
		})
	}
}

// auditorRole makes a login role with the auditor's grants of
// k8s/base/roles.sql and returns a pool connected as it.
func auditorRole(t *testing.T, pool *pgxpool.Pool, dbURL string) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	role, password := "taskflow_test_auditor_"+hex.EncodeToString(b), hex.EncodeToString(b)+"pw"
	for _, stmt := range []string{
		`CREATE ROLE ` + role + ` LOGIN PASSWORD '` + password + `'`,
		`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ` + role,
		`GRANT ` + postgres.AuditWriterRole + ` TO ` + role,
		`GRANT SELECT ON task_events TO ` + role,
		`GRANT SELECT, UPDATE ON webhooks TO ` + role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_deliveries TO ` + role,
	} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, password)
	rp, err := pgxpool.New(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rp.Close()
		ctx := context.Background()
		_ = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `DROP OWNED BY `+role)
			return err
		})
		if _, err := pool.Exec(ctx, `DROP ROLE IF EXISTS `+role); err != nil {
			t.Logf("drop role %s: %v", role, err)
		}
	})
	return rp
}

// TestWebhookDeliveriesPurge: finished deliveries older than the
// retention go, in batches; pending ones stay, however old.
func TestWebhookDeliveriesPurge(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	ctx := context.Background()
	s := postgres.NewWebhooks(pool)
	w := mustCreateWebhook(t, s, "ada", "*")
	if _, err := pool.Exec(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload, state, created_at)
		SELECT $1, gen_random_uuid(), 'task.created', '{}', st, now() - age
		FROM unnest(ARRAY['delivered', 'failed', 'pending', 'delivered', 'delivered']::text[],
			ARRAY[interval '40 days', interval '31 days', interval '90 days', interval '1 day', interval '35 days']) AS x(st, age)`,
		w.ID); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-30 * 24 * time.Hour)
	if n, err := s.Purge(ctx, before, 2); err != nil || n != 2 {
		t.Fatalf("first batch: %d %v", n, err)
	}
	if n, err := s.Purge(ctx, before, 2); err != nil || n != 1 {
		t.Fatalf("second batch: %d %v", n, err)
	}
	ds, err := s.Deliveries(ctx, "ada", w.ID, 10)
	if err != nil || len(ds) != 2 {
		t.Fatalf("left %+v %v", ds, err)
	}
	for _, d := range ds {
		if d.State == webhook.StateDelivered && d.CreatedAt.Before(before) || d.State == webhook.StateFailed {
			t.Errorf("kept %+v", d)
		}
	}
}
