-- Initial schema. It follows the reference tables (white_label_tenants,
-- partners, tenant_domains) with these changes:
--   * white_label_tenants is "tenants"; it gains partner_id, contact_email,
--     plan and version (optimistic concurrency), and its custom_domain
--     column moves to tenant_domains, where a tenant may hold several.
--   * partners.api_key moves to partner_api_keys, which stores only a
--     SHA-256 hash per key, so keys can be rotated with an overlap.
--   * tenant_domains gains the verification and certificate columns;
--     ssl_certificate_arn is kept for parity but unused.
--   * audit_log, config_changes and config_version back the audit trail
--     and the change feed; organization_id_seq hands out organization IDs
--     from 1000 (a table, because SQLite has no sequences).
-- Timestamps are TEXT in UTC with microseconds (2006-01-02T15:04:05.000000Z),
-- so they sort as text. JSON columns hold canonical JSON text.

-- +goose Up
CREATE TABLE partners (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    name                  TEXT    NOT NULL,
    contact_email         TEXT    NOT NULL,
    default_revenue_share REAL    NOT NULL DEFAULT 0,
    is_active             INTEGER NOT NULL DEFAULT 1,
    created_at            TEXT    NOT NULL
);

CREATE TABLE partner_api_keys (
    id         TEXT    PRIMARY KEY,
    partner_id INTEGER NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    hash       BLOB    NOT NULL,
    created_at TEXT    NOT NULL,
    expires_at TEXT
);
CREATE INDEX partner_api_keys_partner_id_idx ON partner_api_keys (partner_id, created_at);

CREATE TABLE tenants (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id      INTEGER REFERENCES partners (id),
    organization_id INTEGER NOT NULL UNIQUE,
    tenant_key      TEXT    NOT NULL UNIQUE,
    display_name    TEXT    NOT NULL,
    subdomain       TEXT    NOT NULL UNIQUE,
    contact_email   TEXT    NOT NULL DEFAULT '',
    plan            TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL DEFAULT 'provisioning',
    brand_config    TEXT    NOT NULL DEFAULT '{}',
    feature_flags   TEXT    NOT NULL DEFAULT '{}',
    resource_quotas TEXT    NOT NULL DEFAULT '{}',
    usage_metrics   TEXT    NOT NULL DEFAULT '{}',
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX tenants_partner_id_idx ON tenants (partner_id, id);
CREATE INDEX tenants_status_idx ON tenants (status, id);

CREATE TABLE tenant_domains (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id              INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    domain                 TEXT    NOT NULL UNIQUE,
    status                 TEXT    NOT NULL DEFAULT 'pending',
    verification_token     TEXT    NOT NULL DEFAULT '',
    verified_at            TEXT,
    last_checked_at        TEXT,
    last_check_error       TEXT    NOT NULL DEFAULT '',
    certificate_issuer     TEXT    NOT NULL DEFAULT '',
    certificate_not_before TEXT,
    certificate_not_after  TEXT,
    ssl_certificate_arn    TEXT,
    created_at             TEXT    NOT NULL,
    updated_at             TEXT    NOT NULL
);
CREATE INDEX tenant_domains_tenant_id_idx ON tenant_domains (tenant_id, id);

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT    NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    target_type  TEXT    NOT NULL DEFAULT '',
    target_id    TEXT    NOT NULL DEFAULT '',
    partner_id   INTEGER NOT NULL DEFAULT 0,
    tenant_id    INTEGER NOT NULL DEFAULT 0,
    before_state TEXT,
    after_state  TEXT,
    request_id   TEXT    NOT NULL DEFAULT '',
    client_addr  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_partner_id_idx ON audit_log (partner_id, id);
CREATE INDEX audit_log_tenant_id_idx ON audit_log (tenant_id, id);

CREATE TABLE config_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);

CREATE TABLE config_changes (
    version   INTEGER PRIMARY KEY,
    kind      TEXT    NOT NULL,
    tenant_id INTEGER NOT NULL DEFAULT 0,
    key       TEXT    NOT NULL DEFAULT '',
    at        TEXT    NOT NULL
);

CREATE TABLE organization_id_seq (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    next_id INTEGER NOT NULL
);
INSERT INTO organization_id_seq (id, next_id) VALUES (1, 1000);

-- +goose Down
DROP TABLE organization_id_seq;
DROP TABLE config_changes;
DROP TABLE config_version;
DROP TABLE audit_log;
DROP TABLE tenant_domains;
DROP TABLE tenants;
DROP TABLE partner_api_keys;
DROP TABLE partners;
