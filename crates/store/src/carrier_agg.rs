//! Aggregation (歸戶, issue 17): carriers linked to a mobile barcode, once
//! for every backend.
//!
//! A link or unlink is a ledger entry of kind [`CARRIER_LINK`] (key
//! `carrier-link/<type>:<id>` of the linked carrier), appended in the same
//! transaction that writes the carrier's row of the link projection. Which
//! message is in force is [`einvoice_core::aggregation`]'s rule (highest
//! generation, then smallest hash); [`decide_link_change`] decides a request
//! against the row in force, and an import applies a replayed message only
//! when it supersedes the row ([`LinkRow::supersedes`]), so the projection
//! is the resolution of the set whatever the order.

use crate::{LedgerEntry, NewEntry, Receipt, StoreError, canonical_json, carrier_key};
use einvoice_core::aggregation::{
    LinkEvent, LinkFacts, LinkRefusal, LinkResolution, decide_link, supersedes,
};
use einvoice_core::ids::CarrierTypes;
use einvoice_core::{Carrier, CarrierType};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::future::Future;

/// Ledger kind of a link or unlink of a carrier to a mobile barcode.
pub const CARRIER_LINK: &str = "CARRIER_LINK";
/// At most this many characters in a link's name (MOF `carrierName`).
pub const MAX_LINK_NAME_CHARS: usize = 40;

/// A request to link or unlink a carrier, both authenticated by the caller
/// with their own verification codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkChange {
    /// The mobile barcode.
    pub barcode: Carrier,
    /// The carrier linked to it (or unlinked from it).
    pub carrier: Carrier,
    /// `true`: link; `false`: unlink.
    pub link: bool,
    /// The citizen's name for the carrier (MOF `carrierName`; may be empty).
    pub name: String,
    /// Who asks (`carrier:<type>:<id>`, `app:<appID>`).
    pub actor: String,
}

/// The row of the link projection of one carrier: the message in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRow {
    /// The linked carrier.
    pub carrier: Carrier,
    /// The barcode it is (or was last) linked to.
    pub barcode: Carrier,
    /// Linked now (`false`: the message in force is an unlink).
    pub linked: bool,
    /// The citizen's name for the carrier.
    pub name: String,
    /// Generation of the message in force.
    pub generation: u64,
    /// Lowercase hex SHA-256 of the message in force.
    pub hash: String,
}

impl LinkRow {
    /// Does this (replayed) row win over `held`, by the rule of
    /// [`einvoice_core::aggregation::supersedes`].
    pub fn supersedes(&self, held: &LinkRow) -> bool {
        supersedes(
            (self.generation, &hash_bytes(&self.hash)),
            (held.generation, &hash_bytes(&held.hash)),
        )
    }

    fn resolution(row: Option<&LinkRow>) -> LinkResolution {
        LinkResolution {
            current: row.map(|r| LinkEvent {
                hash: hash_bytes(&r.hash),
                facts: LinkFacts {
                    barcode: r.barcode.clone(),
                    carrier: r.carrier.clone(),
                    linked: r.linked,
                    generation: r.generation,
                },
            }),
            conflicts: Vec::new(),
        }
    }
}

fn hash_bytes(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = hex
            .get(2 * i..2 * i + 2)
            .and_then(|b| u8::from_str_radix(b, 16).ok())
            .unwrap_or(0xff);
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One carrier linked to a barcode, as `qryCarrierAgg` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierLink {
    /// The linked carrier.
    pub carrier: Carrier,
    /// The citizen's name for it.
    pub name: String,
}

/// The outcome of [`CarrierAggStore::change_link`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOutcome {
    /// Done: the receipt of the [`CARRIER_LINK`] entry.
    Done(Receipt),
    /// Refused; nothing was written.
    Refused(LinkRefusal),
}

/// Decide a link change from what the backend read in its write
/// transaction: the carrier's row in force and how many carriers the
/// barcode has linked now. On success: the ledger entry to append and the
/// row to write.
pub fn decide_link_change(
    c: &LinkChange,
    held: Option<&LinkRow>,
    links_of_barcode: u32,
) -> Result<(NewEntry, LinkRow), LinkRefusal> {
    let state = LinkRow::resolution(held);
    let facts = decide_link(&state, &c.barcode, &c.carrier, c.link, links_of_barcode)?;
    // An unlink keeps the name the link had.
    let name = match (c.link, held) {
        (false, Some(h)) => h.name.clone(),
        _ => c.name.clone(),
    };
    let body = canonical_json(&json!({
        "barcode": facts.barcode.id,
        "carrier_type": facts.carrier.kind.code(),
        "carrier_id": facts.carrier.id,
        "linked": facts.linked,
        "generation": facts.generation,
        "name": name,
    }));
    let hash = hex(&Sha256::digest(&body));
    let entry = NewEntry {
        kind: CARRIER_LINK.into(),
        key: format!("carrier-link/{}", carrier_key(&facts.carrier)),
        actor: c.actor.clone(),
        body,
    };
    let row = LinkRow {
        carrier: facts.carrier,
        barcode: facts.barcode,
        linked: facts.linked,
        name,
        generation: facts.generation,
        hash,
    };
    Ok((entry, row))
}

/// Decode a [`CARRIER_LINK`] entry into the row it would write (`None` for
/// any other kind, or a withheld body); a malformed body is `STORE_CORRUPT`.
pub fn replay_link(e: &LedgerEntry) -> Result<Option<LinkRow>, StoreError> {
    if e.kind != CARRIER_LINK || e.withheld {
        return Ok(None);
    }
    let bad = |what: &str| StoreError::Corrupt(format!("{} entry {}: {what}", e.kind, e.seq));
    let body: serde_json::Value = serde_json::from_slice(&e.body).map_err(|_| bad("not JSON"))?;
    let text = |k: &str| {
        body.get(k)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| bad(k))
    };
    let kind = CarrierType::parse(text("carrier_type")?, &CarrierTypes::default())
        .map_err(|_| bad("carrier_type"))?;
    Ok(Some(LinkRow {
        carrier: Carrier::parse(kind, text("carrier_id")?).map_err(|_| bad("carrier_id"))?,
        barcode: Carrier::parse(CarrierType::MobileBarcode, text("barcode")?)
            .map_err(|_| bad("barcode"))?,
        linked: body
            .get("linked")
            .and_then(serde_json::Value::as_bool)
            .ok_or_else(|| bad("linked"))?,
        name: text("name")?.to_string(),
        generation: body
            .get("generation")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| bad("generation"))?,
        hash: hex(&Sha256::digest(&e.body)),
    }))
}

/// Aggregation storage (a supertrait of [`crate::Store`]). The SQL of each
/// backend is in its `carrier_agg.rs`.
pub trait CarrierAggStore: Send + Sync {
    /// Link or unlink a carrier (decided by [`decide_link_change`]): the
    /// [`CARRIER_LINK`] entry and the carrier's row in one transaction, or a
    /// refusal and nothing written.
    fn change_link(
        &self,
        change: LinkChange,
    ) -> impl Future<Output = Result<LinkOutcome, StoreError>> + Send;

    /// The carriers linked to `barcode` now, by carrier key.
    fn carrier_links(
        &self,
        barcode: &Carrier,
    ) -> impl Future<Output = Result<Vec<CarrierLink>, StoreError>> + Send;

    /// The barcode `carrier` is linked to now, if any.
    fn linked_barcode(
        &self,
        carrier: &Carrier,
    ) -> impl Future<Output = Result<Option<Carrier>, StoreError>> + Send;
}

/// A carrier id as stored in the link projection, back to a [`Carrier`].
pub fn stored_carrier(kind: &str, id: &str) -> Result<Carrier, StoreError> {
    let kind = CarrierType::parse(kind, &CarrierTypes::default())
        .map_err(|_| crate::stored::corrupt("carrier_type", kind))?;
    Carrier::parse(kind, id).map_err(|_| crate::stored::corrupt("carrier_id", id))
}

/// A barcode id as stored in the link projection, back to a [`Carrier`].
pub fn stored_barcode(id: &str) -> Result<Carrier, StoreError> {
    Carrier::parse(CarrierType::MobileBarcode, id)
        .map_err(|_| crate::stored::corrupt("barcode", id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(link: bool) -> LinkChange {
        LinkChange {
            barcode: Carrier::parse(CarrierType::MobileBarcode, "/ABC+123").expect("barcode"),
            carrier: Carrier::parse(CarrierType::Other("1K0001".into()), "0123456789")
                .expect("card"),
            link,
            name: "my EasyCard".into(),
            actor: "app:demo".into(),
        }
    }

    #[test]
    fn link_then_unlink_entries_replay_to_their_rows() {
        let (entry, row) = decide_link_change(&change(true), None, 0).expect("link");
        assert_eq!(entry.kind, CARRIER_LINK);
        assert_eq!(entry.key, "carrier-link/1K0001:0123456789");
        assert_eq!(
            String::from_utf8(entry.body.clone()).expect("utf8"),
            r#"{"barcode":"/ABC+123","carrier_id":"0123456789","carrier_type":"1K0001","generation":1,"linked":true,"name":"my EasyCard"}"#
        );
        let stored = LedgerEntry {
            origin: "main".into(),
            seq: 3,
            hlc: crate::Hlc(1),
            kind: entry.kind,
            key: entry.key,
            actor: entry.actor,
            body: entry.body,
            prev_hash: crate::EntryHash::GENESIS,
            hash: crate::EntryHash::GENESIS,
            body_digest: None,
            withheld: false,
        };
        assert_eq!(replay_link(&stored).expect("replay"), Some(row.clone()));
        let mut unnamed = change(false);
        unnamed.name = String::new();
        let (_, un) = decide_link_change(&unnamed, Some(&row), 1).expect("unlink");
        assert_eq!((un.linked, un.generation), (false, 2));
        assert_eq!(un.name, "my EasyCard");
        assert!(un.supersedes(&row));
        assert!(!row.supersedes(&un));
        assert_eq!(
            decide_link_change(&change(false), Some(&un), 0),
            Err(LinkRefusal::NotLinked)
        );
        let mut broken = stored;
        broken.body = b"{}".to_vec();
        assert!(replay_link(&broken).is_err());
    }
}
