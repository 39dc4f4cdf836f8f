-- Theming: uploaded images, stored once per content (the SHA-256 is the
-- key), which tenants uploaded which asset for what, and tenants'
-- overrides of the built-in e-mail templates. None of this is served
-- configuration (the brand config refers to assets by hash), so writes
-- bump no config version.

-- +goose Up
CREATE TABLE assets (
    sha256       text        NOT NULL,
    content_type text        NOT NULL,
    size         bigint      NOT NULL,
    data         bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    CONSTRAINT assets_pkey PRIMARY KEY (sha256)
);

CREATE TABLE tenant_assets (
    tenant_id  bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    sha256     text        NOT NULL REFERENCES assets (sha256),
    asset_type text        NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT tenant_assets_pkey PRIMARY KEY (tenant_id, sha256, asset_type)
);

CREATE TABLE email_templates (
    tenant_id  bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       text        NOT NULL,
    subject    text        NOT NULL DEFAULT '',
    html       text        NOT NULL DEFAULT '',
    text       text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT email_templates_pkey PRIMARY KEY (tenant_id, name)
);

-- +goose Down
DROP TABLE email_templates;
DROP TABLE tenant_assets;
DROP TABLE assets;
