-- Migration 11: aggregation (歸戶) of carriers to mobile barcodes (issue 17).
-- One row per carrier ever linked: the link message in force (highest
-- generation, then smallest hash); every change is also a ledger entry of
-- kind CARRIER_LINK.
CREATE TABLE IF NOT EXISTS carrier_links (
    carrier      TEXT PRIMARY KEY,
    carrier_type TEXT    NOT NULL,
    carrier_id   TEXT    NOT NULL,
    barcode      TEXT    NOT NULL,
    linked       INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    generation   INTEGER NOT NULL,
    link_hash    TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS carrier_links_barcode ON carrier_links (barcode, carrier) WHERE linked = 1;
