-- Schema version 4: winner lines partitioned by period (PARTITION BY LIST),
-- one partition per loaded period. A winners load copies its lines into a
-- fresh table of its own, builds that table's primary key and carrier index
-- in one sorted pass each (instead of maintaining a big table's indexes row
-- by row), and attaches it as the period's partition in the load's
-- transaction. The primary key (period, line) and `winners_by_carrier`
-- stay defined on the parent, so every partition has both.
--
-- An existing table of lines is kept as it is: it becomes the partition of
-- the periods it holds (no rows are copied); an empty one is dropped.
ALTER TABLE winners RENAME TO winners_before_v4;
ALTER INDEX winners_pkey RENAME TO winners_before_v4_pkey;
ALTER INDEX winners_by_carrier RENAME TO winners_before_v4_by_carrier;

CREATE TABLE winners (
    period         INTEGER NOT NULL,
    line           BIGINT  NOT NULL,
    invoice_number TEXT    NOT NULL,
    seller         TEXT    NOT NULL,
    prize          TEXT    NOT NULL,
    amount         BIGINT  NOT NULL,
    payable        BIGINT  NOT NULL,
    carrier        TEXT,
    npo            TEXT,
    PRIMARY KEY (period, line)
) PARTITION BY LIST (period);
CREATE INDEX winners_by_carrier ON winners (carrier, period, line);

DO $$
DECLARE
    periods TEXT;
BEGIN
    SELECT string_agg(DISTINCT period::text, ', ') INTO periods FROM winners_before_v4;
    IF periods IS NULL THEN
        DROP TABLE winners_before_v4;
    ELSE
        EXECUTE format('ALTER TABLE winners ATTACH PARTITION winners_before_v4 FOR VALUES IN (%s)', periods);
    END IF;
END $$;
