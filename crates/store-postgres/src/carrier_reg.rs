//! The SQL of [`CarrierRegStore`] on PostgreSQL (tables in
//! `migrations/0011_carrier_reg.sql`): challenges, contacts, the carrier
//! records and ledger entries of registrations and code changes, the mail
//! outbox.

use crate::PgStore;
use crate::append::append_event_in;
use crate::error::DbError;
use einvoice_core::ids::CarrierTypes;
use einvoice_core::{Carrier, CarrierType};
use einvoice_store::stored::corrupt;
use einvoice_store::{
    CarrierContact, CarrierCredential, CarrierRegStore, Challenge, ChallengePurpose,
    CompleteOutcome, MailMessage, OutboxItem, OutboxOutcome, Receipt, StoreError, carrier_key,
    credential_record, in_claim_order, outbox_lease_until,
};
use tokio_postgres::Row;

mod sql {
    pub(super) const PUT_CHALLENGE: &str = "INSERT INTO carrier_challenges \
         (id, purpose, email, phone, carrier_type, carrier_id, verification_hash, code_sha256, \
          created_unix, expires_unix, attempts, used) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0)";
    pub(super) const ATTEMPT: &str = "UPDATE carrier_challenges SET attempts = attempts + 1 WHERE id = $1 \
         RETURNING id, purpose, email, phone, carrier_type, carrier_id, \
         verification_hash, code_sha256, created_unix, expires_unix, attempts, used";
    pub(super) const LOCK_CHALLENGE: &str =
        "SELECT used FROM carrier_challenges WHERE id = $1 FOR UPDATE";
    pub(super) const USE: &str = "UPDATE carrier_challenges SET used = 1 WHERE id = $1";
    pub(super) const CARRIER_EXISTS: &str =
        "SELECT 1 FROM records WHERE space = 'carrier' AND id = $1";
    pub(super) const CONTACT_TAKEN: &str =
        "SELECT 1 FROM carrier_contacts WHERE email = $1 OR phone = $2";
    pub(super) const PUT_CARRIER: &str = "INSERT INTO records (space, id, json) VALUES ('carrier', $1, $2) \
         ON CONFLICT (space, id) DO UPDATE SET json = excluded.json";
    pub(super) const PUT_CONTACT: &str = "INSERT INTO carrier_contacts (carrier, email, phone) VALUES ($1, $2, $3) \
         ON CONFLICT (carrier) DO UPDATE SET email = excluded.email, phone = excluded.phone";
    pub(super) const CONTACT: &str =
        "SELECT carrier, email, phone FROM carrier_contacts WHERE carrier = $1";
    pub(super) const BY_PHONE: &str =
        "SELECT carrier, email, phone FROM carrier_contacts WHERE phone = $1";
    pub(super) const BY_EMAIL: &str =
        "SELECT carrier, email, phone FROM carrier_contacts WHERE email = $1";
    pub(super) const QUEUE: &str = "INSERT INTO mail_outbox (id, body, created_unix, next_unix) \
         VALUES ($1, $2, $3, $3) ON CONFLICT (id) DO NOTHING";
    pub(super) const CLAIM: &str = "WITH due AS MATERIALIZED ( \
         SELECT id FROM mail_outbox WHERE delivered_unix IS NULL AND next_unix <= $1 \
           AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_unix, id LIMIT $2 \
         FOR UPDATE SKIP LOCKED) \
         UPDATE mail_outbox o SET lease_owner = $3, lease_until = $4 FROM due WHERE o.id = due.id \
         RETURNING o.id, o.body, o.attempts, o.next_unix";
    pub(super) const MARK_DELIVERED: &str = "UPDATE mail_outbox SET delivered_unix = $3, body = '', \
         lease_owner = NULL, lease_until = NULL \
         WHERE id = $1 AND lease_owner = $2 AND delivered_unix IS NULL";
    pub(super) const MARK_FAILED: &str = "UPDATE mail_outbox SET attempts = attempts + 1, next_unix = $3, \
         last_error = $4, lease_owner = NULL, lease_until = NULL \
         WHERE id = $1 AND lease_owner = $2 AND delivered_unix IS NULL";
}

fn carrier_of_key(key: &str) -> Result<Carrier, DbError> {
    let bad = || corrupt("carrier", key);
    let (t, id) = key.split_once(':').ok_or_else(bad)?;
    let kind = CarrierType::parse(t, &CarrierTypes::default()).map_err(|_| bad())?;
    Ok(Carrier::parse(kind, id).map_err(|_| bad())?)
}

fn contact(r: &Row) -> Result<CarrierContact, DbError> {
    let key: String = r.try_get(0)?;
    Ok(CarrierContact {
        carrier: carrier_of_key(&key)?,
        email: r.try_get(1)?,
        phone: r.try_get(2)?,
    })
}

fn challenge(r: &Row) -> Result<Challenge, DbError> {
    let purpose: String = r.try_get(1)?;
    let ctype: Option<String> = r.try_get(4)?;
    let cid: Option<String> = r.try_get(5)?;
    let carrier = match (ctype, cid) {
        (Some(t), Some(i)) => Some(carrier_of_key(&format!("{t}:{i}"))?),
        _ => None,
    };
    Ok(Challenge {
        id: r.try_get(0)?,
        purpose: ChallengePurpose::parse(&purpose).ok_or_else(|| corrupt("purpose", &purpose))?,
        email: r.try_get(2)?,
        phone: r.try_get(3)?,
        carrier,
        verification_hash: r.try_get(6)?,
        code_sha256: r.try_get(7)?,
        created_unix: r.try_get(8)?,
        expires_unix: r.try_get(9)?,
        attempts: u32::try_from(r.try_get::<_, i64>(10)?).unwrap_or(u32::MAX),
        used: r.try_get::<_, i64>(11)? != 0,
    })
}

/// Write a credential's carrier record and (on registration) its contact.
pub(crate) async fn put_credential(
    t: &deadpool_postgres::Transaction<'_>,
    c: &CarrierCredential,
) -> Result<(), DbError> {
    let key = carrier_key(&c.carrier);
    let json = serde_json::to_string(&credential_record(c))
        .map_err(|e| corrupt("carrier record", &e.to_string()))?;
    t.execute(sql::PUT_CARRIER, &[&key, &json]).await?;
    if let Some(ct) = &c.contact {
        t.execute(sql::PUT_CONTACT, &[&key, &ct.email, &ct.phone])
            .await?;
    }
    Ok(())
}

impl PgStore {
    async fn contact_where(
        &self,
        q: &'static str,
        v: &str,
    ) -> Result<Option<CarrierContact>, StoreError> {
        self.run(|c| async move {
            match c.query_opt(q, &[&v]).await? {
                Some(r) => Ok(Some(contact(&r)?)),
                None => Ok(None),
            }
        })
        .await
    }
}

impl CarrierRegStore for PgStore {
    async fn put_challenge(
        &self,
        ch: Challenge,
        mail: MailMessage,
        now_unix: i64,
    ) -> Result<(), StoreError> {
        let (ch, mail) = (&ch, &mail);
        let ctype = ch.carrier.as_ref().map(|c| c.kind.code().to_string());
        let cid = ch.carrier.as_ref().map(|c| c.id.clone());
        let (ctype, cid) = (&ctype, &cid);
        let body = mail.body();
        let body = &body;
        self.run(|mut c| async move {
            let t = c.transaction().await?;
            t.execute(
                sql::PUT_CHALLENGE,
                &[
                    &ch.id,
                    &ch.purpose.as_str(),
                    &ch.email,
                    &ch.phone,
                    ctype,
                    cid,
                    &ch.verification_hash,
                    &ch.code_sha256,
                    &ch.created_unix,
                    &ch.expires_unix,
                ],
            )
            .await?;
            t.execute(sql::QUEUE, &[&mail.id, body, &now_unix]).await?;
            t.commit().await?;
            Ok(())
        })
        .await
    }

    async fn attempt_challenge(&self, id: &str) -> Result<Option<Challenge>, StoreError> {
        self.run(|c| async move {
            match c.query_opt(sql::ATTEMPT, &[&id]).await? {
                Some(r) => Ok(Some(challenge(&r)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn complete_challenge(
        &self,
        id: &str,
        credential: CarrierCredential,
        actor: &str,
    ) -> Result<CompleteOutcome, StoreError> {
        let shared = self.shared();
        let (site, known) = (shared.site.as_str(), &shared.partitions);
        let credential = &credential;
        let key = carrier_key(&credential.carrier);
        let key = &key;
        let entry = credential.ledger_entry(actor);
        let entry = &entry;
        shared
            .run(true, |mut c| async move {
                let t = c.transaction().await?;
                let used = match t.query_opt(sql::LOCK_CHALLENGE, &[&id]).await? {
                    Some(r) => r.try_get::<_, i64>(0)? != 0,
                    None => true,
                };
                if used {
                    return Ok(CompleteOutcome::Used);
                }
                if let Some(ct) = &credential.contact {
                    if t.query_opt(sql::CARRIER_EXISTS, &[key]).await?.is_some() {
                        return Ok(CompleteOutcome::BarcodeTaken);
                    }
                    if t.query_opt(sql::CONTACT_TAKEN, &[&ct.email, &ct.phone])
                        .await?
                        .is_some()
                    {
                        return Ok(CompleteOutcome::ContactTaken);
                    }
                }
                t.execute(sql::USE, &[&id]).await?;
                put_credential(&t, credential).await?;
                let receipt = append_event_in(&t, site, known, entry).await?;
                t.commit().await?;
                Ok(CompleteOutcome::Done(receipt))
            })
            .await
    }

    async fn change_verification(
        &self,
        credential: CarrierCredential,
        actor: &str,
        mail: Option<MailMessage>,
        now_unix: i64,
    ) -> Result<Receipt, StoreError> {
        let shared = self.shared();
        let (site, known) = (shared.site.as_str(), &shared.partitions);
        let credential = CarrierCredential {
            contact: None,
            ..credential
        };
        let credential = &credential;
        let entry = credential.ledger_entry(actor);
        let entry = &entry;
        let mail = mail.map(|m| (m.id.clone(), m.body()));
        let mail = &mail;
        shared
            .run(false, |mut c| async move {
                let t = c.transaction().await?;
                put_credential(&t, credential).await?;
                if let Some((id, body)) = mail {
                    t.execute(sql::QUEUE, &[id, body, &now_unix]).await?;
                }
                let receipt = append_event_in(&t, site, known, entry).await?;
                t.commit().await?;
                Ok(receipt)
            })
            .await
    }

    async fn carrier_contact(
        &self,
        carrier: &Carrier,
    ) -> Result<Option<CarrierContact>, StoreError> {
        self.contact_where(sql::CONTACT, &carrier_key(carrier))
            .await
    }

    async fn carrier_by_phone(&self, phone: &str) -> Result<Option<CarrierContact>, StoreError> {
        self.contact_where(sql::BY_PHONE, phone).await
    }

    async fn carrier_by_email(&self, email: &str) -> Result<Option<CarrierContact>, StoreError> {
        self.contact_where(sql::BY_EMAIL, email).await
    }

    async fn queue_mail(&self, mail: MailMessage, now_unix: i64) -> Result<(), StoreError> {
        let body = mail.body();
        let (id, body) = (&mail.id, &body);
        self.run(|c| async move {
            c.execute(sql::QUEUE, &[id, body, &now_unix]).await?;
            Ok(())
        })
        .await
    }

    async fn mail_claim(
        &self,
        now_unix: i64,
        limit: u32,
        lease_secs: u32,
        worker: &str,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let lim = i64::from(limit);
        let until = outbox_lease_until(now_unix, lease_secs);
        self.run(|c| async move {
            let rows = c
                .query(sql::CLAIM, &[&now_unix, &lim, &worker, &until])
                .await?;
            let mut items = rows
                .iter()
                .map(|r| {
                    Ok(OutboxItem {
                        id: r.try_get(0)?,
                        kind: einvoice_store::MAIL_KIND.into(),
                        body: r.try_get(1)?,
                        attempts: u32::try_from(r.try_get::<_, i64>(2)?).unwrap_or(0),
                        next_unix: r.try_get(3)?,
                    })
                })
                .collect::<Result<Vec<_>, DbError>>()?;
            in_claim_order(&mut items);
            Ok(items)
        })
        .await
    }

    async fn mail_mark(
        &self,
        id: &str,
        worker: &str,
        outcome: OutboxOutcome,
    ) -> Result<bool, StoreError> {
        self.mark_leased((sql::MARK_DELIVERED, sql::MARK_FAILED), id, worker, outcome)
            .await
    }
}
