-- Theming: uploaded images, stored once per content (the SHA-256 is the
-- key), which tenants uploaded which asset for what, and tenants'
-- overrides of the built-in e-mail templates. None of this is served
-- configuration (the brand config refers to assets by hash), so writes
-- bump no config version.

-- +goose Up
CREATE TABLE assets (
    sha256       TEXT    PRIMARY KEY,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    data         BLOB    NOT NULL,
    created_at   TEXT    NOT NULL
);

CREATE TABLE tenant_assets (
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    sha256     TEXT    NOT NULL REFERENCES assets (sha256),
    asset_type TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, sha256, asset_type)
);

CREATE TABLE email_templates (
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    subject    TEXT    NOT NULL DEFAULT '',
    html       TEXT    NOT NULL DEFAULT '',
    text       TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- +goose Down
DROP TABLE email_templates;
DROP TABLE tenant_assets;
DROP TABLE assets;
