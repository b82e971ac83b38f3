-- Migration 12: aggregation (歸戶) of carriers to mobile barcodes (issue 17).
-- One row per carrier ever linked: the link message in force (highest
-- generation, then smallest hash); every change is also a ledger entry of
-- kind CARRIER_LINK.
CREATE TABLE IF NOT EXISTS carrier_links (
    carrier      TEXT PRIMARY KEY,
    carrier_type TEXT    NOT NULL,
    carrier_id   TEXT    NOT NULL,
    barcode      TEXT    NOT NULL,
    linked       BOOLEAN NOT NULL,
    name         TEXT    NOT NULL,
    generation   BIGINT  NOT NULL,
    link_hash    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX IF NOT EXISTS carrier_links_barcode ON carrier_links (barcode, carrier) WHERE linked;
