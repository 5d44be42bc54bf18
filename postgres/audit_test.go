package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskflow/taskflow/internal/pgtest"
	"github.com/taskflow/taskflow/postgres"
	"github.com/taskflow/taskflow/task"
)

// auditEvent is an audit record of a real task event (full payload).
func auditEvent(tb testing.TB, tk task.Task, typ task.EventType, version int64, at time.Time) task.AuditRecord {
	tb.Helper()
	tk.Version = version
	ev := task.NewEvent(typ, tk, []string{"title"}, "corr-"+tk.ID.String()[:8], at)
	data, err := json.Marshal(ev)
	if err != nil {
		tb.Fatal(err)
	}
	return task.AuditRecordOf(ev, data, time.Now())
}

func auditTask(tb testing.TB, user string) task.Task {
	return newTask(tb, user, task.Draft{Title: "audited", Priority: task.PriorityHigh, Tags: []string{"audit"}}, time.Now())
}

func mustWrite(t *testing.T, a *postgres.Audit, want int, recs ...task.AuditRecord) {
	t.Helper()
	n, err := a.Write(context.Background(), recs)
	if err != nil || n != want {
		t.Fatalf("Write(%d records) = %d, %v; want %d new", len(recs), n, err, want)
	}
}

func listAll(t *testing.T, a *postgres.Audit, user string, taskID uuid.UUID, q postgres.AuditQuery) []task.AuditRecord {
	t.Helper()
	var all []task.AuditRecord
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("the cursor does not advance")
		}
		page, err := a.List(context.Background(), user, taskID, q)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(page.Items) > q.Limit {
			t.Fatalf("page of %d, limit %d", len(page.Items), q.Limit)
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			return all
		}
		q.After = page.Next
	}
}

func eventIDs(recs []task.AuditRecord) []uuid.UUID {
	ids := make([]uuid.UUID, len(recs))
	for i, r := range recs {
		ids[i] = r.EventID
	}
	return ids
}

func mustVerify(t *testing.T, a *postgres.Audit, user string, taskID uuid.UUID) postgres.Verification {
	t.Helper()
	v, err := a.Verify(context.Background(), user, taskID)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return v
}

func TestAuditStoresEachEventOnce(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	audit := postgres.NewAudit(pool)
	tk := auditTask(t, "ada")
	at := time.Now().UTC()
	var evs []task.AuditRecord
	for v := range int64(5) {
		evs = append(evs, auditEvent(t, tk, task.EventUpdated, v+1, at.Add(time.Duration(v)*time.Millisecond)))
	}
	mustWrite(t, audit, 2, evs[0], evs[1], evs[1])     // a duplicate within the batch
	mustWrite(t, audit, 1, evs[1], evs[2])             // one from an earlier batch
	restarted := postgres.NewAudit(pool)               // a new process: nothing in memory
	mustWrite(t, restarted, 1, evs[0], evs[2], evs[3]) // redeliveries after a restart
	mustWrite(t, restarted, 0, evs[3])
	shifted := evs[3]
	shifted.OccurredAt = shifted.OccurredAt.Add(time.Microsecond) // same event, re-stamped
	mustWrite(t, restarted, 0, shifted)

	got := listAll(t, audit, "ada", tk.ID, postgres.AuditQuery{Limit: 10})
	if want := eventIDs(evs[:4]); !slices.Equal(eventIDs(got), want) {
		t.Fatalf("stored %v, want %v", eventIDs(got), want)
	}
	for i, r := range got {
		if r.ChainSeq != int64(i+1) || r.Hash == "" {
			t.Errorf("event %d: chain position %d hash %q", i, r.ChainSeq, r.Hash)
		}
		var stored, sent map[string]any
		if err := json.Unmarshal(r.Payload, &stored); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(evs[i].Payload, &sent)
		if fmt.Sprint(stored) != fmt.Sprint(sent) {
			t.Errorf("event %d payload %s, want the full event %s", i, r.Payload, evs[i].Payload)
		}
	}
	if v := mustVerify(t, audit, "ada", tk.ID); !v.Valid || v.Events != 4 {
		t.Fatalf("Verify = %+v, want valid with 4 events", v)
	}
}

// Two writers (two auditor replicas after a rebalance) append the same
// task's events, many of them twice, at the same time.
func TestAuditConcurrentWritersKeepOneChain(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	tk := auditTask(t, "ada")
	at := time.Now().UTC()
	var evs []task.AuditRecord
	for v := range int64(60) {
		evs = append(evs, auditEvent(t, tk, task.EventUpdated, v+1, at.Add(time.Duration(v)*time.Microsecond)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := postgres.NewAudit(pool)
			for i := w * 10; i < len(evs); i += 10 {
				if _, err := a.Write(context.Background(), evs[i:min(i+15, len(evs))]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	audit := postgres.NewAudit(pool)
	got := listAll(t, audit, "ada", tk.ID, postgres.AuditQuery{Limit: 500})
	if len(got) != len(evs) {
		t.Fatalf("%d events stored, want %d", len(got), len(evs))
	}
	if v := mustVerify(t, audit, "ada", tk.ID); !v.Valid || v.Events != len(evs) {
		t.Fatalf("Verify = %+v", v)
	}
}

func partitionOf(t *testing.T, pool *pgxpool.Pool, id uuid.UUID) string {
	t.Helper()
	var name string
	if err := pool.QueryRow(context.Background(), `SELECT tableoid::regclass::text FROM task_events WHERE event_id = $1`, id).Scan(&name); err != nil {
		t.Fatalf("event %s: %v", id, err)
	}
	return name
}

func TestAuditPartitionBoundary(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	audit := postgres.NewAudit(pool)
	ctx := context.Background()
	tk := auditTask(t, "ada")
	now := time.Now().UTC()
	nextMonth := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	last := auditEvent(t, tk, task.EventUpdated, 1, nextMonth.Add(-time.Microsecond))
	first := auditEvent(t, tk, task.EventUpdated, 2, nextMonth)
	// Years ahead: no partition yet, so the default partition takes it.
	far := time.Date(now.Year()+5, 3, 31, 23, 59, 59, 0, time.UTC)
	early := auditEvent(t, tk, task.EventUpdated, 3, far)
	mustWrite(t, audit, 3, last, first, early)
	if got, want := partitionOf(t, pool, last.EventID), now.Format("task_events_2006_01"); got != want {
		t.Errorf("the month's last microsecond went to %s, want %s", got, want)
	}
	if got, want := partitionOf(t, pool, first.EventID), nextMonth.Format("task_events_2006_01"); got != want {
		t.Errorf("the next month's first instant went to %s, want %s", got, want)
	}
	if got := partitionOf(t, pool, early.EventID); got != "task_events_default" {
		t.Fatalf("an event without its month's partition went to %s, want task_events_default", got)
	}

	// The daily maintenance reaches that month: the event moves, unchanged,
	// and an event of that month written meanwhile waits and is kept.
	maint, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer maint.Rollback(ctx)
	var n int
	if err := maint.QueryRow(ctx, `SELECT taskflow_ensure_event_partitions($1, 2)`, far).Scan(&n); err != nil || n != 2 {
		t.Fatalf("ensure partitions = %d, %v; want 2 created", n, err)
	}
	racing := auditEvent(t, auditTask(t, "bob"), task.EventCreated, 1, far.Add(-time.Hour))
	written := make(chan error, 1)
	go func() {
		_, err := audit.Write(context.Background(), []task.AuditRecord{racing})
		written <- err
	}()
	eventually(t, "the concurrent write to wait for the move", func() bool {
		var waiting bool
		err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock')`).Scan(&waiting)
		return err == nil && waiting
	})
	if err := maint.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-written; err != nil {
		t.Fatalf("the concurrent write: %v", err)
	}
	for _, id := range []uuid.UUID{early.EventID, racing.EventID} {
		if got, want := partitionOf(t, pool, id), far.Format("task_events_2006_01"); got != want {
			t.Fatalf("after maintenance event %s is in %s, want %s", id, got, want)
		}
	}
	if n, err := audit.EnsurePartitions(ctx, far, 2); err != nil || n != 0 {
		t.Fatalf("EnsurePartitions again = %d, %v; want 0", n, err)
	}
	mustWrite(t, audit, 0, early) // still stored once
	got := listAll(t, audit, "ada", tk.ID, postgres.AuditQuery{Limit: 2})
	if want := []uuid.UUID{last.EventID, first.EventID, early.EventID}; !slices.Equal(eventIDs(got), want) {
		t.Fatalf("history %v, want %v", eventIDs(got), want)
	}
	if v := mustVerify(t, audit, "ada", tk.ID); !v.Valid || v.Events != 3 {
		t.Fatalf("Verify = %+v", v)
	}
	// The moved partition is append-only too.
	if _, err := pool.Exec(ctx, `TRUNCATE `+far.Format("task_events_2006_01")); !isInsufficientPrivilege(err) {
		t.Fatalf("TRUNCATE of the new partition: %v, want it refused", err)
	}
}

func isInsufficientPrivilege(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501"
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	audit := postgres.NewAudit(pool)
	ctx := context.Background()
	tk := auditTask(t, "ada")
	ev := auditEvent(t, tk, task.EventCreated, 1, time.Now())
	mustWrite(t, audit, 1, ev)
	month := time.Now().UTC().Format("task_events_2006_01")

	// The test connects as a superuser: the triggers refuse even that.
	for _, stmt := range []string{
		`UPDATE task_events SET event_type = 'task.deleted'`,
		`UPDATE ` + month + ` SET payload = '{}'`,
		`DELETE FROM task_events`,
		`DELETE FROM ` + month,
		`TRUNCATE task_events`,
		`TRUNCATE ` + month,
		`TRUNCATE task_events_default`,
	} {
		if _, err := pool.Exec(ctx, stmt); !isInsufficientPrivilege(err) {
			t.Errorf("%s: %v, want it refused", stmt, err)
		}
	}
	// No session setting switches the rule off.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL taskflow.partition_maintenance = 'on'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM task_events`)
		return err
	})
	if !isInsufficientPrivilege(err) {
		t.Errorf("DELETE with a maintenance setting: %v, want it refused", err)
	}
	// Only the owner and the writer role may create partitions (the
	// function runs as its owner), and not without bound.
	nobody := "taskflow_test_nobody_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	if _, err := pool.Exec(ctx, `CREATE ROLE `+nobody+` NOLOGIN`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP ROLE IF EXISTS `+nobody) })
	for role, want := range map[string]bool{nobody: false, postgres.AuditWriterRole: true} {
		var can bool
		if err := pool.QueryRow(ctx, `SELECT has_function_privilege($1, 'taskflow_ensure_event_partitions(timestamptz, integer)', 'EXECUTE')`,
			role).Scan(&can); err != nil || can != want {
			t.Errorf("%s may run the partition function: %v (%v), want %v", role, can, err, want)
		}
	}
	for _, months := range []int{0, 37} {
		if _, err := audit.EnsurePartitions(ctx, time.Now(), months); err == nil {
			t.Errorf("EnsurePartitions(%d months) succeeded", months)
		}
	}
	// The writer's role has no such grants in the first place.
	for _, priv := range []string{"UPDATE", "DELETE", "TRUNCATE"} {
		var has bool
		if err := pool.QueryRow(ctx, `SELECT has_table_privilege($1, 'task_events', $2)`, postgres.AuditWriterRole, priv).Scan(&has); err != nil || has {
			t.Errorf("%s holds %s on task_events (%v)", postgres.AuditWriterRole, priv, err)
		}
	}
	for _, stmt := range []string{`UPDATE task_events SET version = 9`, `DELETE FROM task_events`, `TRUNCATE task_events`} {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+postgres.AuditWriterRole); err != nil {
				t.Fatal(err)
			}
			_, err := tx.Exec(ctx, stmt)
			return err
		})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" || pgErr.Message == "" {
			t.Errorf("as %s, %s: %v, want permission denied", postgres.AuditWriterRole, stmt, err)
		}
	}
	// Appending as the role works end to end (locks, staging, COPY).
	writer := postgres.NewAudit(pool)
	if err := writer.WriteAs(ctx, postgres.AuditWriterRole); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, writer, 1, auditEvent(t, tk, task.EventUpdated, 2, time.Now()))
	if err := postgres.NewAudit(pool).WriteAs(ctx, "no_such_role_here"); err == nil {
		t.Error("WriteAs a role that does not exist succeeded")
	}
	if v := mustVerify(t, audit, "ada", tk.ID); !v.Valid || v.Events != 2 {
		t.Fatalf("Verify = %+v", v)
	}
}

// tamper changes the audit log the way only a superuser can: with the
// triggers off for the session.
func tamper(t *testing.T, pool *pgxpool.Pool, stmt string, args ...any) {
	t.Helper()
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), `SET LOCAL session_replication_role = replica`); err != nil {
			return err
		}
		tag, err := tx.Exec(context.Background(), stmt, args...)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("%d rows changed, want 1", tag.RowsAffected())
		}
		return err
	})
	if err != nil {
		t.Fatalf("tamper: %v", err)
	}
}

func TestAuditVerifyFindsTheAlteredRow(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	audit := postgres.NewAudit(pool)
	at := time.Now().UTC()
	history := func(user string) (task.Task, []task.AuditRecord) {
		tk := auditTask(t, user)
		var evs []task.AuditRecord
		for v := range int64(5) {
			evs = append(evs, auditEvent(t, tk, task.EventUpdated, v+1, at.Add(time.Duration(v)*time.Second)))
		}
		mustWrite(t, audit, 5, evs...)
		return tk, evs
	}

	altered, evs := history("ada")
	tamper(t, pool, `UPDATE task_events SET payload = jsonb_set(payload, '{task,title}', '"forged"') WHERE event_id = $1`, evs[2].EventID)
	v := mustVerify(t, audit, "ada", altered.ID)
	if v.Valid || v.Events != 5 || v.FirstBrokenEvent == nil || *v.FirstBrokenEvent != evs[2].EventID {
		t.Fatalf("after altering the 3rd row: %+v, want invalid at %s", v, evs[2].EventID)
	}

	rehashed, evs := history("ada")
	// Recomputing the altered row's own hash is not enough: the next link breaks.
	tamper(t, pool, `UPDATE task_events SET correlation_id = 'forged', hash = md5('x') || md5('y') WHERE event_id = $1`, evs[1].EventID)
	if v := mustVerify(t, audit, "ada", rehashed.ID); v.Valid || *v.FirstBrokenEvent != evs[1].EventID {
		t.Fatalf("after altering the 2nd row: %+v", v)
	}

	removed, evs := history("ada")
	tamper(t, pool, `DELETE FROM task_events WHERE event_id = $1`, evs[1].EventID)
	if v := mustVerify(t, audit, "ada", removed.ID); v.Valid || v.Events != 4 || *v.FirstBrokenEvent != evs[2].EventID {
		t.Fatalf("after removing the 2nd row: %+v, want invalid at %s", v, evs[2].EventID)
	}

	intact, _ := history("ada")
	if v := mustVerify(t, audit, "ada", intact.ID); !v.Valid || v.Events != 5 || v.FirstBrokenEvent != nil {
		t.Fatalf("untouched history: %+v", v)
	}
	if _, err := audit.Verify(context.Background(), "eve", intact.ID); !errors.Is(err, task.ErrNotFound) {
		t.Fatalf("another user's Verify: %v, want not found", err)
	}

	// The writer refuses an event naming another user for the task; a row
	// slipped in under another user by hand breaks the owner's chain.
	hijacked, evs := history("ada")
	foreign := auditEvent(t, hijacked, task.EventUpdated, 6, at.Add(time.Hour))
	foreign.UserID = "eve"
	if _, err := audit.Write(context.Background(), []task.AuditRecord{foreign}); !errors.Is(err, postgres.ErrAuditRejected) {
		t.Fatalf("an event of ada's task for eve: %v, want rejected", err)
	}
	tamper(t, pool, `INSERT INTO task_events (event_id, event_type, task_id, user_id, occurred_at, version, payload, partition_key, chain_seq, hash)
		VALUES (gen_random_uuid(), 'task.updated', $1, 'eve', now(), 9, '{}', 'k', 6, 'x')`, hijacked.ID)
	if v := mustVerify(t, audit, "ada", hijacked.ID); v.Valid || v.Events != 6 || v.FirstBrokenEvent == nil ||
		*v.FirstBrokenEvent == evs[4].EventID || !strings.Contains(v.FirstBrokenReason, "another user") {
		t.Fatalf("with eve's row in ada's chain: %+v", v)
	}
}

// jsonb keeps values, not text: the hash must survive the round trip of
// payloads spelled unusually.
func TestAuditHashSurvivesJSONB(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	audit := postgres.NewAudit(pool)
	tk := auditTask(t, "ada")
	rec := auditEvent(t, tk, task.EventUpdated, 1, time.Now())
	for i, payload := range []string{
		`{"b": 1e2, "a": [1.50, -0.0, 12345678901234567890123, 1E-7], "c": "caf\u00e9 <&> \ud83d\ude00"}`,
		`{"dup": 1, "dup": 2, "nested": {"z": null, "y": true, "x": {}}}`,
		`  [ "top-level", 3 ]  `,
	} {
		rec.EventID, rec.Version, rec.Payload = uuid.Must(uuid.NewV7()), int64(i+1), json.RawMessage(payload)
		mustWrite(t, audit, 1, rec)
	}
	if v := mustVerify(t, audit, "ada", tk.ID); !v.Valid || v.Events != 3 {
		t.Fatalf("Verify = %+v", v)
	}
}

func TestAuditRejectsUnstorablePayloadWhole(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	audit := postgres.NewAudit(pool)
	tk := auditTask(t, "ada")
	good := auditEvent(t, tk, task.EventCreated, 1, time.Now())
	bad := auditEvent(t, tk, task.EventUpdated, 2, time.Now())
	bad.Payload = json.RawMessage(`{"title": "nul \u0000 byte"}`) // jsonb cannot hold U+0000
	notJSON := auditEvent(t, tk, task.EventUpdated, 3, time.Now())
	notJSON.Payload = json.RawMessage(`{"title":`)
	for _, batch := range [][]task.AuditRecord{{good, bad}, {good, notJSON}} {
		if _, err := audit.Write(context.Background(), batch); !errors.Is(err, postgres.ErrAuditRejected) {
			t.Fatalf("Write = %v, want ErrAuditRejected", err)
		}
	}
	if _, err := audit.List(context.Background(), "ada", tk.ID, postgres.AuditQuery{Limit: 10}); !errors.Is(err, task.ErrNotFound) {
		t.Fatalf("a rejected batch left rows behind: %v", err)
	}
	mustWrite(t, audit, 1, good)
}

func TestAuditListOrderFiltersAndOwner(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t)
	audit := postgres.NewAudit(pool)
	ctx := context.Background()
	tk := auditTask(t, "ada")
	t0 := time.Now().UTC().Truncate(time.Second)
	types := []task.EventType{task.EventCreated, task.EventUpdated, task.EventReminderTriggered, task.EventUpdated,
		task.EventOverdue, task.EventCompleted, task.EventDeleted}
	var evs []task.AuditRecord
	for i, typ := range types {
		evs = append(evs, auditEvent(t, tk, typ, int64(i+1), t0.Add(time.Duration(i)*time.Minute)))
	}
	// Two changes in the same instant order by version; delivery order does not matter.
	evs[4].OccurredAt = evs[3].OccurredAt
	shuffled := []task.AuditRecord{evs[6], evs[0], evs[4], evs[2], evs[1], evs[5], evs[3]}
	mustWrite(t, audit, 7, shuffled...)
	mustWrite(t, audit, 1, auditEvent(t, auditTask(t, "ada"), task.EventCreated, 1, t0)) // another task

	got := listAll(t, audit, "ada", tk.ID, postgres.AuditQuery{Limit: 3})
	if want := eventIDs(evs); !slices.Equal(eventIDs(got), want) {
		t.Fatalf("paged history %v, want chronological %v", eventIDs(got), want)
	}
	updates := listAll(t, audit, "ada", tk.ID, postgres.AuditQuery{Limit: 50, Types: []string{"task.updated", "task.deleted"}})
	if want := []uuid.UUID{evs[1].EventID, evs[3].EventID, evs[6].EventID}; !slices.Equal(eventIDs(updates), want) {
		t.Fatalf("type filter %v, want %v", eventIDs(updates), want)
	}
	from, to := t0.Add(2*time.Minute), t0.Add(5*time.Minute)
	window := listAll(t, audit, "ada", tk.ID, postgres.AuditQuery{Limit: 50, From: &from, To: &to})
	if want := eventIDs(evs[2:5]); !slices.Equal(eventIDs(window), want) {
		t.Fatalf("[from, to) %v, want %v", eventIDs(window), want)
	}
	// An empty page of an owned task is not a 404.
	late := t0.Add(time.Hour)
	if page, err := audit.List(ctx, "ada", tk.ID, postgres.AuditQuery{Limit: 5, From: &late}); err != nil || len(page.Items) != 0 {
		t.Fatalf("window without events: %d, %v", len(page.Items), err)
	}
	for _, c := range []struct{ user, id string }{{"eve", tk.ID.String()}, {"ada", uuid.NewString()}} {
		if _, err := audit.List(ctx, c.user, uuid.MustParse(c.id), postgres.AuditQuery{Limit: 5}); !errors.Is(err, task.ErrNotFound) {
			t.Errorf("List(%s, %s) = %v, want not found", c.user, c.id, err)
		}
	}
	page, err := audit.List(ctx, "ada", tk.ID, postgres.AuditQuery{Limit: 2})
	if err != nil || page.Next == "" {
		t.Fatalf("first page: %v", err)
	}
	if _, err := audit.List(ctx, "eve", tk.ID, postgres.AuditQuery{Limit: 2, After: page.Next}); !errors.Is(err, task.ErrNotFound) {
		t.Errorf("eve paging ada's task with ada's cursor: %v, want not found", err)
	}
	if _, err := audit.List(ctx, "ada", tk.ID, postgres.AuditQuery{Limit: 5, After: "bm90IGEgY3Vyc29y"}); !errors.Is(err, postgres.ErrBadAuditCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

// eventually polls cond every 10 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
