//! The message-at-a-time path: every message that is not part of a run of
//! invoices is checked (idempotency, track) against what the messages
//! before it wrote, then appended and projected.

use super::Prepped;
use super::chain::Writer;
use super::columns::{hash_of, period_key, to_u64};
use super::sql::{EXISTING_MESSAGE, NUMBER_IN_TRACK, TRACK_CLASH};
use crate::error::DbError;
use einvoice_core::Facts;
use einvoice_store::append_rules::{outside_track, seen_before, track_overlap, track_ranges};
use einvoice_store::{AppendOutcome, Hlc, Receipt};

impl<'a, 't> Writer<'a, 't> {
    /// Append one prepared message (in scope) the message-at-a-time way.
    pub(super) async fn append_one(
        &mut self,
        actor: &str,
        p: &Prepped<'_>,
    ) -> Result<AppendOutcome, DbError> {
        let (v, kind, key, body) = (p.v, p.kind, p.key.clone(), &p.body);

        // Idempotency by (kind, natural key).
        let st = self.t.prepare_cached(EXISTING_MESSAGE).await?;
        if let Some(row) = self.t.query_opt(&st, &[&kind, &key]).await? {
            let origin: String = row.try_get(0)?;
            let at = (origin.as_str(), row.try_get::<_, i64>(1)?);
            let old_body = self.unpack(at, row.try_get(3)?, row.try_get(5)?).await?;
            let receipt = Receipt {
                origin: row.try_get(0)?,
                seq: to_u64(row.try_get(1)?)?,
                hash: hash_of(&row.try_get::<_, Vec<u8>>(4)?)?,
                hlc: Hlc(to_u64(row.try_get(2)?)?),
                kind: kind.to_string(),
                key: key.clone(),
                duplicate: true,
            };
            return Ok(seen_before(kind, &key, receipt, &old_body == body));
        }

        match &v.facts {
            Facts::Invoice(f) => {
                let st = self.t.prepare_cached(NUMBER_IN_TRACK).await?;
                let inside = self
                    .t
                    .query_opt(
                        &st,
                        &[
                            &f.seller.as_str(),
                            &period_key(f.period)?,
                            &f.number.track().as_str(),
                            &i64::from(f.number.number()),
                        ],
                    )
                    .await?;
                if inside.is_none() {
                    return Ok(Err(outside_track(f)));
                }
            }
            Facts::TrackAllocation(f) => {
                let st = self.t.prepare_cached(TRACK_CLASH).await?;
                for (b, e) in track_ranges(f) {
                    let clash = self
                        .t
                        .query_opt(
                            &st,
                            &[
                                &period_key(f.period)?,
                                &f.track.as_str(),
                                &i64::from(b),
                                &i64::from(e),
                            ],
                        )
                        .await?;
                    if let Some(row) = clash {
                        let owner: String = row.try_get(0)?;
                        return Ok(Err(track_overlap(f, b, e, &owner)));
                    }
                }
            }
            _ => {}
        }

        let receipt = self.push(kind, &key, actor, body, true).await?;
        self.project(&receipt, &v.facts, body).await?;
        Ok(Ok(receipt))
    }
}
