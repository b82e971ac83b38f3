//! The named SQL statements of the write path, and the DDL of a period's
//! invoice partition.

/// The table of a period's invoice partition.
pub(crate) fn partition_name(key: u32) -> String {
    format!("invoices_p{key}")
}

/// `CREATE TABLE IF NOT EXISTS` for a period's invoice partition. `key` is a
/// number (`Period::key`), so formatting it into SQL is safe.
pub(crate) fn create_partition_sql(key: u32) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} PARTITION OF invoices FOR VALUES IN ({key})",
        partition_name(key)
    )
}

/// The origin's chain head, row-locked until the transaction ends.
pub(crate) const LOCK_HEAD: &str =
    "SELECT seq, hash, hlc FROM ledger_heads WHERE origin = $1 FOR UPDATE";
/// One ledger entry (`body_digest` NULL for a v1 entry; `body` as
/// `body_codec` stored it).
pub(crate) const INSERT_LEDGER: &str = "INSERT INTO ledger (origin, seq, hlc, kind, key, actor, body, prev_hash, hash, message, body_digest, withheld, body_codec) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
/// Idempotency: the message already accepted under (kind, natural key).
pub(crate) const EXISTING_MESSAGE: &str = "SELECT origin, seq, hlc, body, hash, body_codec FROM ledger WHERE kind = $1 AND key = $2 AND message";
/// NUMBER_OUTSIDE_TRACK: is the number inside one of the seller's allocations?
pub(crate) const NUMBER_IN_TRACK: &str = "SELECT 1 FROM tracks WHERE seller = $1 AND period = $2 AND track = $3 \
     AND begin_no <= $4 AND end_no >= $4 LIMIT 1";
/// TRACK_OVERLAP: does a range overlap any allocation?
pub(crate) const TRACK_CLASH: &str = "SELECT seller FROM tracks WHERE period = $1 AND track = $2 \
     AND begin_no <= $4 AND end_no >= $3 LIMIT 1";
/// Idempotency for a run: the messages already accepted under any of the
/// (kind, key) pairs `$1`, `$2`, by 1-based position in the arrays.
pub(crate) const EXISTING_MESSAGES: &str = "SELECT q.i, l.origin, l.seq, l.hlc, l.body, l.hash, l.body_codec \
     FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS q(kind, key, i) \
     JOIN ledger l ON l.kind = q.kind AND l.key = q.key AND l.message";
/// NUMBER_OUTSIDE_TRACK for a run: the positions whose number lies inside
/// one of the seller's allocations.
pub(crate) const NUMBERS_IN_TRACKS: &str = "SELECT q.i \
     FROM UNNEST($1::text[], $2::integer[], $3::text[], $4::bigint[]) WITH ORDINALITY AS q(seller, period, track, no, i) \
     WHERE EXISTS (SELECT 1 FROM tracks t WHERE t.seller = q.seller AND t.period = q.period \
     AND t.track = q.track AND t.begin_no <= q.no AND t.end_no >= q.no)";
/// Held cancels / voids for a run's (seller, number) pairs, by position.
pub(crate) const HELD_FOR_ALL: &str = "SELECT q.i, h.status \
     FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS q(seller, number, i) \
     JOIN held h ON h.seller = q.seller AND h.number = q.number";
/// A run's ledger entries (messages), one array per column.
pub(super) const INSERT_LEDGER_ROWS: &str = "INSERT INTO ledger (origin, seq, hlc, kind, key, actor, body, prev_hash, hash, message, body_digest, body_codec) \
     SELECT $1, u.seq, u.hlc, u.kind, u.key, u.actor, u.body, u.prev, u.hash, true, u.digest, u.codec \
     FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::bytea[], $9::bytea[], $10::bytea[], $11::bigint[]) \
     AS u(seq, hlc, kind, key, actor, body, prev, hash, digest, codec)";
/// A run's invoice rows (with their carrier read projection, `detail`),
/// one array per column, each with the allowances that arrived before it.
pub(super) const INSERT_INVOICE_ROWS: &str = "INSERT INTO invoices (seller, number, period, date, time, buyer, random, carrier_type, carrier_id, \
     npoban, total, status, detail, origin, seq, allowance) \
     SELECT u.seller, u.number, u.period, u.date, u.time, u.buyer, u.random, u.ct, u.cid, u.npo, u.total, u.status, u.detail, $1, u.seq, \
     (SELECT coalesce(sum(a.amount), 0)::bigint FROM allowances a WHERE a.seller = u.seller AND a.invoice = u.number AND NOT a.cancelled) \
     FROM UNNEST($2::text[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], \
     $11::text[], $12::bigint[], $13::text[], $14::bytea[], $15::bigint[]) \
     AS u(seller, number, period, date, time, buyer, random, ct, cid, npo, total, status, detail, seq)";
/// Move the origin's chain head.
pub(super) const UPDATE_HEAD: &str =
    "UPDATE ledger_heads SET seq = $2, hash = $3, hlc = $4 WHERE origin = $1";
/// Held cancels / voids for one (seller, number).
pub(super) const HELD_FOR: &str = "SELECT status FROM held WHERE seller = $1 AND number = $2";
/// One invoice row (with its carrier read projection, `detail`), with the
/// allowances that arrived before it.
pub(super) const INSERT_INVOICE: &str = "INSERT INTO invoices (seller, number, period, date, time, buyer, random, carrier_type, carrier_id, \
     npoban, total, status, detail, origin, seq, allowance) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
     (SELECT coalesce(sum(amount), 0)::bigint FROM allowances WHERE seller = $1 AND invoice = $2 AND NOT cancelled))";
/// Re-sum an invoice's allowances (折讓) that are not cancelled.
pub(super) const REFRESH_ALLOWANCE: &str = "UPDATE invoices SET allowance = \
     (SELECT coalesce(sum(amount), 0)::bigint FROM allowances WHERE seller = $1 AND invoice = $2 AND NOT cancelled) \
     WHERE seller = $1 AND number = $2";
