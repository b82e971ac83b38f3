-- einvoice SQLite schema, migration 8: site-to-site sync (einvoice-sync).

-- Per origin pulled from peers: the applied head (the cursor), written in the
-- same transaction as the entries it covers.
CREATE TABLE IF NOT EXISTS sync_cursors (
    origin       TEXT    PRIMARY KEY,
    seq          INTEGER NOT NULL,
    hash         BLOB    NOT NULL,
    hlc          INTEGER NOT NULL,
    updated_unix INTEGER NOT NULL
);

-- Per (origin, upstream): the upstream's head when last asked and the last
-- error of the link (NULL once a page applies cleanly).
CREATE TABLE IF NOT EXISTS sync_upstreams (
    origin        TEXT    NOT NULL,
    upstream      TEXT    NOT NULL,
    seq           INTEGER NOT NULL,
    hash          BLOB    NOT NULL,
    hlc           INTEGER NOT NULL,
    checked_unix  INTEGER NOT NULL,
    error_code    TEXT,
    error_message TEXT,
    error_seq     INTEGER,
    PRIMARY KEY (origin, upstream)
);
