package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskflow/taskflow/webhook"
)

// Webhooks stores users' webhooks and their delivery queue: the API's
// registrations (every method taking a userID sees only that user's) and
// the dispatcher's leases and attempts. Deliveries are enqueued by
// Audit.Write (see Audit.EnqueueWebhooks). Safe for concurrent use.
type Webhooks struct {
	pool *pgxpool.Pool
}

// NewWebhooks returns a Webhooks on pool.
func NewWebhooks(pool *pgxpool.Pool) *Webhooks { return &Webhooks{pool: pool} }

const webhookColumns = `id, url, event_types, active, disabled_reason, consecutive_failures, last_status, last_error,
	last_attempt_at, last_success_at, created_at, updated_at`

func scanWebhook(row pgx.Row) (webhook.Webhook, error) {
	var w webhook.Webhook
	var id pgtype.UUID
	err := row.Scan(&id, &w.URL, &w.EventTypes, &w.Active, &w.DisabledReason, &w.ConsecutiveFailures, &w.LastStatus,
		&w.LastError, &w.LastAttemptAt, &w.LastSuccessAt, &w.CreatedAt, &w.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return webhook.Webhook{}, webhook.ErrNotFound
	}
	w.ID = id.Bytes
	w.CreatedAt, w.UpdatedAt = w.CreatedAt.UTC(), w.UpdatedAt.UTC()
	w.LastAttemptAt, w.LastSuccessAt = utcPtr(w.LastAttemptAt), utcPtr(w.LastSuccessAt)
	return w, err
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Create registers a webhook for userID with secret; webhook.ErrTooMany
// when the user has webhook.MaxPerUser already.
func (s *Webhooks) Create(ctx context.Context, userID, url string, eventTypes []string, secret string) (webhook.Webhook, error) {
	var w webhook.Webhook
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One user's creates in turn, so that two at once cannot both
		// pass the count.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('webhooks:' || $1, 0))`, userID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM webhooks WHERE user_id = $1`, userID).Scan(&n); err != nil {
			return err
		}
		if n >= webhook.MaxPerUser {
			return webhook.ErrTooMany
		}
		var err error
		w, err = scanWebhook(tx.QueryRow(ctx, `INSERT INTO webhooks (id, user_id, url, event_types, secret)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+webhookColumns, pgUUID(uuid.Must(uuid.NewV7())), userID, url, eventTypes, secret))
		return err
	})
	if err != nil && !errors.Is(err, webhook.ErrTooMany) {
		return webhook.Webhook{}, fmt.Errorf("create webhook: %w", err)
	}
	return w, err
}

// List returns userID's webhooks, oldest first.
func (s *Webhooks) List(ctx context.Context, userID string) ([]webhook.Webhook, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (webhook.Webhook, error) { return scanWebhook(r) })
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return out, nil
}

// Get returns one of userID's webhooks.
func (s *Webhooks) Get(ctx context.Context, userID string, id uuid.UUID) (webhook.Webhook, error) {
	w, err := scanWebhook(s.pool.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1 AND user_id = $2`,
		pgUUID(id), userID))
	if err != nil && !errors.Is(err, webhook.ErrNotFound) {
		return webhook.Webhook{}, fmt.Errorf("webhook %s: %w", id, err)
	}
	return w, err
}

// Update applies p to one of userID's webhooks. A new URL, or active
// true, forgets the failures in a row and the wait after them; active
// false disables it, and its pending deliveries fail.
func (s *Webhooks) Update(ctx context.Context, userID string, id uuid.UUID, p webhook.Patch) (webhook.Webhook, error) {
	var w webhook.Webhook
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		reset := p.URL != nil || (p.Active != nil && *p.Active)
		var err error
		w, err = scanWebhook(tx.QueryRow(ctx, `UPDATE webhooks SET
				url = coalesce($3, url),
				event_types = coalesce($4, event_types),
				active = coalesce($5, active),
				disabled_reason = CASE WHEN $5 THEN NULL WHEN NOT $5 THEN 'disabled by its owner' ELSE disabled_reason END,
				consecutive_failures = CASE WHEN $6 THEN 0 ELSE consecutive_failures END,
				retry_at = CASE WHEN $6 THEN NULL ELSE retry_at END,
				updated_at = now()
			WHERE id = $1 AND user_id = $2 RETURNING `+webhookColumns,
			pgUUID(id), userID, p.URL, p.EventTypes, p.Active, reset))
		if err != nil || w.Active {
			return err
		}
		return failPending(ctx, tx, id, "not sent: the webhook is disabled")
	})
	if err != nil && !errors.Is(err, webhook.ErrNotFound) {
		return webhook.Webhook{}, fmt.Errorf("update webhook %s: %w", id, err)
	}
	return w, err
}

// failPending fails a webhook's pending deliveries (it was disabled).
func failPending(ctx context.Context, tx pgx.Tx, id uuid.UUID, reason string) error {
	_, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET state = 'failed', last_error = coalesce(last_error || '; ', '') || $2
		WHERE webhook_id = $1 AND state = 'pending'`, pgUUID(id), reason)
	return err
}

// RotateSecret replaces the secret of one of userID's webhooks; the next
// attempt is signed with it.
func (s *Webhooks) RotateSecret(ctx context.Context, userID string, id uuid.UUID, secret string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE webhooks SET secret = $3, updated_at = now() WHERE id = $1 AND user_id = $2`,
		pgUUID(id), userID, secret)
	if err != nil {
		return fmt.Errorf("rotate webhook secret %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return webhook.ErrNotFound
	}
	return nil
}

// Delete removes one of userID's webhooks and its deliveries.
func (s *Webhooks) Delete(ctx context.Context, userID string, id uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhooks WHERE id = $1 AND user_id = $2`, pgUUID(id), userID)
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return webhook.ErrNotFound
	}
	return nil
}

// Deliveries returns the newest limit deliveries of one of userID's
// webhooks, newest first.
func (s *Webhooks) Deliveries(ctx context.Context, userID string, id uuid.UUID, limit int) ([]webhook.Delivery, error) {
	if _, err := s.Get(ctx, userID, id); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT id, event_id, event_type, state, attempts,
			CASE WHEN state = 'pending' THEN next_attempt_at END, last_status, last_error, last_attempt_at, created_at
		FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY created_at DESC, seq DESC LIMIT $2`, pgUUID(id), limit)
	if err != nil {
		return nil, fmt.Errorf("deliveries of webhook %s: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (webhook.Delivery, error) {
		var d webhook.Delivery
		var did, eid pgtype.UUID
		err := r.Scan(&did, &eid, &d.EventType, &d.State, &d.Attempts, &d.NextAttemptAt, &d.LastStatus, &d.LastError,
			&d.LastAttemptAt, &d.CreatedAt)
		d.ID, d.EventID, d.CreatedAt = did.Bytes, eid.Bytes, d.CreatedAt.UTC()
		d.NextAttemptAt, d.LastAttemptAt = utcPtr(d.NextAttemptAt), utcPtr(d.LastAttemptAt)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("deliveries of webhook %s: %w", id, err)
	}
	return out, nil
}

// --- the dispatcher's side ---

// Claim leases to owner, until lease from now, up to n active webhooks
// that have a delivery due, are held by no one (or by a holder whose
// lease ran out) and are not waiting after a failure. The least recently
// served come first.
func (s *Webhooks) Claim(ctx context.Context, owner uuid.UUID, n int, lease time.Duration) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, `UPDATE webhooks SET lease_owner = $1, leased_until = now() + $2 * interval '1 microsecond'
		WHERE id IN (
			SELECT w.id FROM webhooks w
			WHERE w.active
				AND (w.leased_until IS NULL OR w.lease_owner IS NULL OR w.leased_until < now())
				AND (w.retry_at IS NULL OR w.retry_at <= now())
				-- per webhook, on idx_webhook_deliveries_pending: a webhook
				-- waiting out a retry never has its backlog scanned
				AND EXISTS (SELECT 1 FROM webhook_deliveries d
					WHERE d.webhook_id = w.id AND d.state = 'pending' AND d.next_attempt_at <= now())
			ORDER BY w.leased_until NULLS FIRST
			LIMIT $3
			FOR NO KEY UPDATE SKIP LOCKED)
		RETURNING id`, pgUUID(owner), lease.Microseconds(), n)
	if err != nil {
		return nil, fmt.Errorf("claim webhooks: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[pgtype.UUID])
	if err != nil {
		return nil, fmt.Errorf("claim webhooks: %w", err)
	}
	out := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		out[i] = id.Bytes
	}
	return out, nil
}

// Next returns the webhook's oldest due delivery, with the webhook's
// current URL and secret; false when none is due, or the webhook is no
// longer active or no longer owner's.
func (s *Webhooks) Next(ctx context.Context, webhookID, owner uuid.UUID) (webhook.Job, bool, error) {
	j := webhook.Job{Webhook: webhookID, Owner: owner}
	var did, eid pgtype.UUID
	var payload string
	err := s.pool.QueryRow(ctx, `SELECT d.id, d.event_id, d.event_type, d.payload::text, w.url, w.secret
		FROM webhooks w JOIN webhook_deliveries d ON d.webhook_id = w.id
		WHERE w.id = $1 AND w.lease_owner = $2 AND w.leased_until > now() AND w.active
			AND d.state = 'pending' AND d.next_attempt_at <= now()
		ORDER BY d.seq LIMIT 1`, pgUUID(webhookID), pgUUID(owner)).Scan(&did, &eid, &j.EventType, &payload, &j.URL, &j.Secret)
	if errors.Is(err, pgx.ErrNoRows) {
		return webhook.Job{}, false, nil
	}
	if err != nil {
		return webhook.Job{}, false, fmt.Errorf("next delivery of webhook %s: %w", webhookID, err)
	}
	j.Delivery, j.EventID, j.Payload = did.Bytes, eid.Bytes, []byte(payload)
	return j, true, nil
}

// Record stores an attempt's result on its delivery and webhook in one
// transaction and renews the owner's lease. A failure's consequences are
// decide's (webhook.Policy.AfterFailure), given the delivery's attempts
// and the webhook's failures in a row, each counting this one.
func (s *Webhooks) Record(ctx context.Context, j webhook.Job, res webhook.Result, lease time.Duration,
	decide func(attempts, failures int) webhook.Decision) (webhook.Recorded, error) {
	var rec webhook.Recorded
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var attempts, failures int
		var owner pgtype.UUID
		var active bool
		// The webhook first, then the delivery: the order every writer takes.
		err := tx.QueryRow(ctx, `SELECT consecutive_failures, lease_owner, active FROM webhooks WHERE id = $1 FOR NO KEY UPDATE`,
			pgUUID(j.Webhook)).Scan(&failures, &owner, &active)
		if err == nil {
			err = tx.QueryRow(ctx, `SELECT attempts FROM webhook_deliveries WHERE id = $1 FOR UPDATE`, pgUUID(j.Delivery)).Scan(&attempts)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			rec.Gone = true
			return nil
		}
		if err != nil {
			return err
		}
		attempts++
		rec.LeaseHeld = owner.Valid && uuid.UUID(owner.Bytes) == j.Owner
		status := pgtype.Int4{Int32: int32(res.Status), Valid: res.Status != 0}
		lastErr := pgtype.Text{String: truncate(res.Error, 500), Valid: !res.OK}
		if res.OK {
			if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET state = 'delivered', attempts = $2, last_status = $3,
					last_error = NULL, last_attempt_at = $4 WHERE id = $1`, pgUUID(j.Delivery), attempts, status, res.At); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE webhooks SET consecutive_failures = 0, retry_at = NULL, last_status = $2,
					last_error = NULL, last_attempt_at = $3, last_success_at = $3,
					leased_until = CASE WHEN lease_owner = $4 THEN now() + $5 * interval '1 microsecond' ELSE leased_until END
				WHERE id = $1`, pgUUID(j.Webhook), status, res.At, pgUUID(j.Owner), lease.Microseconds())
			return err
		}
		failures++
		d := decide(attempts, failures)
		state, next := webhook.StatePending, pgtype.Timestamptz{Time: d.DeliveryRetryAt, Valid: !d.DeliveryRetryAt.IsZero()}
		if !next.Valid {
			state, rec.GaveUp = webhook.StateFailed, true
		}
		// Only a delivery still pending: its owner may have disabled the
		// webhook (failing its deliveries) during the attempt.
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET state = $2, attempts = $3, last_status = $4,
				last_error = $5, last_attempt_at = $6, next_attempt_at = coalesce($7, next_attempt_at) WHERE id = $1 AND state = 'pending'`,
			pgUUID(j.Delivery), state, attempts, status, lastErr, res.At, next); err != nil {
			return err
		}
		reason := pgtype.Text{String: truncate(d.DisabledReason, 500), Valid: d.Disable}
		if _, err := tx.Exec(ctx, `UPDATE webhooks SET consecutive_failures = $2, retry_at = $3, last_status = $4,
				last_error = $5, last_attempt_at = $6,
				active = active AND NOT $7, disabled_reason = CASE WHEN active AND $7 THEN $8 ELSE disabled_reason END,
				updated_at = CASE WHEN active AND $7 THEN now() ELSE updated_at END,
				leased_until = CASE WHEN lease_owner = $9 THEN now() + $10 * interval '1 microsecond' ELSE leased_until END
			WHERE id = $1`, pgUUID(j.Webhook), failures, d.WebhookRetryAt, status, lastErr, res.At,
			d.Disable, reason, pgUUID(j.Owner), lease.Microseconds()); err != nil {
			return err
		}
		if d.Disable && active { // not when its owner disabled it meanwhile
			rec.Disabled = true
			return failPending(ctx, tx, j.Webhook, "not sent: the webhook was disabled")
		}
		return nil
	})
	if err != nil {
		return webhook.Recorded{}, fmt.Errorf("record delivery %s: %w", j.Delivery, err)
	}
	return rec, nil
}

// Release ends owner's lease on a webhook (it stays marked as served now,
// which puts it behind the others at the next claim).
func (s *Webhooks) Release(ctx context.Context, webhookID, owner uuid.UUID) error {
	_, err := s.pool.Exec(ctx, `UPDATE webhooks SET lease_owner = NULL, leased_until = now()
		WHERE id = $1 AND lease_owner = $2`, pgUUID(webhookID), pgUUID(owner))
	if err != nil {
		return fmt.Errorf("release webhook %s: %w", webhookID, err)
	}
	return nil
}

// Purge deletes up to limit delivered and failed deliveries created
// before before; it returns how many.
func (s *Webhooks) Purge(ctx context.Context, before time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_deliveries WHERE id IN (
		SELECT id FROM webhook_deliveries WHERE state <> 'pending' AND created_at < $1 LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("purge webhook deliveries: %w", err)
	}
	return tag.RowsAffected(), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
