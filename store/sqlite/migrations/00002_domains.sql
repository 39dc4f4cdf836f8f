-- Custom domain verification scheduling. The control plane's verification
-- worker claims due rows by setting claimed_until (SQLite has a single
-- writer, so the claiming UPDATE … RETURNING is atomic); check_attempts
-- counts consecutive checks without the records (pending: drives the
-- backoff; active: a re-check must fail this often before "moved").
-- Status transitions are recorded in audit_log with actions named
-- domain.<status>; there is no separate events table.

-- +goose Up
ALTER TABLE tenant_domains ADD COLUMN next_check_at TEXT;
ALTER TABLE tenant_domains ADD COLUMN check_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenant_domains ADD COLUMN claimed_until TEXT;
CREATE INDEX tenant_domains_next_check_at_idx ON tenant_domains (next_check_at);

-- +goose Down
DROP INDEX tenant_domains_next_check_at_idx;
ALTER TABLE tenant_domains DROP COLUMN claimed_until;
ALTER TABLE tenant_domains DROP COLUMN check_attempts;
ALTER TABLE tenant_domains DROP COLUMN next_check_at;
