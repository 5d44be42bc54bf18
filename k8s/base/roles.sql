-- Least-privilege PostgreSQL roles for TaskFlow on Kubernetes (k8s/README.md,
-- "Database roles"). Not applied by kustomize: run it as a superuser (on
-- CloudNativePG: kubectl cnpg psql taskflow-db -- -d taskflow -f roles.sql, or
-- psql in the primary's pod) AFTER the Job taskflow-migrate has created the
-- tables, and again after a release whose migrations add tables (it is
-- idempotent). Then give each login role a password (\password taskflow_api)
-- and put its URL into the Secret taskflow-db (secret.example.yaml).
--
-- The schema and its objects belong to the database owner ("taskflow", the
-- CloudNativePG initdb owner), used only by the migration Job (key migrate-url).
-- Each app logs in as its own role, with DML on the tables its code touches
-- (derived from postgres/*.go and the stores each cmd/<app> builds) and
-- nothing else: no DDL, no TRUNCATE, no rights on other apps' tables.
-- k8s/manifests_test.go checks that every table the migrations create is
-- granted here to someone.

\set ON_ERROR_STOP on

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['taskflow_actors', 'taskflow_api', 'taskflow_notifier', 'taskflow_auditor', 'taskflow_actorstate'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', r);
        END IF;
    END LOOP;
    -- Made by migration 0005 only when the owner may create roles (the
    -- CloudNativePG owner may not): the auditor appends through it.
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'taskflow_audit_writer') THEN
        CREATE ROLE taskflow_audit_writer NOLOGIN;
    END IF;
END
$$;

-- Nobody but the owner creates objects in the schema (PostgreSQL 15+ no longer
-- lets PUBLIC), except Dapr's actor state store, which makes its dapr_* tables.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO taskflow_actors, taskflow_api, taskflow_notifier, taskflow_auditor, taskflow_actorstate;
GRANT CREATE ON SCHEMA public TO taskflow_actorstate;
GRANT CONNECT ON DATABASE taskflow TO taskflow_actors, taskflow_api, taskflow_notifier, taskflow_auditor, taskflow_actorstate;

-- Every app checks at start-up that the migrations it embeds are applied.
GRANT SELECT ON schema_migrations TO taskflow_actors, taskflow_api, taskflow_notifier, taskflow_auditor;
-- Identity and serial columns of the tables below.
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO taskflow_actors, taskflow_api, taskflow_notifier, taskflow_auditor;
-- Every app's heartbeat for the ops view (postgres.Ops: Heartbeat, Forget).
GRANT SELECT, INSERT, UPDATE, DELETE ON app_instances TO taskflow_actors, taskflow_api, taskflow_notifier, taskflow_auditor;

-- actors: the task actors (tasks, idempotency keys, reminders, series), the
-- outbox and its relay lease, the operations runner.
GRANT SELECT, INSERT, UPDATE, DELETE ON tasks, idempotency_keys, outbox, reminder_schedule TO taskflow_actors;
GRANT SELECT, INSERT, UPDATE ON outbox_lease, recurring_series, operations TO taskflow_actors;
GRANT SELECT, INSERT ON operation_items TO taskflow_actors;
-- The retention purge (RETENTION_DAYS) runs in the actors app: it deletes
-- final reminder rows, ended series and finished operations with their items.
GRANT DELETE ON recurring_series, operations, operation_items TO taskflow_actors;

-- api: reads tasks (writes go through the actors); the ops view reads
-- reminders, series, operations and dead letters, resets an operation
-- (UPDATE operations), replays a dead letter (UPDATE dead_letters, INSERT
-- outbox) and shows the outbox backlog.
GRANT SELECT ON tasks, reminder_schedule, recurring_series, operation_items TO taskflow_api;
GRANT SELECT, UPDATE ON operations, dead_letters TO taskflow_api;
GRANT SELECT, INSERT ON outbox TO taskflow_api;
-- Calendar feeds: the api creates, rotates, revokes and looks up their hashed secrets.
GRANT SELECT, INSERT, UPDATE, DELETE ON calendar_feeds TO taskflow_api;
-- Webhooks: the api registers, changes and deletes them (a delete cascades
-- to the deliveries as the owner), shows their deliveries and fails the
-- pending ones of a webhook its user disables.
GRANT SELECT, INSERT, UPDATE, DELETE ON webhooks TO taskflow_api;
GRANT SELECT, UPDATE ON webhook_deliveries TO taskflow_api;

-- notifier: its notifications (and their purge); replays from the audit log.
GRANT SELECT, INSERT, DELETE ON notifications TO taskflow_notifier;
GRANT SELECT ON task_events TO taskflow_notifier;

-- auditor: appends to the audit log through taskflow_audit_writer (SET LOCAL
-- ROLE, AUDIT_DB_ROLE; a member, it inherits its rights), reads it for the
-- audit query API, keeps its monthly partitions (a SECURITY DEFINER function
-- of the owner, EXECUTE through the writer role) and takes
-- dead letters into its inbox. Temporary tables (its staging) come with
-- PUBLIC's TEMP right on the database.
GRANT SELECT, INSERT ON task_events TO taskflow_audit_writer;
GRANT EXECUTE ON FUNCTION taskflow_ensure_event_partitions(timestamptz, integer) TO taskflow_audit_writer;
GRANT taskflow_audit_writer TO taskflow_auditor;
GRANT SELECT ON task_events TO taskflow_auditor;
GRANT SELECT, INSERT ON dead_letters TO taskflow_auditor;
-- Webhooks: the audit write enqueues deliveries in its transaction (as
-- taskflow_auditor: it resets the writer role first), the dispatcher leases
-- webhooks, records attempts, disables failing ones and purges old deliveries.
GRANT SELECT, UPDATE ON webhooks TO taskflow_auditor;
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_deliveries TO taskflow_auditor;

-- taskflow_actorstate: Dapr's actor state store (daprd of the actors pods)
-- creates and owns its dapr_* tables, and has no rights on TaskFlow's. If
-- they already exist, owned by taskflow (the state store used its URL before),
-- hand each of them over once (\dt dapr_* lists them):
--   ALTER TABLE <each dapr_* table> OWNER TO taskflow_actorstate;
