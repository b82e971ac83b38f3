//! The SQL of [`CarrierAggStore`] on PostgreSQL: carriers linked to mobile
//! barcodes (歸戶, table in `migrations/0012_carrier_links.sql`). The
//! decisions are `einvoice_store`'s ([`decide_link_change`]). A change takes
//! transaction-scoped advisory locks on the carrier and the barcode (in key
//! order), so two nodes deciding on the same carrier or counting the same
//! barcode's links take turns.

use crate::PgStore;
use crate::append::append_event_in;
use crate::error::DbError;
use einvoice_core::Carrier;
use einvoice_store::{
    CarrierAggStore, CarrierLink, LinkChange, LinkOutcome, LinkRow, StoreError, carrier_key,
    decide_link_change, stored_barcode, stored_carrier,
};

mod sql {
    pub(super) const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 17))";
    pub(super) const ROW: &str = "SELECT carrier_type, carrier_id, barcode, linked, name, generation, link_hash \
         FROM carrier_links WHERE carrier = $1 FOR UPDATE";
    pub(super) const COUNT: &str =
        "SELECT count(*) FROM carrier_links WHERE barcode = $1 AND linked";
    /// Writes the row where it supersedes the one held (a decided change
    /// always does: its generation is one more).
    pub(super) const PUT: &str = "INSERT INTO carrier_links \
         (carrier, carrier_type, carrier_id, barcode, linked, name, generation, link_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (carrier) DO UPDATE SET barcode = excluded.barcode, linked = excluded.linked, \
         name = excluded.name, generation = excluded.generation, link_hash = excluded.link_hash \
         WHERE excluded.generation > carrier_links.generation \
         OR (excluded.generation = carrier_links.generation AND excluded.link_hash < carrier_links.link_hash)";
    pub(super) const LINKS: &str = "SELECT carrier_type, carrier_id, name FROM carrier_links \
         WHERE barcode = $1 AND linked ORDER BY carrier COLLATE \"C\"";
    pub(super) const LINKED_TO: &str =
        "SELECT barcode FROM carrier_links WHERE carrier = $1 AND linked";
}

/// Write `row` where it supersedes the row held (see [`sql::PUT`]).
pub(crate) async fn put_row(
    t: &deadpool_postgres::Transaction<'_>,
    row: &LinkRow,
) -> Result<(), DbError> {
    let generation = i64::try_from(row.generation)
        .map_err(|_| StoreError::Corrupt("link generation out of range".into()))?;
    t.execute(
        sql::PUT,
        &[
            &carrier_key(&row.carrier),
            &row.carrier.kind.code(),
            &row.carrier.id,
            &row.barcode.id,
            &row.linked,
            &row.name,
            &generation,
            &row.hash,
        ],
    )
    .await?;
    Ok(())
}

impl CarrierAggStore for PgStore {
    async fn change_link(&self, change: LinkChange) -> Result<LinkOutcome, StoreError> {
        let shared = self.shared();
        let (site, known) = (shared.site.as_str(), &shared.partitions);
        let change = &change;
        let key = carrier_key(&change.carrier);
        let barcode_key = carrier_key(&change.barcode);
        let mut locks = [key.as_str(), barcode_key.as_str()];
        locks.sort_unstable();
        let (key, locks) = (key.as_str(), &locks);
        shared
            .run(false, |mut c| async move {
                let t = c.transaction().await?;
                for l in locks {
                    t.execute(sql::LOCK, &[l]).await?;
                }
                let held = match t.query_opt(sql::ROW, &[&key]).await? {
                    None => None,
                    Some(r) => {
                        let generation: i64 = r.try_get(5)?;
                        Some(LinkRow {
                            carrier: stored_carrier(
                                &r.try_get::<_, String>(0)?,
                                &r.try_get::<_, String>(1)?,
                            )?,
                            barcode: stored_barcode(&r.try_get::<_, String>(2)?)?,
                            linked: r.try_get(3)?,
                            name: r.try_get(4)?,
                            generation: u64::try_from(generation).map_err(|_| {
                                StoreError::Corrupt("link generation out of range".into())
                            })?,
                            hash: r.try_get(6)?,
                        })
                    }
                };
                let count: i64 = t
                    .query_one(sql::COUNT, &[&change.barcode.id])
                    .await?
                    .try_get(0)?;
                let count = u32::try_from(count).unwrap_or(u32::MAX);
                let (entry, row) = match decide_link_change(change, held.as_ref(), count) {
                    Ok(x) => x,
                    Err(refusal) => return Ok(LinkOutcome::Refused(refusal)),
                };
                put_row(&t, &row).await?;
                let receipt = append_event_in(&t, site, known, &entry).await?;
                t.commit().await?;
                Ok(LinkOutcome::Done(receipt))
            })
            .await
    }

    async fn carrier_links(&self, barcode: &Carrier) -> Result<Vec<CarrierLink>, StoreError> {
        let id = barcode.id.as_str();
        self.run(|c| async move {
            let rows = c.query(sql::LINKS, &[&id]).await?;
            rows.iter()
                .map(|r| {
                    Ok(CarrierLink {
                        carrier: stored_carrier(
                            &r.try_get::<_, String>(0)?,
                            &r.try_get::<_, String>(1)?,
                        )?,
                        name: r.try_get(2)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn linked_barcode(&self, carrier: &Carrier) -> Result<Option<Carrier>, StoreError> {
        let key = carrier_key(carrier);
        let key = key.as_str();
        self.run(|c| async move {
            match c.query_opt(sql::LINKED_TO, &[&key]).await? {
                Some(r) => Ok(Some(stored_barcode(&r.try_get::<_, String>(0)?)?)),
                None => Ok(None),
            }
        })
        .await
    }
}
