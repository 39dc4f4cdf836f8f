-- Custom domains: verification scheduling and the certmagic storage.
--
-- The verification worker claims due tenant_domains rows with
-- FOR UPDATE SKIP LOCKED and a claimed_until lease, so several control
-- instances never check one domain at once and a dead instance's claims
-- expire. check_attempts counts consecutive checks without the records.
-- Status transitions are recorded in audit_log with actions named
-- domain.<status>; there is no separate events table.
--
-- certmagic_data holds certmagic's keys (certificates, keys, ACME
-- accounts, challenge tokens) so every edge shares them; certmagic_locks
-- holds its named locks as leases that the holder refreshes and that
-- anyone may take over once expires_at has passed.

-- +goose Up
ALTER TABLE tenant_domains ADD COLUMN next_check_at timestamptz;
ALTER TABLE tenant_domains ADD COLUMN check_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE tenant_domains ADD COLUMN claimed_until timestamptz;
CREATE INDEX tenant_domains_next_check_at_idx ON tenant_domains (next_check_at);

CREATE TABLE certmagic_data (
    key      text        NOT NULL,
    value    bytea       NOT NULL,
    modified timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT certmagic_data_pkey PRIMARY KEY (key)
);
CREATE INDEX certmagic_data_key_prefix_idx ON certmagic_data (key text_pattern_ops);

CREATE TABLE certmagic_locks (
    name       text        NOT NULL,
    token      text        NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT certmagic_locks_pkey PRIMARY KEY (name)
);

-- +goose Down
DROP TABLE certmagic_locks;
DROP TABLE certmagic_data;
DROP INDEX tenant_domains_next_check_at_idx;
ALTER TABLE tenant_domains DROP COLUMN claimed_until;
ALTER TABLE tenant_domains DROP COLUMN check_attempts;
ALTER TABLE tenant_domains DROP COLUMN next_check_at;
