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
    tenant_id       bigint  NOT NULL,
    minute          bigint  NOT NULL,
    edge_id         text    NOT NULL,
    requests        bigint  NOT NULL DEFAULT 0,
    upstream_errors bigint  NOT NULL DEFAULT 0,
    bytes_in        bigint  NOT NULL DEFAULT 0,
    bytes_out       bigint  NOT NULL DEFAULT 0,
    lat_00          bigint  NOT NULL DEFAULT 0,
    lat_01          bigint  NOT NULL DEFAULT 0,
    lat_02          bigint  NOT NULL DEFAULT 0,
    lat_03          bigint  NOT NULL DEFAULT 0,
    lat_04          bigint  NOT NULL DEFAULT 0,
    lat_05          bigint  NOT NULL DEFAULT 0,
    lat_06          bigint  NOT NULL DEFAULT 0,
    lat_07          bigint  NOT NULL DEFAULT 0,
    lat_08          bigint  NOT NULL DEFAULT 0,
    lat_09          bigint  NOT NULL DEFAULT 0,
    lat_10          bigint  NOT NULL DEFAULT 0,
    lat_11          bigint  NOT NULL DEFAULT 0,
    lat_12          bigint  NOT NULL DEFAULT 0,
    lat_13          bigint  NOT NULL DEFAULT 0,
    lat_14          bigint  NOT NULL DEFAULT 0,
    lat_15          bigint  NOT NULL DEFAULT 0,
    lat_16          bigint  NOT NULL DEFAULT 0,
    lat_17          bigint  NOT NULL DEFAULT 0,
    lat_18          bigint  NOT NULL DEFAULT 0,
    lat_19          bigint  NOT NULL DEFAULT 0,
    lat_20          bigint  NOT NULL DEFAULT 0,
    lat_21          bigint  NOT NULL DEFAULT 0,
    lat_22          bigint  NOT NULL DEFAULT 0,
    lat_23          bigint  NOT NULL DEFAULT 0,
    lat_24          bigint  NOT NULL DEFAULT 0,
    lat_25          bigint  NOT NULL DEFAULT 0,
    lat_26          bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, minute, edge_id)
);
CREATE INDEX usage_minutes_minute_idx ON usage_minutes (minute);

-- +goose Down
DROP TABLE usage_minutes;
