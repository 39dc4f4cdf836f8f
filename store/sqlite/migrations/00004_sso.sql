-- SSO: each tenant's identity provider configurations (secrets sealed by
-- the application, stored as opaque bytes), the edge's server-side
-- sessions and the logins in progress. Sessions and login states are not
-- configuration: writing them bumps no config version. Their other fields
-- live in the data column as JSON.

-- +goose Up
CREATE TABLE sso_configs (
    tenant_id             INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    provider              TEXT    NOT NULL,
    name                  TEXT    NOT NULL DEFAULT '',
    settings              TEXT    NOT NULL DEFAULT '{}',
    sealed_secrets        BLOB,
    protected_paths       TEXT    NOT NULL DEFAULT '[]',
    public_paths          TEXT    NOT NULL DEFAULT '[]',
    allowed_email_domains TEXT    NOT NULL DEFAULT '[]',
    allowed_groups        TEXT    NOT NULL DEFAULT '[]',
    allow_idp_initiated   INTEGER NOT NULL DEFAULT 0,
    created_at            TEXT    NOT NULL,
    updated_at            TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, provider)
);

CREATE TABLE sso_sessions (
    id         TEXT    PRIMARY KEY,
    tenant_id  INTEGER NOT NULL,
    data       TEXT    NOT NULL,
    expires_at TEXT    NOT NULL
);
CREATE INDEX sso_sessions_tenant_id_idx ON sso_sessions (tenant_id);
CREATE INDEX sso_sessions_expires_at_idx ON sso_sessions (expires_at);

CREATE TABLE sso_login_states (
    state      TEXT    PRIMARY KEY,
    tenant_id  INTEGER NOT NULL,
    browser    TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL
);
CREATE INDEX sso_login_states_browser_idx ON sso_login_states (tenant_id, browser, created_at);
CREATE INDEX sso_login_states_expires_at_idx ON sso_login_states (expires_at);

-- +goose Down
DROP TABLE sso_login_states;
DROP TABLE sso_sessions;
DROP TABLE sso_configs;
