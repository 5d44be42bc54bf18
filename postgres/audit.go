package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskflow/taskflow/task"
)

// Audit reads and appends the audit log (task_events). Safe for
// concurrent use.
type Audit struct {
	pool *pgxpool.Pool
	role string
	// webhooks: Write also enqueues webhook deliveries; kick is called
	// after a commit that enqueued some.
	webhooks bool
	kick     func()
}

// EnqueueWebhooks makes Write enqueue, in its transaction, a delivery of
// each new event to each active webhook of the event's user that wants
// its type (see Webhooks); kick, if not nil, is called after a commit
// that enqueued any. A redelivered event is stored once and so enqueued
// once. Call it before the first Write.
func (a *Audit) EnqueueWebhooks(kick func()) {
	a.webhooks, a.kick = true, kick
}

// NewAudit returns an Audit on pool.
func NewAudit(pool *pgxpool.Pool) *Audit { return &Audit{pool: pool} }

// AuditWriterRole is the role migration 0005 makes for appending to the
// audit log: SELECT and INSERT on task_events, nothing more.
const AuditWriterRole = "taskflow_audit_writer"

// WriteAs makes Write run as role (SET LOCAL ROLE in its transaction), so
// that the appends hold no UPDATE, DELETE or TRUNCATE grant even when the
// pool's user owns the table. It fails if the pool's user cannot take role.
func (a *Audit) WriteAs(ctx context.Context, role string) error {
	var ok bool
	err := a.pool.QueryRow(ctx, `SELECT pg_has_role(current_user, $1, 'MEMBER')`, role).Scan(&ok)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42704": // undefined_object
		return fmt.Errorf("role %s does not exist", role)
	case err != nil:
		return fmt.Errorf("check role %s: %w", role, err)
	case !ok:
		return fmt.Errorf("%s is not a member of role %s", "the database user", role)
	}
	a.role = role
	return nil
}

var auditColumns = []string{"event_id", "event_type", "task_id", "user_id", "occurred_at", "version", "payload",
	"correlation_id", "partition_key", "received_at", "chain_seq", "hash"}

// EnsurePartitions creates the monthly partitions from now's month for
// months months (moving rows the default partition holds for them).
func (a *Audit) EnsurePartitions(ctx context.Context, now time.Time, months int) (int, error) {
	var n int
	if err := a.pool.QueryRow(ctx, `SELECT taskflow_ensure_event_partitions($1, $2)`, now, months).Scan(&n); err != nil {
		return 0, fmt.Errorf("ensure task_events partitions: %w", err)
	}
	return n, nil
}

// Write appends a batch in one transaction and returns how many records
// were new. A record whose event is stored already (a redelivery, in this
// batch or an earlier one) is skipped; the new ones extend their task's
// hash chain in batch order. Writers of the same task are serialised by an
// advisory lock per task.
func (a *Audit) Write(ctx context.Context, batch []task.AuditRecord) (int, error) {
	seen := make(map[uuid.UUID]bool, len(batch))
	recs := make([]task.AuditRecord, 0, len(batch))
	for _, r := range batch {
		if !seen[r.EventID] {
			seen[r.EventID] = true
			r.OccurredAt = r.OccurredAt.UTC().Truncate(time.Microsecond)
			recs = append(recs, r)
		}
	}
	if len(recs) == 0 {
		return 0, nil
	}
	var written int
	var enqueued int64
	// Read committed, whatever the connection's default: after the task
	// locks each statement must see what the previous holder committed.
	err := pgx.BeginTxFunc(ctx, a.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if a.role != "" {
			// The writer's role can read and append, nothing else.
			if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+pgx.Identifier{a.role}.Sanitize()); err != nil {
				return fmt.Errorf("set role %s: %w", a.role, err)
			}
		}
		tasks, locks := map[uuid.UUID]bool{}, []int64{}
		for _, r := range recs {
			if !tasks[r.TaskID] {
				tasks[r.TaskID] = true
				h := fnv.New64a()
				h.Write(r.TaskID[:])
				locks = append(locks, int64(h.Sum64()))
			}
		}
		slices.Sort(locks) // one order for every writer: no deadlock
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) k ORDER BY k`, locks); err != nil {
			return fmt.Errorf("lock tasks: %w", err)
		}
		// An event is stored once by its id, even if a redelivery carried
		// another occurred_at (the key holds both for the partitioning).
		ids := make([]pgtype.UUID, len(recs))
		for i, r := range recs {
			ids[i] = pgUUID(r.EventID)
		}
		rows, err := tx.Query(ctx, `SELECT event_id FROM task_events WHERE event_id = ANY($1)`, ids)
		if err != nil {
			return fmt.Errorf("find stored events: %w", err)
		}
		stored, err := pgx.CollectRows(rows, pgx.RowTo[pgtype.UUID])
		if err != nil {
			return fmt.Errorf("find stored events: %w", err)
		}
		for _, id := range stored {
			delete(seen, uuid.UUID(id.Bytes))
		}
		taskIDs := make([]pgtype.UUID, 0, len(tasks))
		for id := range tasks {
			taskIDs = append(taskIDs, pgUUID(id))
		}
		type head struct {
			seq  int64
			hash string
			user string
		}
		heads := map[uuid.UUID]head{}
		// The newest row of each task: one backward index step per
		// partition, however long the task's history.
		rows, err = tx.Query(ctx, `SELECT t.id, h.chain_seq, h.hash, h.user_id FROM unnest($1::uuid[]) t(id)
			CROSS JOIN LATERAL (SELECT chain_seq, hash, user_id FROM task_events e WHERE e.task_id = t.id
				ORDER BY chain_seq DESC LIMIT 1) h`, taskIDs)
		if err != nil {
			return fmt.Errorf("read chain heads: %w", err)
		}
		for rows.Next() {
			var id pgtype.UUID
			var h head
			if err := rows.Scan(&id, &h.seq, &h.hash, &h.user); err != nil {
				rows.Close()
				return fmt.Errorf("read chain heads: %w", err)
			}
			heads[id.Bytes] = h
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read chain heads: %w", err)
		}
		values := make([][]any, 0, len(recs))
		for _, r := range recs {
			if !seen[r.EventID] {
				continue // stored already
			}
			h, ok := heads[r.TaskID]
			if ok && h.user != r.UserID {
				// A task has one owner; its history is only ever theirs.
				return fmt.Errorf("%w: event %s is for user %q, but task %s belongs to another user",
					ErrAuditRejected, r.EventID, r.UserID, r.TaskID)
			}
			r.ChainSeq = h.seq + 1
			if r.Hash, err = r.ChainHash(h.hash); err != nil {
				return err
			}
			heads[r.TaskID] = head{seq: r.ChainSeq, hash: r.Hash, user: r.UserID}
			values = append(values, []any{pgUUID(r.EventID), r.EventType, pgUUID(r.TaskID), r.UserID, r.OccurredAt, r.Version,
				string(r.Payload), r.CorrelationID, r.PartitionKey, r.ReceivedAt, r.ChainSeq, r.Hash})
		}
		if len(values) == 0 {
			return nil
		}
		// The session's staging table, one per role that writes through
		// the connection (a temporary table belongs to its creator).
		staging := pgx.Identifier{"audit_staging"}
		if a.role != "" {
			staging = pgx.Identifier{"audit_staging_" + a.role}
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS `+staging.Sanitize()+`
			(LIKE task_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`); err != nil {
			return fmt.Errorf("staging table: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, staging, auditColumns, pgx.CopyFromRows(values)); err != nil {
			return fmt.Errorf("copy batch: %w", err)
		}
		cols := strings.Join(auditColumns, ", ")
		tag, err := tx.Exec(ctx, `INSERT INTO task_events (`+cols+`) SELECT `+cols+` FROM `+staging.Sanitize()+`
			ON CONFLICT (event_id, occurred_at) DO NOTHING`)
		if err != nil {
			return fmt.Errorf("append batch: %w", err)
		}
		if written = int(tag.RowsAffected()); written != len(values) {
			// Another writer stored one of these ids under another task
			// (the task locks keep one task's writers apart): the chain
			// computed here would skip a row. Retry; the ids are found then.
			return fmt.Errorf("append batch: %d of %d events were stored concurrently", len(values)-written, len(values))
		}
		if !a.webhooks {
			return nil
		}
		if a.role != "" {
			// The writer role may only append to the audit log; the
			// deliveries are the app's own rights.
			if _, err := tx.Exec(ctx, `RESET ROLE`); err != nil {
				return fmt.Errorf("reset role: %w", err)
			}
		}
		// The staging table holds exactly the new events. Enqueue order
		// is delivery order: as they happened, a task's in chain order.
		// The webhooks are locked FOR SHARE: a webhook its owner deletes
		// or disables meanwhile is waited for and then skipped (READ
		// COMMITTED re-reads a changed row), so a delivery is never
		// enqueued for a webhook that is gone (a foreign-key failure would
		// reject the audit batch) or left pending on a disabled one.
		tag, err = tx.Exec(ctx, `WITH hooks AS (
				SELECT w.id, w.user_id, w.event_types FROM webhooks w
				WHERE w.user_id IN (SELECT DISTINCT user_id FROM `+staging.Sanitize()+`) AND w.active
				FOR SHARE)
			INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload)
			SELECT w.id, s.event_id, s.event_type, s.payload FROM `+staging.Sanitize()+` s
			JOIN hooks w ON w.user_id = s.user_id AND (s.event_type = ANY (w.event_types) OR '*' = ANY (w.event_types))
			ORDER BY s.occurred_at, s.task_id, s.chain_seq, w.id
			ON CONFLICT (webhook_id, event_id) DO NOTHING`)
		if err != nil {
			return fmt.Errorf("enqueue webhook deliveries: %w", err)
		}
		enqueued = tag.RowsAffected()
		return nil
	})
	if enqueued > 0 && err == nil && a.kick != nil {
		a.kick()
	}
	if err != nil && !errors.Is(err, ErrAuditRejected) && rejected(err) {
		err = fmt.Errorf("%w: %w", ErrAuditRejected, err)
	}
	return written, err
}

// ErrAuditRejected marks a batch that can never be written as it is: the
// database refused its data (not its connection, nor a conflict), or a
// payload cannot be hashed. Some record of the batch is at fault.
var ErrAuditRejected = errors.New("audit batch rejected")

// rejected: err is about the data, so retrying the same batch cannot help.
func rejected(err error) bool {
	if errors.Is(err, task.ErrAuditPayload) {
		return true
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "23505", // unique_violation: a race, not the data
		"23503": // foreign_key_violation: a webhook deleted meanwhile, not the audit data
		return false
	}
	switch pgErr.Code[:2] {
	case "22", // data exception: bad value, \u0000 in jsonb, out of range
		"23", // integrity constraint violation: a NOT NULL or CHECK
		"54": // program limit exceeded: a row too large
		return true
	}
	return false
}

// AuditQuery selects one page of a task's audit log.
type AuditQuery struct {
	Types []string
	From  *time.Time // occurred at or after
	To    *time.Time // occurred before
	Limit int
	After string // cursor from a previous page
}

// AuditPage is one page; Next is "" on the last.
type AuditPage struct {
	Items []task.AuditRecord
	Next  string
}

// List returns userID's audit log of a task in chronological order
// (occurred_at, then the task's version). task.ErrNotFound when the user
// has no events for the task (another user's task, or none at all).
func (a *Audit) List(ctx context.Context, userID string, taskID uuid.UUID, q AuditQuery) (AuditPage, error) {
	b := sqlBuilder{}
	where := []string{"task_id = " + b.arg(pgUUID(taskID)), "user_id = " + b.arg(userID)}
	if len(q.Types) > 0 {
		where = append(where, "event_type = ANY("+b.arg(q.Types)+")")
	}
	if q.From != nil {
		where = append(where, "occurred_at >= "+b.arg(*q.From))
	}
	if q.To != nil {
		where = append(where, "occurred_at < "+b.arg(*q.To))
	}
	if q.After != "" {
		at, version, id, err := decodeAuditCursor(q.After)
		if err != nil {
			return AuditPage{}, err
		}
		where = append(where, fmt.Sprintf("(occurred_at, version, event_id) > (%s, %s, %s)", b.arg(at), b.arg(version), b.arg(pgUUID(id))))
	}
	rows, err := a.pool.Query(ctx, `SELECT `+strings.Join(auditColumns, ", ")+` FROM task_events WHERE `+strings.Join(where, " AND ")+
		` ORDER BY occurred_at, version, event_id LIMIT `+strconv.Itoa(q.Limit+1), b.args...)
	if err != nil {
		return AuditPage{}, fmt.Errorf("audit of %s: %w", taskID, err)
	}
	recs, err := scanAudit(rows)
	if err != nil {
		return AuditPage{}, fmt.Errorf("audit of %s: %w", taskID, err)
	}
	var page AuditPage
	if len(recs) > q.Limit {
		recs = recs[:q.Limit]
		last := recs[len(recs)-1]
		page.Next = encodeAuditCursor(last.OccurredAt, last.Version, last.EventID)
	}
	page.Items = recs
	if len(recs) == 0 { // an empty page of the caller's task, or not their task at all
		var owns bool
		if err := a.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM task_events WHERE task_id = $1 AND user_id = $2)`,
			pgUUID(taskID), userID).Scan(&owns); err != nil {
			return AuditPage{}, fmt.Errorf("audit of %s: %w", taskID, err)
		}
		if !owns {
			return AuditPage{}, task.ErrNotFound
		}
	}
	return page, nil
}

// Verification is the result of checking a task's hash chain.
type Verification struct {
	Valid             bool       `json:"valid"`
	Events            int        `json:"events"`
	FirstBrokenEvent  *uuid.UUID `json:"first_broken_event_id,omitempty"`
	FirstBrokenReason string     `json:"reason,omitempty"`
}

// Verify recomputes userID's task's hash chain from its stored rows, in
// chain order, one row at a time. Every row of the task counts, so a row
// added under another user breaks the chain. task.ErrNotFound when the
// task's history is not userID's.
func (a *Audit) Verify(ctx context.Context, userID string, taskID uuid.UUID) (Verification, error) {
	rows, err := a.pool.Query(ctx, `SELECT `+strings.Join(auditColumns, ", ")+` FROM task_events
		WHERE task_id = $1 ORDER BY chain_seq, event_id`, pgUUID(taskID))
	if err != nil {
		return Verification{}, fmt.Errorf("verify %s: %w", taskID, err)
	}
	defer rows.Close()
	v := Verification{Valid: true}
	prev := ""
	for rows.Next() {
		r, err := scanAuditRow(rows)
		if err != nil {
			return Verification{}, fmt.Errorf("verify %s: %w", taskID, err)
		}
		v.Events++
		if v.Events == 1 && r.UserID != userID {
			return Verification{}, task.ErrNotFound
		}
		if !v.Valid {
			continue // count the rest
		}
		want, err := r.ChainHash(prev)
		reason := ""
		switch {
		case r.UserID != userID:
			reason = "the row names another user"
		case r.ChainSeq != int64(v.Events):
			reason = fmt.Sprintf("chain position %d, expected %d: a row is missing or was added", r.ChainSeq, v.Events)
		case err != nil:
			reason = "the payload cannot be read"
		case want != r.Hash:
			reason = "the hash does not match the row: it was altered"
		}
		if reason != "" {
			id := r.EventID
			v.Valid, v.FirstBrokenEvent, v.FirstBrokenReason = false, &id, reason
		}
		prev = r.Hash
	}
	if err := rows.Err(); err != nil {
		return Verification{}, fmt.Errorf("verify %s: %w", taskID, err)
	}
	if v.Events == 0 {
		return Verification{}, task.ErrNotFound
	}
	return v, nil
}

func scanAudit(rows pgx.Rows) ([]task.AuditRecord, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (task.AuditRecord, error) { return scanAuditRow(r) })
}

func scanAuditRow(r pgx.CollectableRow) (task.AuditRecord, error) {
	var rec task.AuditRecord
	var id, taskID pgtype.UUID
	var payload string
	var corr *string
	err := r.Scan(&id, &rec.EventType, &taskID, &rec.UserID, &rec.OccurredAt, &rec.Version, &payload, &corr,
		&rec.PartitionKey, &rec.ReceivedAt, &rec.ChainSeq, &rec.Hash)
	rec.EventID, rec.TaskID, rec.Payload = id.Bytes, taskID.Bytes, json.RawMessage(payload)
	rec.OccurredAt, rec.ReceivedAt = rec.OccurredAt.UTC(), rec.ReceivedAt.UTC()
	if corr != nil {
		rec.CorrelationID = *corr
	}
	return rec, err
}

// ErrBadAuditCursor: a cursor this list did not make.
var ErrBadAuditCursor = errors.New("audit cursor is malformed")

func encodeAuditCursor(at time.Time, version int64, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.Format(time.RFC3339Nano) + "|" + strconv.FormatInt(version, 10) + "|" + id.String()))
}

func decodeAuditCursor(s string) (time.Time, int64, uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	parts := strings.Split(string(b), "|")
	if err != nil || len(parts) != 3 {
		return time.Time{}, 0, uuid.Nil, ErrBadAuditCursor
	}
	at, err1 := time.Parse(time.RFC3339Nano, parts[0])
	v, err2 := strconv.ParseInt(parts[1], 10, 64)
	id, err3 := uuid.Parse(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return time.Time{}, 0, uuid.Nil, ErrBadAuditCursor
	}
	return at, v, id, nil
}
