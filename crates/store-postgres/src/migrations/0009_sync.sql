-- einvoice PostgreSQL schema, migration 9: site-to-site sync (einvoice-sync).
-- Another origin's chain head lives in ledger_heads like every origin's (its
-- row is locked FOR UPDATE by the applying transaction); this table keeps,
-- per (origin, upstream), the upstream's head when last asked and the last
-- error of the link (NULL once a page applies cleanly).
CREATE TABLE IF NOT EXISTS sync_upstreams (
    origin        TEXT    NOT NULL,
    upstream      TEXT    NOT NULL,
    seq           BIGINT  NOT NULL,
    hash          BYTEA   NOT NULL,
    hlc           BIGINT  NOT NULL,
    checked_unix  BIGINT  NOT NULL,
    error_code    TEXT,
    error_message TEXT,
    error_seq     BIGINT,
    PRIMARY KEY (origin, upstream)
);
