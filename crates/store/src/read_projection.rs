//! The citizen and App API read projection: what the carrier queries
//! (`/v1/carrier/invoices`, `carrierInvChk`, `carrierInvDetail`) and the
//! public lookups (`/v1/public/invoices/…`, `qryInvHeader`, `qryInvDetail`)
//! show of an issuing message beside the invoice row — seller name and
//! address, currency and the item lines (MIG `ProductItem`) — kept per
//! invoice in a compact encoding so a query reads a few hundred bytes and
//! decodes no canonical body.
//!
//! [`InvoiceDetail::from_body`] is the one projection function: every backend
//! calls it from its append path, its import path and its rebuild from the
//! ledger, so all of them write the same bytes.

use crate::error::StoreError;
use crate::records::{InvoiceSummary, InvoiceView};
use serde::Deserialize;
use serde_json::Value;

/// Version tag of the first encoding (items without their sequence
/// number); still read.
const ENCODING_V1: u8 = 1;
/// Version tag of the encoding written by [`InvoiceDetail::encode`].
const ENCODING_V2: u8 = 2;

/// One item line (MIG `ProductItem`) as the carrier queries show it: the
/// values as the issuing message wrote them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemLine {
    /// `Description`.
    pub description: Option<String>,
    /// `Quantity`.
    pub quantity: Option<String>,
    /// `UnitPrice`.
    pub unit_price: Option<String>,
    /// `Amount`.
    pub amount: Option<String>,
    /// `SequenceNumber` (none in a detail of the first encoding).
    pub sequence_number: Option<String>,
}

/// What the carrier read path keeps of an issuing message (F0401 / A0401 /
/// C0401): seller name and address, currency, item lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvoiceDetail {
    /// `Main/Seller/Name`.
    pub seller_name: Option<String>,
    /// `Main/Seller/Address`.
    pub seller_address: Option<String>,
    /// `Amount/Currency`.
    pub currency: Option<String>,
    /// `Details` (ProductItem lines), in message order.
    pub items: Vec<ItemLine>,
}

/// One invoice as the read path returns it (a carrier's invoices, the
/// public lookups): the summary row, net allowances and the projected
/// detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierInvoice {
    /// The summary row.
    pub summary: InvoiceSummary,
    /// Net allowances against it (NT$, tax included).
    pub allowance_total: i64,
    /// Seller name and address, currency, item lines.
    pub detail: InvoiceDetail,
}

/// The fields of a message body the projection reads; everything else is
/// skipped without being built.
#[derive(Deserialize)]
struct Body {
    #[serde(rename = "Main", default)]
    main: Option<Main>,
    #[serde(rename = "Details", default)]
    details: Option<Vec<Detail>>,
    #[serde(rename = "Amount", default)]
    amount: Option<Amount>,
}

#[derive(Deserialize)]
struct Main {
    #[serde(rename = "Seller", default)]
    seller: Option<Party>,
}

#[derive(Deserialize)]
struct Party {
    #[serde(rename = "Name", default)]
    name: Option<Value>,
    #[serde(rename = "Address", default)]
    address: Option<Value>,
}

#[derive(Deserialize)]
struct Amount {
    #[serde(rename = "Currency", default)]
    currency: Option<Value>,
}

#[derive(Deserialize)]
struct Detail {
    #[serde(rename = "Description", default)]
    description: Option<Value>,
    #[serde(rename = "Quantity", default)]
    quantity: Option<Value>,
    #[serde(rename = "UnitPrice", default)]
    unit_price: Option<Value>,
    #[serde(rename = "Amount", default)]
    amount: Option<Value>,
    #[serde(rename = "SequenceNumber", default)]
    sequence_number: Option<Value>,
}

/// A message value as text: strings as they are, other scalars as JSON,
/// null and absent as `None`.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

impl InvoiceDetail {
    /// The projection of an issuing message's canonical JSON body.
    pub fn from_body(body: &[u8]) -> Result<Self, StoreError> {
        let b: Body = serde_json::from_slice(body)
            .map_err(|e| StoreError::Corrupt(format!("stored invoice body: {e}")))?;
        let seller = b.main.and_then(|m| m.seller);
        Ok(Self {
            seller_name: text(seller.as_ref().and_then(|s| s.name.as_ref())),
            seller_address: text(seller.as_ref().and_then(|s| s.address.as_ref())),
            currency: text(b.amount.as_ref().and_then(|a| a.currency.as_ref())),
            items: b
                .details
                .unwrap_or_default()
                .iter()
                .map(|d| ItemLine {
                    description: text(d.description.as_ref()),
                    quantity: text(d.quantity.as_ref()),
                    unit_price: text(d.unit_price.as_ref()),
                    amount: text(d.amount.as_ref()),
                    sequence_number: text(d.sequence_number.as_ref()),
                })
                .collect(),
        })
    }

    /// The same projection read from a decoded message (the body-decoding
    /// path, kept as the benchmark's baseline and for backends without the
    /// projection table).
    pub fn from_message(message: Option<&Value>) -> Self {
        let Some(m) = message else {
            return Self::default();
        };
        let items = m
            .get("Details")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|d| ItemLine {
                        description: text(d.get("Description")),
                        quantity: text(d.get("Quantity")),
                        unit_price: text(d.get("UnitPrice")),
                        amount: text(d.get("Amount")),
                        sequence_number: text(d.get("SequenceNumber")),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            seller_name: text(m.pointer("/Main/Seller/Name")),
            seller_address: text(m.pointer("/Main/Seller/Address")),
            currency: text(m.pointer("/Amount/Currency")),
            items,
        }
    }

    /// The compact encoding: a version byte, then each optional text as a
    /// LEB128 length + 1 (0 for none) and its UTF-8 bytes; the item count as
    /// LEB128 before the items, each item's texts in field order
    /// (description, quantity, unit price, amount, sequence number).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.items.len() * 32);
        out.push(ENCODING_V2);
        put_text(&mut out, self.seller_name.as_deref());
        put_text(&mut out, self.seller_address.as_deref());
        put_text(&mut out, self.currency.as_deref());
        put_varint(&mut out, self.items.len() as u64);
        for it in &self.items {
            put_text(&mut out, it.description.as_deref());
            put_text(&mut out, it.quantity.as_deref());
            put_text(&mut out, it.unit_price.as_deref());
            put_text(&mut out, it.amount.as_deref());
            put_text(&mut out, it.sequence_number.as_deref());
        }
        out
    }

    /// Read back [`InvoiceDetail::encode`] (or the first encoding, whose
    /// items have no sequence number); anything else is
    /// [`StoreError::Corrupt`].
    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let mut r = Reader { bytes, at: 0 };
        let version = r.byte()?;
        if version != ENCODING_V1 && version != ENCODING_V2 {
            return Err(r.corrupt("unknown version"));
        }
        let seller_name = r.text()?;
        let seller_address = r.text()?;
        let currency = r.text()?;
        let n = r.varint()?;
        // Each item takes at least four bytes: a count beyond that is corrupt.
        if n > (bytes.len() / 4) as u64 {
            return Err(r.corrupt("item count"));
        }
        let mut items = Vec::with_capacity(n as usize);
        for _ in 0..n {
            items.push(ItemLine {
                description: r.text()?,
                quantity: r.text()?,
                unit_price: r.text()?,
                amount: r.text()?,
                sequence_number: if version == ENCODING_V2 {
                    r.text()?
                } else {
                    None
                },
            });
        }
        if r.at != bytes.len() {
            return Err(r.corrupt("trailing bytes"));
        }
        Ok(Self {
            seller_name,
            seller_address,
            currency,
            items,
        })
    }
}

/// The answer of a public lookup from the rows that matched it: the one
/// invoice, or none when none or several matched (two sellers' invoices can
/// share a number and a random code or a date: ambiguous, nothing answered).
/// Backends fetch at most two rows.
pub fn the_only(rows: Vec<CarrierInvoice>) -> Option<CarrierInvoice> {
    if rows.len() == 1 {
        rows.into_iter().next()
    } else {
        None
    }
}

impl CarrierInvoice {
    /// The read path's row built from a full view by decoding its message
    /// (the old path: the benchmark's baseline).
    pub fn from_view(view: &InvoiceView) -> Self {
        Self {
            summary: view.summary.clone(),
            allowance_total: view.allowance_total,
            detail: InvoiceDetail::from_message(view.message.as_ref()),
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_text(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => put_varint(out, 0),
        Some(s) => {
            put_varint(out, s.len() as u64 + 1);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn corrupt(&self, what: &str) -> StoreError {
        StoreError::Corrupt(format!("stored invoice detail: {what} at byte {}", self.at))
    }

    fn byte(&mut self) -> Result<u8, StoreError> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| self.corrupt("truncated"))?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, StoreError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt("varint too long"))
    }

    fn text(&mut self) -> Result<Option<String>, StoreError> {
        let n = self.varint()?;
        if n == 0 {
            return Ok(None);
        }
        let len = usize::try_from(n - 1).map_err(|_| self.corrupt("length"))?;
        let end = self
            .at
            .checked_add(len)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| self.corrupt("truncated text"))?;
        let s = std::str::from_utf8(&self.bytes[self.at..end])
            .map_err(|_| self.corrupt("text is not UTF-8"))?;
        self.at = end;
        Ok(Some(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text_strategy() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(".{0,40}")
    }

    fn detail_strategy() -> impl Strategy<Value = InvoiceDetail> {
        let item = (
            text_strategy(),
            text_strategy(),
            text_strategy(),
            text_strategy(),
            text_strategy(),
        )
            .prop_map(
                |(description, quantity, unit_price, amount, sequence_number)| ItemLine {
                    description,
                    quantity,
                    unit_price,
                    amount,
                    sequence_number,
                },
            );
        (
            text_strategy(),
            text_strategy(),
            text_strategy(),
            proptest::collection::vec(item, 0..12),
        )
            .prop_map(
                |(seller_name, seller_address, currency, items)| InvoiceDetail {
                    seller_name,
                    seller_address,
                    currency,
                    items,
                },
            )
    }

    proptest! {
        #[test]
        fn encoding_round_trips(d in detail_strategy()) {
            prop_assert_eq!(InvoiceDetail::decode(&d.encode())?, d);
        }

        #[test]
        fn garbage_is_corrupt_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Err(e) = InvoiceDetail::decode(&bytes) {
                prop_assert!(matches!(e, StoreError::Corrupt(_)));
            }
        }

        #[test]
        fn a_truncated_encoding_is_corrupt(d in detail_strategy(), cut in 1usize..8) {
            let bytes = d.encode();
            let keep = bytes.len().saturating_sub(cut);
            prop_assert!(InvoiceDetail::decode(&bytes[..keep]).is_err());
        }

        #[test]
        fn body_and_message_projections_agree(d in detail_strategy()) {
            // A message written from `d`: both projections must read it back.
            let item = |i: &ItemLine| serde_json::json!({
                "Description": i.description, "Quantity": i.quantity,
                "UnitPrice": i.unit_price, "Amount": i.amount,
                "SequenceNumber": i.sequence_number,
            });
            let message = serde_json::json!({
                "message": "F0401",
                "Main": {"Seller": {"Name": d.seller_name, "Address": d.seller_address}},
                "Details": d.items.iter().map(item).collect::<Vec<_>>(),
                "Amount": {"Currency": d.currency},
            });
            let body = serde_json::to_vec(&message).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&InvoiceDetail::from_body(&body)?, &d);
            prop_assert_eq!(&InvoiceDetail::from_message(Some(&message)), &d);
        }
    }

    fn pinned() -> InvoiceDetail {
        InvoiceDetail {
            seller_name: Some("店".into()),
            seller_address: None,
            currency: None,
            items: vec![ItemLine {
                description: Some("茶".into()),
                quantity: Some("2".into()),
                unit_price: Some("30".into()),
                amount: Some("60".into()),
                sequence_number: Some("1".into()),
            }],
        }
    }

    #[test]
    fn the_encoding_is_pinned() {
        assert_eq!(
            pinned().encode(),
            [
                2, 4, 0xE5, 0xBA, 0x97, 0, 0, 1, 4, 0xE8, 0x8C, 0xB6, 2, b'2', 3, b'3', b'0', 3,
                b'6', b'0', 2, b'1'
            ]
        );
    }

    #[test]
    fn the_first_encoding_still_reads_without_sequence_numbers() {
        let v1 = [
            1, 4, 0xE5, 0xBA, 0x97, 0, 0, 1, 4, 0xE8, 0x8C, 0xB6, 2, b'2', 3, b'3', b'0', 3, b'6',
            b'0',
        ];
        let mut expected = pinned();
        expected.items[0].sequence_number = None;
        assert_eq!(InvoiceDetail::decode(&v1).expect("v1"), expected);
    }

    #[test]
    fn a_body_that_is_not_json_is_corrupt() {
        assert!(matches!(
            InvoiceDetail::from_body(b"{not json"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
