//! Records of the draw: eligible invoices (the freeze), frozen snapshots,
//! stored winners and citizens' bank accounts.

use crate::entry::NewEntry;
use crate::error::StoreError;
use einvoice_core::{Carrier, Period};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Ledger kind of the entry [`crate::Store::put_draw_freeze`] appends with a
/// stored freeze.
pub const DRAW_FREEZE: &str = "DRAW_FREEZE";

/// Ledger kind of the entry [`crate::Store::put_winners`] appends with a
/// stored load.
pub const DRAW_WINNERS: &str = "DRAW_WINNERS";

/// The code prefix of the error for a draw entry that does not belong to the
/// record it is stored with (see [`check_draw_entry`]).
pub const DRAW_ENTRY_MISMATCH: &str = "DRAW_ENTRY_MISMATCH";

/// The code prefix of the error for winner lines whose `line` numbers do not
/// strictly increase (see [`WinnersLoad::check_lines`]).
pub const WINNERS_LINE_ORDER: &str = "WINNERS_LINE_ORDER";

/// The natural key of a period's draw entries: `draw/<period>`.
pub fn draw_entry_key(period: Period) -> String {
    format!("draw/{period}")
}

/// Check that `entry` is the ledger entry of `kind` ([`DRAW_FREEZE`] or
/// [`DRAW_WINNERS`]) for `period`: that kind, key [`draw_entry_key`], an
/// actor, and a body that is a JSON object whose `"period"` is the period
/// (`"11402"`). Anything else is refused with [`DRAW_ENTRY_MISMATCH`]: the
/// ledger would otherwise record a freeze or a load under another name.
pub fn check_draw_entry(entry: &NewEntry, kind: &str, period: Period) -> Result<(), StoreError> {
    let refuse = |why: String| {
        StoreError::Backend(format!(
            "{DRAW_ENTRY_MISMATCH}: the ledger entry stored with the {kind} of {period} {why}; nothing was written"
        ))
    };
    if entry.kind != kind {
        return Err(refuse(format!("has kind {:?}", entry.kind)));
    }
    let key = draw_entry_key(period);
    if entry.key != key {
        return Err(refuse(format!("has key {:?}, not {key:?}", entry.key)));
    }
    if entry.actor.is_empty() {
        return Err(refuse("names no actor".into()));
    }
    let body: serde_json::Value = serde_json::from_slice(&entry.body)
        .map_err(|e| refuse(format!("has a body that is not JSON ({e})")))?;
    let named = body.get("period").and_then(|p| p.as_str());
    if named != Some(period.to_string().as_str()) {
        return Err(refuse(format!(
            "has a body naming period {}",
            named.unwrap_or("none")
        )));
    }
    Ok(())
}

/// A carrier as the draw writes it: `type:id` (e.g. `3J0002:/ABC+123`).
pub fn carrier_key(c: &Carrier) -> String {
    format!("{}:{}", c.kind.code(), c.id)
}

/// Where a page of [`crate::Store::eligible_invoices`] continues: after this
/// (invoice number, seller).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibleCursor {
    /// Invoice number of the last row of the previous page.
    pub number: String,
    /// Seller UBN of the last row of the previous page.
    pub seller: String,
}

/// One invoice that takes part in a period's draw: B2C, issued (not
/// cancelled or voided), dated inside the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibleRow {
    /// Invoice number, `AB12345678`.
    pub number: String,
    /// Seller UBN, 8 digits.
    pub seller: String,
    /// Carrier as `type:id`, if the invoice is kept on one.
    pub carrier: Option<String>,
    /// Love code the invoice was donated to, if any.
    pub donated_to: Option<String>,
    /// A proof was printed. The MOF rules make a B2C invoice printed exactly
    /// when it is neither on a carrier nor donated, so the stores derive it.
    pub printed: bool,
}

impl EligibleRow {
    /// The cursor that continues after this row.
    pub fn cursor(&self) -> EligibleCursor {
        EligibleCursor {
            number: self.number.clone(),
            seller: self.seller.clone(),
        }
    }
}

/// A frozen period: the snapshot's Merkle root and size, and who froze it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawFreeze {
    /// Period.
    pub period: Period,
    /// Merkle root of the snapshot (hex).
    pub root: String,
    /// Rows in the snapshot.
    pub rows: u64,
    /// Who froze it.
    pub actor: String,
}

impl DrawFreeze {
    /// The `DRAW_FREEZE` ledger entry this freeze is stored with (the one
    /// builder of that body): key [`draw_entry_key`], actor the freezer, body
    /// canonical JSON `{period, rows, snapshot_root}`.
    pub fn ledger_entry(&self) -> NewEntry {
        NewEntry {
            kind: DRAW_FREEZE.into(),
            key: draw_entry_key(self.period),
            actor: self.actor.clone(),
            body: crate::canonical_json(&serde_json::json!({
                "period": self.period.to_string(),
                "snapshot_root": self.root,
                "rows": self.rows,
            })),
        }
    }
}

/// What a `DRAW_WINNERS` ledger entry records about the run that produced a
/// [`WinnersLoad`], besides the load itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawRunFacts {
    /// Merkle root (hex) of the frozen snapshot the draw read.
    pub snapshot_root: String,
    /// The seed commitment (hex) the run's manifest names.
    pub commitment: String,
    /// Version of the period's published winning numbers used.
    pub numbers_version: u32,
    /// The operator who approved that version.
    pub numbers_approved_by: String,
}

impl DrawFreeze {
    /// Freezing `self` again over the `stored` freeze of its period: the
    /// same root and size is [`DrawPut::Unchanged`], anything else a
    /// [`DrawPut::Conflict`] saying what is frozen.
    pub fn put_over(&self, stored: &DrawFreeze) -> DrawPut {
        if stored.root == self.root && stored.rows == self.rows {
            DrawPut::Unchanged
        } else {
            DrawPut::Conflict(format!(
                "period {} was frozen by {} with root {} ({} rows)",
                stored.period, stored.actor, stored.root, stored.rows
            ))
        }
    }
}

impl WinnersSummary {
    /// Loading winners with `digest` again over this stored load of their
    /// period: the same digest is [`DrawPut::Unchanged`], another a
    /// [`DrawPut::Conflict`] saying what is loaded.
    pub fn put_again(&self, digest: &str) -> DrawPut {
        if self.digest == digest {
            DrawPut::Unchanged
        } else {
            DrawPut::Conflict(format!(
                "period {} already has {} winner lines (NT${} payable, digest {}) loaded by {}",
                self.period, self.lines, self.payable, self.digest, self.actor
            ))
        }
    }
}

/// The result of storing draw data that must never change once stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrawPut {
    /// Stored now.
    Stored,
    /// Identical data was already stored; nothing changed.
    Unchanged,
    /// Different data is already stored for the period; nothing changed. The
    /// text says what is stored.
    Conflict(String),
}

/// When a claim's lease ends: `lease_secs` (at least one second) after
/// `now_unix` (see [`crate::Store::outbox_claim`]).
pub fn outbox_lease_until(now_unix: i64, lease_secs: u32) -> i64 {
    now_unix.saturating_add(i64::from(lease_secs.max(1)))
}

/// Claimed items in the order a claim returns them: oldest schedule first,
/// then by id (an `UPDATE … RETURNING` has no order of its own).
pub fn in_claim_order(items: &mut [OutboxItem]) {
    items.sort_by(|a, b| (a.next_unix, &a.id).cmp(&(b.next_unix, &b.id)));
}

/// One stored winner line (one prize of one invoice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinnerRecord {
    /// Line number in the draw's `winners.jsonl`, from 0 (the stable order).
    pub line: u64,
    /// Invoice number.
    pub invoice_number: String,
    /// Seller UBN.
    pub seller: String,
    /// Prize id (`special` … `additional_sixth`, `cloud_<amount>`).
    pub prize: String,
    /// NT$ of the prize.
    pub amount: i64,
    /// NT$ due for this line (0 when the invoice is paid a higher prize).
    pub payable: i64,
    /// Carrier (`type:id`), if any.
    pub carrier: Option<String>,
    /// Love code of the NPO that is paid, if the invoice was donated.
    pub npo: Option<String>,
}

/// A period's winners to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WinnersLoad {
    /// Period.
    pub period: Period,
    /// Who loaded them.
    pub actor: String,
    /// The winner lines, in draw order.
    pub winners: Vec<WinnerRecord>,
}

impl WinnersLoad {
    /// SHA-256 (hex) over the canonical JSON of every line: two loads with
    /// the same digest are the same winners.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        for w in &self.winners {
            h.update(serde_json::to_vec(w).unwrap_or_default());
            h.update(b"\n");
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Sum of `payable` over every line.
    pub fn payable_total(&self) -> i64 {
        self.winners.iter().map(|w| w.payable).sum()
    }

    /// The `DRAW_WINNERS` ledger entry this load is stored with (the one
    /// builder of that body): key [`draw_entry_key`], actor the loader, body
    /// canonical JSON of the run's facts and the load's line count, payable
    /// total and `digest` (computed once by the caller).
    pub fn ledger_entry(&self, run: &DrawRunFacts, digest: &str) -> NewEntry {
        NewEntry {
            kind: DRAW_WINNERS.into(),
            key: draw_entry_key(self.period),
            actor: self.actor.clone(),
            body: crate::canonical_json(&serde_json::json!({
                "period": self.period.to_string(),
                "snapshot_root": run.snapshot_root,
                "commitment": run.commitment,
                "numbers_version": run.numbers_version,
                "numbers_approved_by": run.numbers_approved_by,
                "lines": self.winners.len(),
                "payable": self.payable_total(),
                "digest": digest,
            })),
        }
    }

    /// What a store records for this load, given its [`WinnersLoad::digest`]
    /// (computed once by the caller, often beside other work).
    pub fn summary(&self, digest: String) -> WinnersSummary {
        WinnersSummary {
            period: self.period,
            lines: self.winners.len() as u64,
            payable: self.payable_total(),
            digest,
            actor: self.actor.clone(),
        }
    }

    /// Refuse ([`WINNERS_LINE_ORDER`]) lines whose `line` numbers do not
    /// strictly increase: each line is stored under (period, line), so a
    /// repeated number could never load, and draw order is line order.
    pub fn check_lines(&self) -> Result<(), StoreError> {
        for pair in self.winners.windows(2) {
            if let [a, b] = pair
                && b.line <= a.line
            {
                return Err(StoreError::Backend(format!(
                    "{WINNERS_LINE_ORDER}: winners of {}: line {} follows line {}; lines must strictly increase; nothing was written",
                    self.period, b.line, a.line
                )));
            }
        }
        Ok(())
    }
}

/// What is loaded for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinnersSummary {
    /// Period.
    pub period: Period,
    /// Winner lines.
    pub lines: u64,
    /// Sum of payable amounts (NT$).
    pub payable: i64,
    /// [`WinnersLoad::digest`] of the load.
    pub digest: String,
    /// Who loaded them.
    pub actor: String,
}

/// A carrier holder's bank account for automatic prize deposits. The account
/// itself is sealed by the server's master key before it reaches the store;
/// only the masked form is readable without the key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankAccountRecord {
    /// The carrier (`type:id`).
    pub carrier: String,
    /// Bank code, account number and holder sealed together (opaque).
    pub sealed: Vec<u8>,
    /// Masked account for display, `***1234`.
    pub masked: String,
    /// Bank code (3 digits; not secret).
    pub bank_code: String,
    /// Last change, Unix seconds.
    pub updated_unix: i64,
}

impl std::fmt::Debug for BankAccountRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankAccountRecord")
            .field("carrier", &self.carrier)
            .field("masked", &self.masked)
            .field("bank_code", &self.bank_code)
            .finish_non_exhaustive()
    }
}

/// A notification waiting in the outbox (delivered at least once; `id` is
/// the receiver's idempotency key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// Idempotency id, e.g. `winner/11410/42`.
    pub id: String,
    /// Kind, e.g. `winner`.
    pub kind: String,
    /// The JSON body to deliver.
    pub body: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not before this Unix second.
    pub next_unix: i64,
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxOutcome {
    /// The receiver accepted it.
    Delivered {
        /// When, Unix seconds.
        at_unix: i64,
    },
    /// It failed; try again later.
    Failed {
        /// Next attempt not before this Unix second.
        next_unix: i64,
        /// Why (no secrets, no personal data).
        error: String,
    },
}

/// The winner notifications a load enqueues: one per payable line on a
/// carrier (donated prizes go to the NPO, printed invoices have nobody to
/// notify), id `winner/<period>/<line>`, in line order. The body is the JSON
/// object `{"id", "kind", "period", "carrier", "invoice_number", "prize",
/// "amount", "payable"}` (in that order, compact, as `serde_json` renders
/// it), written directly: a national load has millions of them.
pub fn winner_notifications(load: &WinnersLoad) -> Vec<OutboxItem> {
    use std::fmt::Write;
    let period = load.period.to_string();
    let mut period_json = String::with_capacity(period.len() + 2);
    push_json_str(&mut period_json, &period);
    load.winners
        .iter()
        .filter(|w| w.payable > 0 && w.npo.is_none())
        .filter_map(|w| {
            let carrier = w.carrier.as_ref()?;
            let id = format!("winner/{period}/{}", w.line);
            let mut body = String::with_capacity(
                120 + id.len() + carrier.len() + w.invoice_number.len() + w.prize.len(),
            );
            body.push_str("{\"id\":");
            push_json_str(&mut body, &id);
            body.push_str(",\"kind\":\"winner\",\"period\":");
            body.push_str(&period_json);
            body.push_str(",\"carrier\":");
            push_json_str(&mut body, carrier);
            body.push_str(",\"invoice_number\":");
            push_json_str(&mut body, &w.invoice_number);
            body.push_str(",\"prize\":");
            push_json_str(&mut body, &w.prize);
            // Writing into a String cannot fail.
            let _ = write!(body, ",\"amount\":{},\"payable\":{}}}", w.amount, w.payable);
            Some(OutboxItem {
                id,
                kind: "winner".into(),
                body,
                attempts: 0,
                next_unix: 0,
            })
        })
        .collect()
}

/// `s` as a JSON string, escaped exactly as `serde_json` escapes it: `"`,
/// `\` and the control characters below U+0020 (`\b \f \n \r \t` by
/// name, the others as `\u00xx` in lowercase hex); nothing else.
fn push_json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let named = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `i` is at an ASCII byte, so a char boundary.
        out.push_str(s.get(start..i).unwrap_or_default());
        if named.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(named);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period() -> Period {
        Period::parse("11402").unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn entry(kind: &str, body: &str) -> NewEntry {
        NewEntry {
            kind: kind.into(),
            key: "draw/11402".into(),
            actor: "operator:alice".into(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_second_put_is_unchanged_or_a_conflict_naming_what_is_stored() {
        let f = DrawFreeze {
            period: period(),
            root: "ab".into(),
            rows: 2,
            actor: "operator:alice".into(),
        };
        assert_eq!(f.put_over(&f), DrawPut::Unchanged);
        let other = DrawFreeze {
            root: "cd".into(),
            ..f.clone()
        };
        assert_eq!(
            other.put_over(&f),
            DrawPut::Conflict(
                "period 11402 was frozen by operator:alice with root ab (2 rows)".into()
            )
        );
        let s = WinnersSummary {
            period: period(),
            lines: 3,
            payable: 600,
            digest: "d1".into(),
            actor: "operator:bob".into(),
        };
        assert_eq!(s.put_again("d1"), DrawPut::Unchanged);
        assert_eq!(
            s.put_again("d2"),
            DrawPut::Conflict(
                "period 11402 already has 3 winner lines (NT$600 payable, digest d1) loaded by operator:bob".into()
            )
        );
    }

    #[test]
    fn a_draw_entry_must_name_its_record() {
        let body = r#"{"commitment":"ab","period":"11402","rows":2}"#;
        assert!(check_draw_entry(&entry(DRAW_FREEZE, body), DRAW_FREEZE, period()).is_ok());
        for (kind, body) in [
            (DRAW_WINNERS, body),
            (DRAW_FREEZE, r#"{"period":"11404"}"#),
            (DRAW_FREEZE, r#"{"period":11402}"#),
            (DRAW_FREEZE, r#"["11402"]"#),
            (DRAW_FREEZE, "{"),
        ] {
            let err =
                check_draw_entry(&entry(kind, body), DRAW_FREEZE, period()).expect_err("mismatch");
            assert!(err.to_string().contains(DRAW_ENTRY_MISMATCH), "{err}");
        }
    }

    /// The notifications as they were built before the bodies were written
    /// directly: through a `serde_json::Value`.
    fn notifications_via_value(load: &WinnersLoad) -> Vec<OutboxItem> {
        load.winners
            .iter()
            .filter(|w| w.payable > 0 && w.npo.is_none())
            .filter_map(|w| {
                let carrier = w.carrier.as_ref()?;
                let id = format!("winner/{}/{}", load.period, w.line);
                let body = serde_json::json!({
                    "id": id,
                    "kind": "winner",
                    "period": load.period.to_string(),
                    "carrier": carrier,
                    "invoice_number": w.invoice_number,
                    "prize": w.prize,
                    "amount": w.amount,
                    "payable": w.payable,
                });
                Some(OutboxItem {
                    id,
                    kind: "winner".into(),
                    body: body.to_string(),
                    attempts: 0,
                    next_unix: 0,
                })
            })
            .collect()
    }

    #[test]
    fn notification_bodies_are_byte_identical_to_serde_json() {
        // Every ASCII character, alone and between others, plus multi-byte
        // characters (U+2028 and U+2029 are not escaped by serde_json).
        let mut texts: Vec<String> = (0u8..=0x7f)
            .map(|b| {
                let c = char::from(b);
                format!("{c}a{c}{c}b{c}")
            })
            .collect();
        texts.extend(
            [
                "",
                "3J0002:/ABC+123",
                "3J0002:/A\"B\\C",
                "台灣\u{2028}\u{2029}é😀\u{7f}\u{80}\u{9f}",
                "\u{0}\u{1f}\u{8}\u{c}\n\r\t/",
            ]
            .map(String::from),
        );
        let amounts = [0, 1, 200, -5, i64::MAX, i64::MIN];
        let winners: Vec<WinnerRecord> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let amount = amounts[i % amounts.len()];
                WinnerRecord {
                    line: if i == 0 { u64::MAX - 1000 } else { i as u64 },
                    invoice_number: format!("{t}{i}"),
                    seller: t.clone(),
                    prize: t.chars().rev().collect(),
                    amount,
                    payable: if i % 7 == 3 { 0 } else { amount.max(1) },
                    carrier: (i % 5 != 4).then(|| t.clone()),
                    npo: (i % 11 == 10).then(|| "123".into()),
                }
            })
            .collect();
        let mut winners = winners;
        winners.sort_by_key(|w| w.line);
        let load = WinnersLoad {
            period: period(),
            actor: "a".into(),
            winners,
        };
        let direct = winner_notifications(&load);
        let via_value = notifications_via_value(&load);
        assert!(direct.len() > 60, "{}", direct.len());
        assert_eq!(direct.len(), via_value.len());
        for (d, v) in direct.iter().zip(&via_value) {
            assert_eq!(d.body.as_bytes(), v.body.as_bytes(), "{}", v.body);
            assert_eq!(d, v);
            let parsed: serde_json::Value = serde_json::from_str(&d.body).expect("JSON");
            assert_eq!(parsed["id"], d.id.as_str());
        }
    }

    #[test]
    fn winner_lines_must_strictly_increase() {
        let line = |line: u64| WinnerRecord {
            line,
            invoice_number: "AB00000001".into(),
            seller: "04595257".into(),
            prize: "sixth".into(),
            amount: 200,
            payable: 200,
            carrier: None,
            npo: None,
        };
        let load = |lines: &[u64]| WinnersLoad {
            period: period(),
            actor: "a".into(),
            winners: lines.iter().map(|l| line(*l)).collect(),
        };
        for ok in [&[][..], &[0], &[0, 1, 2], &[0, 5, 9]] {
            assert!(load(ok).check_lines().is_ok(), "{ok:?}");
        }
        for bad in [&[0, 0][..], &[0, 2, 1], &[3, 2]] {
            let err = load(bad).check_lines().expect_err("out of order");
            assert!(err.to_string().contains(WINNERS_LINE_ORDER), "{err}");
        }
    }
}
