-- Outgoing webhooks. A user registers a URL and the event types it wants;
-- the auditor, which already consumes every task event, enqueues one
-- delivery per matching event in the transaction that appends the event to
-- the audit log, and its dispatcher POSTs them, signed with the webhook's
-- secret. The secret is kept in clear: it is the HMAC key every delivery
-- is signed with (the API shows it once, on create and on rotation).
CREATE TABLE webhooks (
    id                   uuid        PRIMARY KEY,
    user_id              text        NOT NULL,
    url                  text        NOT NULL,
    event_types          text[]      NOT NULL,
    secret               text        NOT NULL,
    active               boolean     NOT NULL DEFAULT true,
    disabled_reason      text,
    -- Failed attempts in a row (any delivery); a success resets it, and
    -- WEBHOOK_MAX_FAILURES of them disable the webhook.
    consecutive_failures integer     NOT NULL DEFAULT 0,
    last_status          integer,    -- HTTP status of the last attempt (NULL: no answer)
    last_error           text,
    last_attempt_at      timestamptz,
    last_success_at      timestamptz,
    -- After a failure nothing goes to the URL before retry_at (backoff per
    -- endpoint: an endpoint that is down gets one probe at a time).
    retry_at             timestamptz,
    -- The dispatcher that holds the webhook sends its deliveries one at a
    -- time, in order, until leased_until; lease_owner fences the others.
    lease_owner          uuid,
    leased_until         timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_webhooks_user ON webhooks (user_id, created_at);

CREATE TABLE webhook_deliveries (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Enqueue order: a webhook's deliveries go out in it.
    seq             bigint      GENERATED ALWAYS AS IDENTITY,
    webhook_id      uuid        NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    payload         jsonb       NOT NULL,
    state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text,
    last_attempt_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- A redelivered event is enqueued once per webhook.
    UNIQUE (webhook_id, event_id)
);
-- The dispatcher's queue: which webhooks have a delivery due, and what is
-- pending per webhook, in order.
CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX idx_webhook_deliveries_pending ON webhook_deliveries (webhook_id, seq) WHERE state = 'pending';
-- A webhook's recent deliveries (the API), and the purge of old ones.
CREATE INDEX idx_webhook_deliveries_recent ON webhook_deliveries (webhook_id, created_at DESC);
CREATE INDEX idx_webhook_deliveries_final ON webhook_deliveries (created_at) WHERE state <> 'pending';
