-- The outbox relay's leadership becomes a lease with an expiry and a
-- fencing epoch instead of a session advisory lock: a leader whose node
-- vanished without closing its connection kept the lock until TCP
-- keepalive noticed (hours by default), and nothing was published. Now a
-- leader that stops renewing loses the lease when expires_at passes; each
-- takeover increments epoch, and the leader's deletes of published rows
-- check it, so a deposed leader cannot change the outbox.
CREATE TABLE outbox_lease (
    name       text        PRIMARY KEY,
    holder     text        NOT NULL DEFAULT '',
    epoch      bigint      NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL DEFAULT '-infinity'
);

INSERT INTO outbox_lease (name) VALUES ('outbox-relay');

-- How many times publishing the row failed: after the relay's maximum it
-- goes to the dead-letter topic instead of pinning the relay's backoff.
ALTER TABLE outbox ADD COLUMN attempts integer NOT NULL DEFAULT 0;
