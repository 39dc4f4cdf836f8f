-- SSO: each tenant's identity provider configurations (secrets sealed by
-- the application, stored as opaque bytes), the edge's server-side
-- sessions and the logins in progress. Sessions and login states are not
-- configuration: writing them bumps no config version. Their other fields
-- live in the data column as JSON.

-- +goose Up
CREATE TABLE sso_configs (
    tenant_id             bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    provider              text        NOT NULL,
    name                  text        NOT NULL DEFAULT '',
    settings              jsonb       NOT NULL DEFAULT '{}',
    sealed_secrets        bytea,
    protected_paths       jsonb       NOT NULL DEFAULT '[]',
    public_paths          jsonb       NOT NULL DEFAULT '[]',
    allowed_email_domains jsonb       NOT NULL DEFAULT '[]',
    allowed_groups        jsonb       NOT NULL DEFAULT '[]',
    allow_idp_initiated   boolean     NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CONSTRAINT sso_configs_pkey PRIMARY KEY (tenant_id, provider)
);

CREATE TABLE sso_sessions (
    id         text        NOT NULL,
    tenant_id  bigint      NOT NULL,
    data       jsonb       NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT sso_sessions_id_key PRIMARY KEY (id)
);
CREATE INDEX sso_sessions_tenant_id_idx ON sso_sessions (tenant_id);
CREATE INDEX sso_sessions_expires_at_idx ON sso_sessions (expires_at);

CREATE TABLE sso_login_states (
    state      text        NOT NULL,
    tenant_id  bigint      NOT NULL,
    browser    text        NOT NULL,
    data       jsonb       NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT sso_login_states_state_key PRIMARY KEY (state)
);
CREATE INDEX sso_login_states_browser_idx ON sso_login_states (tenant_id, browser, created_at);
CREATE INDEX sso_login_states_expires_at_idx ON sso_login_states (expires_at);

-- +goose Down
DROP TABLE sso_login_states;
DROP TABLE sso_sessions;
DROP TABLE sso_configs;
