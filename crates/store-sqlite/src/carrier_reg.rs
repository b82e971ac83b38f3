//! The SQL of [`CarrierRegStore`] on SQLite (tables in
//! `migrations/0010_carrier_reg.sql`): challenges, contacts, the carrier
//! records and ledger entries of registrations and code changes, the mail
//! outbox.

use crate::append::append_event;
use crate::{SqliteStore, backend};
use einvoice_core::ids::CarrierTypes;
use einvoice_core::{Carrier, CarrierType};
use einvoice_store::{
    CarrierContact, CarrierCredential, CarrierRegStore, Challenge, ChallengePurpose,
    CompleteOutcome, MailMessage, OutboxItem, OutboxOutcome, Receipt, StoreError, carrier_key,
    credential_record, in_claim_order, outbox_lease_until,
};
use rusqlite::{OptionalExtension, Transaction, params};

mod sql {
    pub(super) const PUT_CHALLENGE: &str = "INSERT INTO carrier_challenges \
         (id, purpose, email, phone, carrier_type, carrier_id, verification_hash, code_sha256, \
          created_unix, expires_unix, attempts, used) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 0)";
    pub(super) const ATTEMPT: &str =
        "UPDATE carrier_challenges SET attempts = attempts + 1 WHERE id = ?1";
    pub(super) const CHALLENGE: &str = "SELECT id, purpose, email, phone, carrier_type, carrier_id, \
         verification_hash, code_sha256, created_unix, expires_unix, attempts, used \
         FROM carrier_challenges WHERE id = ?1";
    pub(super) const UNUSED: &str = "SELECT 1 FROM carrier_challenges WHERE id = ?1 AND used = 0";
    pub(super) const USE: &str =
        "UPDATE carrier_challenges SET used = 1 WHERE id = ?1 AND used = 0";
    pub(super) const CARRIER_EXISTS: &str =
        "SELECT 1 FROM records WHERE space = 'carrier' AND id = ?1";
    pub(super) const CONTACT_TAKEN: &str =
        "SELECT 1 FROM carrier_contacts WHERE email = ?1 OR phone = ?2";
    pub(super) const PUT_CARRIER: &str = "INSERT INTO records (space, id, json) VALUES ('carrier', ?1, ?2) \
         ON CONFLICT (space, id) DO UPDATE SET json = excluded.json";
    pub(super) const PUT_CONTACT: &str = "INSERT INTO carrier_contacts (carrier, email, phone) VALUES (?1, ?2, ?3) \
         ON CONFLICT (carrier) DO UPDATE SET email = excluded.email, phone = excluded.phone";
    pub(super) const CONTACT: &str =
        "SELECT carrier, email, phone FROM carrier_contacts WHERE carrier = ?1";
    pub(super) const BY_PHONE: &str =
        "SELECT carrier, email, phone FROM carrier_contacts WHERE phone = ?1";
    pub(super) const BY_EMAIL: &str =
        "SELECT carrier, email, phone FROM carrier_contacts WHERE email = ?1";
    pub(super) const QUEUE: &str = "INSERT INTO mail_outbox (id, body, created_unix, next_unix) \
         VALUES (?1, ?2, ?3, ?3) ON CONFLICT (id) DO NOTHING";
    pub(super) const CLAIM: &str = "UPDATE mail_outbox SET lease_owner = ?3, lease_until = ?4 WHERE id IN ( \
         SELECT id FROM mail_outbox WHERE delivered_unix IS NULL AND next_unix <= ?1 \
           AND (lease_until IS NULL OR lease_until <= ?1) ORDER BY next_unix, id LIMIT ?2) \
         RETURNING id, body, attempts, next_unix";
    pub(super) const MARK_DELIVERED: &str = "UPDATE mail_outbox SET delivered_unix = ?3, body = '', \
         lease_owner = NULL, lease_until = NULL \
         WHERE id = ?1 AND lease_owner = ?2 AND delivered_unix IS NULL";
    pub(super) const MARK_FAILED: &str = "UPDATE mail_outbox SET attempts = attempts + 1, next_unix = ?3, \
         last_error = ?4, lease_owner = NULL, lease_until = NULL \
         WHERE id = ?1 AND lease_owner = ?2 AND delivered_unix IS NULL";
}

/// The carrier of a stored `type:id` key.
pub(crate) fn carrier_of_key(key: &str) -> Result<Carrier, StoreError> {
    let bad = || einvoice_store::stored::corrupt("carrier", key);
    let (t, id) = key.split_once(':').ok_or_else(bad)?;
    let kind = CarrierType::parse(t, &CarrierTypes::default()).map_err(|_| bad())?;
    Carrier::parse(kind, id).map_err(|_| bad())
}

fn contact_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn contact((key, email, phone): (String, String, String)) -> Result<CarrierContact, StoreError> {
    Ok(CarrierContact {
        carrier: carrier_of_key(&key)?,
        email,
        phone,
    })
}

type ChallengeRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
    i64,
    i64,
);

fn challenge(r: ChallengeRow) -> Result<Challenge, StoreError> {
    let (id, purpose, email, phone, ctype, cid, hash, code, created, expires, attempts, used) = r;
    let purpose = ChallengePurpose::parse(&purpose)
        .ok_or_else(|| einvoice_store::stored::corrupt("purpose", &purpose))?;
    let carrier = match (ctype, cid) {
        (Some(t), Some(i)) => Some(carrier_of_key(&format!("{t}:{i}"))?),
        _ => None,
    };
    Ok(Challenge {
        id,
        purpose,
        email,
        phone,
        carrier,
        verification_hash: hash,
        code_sha256: code,
        created_unix: created,
        expires_unix: expires,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        used: used != 0,
    })
}

fn queue(t: &Transaction<'_>, mail: &MailMessage, now: i64) -> Result<(), StoreError> {
    t.prepare_cached(sql::QUEUE)
        .map_err(backend)?
        .execute(params![mail.id, mail.body(), now])
        .map_err(backend)?;
    Ok(())
}

/// Write a credential's carrier record and (on registration) its contact.
pub(crate) fn put_credential(t: &Transaction<'_>, c: &CarrierCredential) -> Result<(), StoreError> {
    let key = carrier_key(&c.carrier);
    let json = serde_json::to_string(&credential_record(c)).map_err(backend)?;
    t.prepare_cached(sql::PUT_CARRIER)
        .map_err(backend)?
        .execute(params![key, json])
        .map_err(backend)?;
    if let Some(ct) = &c.contact {
        t.prepare_cached(sql::PUT_CONTACT)
            .map_err(backend)?
            .execute(params![key, ct.email, ct.phone])
            .map_err(backend)?;
    }
    Ok(())
}

fn exists(t: &Transaction<'_>, q: &str, p: impl rusqlite::Params) -> Result<bool, StoreError> {
    Ok(t.prepare_cached(q)
        .map_err(backend)?
        .query_row(p, |_| Ok(()))
        .optional()
        .map_err(backend)?
        .is_some())
}

impl SqliteStore {
    async fn contact_where(
        &self,
        q: &'static str,
        v: String,
    ) -> Result<Option<CarrierContact>, StoreError> {
        self.read(move |c| {
            c.prepare_cached(q)
                .map_err(backend)?
                .query_row(params![v], contact_row)
                .optional()
                .map_err(backend)?
                .map(contact)
                .transpose()
        })
        .await
    }
}

impl CarrierRegStore for SqliteStore {
    async fn put_challenge(
        &self,
        ch: Challenge,
        mail: MailMessage,
        now_unix: i64,
    ) -> Result<(), StoreError> {
        self.write(move |t, _| {
            t.prepare_cached(sql::PUT_CHALLENGE)
                .map_err(backend)?
                .execute(params![
                    ch.id,
                    ch.purpose.as_str(),
                    ch.email,
                    ch.phone,
                    ch.carrier.as_ref().map(|c| c.kind.code().to_string()),
                    ch.carrier.as_ref().map(|c| c.id.clone()),
                    ch.verification_hash,
                    ch.code_sha256,
                    ch.created_unix,
                    ch.expires_unix
                ])
                .map_err(backend)?;
            queue(t, &mail, now_unix)
        })
        .await
    }

    async fn attempt_challenge(&self, id: &str) -> Result<Option<Challenge>, StoreError> {
        let id = id.to_string();
        self.write(move |t, _| {
            t.prepare_cached(sql::ATTEMPT)
                .map_err(backend)?
                .execute(params![id])
                .map_err(backend)?;
            t.prepare_cached(sql::CHALLENGE)
                .map_err(backend)?
                .query_row(params![id], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                        r.get(11)?,
                    ))
                })
                .optional()
                .map_err(backend)?
                .map(challenge)
                .transpose()
        })
        .await
    }

    async fn complete_challenge(
        &self,
        id: &str,
        credential: CarrierCredential,
        actor: &str,
    ) -> Result<CompleteOutcome, StoreError> {
        let site = self.inner.site.clone();
        let (id, actor) = (id.to_string(), actor.to_string());
        self.write(move |t, head| {
            if !exists(t, sql::UNUSED, params![id])? {
                return Ok(CompleteOutcome::Used);
            }
            if let Some(ct) = &credential.contact {
                if exists(
                    t,
                    sql::CARRIER_EXISTS,
                    params![carrier_key(&credential.carrier)],
                )? {
                    return Ok(CompleteOutcome::BarcodeTaken);
                }
                if exists(t, sql::CONTACT_TAKEN, params![ct.email, ct.phone])? {
                    return Ok(CompleteOutcome::ContactTaken);
                }
            }
            let n = t
                .prepare_cached(sql::USE)
                .map_err(backend)?
                .execute(params![id])
                .map_err(backend)?;
            if n != 1 {
                return Ok(CompleteOutcome::Used);
            }
            put_credential(t, &credential)?;
            let receipt = append_event(t, head, &site, &credential.ledger_entry(&actor))?;
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
        let site = self.inner.site.clone();
        let actor = actor.to_string();
        let credential = CarrierCredential {
            contact: None,
            ..credential
        };
        self.write(move |t, head| {
            put_credential(t, &credential)?;
            if let Some(m) = &mail {
                queue(t, m, now_unix)?;
            }
            append_event(t, head, &site, &credential.ledger_entry(&actor))
        })
        .await
    }

    async fn carrier_contact(
        &self,
        carrier: &Carrier,
    ) -> Result<Option<CarrierContact>, StoreError> {
        self.contact_where(sql::CONTACT, carrier_key(carrier)).await
    }

    async fn carrier_by_phone(&self, phone: &str) -> Result<Option<CarrierContact>, StoreError> {
        self.contact_where(sql::BY_PHONE, phone.to_string()).await
    }

    async fn carrier_by_email(&self, email: &str) -> Result<Option<CarrierContact>, StoreError> {
        self.contact_where(sql::BY_EMAIL, email.to_string()).await
    }

    async fn queue_mail(&self, mail: MailMessage, now_unix: i64) -> Result<(), StoreError> {
        self.write(move |t, _| queue(t, &mail, now_unix)).await
    }

    async fn mail_claim(
        &self,
        now_unix: i64,
        limit: u32,
        lease_secs: u32,
        worker: &str,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let worker = worker.to_string();
        let until = outbox_lease_until(now_unix, lease_secs);
        self.write(move |t, _| {
            let mut st = t.prepare_cached(sql::CLAIM).map_err(backend)?;
            let rows = st
                .query_map(params![now_unix, limit, worker, until], |r| {
                    Ok(OutboxItem {
                        id: r.get(0)?,
                        kind: einvoice_store::MAIL_KIND.into(),
                        body: r.get(1)?,
                        attempts: r.get(2)?,
                        next_unix: r.get(3)?,
                    })
                })
                .map_err(backend)?;
            let mut items = rows.collect::<Result<Vec<_>, _>>().map_err(backend)?;
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
        crate::outbox::mark_leased(
            self,
            (sql::MARK_DELIVERED, sql::MARK_FAILED),
            id,
            worker,
            outcome,
        )
        .await
    }
}
