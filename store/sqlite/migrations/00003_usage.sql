-- Usage metering: each edge's per-tenant per-minute traffic. An edge
-- upserts its rows by (tenant_id, minute, edge_id), replacing, so a retried
-- batch never counts twice; queries sum over edges. minute is unix seconds
-- (UTC, a whole minute) so hour and day buckets are integer arithmetic in
-- both dialects. lat_00 … lat_26 are the latency histogram's counts over
-- the edge's fixed bounds (edge/usage.LatencyBounds), one column each so
-- histograms merge with SUM. No foreign key to tenants: usage outlives a
-- tenant's row and edges write it without checking.

-- +goose Up
CREATE TABLE usage_minutes (
    tenant_id       INTEGER NOT NULL,
    minute          INTEGER NOT NULL,
    edge_id         TEXT    NOT NULL,
    requests        INTEGER NOT NULL DEFAULT 0,
    upstream_errors INTEGER NOT NULL DEFAULT 0,
    bytes_in        INTEGER NOT NULL DEFAULT 0,
    bytes_out       INTEGER NOT NULL DEFAULT 0,
    lat_00          INTEGER NOT NULL DEFAULT 0,
    lat_01          INTEGER NOT NULL DEFAULT 0,
    lat_02          INTEGER NOT NULL DEFAULT 0,
    lat_03          INTEGER NOT NULL DEFAULT 0,
    lat_04          INTEGER NOT NULL DEFAULT 0,
    lat_05          INTEGER NOT NULL DEFAULT 0,
    lat_06          INTEGER NOT NULL DEFAULT 0,
    lat_07          INTEGER NOT NULL DEFAULT 0,
    lat_08          INTEGER NOT NULL DEFAULT 0,
    lat_09          INTEGER NOT NULL DEFAULT 0,
    lat_10          INTEGER NOT NULL DEFAULT 0,
    lat_11          INTEGER NOT NULL DEFAULT 0,
    lat_12          INTEGER NOT NULL DEFAULT 0,
    lat_13          INTEGER NOT NULL DEFAULT 0,
    lat_14          INTEGER NOT NULL DEFAULT 0,
    lat_15          INTEGER NOT NULL DEFAULT 0,
    lat_16          INTEGER NOT NULL DEFAULT 0,
    lat_17          INTEGER NOT NULL DEFAULT 0,
    lat_18          INTEGER NOT NULL DEFAULT 0,
    lat_19          INTEGER NOT NULL DEFAULT 0,
    lat_20          INTEGER NOT NULL DEFAULT 0,
    lat_21          INTEGER NOT NULL DEFAULT 0,
    lat_22          INTEGER NOT NULL DEFAULT 0,
    lat_23          INTEGER NOT NULL DEFAULT 0,
    lat_24          INTEGER NOT NULL DEFAULT 0,
    lat_25          INTEGER NOT NULL DEFAULT 0,
    lat_26          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, minute, edge_id)
);
CREATE INDEX usage_minutes_minute_idx ON usage_minutes (minute);

-- +goose Down
DROP TABLE usage_minutes;
