//! The SQL of [`CarrierAggStore`]: carriers linked to mobile barcodes (歸戶,
//! table in `migrations/0011_carrier_links.sql`). The decisions are
//! `einvoice_store`'s ([`decide_link_change`]).

use crate::append::append_event;
use crate::{SqliteStore, backend};
use einvoice_core::Carrier;
use einvoice_store::{
    CarrierAggStore, CarrierLink, LinkChange, LinkOutcome, LinkRow, StoreError, carrier_key,
    decide_link_change, stored_barcode, stored_carrier,
};
use rusqlite::{Connection, OptionalExtension, params};

mod sql {
    pub(super) const ROW: &str = "SELECT carrier_type, carrier_id, barcode, linked, name, generation, link_hash \
         FROM carrier_links WHERE carrier = ?1";
    pub(super) const COUNT: &str =
        "SELECT count(*) FROM carrier_links WHERE barcode = ?1 AND linked = 1";
    /// Writes the row where it supersedes the one held (a decided change
    /// always does: its generation is one more).
    pub(super) const PUT: &str = "INSERT INTO carrier_links \
         (carrier, carrier_type, carrier_id, barcode, linked, name, generation, link_hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (carrier) DO UPDATE SET barcode = excluded.barcode, linked = excluded.linked, \
         name = excluded.name, generation = excluded.generation, link_hash = excluded.link_hash \
         WHERE excluded.generation > carrier_links.generation \
         OR (excluded.generation = carrier_links.generation AND excluded.link_hash < carrier_links.link_hash)";
    pub(super) const LINKS: &str = "SELECT carrier_type, carrier_id, name FROM carrier_links \
         WHERE barcode = ?1 AND linked = 1 ORDER BY carrier";
    pub(super) const LINKED_TO: &str =
        "SELECT barcode FROM carrier_links WHERE carrier = ?1 AND linked = 1";
}

fn held(c: &Connection, carrier: &Carrier) -> Result<Option<LinkRow>, StoreError> {
    let row = c
        .prepare_cached(sql::ROW)
        .map_err(backend)?
        .query_row(params![carrier_key(carrier)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, String>(6)?,
            ))
        })
        .optional()
        .map_err(backend)?;
    row.map(|(kind, id, barcode, linked, name, generation, hash)| {
        Ok(LinkRow {
            carrier: stored_carrier(&kind, &id)?,
            barcode: stored_barcode(&barcode)?,
            linked,
            name,
            generation: u64::try_from(generation).map_err(|_| {
                einvoice_store::stored::corrupt("generation", &generation.to_string())
            })?,
            hash,
        })
    })
    .transpose()
}

/// Write `row` where it supersedes the row held (see [`sql::PUT`]).
pub(crate) fn put_row(t: &Connection, row: &LinkRow) -> Result<(), StoreError> {
    let generation = i64::try_from(row.generation)
        .map_err(|_| StoreError::Corrupt("link generation out of range".into()))?;
    t.prepare_cached(sql::PUT)
        .map_err(backend)?
        .execute(params![
            carrier_key(&row.carrier),
            row.carrier.kind.code(),
            row.carrier.id,
            row.barcode.id,
            row.linked,
            row.name,
            generation,
            row.hash
        ])
        .map_err(backend)?;
    Ok(())
}

impl CarrierAggStore for SqliteStore {
    async fn change_link(&self, change: LinkChange) -> Result<LinkOutcome, StoreError> {
        let site = self.inner.site.clone();
        self.write(move |t, head| {
            let current = held(t, &change.carrier)?;
            let count: i64 = t
                .prepare_cached(sql::COUNT)
                .map_err(backend)?
                .query_row(params![change.barcode.id], |r| r.get(0))
                .map_err(backend)?;
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            let (entry, row) = match decide_link_change(&change, current.as_ref(), count) {
                Ok(x) => x,
                Err(refusal) => return Ok(LinkOutcome::Refused(refusal)),
            };
            put_row(t, &row)?;
            Ok(LinkOutcome::Done(append_event(t, head, &site, &entry)?))
        })
        .await
    }

    async fn carrier_links(&self, barcode: &Carrier) -> Result<Vec<CarrierLink>, StoreError> {
        let id = barcode.id.clone();
        self.read(move |c| {
            let mut st = c.prepare_cached(sql::LINKS).map_err(backend)?;
            let rows = st
                .query_map(params![id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for r in rows {
                let (kind, id, name) = r.map_err(backend)?;
                out.push(CarrierLink {
                    carrier: stored_carrier(&kind, &id)?,
                    name,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn linked_barcode(&self, carrier: &Carrier) -> Result<Option<Carrier>, StoreError> {
        let key = carrier_key(carrier);
        self.read(move |c| {
            c.prepare_cached(sql::LINKED_TO)
                .map_err(backend)?
                .query_row(params![key], |r| r.get::<_, String>(0))
                .optional()
                .map_err(backend)?
                .map(|b| stored_barcode(&b))
                .transpose()
        })
        .await
    }
}
