-- Per-user iCalendar feeds: the secret in the feed's URL is stored only as
-- its SHA-256, so the table cannot give a URL away; rotating replaces it.
CREATE TABLE calendar_feeds (
    user_id    text        PRIMARY KEY,
    token_hash bytea       NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
