package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskflow/taskflow/task"
)

// CalendarFeeds stores each user's feed secret (hashed). Safe for
// concurrent use.
type CalendarFeeds struct {
	pool *pgxpool.Pool
}

// NewCalendarFeeds returns a CalendarFeeds on pool.
func NewCalendarFeeds(pool *pgxpool.Pool) *CalendarFeeds { return &CalendarFeeds{pool: pool} }

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Rotate makes token userID's feed secret, replacing the previous one.
func (f *CalendarFeeds) Rotate(ctx context.Context, userID, token string) (time.Time, error) {
	var at time.Time
	err := f.pool.QueryRow(ctx, `INSERT INTO calendar_feeds (user_id, token_hash) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = now()
		RETURNING created_at`, userID, hashToken(token)).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("rotate calendar feed: %w", err)
	}
	return at.UTC(), nil
}

// Revoke removes userID's feed; its URL stops working.
func (f *CalendarFeeds) Revoke(ctx context.Context, userID string) error {
	if _, err := f.pool.Exec(ctx, `DELETE FROM calendar_feeds WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("revoke calendar feed: %w", err)
	}
	return nil
}

// Owner returns whose feed token is; task.ErrNotFound for none.
func (f *CalendarFeeds) Owner(ctx context.Context, token string) (string, error) {
	var user string
	err := f.pool.QueryRow(ctx, `SELECT user_id FROM calendar_feeds WHERE token_hash = $1`, hashToken(token)).Scan(&user)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", task.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("calendar feed: %w", err)
	}
	return user, nil
}
