//! Synthetic but realistic demo data: sellers with allocated tracks, an API
//! key, carriers with verification codes, an App API application, and a
//! period of B2C invoices with items — some on carriers, some donated, some
//! printed; some later cancelled, voided or given an allowance.
//!
//! The generator is deterministic for a given [`Plan`] (a seeded splitmix64,
//! not a cryptographic generator: it only shapes demo data), so `demo seed`
//! and the benchmarks produce the same invoices run after run. Secrets
//! (API key secret, verification code, app key) come from the OS generator.

use crate::app_api::{AppKey, SignatureAlg, hash_verification_code};
use crate::ops::track_message;
use crate::sign::hex;
use einvoice_core::ids::{UbnRule, ubn_checksum_ok};
use einvoice_core::period::format_mig_date;
use einvoice_core::time::{Date, Duration as Days};
use einvoice_core::{Carrier, CarrierType, Period, Rules, Track, Ubn, Validated, validate};
use einvoice_secrets::Sealer;
use einvoice_secrets::purpose;
use einvoice_store::{
    ApiKeyRecord, AppRecord, CarrierRecord, Scope, SellerRecord, Store, StoreError,
};
use serde::Serialize;
use serde_json::{Value, json};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The period the invoices belong to.
    pub period: Period,
    /// Number of sellers (at most 676: one two-letter track each).
    pub sellers: usize,
    /// Number of invoices (F0401), spread over the sellers.
    pub invoices: u64,
    /// Generator seed.
    pub seed: u64,
}

/// Why demo data could not be created.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A generated message failed validation (a bug in the generator).
    #[error("DEMO_INVALID: generated {kind} failed validation: {detail}")]
    Invalid {
        /// Message kind.
        kind: String,
        /// The violations.
        detail: String,
    },
    /// The store refused a generated message.
    #[error("DEMO_REJECTED: {0}")]
    Rejected(String),
    /// Sealing or hashing a secret failed.
    #[error("DEMO_SECRET: {0}")]
    Secret(String),
    /// The plan is impossible.
    #[error("DEMO_PLAN: {0}")]
    Plan(String),
}

/// One demo seller and its track allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoSeller {
    /// UBN (valid under the production checksum).
    pub ubn: Ubn,
    /// Name.
    pub name: String,
    /// Track letters.
    pub track: Track,
    /// First allocated number.
    pub begin: u32,
    /// Last allocated number.
    pub end: u32,
}

/// A deterministic splitmix64 stream (demo data only; never for secrets).
#[derive(Debug, Clone)]
pub struct DemoRng(u64);

impl DemoRng {
    /// A stream from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }
}

/// The `n`-th UBN (from 0) valid under the production rule, from a fixed base.
pub fn demo_ubn(n: usize) -> Ubn {
    let mut found = 0usize;
    let mut x: u32 = 24_000_000;
    loop {
        let s = format!("{x:08}");
        if ubn_checksum_ok(&s, UbnRule::Div5)
            && let Ok(u) = Ubn::parse(&s)
        {
            if found == n {
                return u;
            }
            found += 1;
        }
        x += 1;
    }
}

const SHOP_NAMES: [&str; 8] = [
    "山海咖啡",
    "青田書店",
    "大同電器行",
    "好日子便利商店",
    "阿明小吃",
    "光華文具",
    "晴天花店",
    "北投湯屋",
];
const GOODS: [(&str, i64); 12] = [
    ("紅茶", 25),
    ("拿鐵", 65),
    ("三明治", 45),
    ("原子筆", 15),
    ("筆記本", 60),
    ("雨傘", 199),
    ("便當", 90),
    ("礦泉水", 20),
    ("電池", 79),
    ("衛生紙", 129),
    ("水果", 150),
    ("蛋糕", 320),
];

/// The demo sellers of a plan, each with one track covering its share and a quarter more.
pub fn sellers(plan: &Plan) -> Result<Vec<DemoSeller>, DemoError> {
    if plan.sellers == 0 || plan.sellers > 676 {
        return Err(DemoError::Plan("sellers must be 1 to 676".into()));
    }
    let per = plan.invoices.div_ceil(plan.sellers as u64).max(1);
    // A quarter more than the plan uses, in whole booklets of 50: room to
    // issue new invoices by hand on a demo site.
    let size = (per + per / 4).div_ceil(50) * 50;
    if size > 100_000_000 {
        return Err(DemoError::Plan(format!(
            "{per} invoices per seller do not fit one track: add sellers"
        )));
    }
    (0..plan.sellers)
        .map(|i| {
            let letters = [b'A' + (i / 26) as u8, b'A' + (i % 26) as u8];
            let track = Track::parse(std::str::from_utf8(&letters).unwrap_or("AA"))
                .map_err(|v| DemoError::Plan(v.to_string()))?;
            Ok(DemoSeller {
                ubn: demo_ubn(i),
                name: format!("{} {}號店", SHOP_NAMES[i % SHOP_NAMES.len()], i + 1),
                track,
                begin: 0,
                end: (size - 1) as u32,
            })
        })
        .collect()
}

/// The mobile-barcode carrier of the `n`-th demo citizen.
pub fn demo_carrier(n: u64) -> Carrier {
    Carrier {
        kind: CarrierType::MobileBarcode,
        id: format!("/C{:06}", n % 1_000_000),
    }
}

/// One generated invoice.
#[derive(Debug, Clone)]
pub struct GeneratedInvoice {
    /// Seller.
    pub seller: Ubn,
    /// Invoice number text.
    pub number: String,
    /// Date `YYYYMMDD`.
    pub date: String,
    /// Random code.
    pub random: String,
    /// Carrier id, if stored on a carrier.
    pub carrier: Option<String>,
    /// Total NT$.
    pub total: i64,
    /// The F0401 in its JSON form.
    pub json: Value,
    /// Item lines (description, unit price) for allowances.
    pub items: Vec<(String, i64)>,
}

/// Deterministic invoice generator for a plan.
#[derive(Debug, Clone)]
pub struct InvoiceGen {
    plan: Plan,
    sellers: Vec<DemoSeller>,
    days: i64,
    carriers: u64,
}

impl InvoiceGen {
    /// A generator over the plan's sellers; invoices are dated from the
    /// period's first day up to `last_day` (today, for the current period).
    pub fn new(plan: Plan, sellers: Vec<DemoSeller>, last_day: Date) -> Self {
        let first = plan.period.first_day();
        let last = last_day.min(plan.period.last_day()).max(first);
        let days = (last - first).whole_days() + 1;
        let carriers = (plan.invoices / 20).clamp(10, 1_000_000);
        Self {
            plan,
            sellers,
            days,
            carriers,
        }
    }

    /// Distinct carriers invoices are spread over.
    pub fn carrier_count(&self) -> u64 {
        self.carriers
    }

    /// Invoice `i` (0-based): seller `i % sellers`, the next number in its track.
    pub fn invoice(&self, i: u64) -> GeneratedInvoice {
        let mut rng = DemoRng::new(self.plan.seed ^ i.wrapping_mul(0xA24B_AED4_963E_E407));
        let n = self.sellers.len() as u64;
        let s = &self.sellers[(i % n) as usize];
        let number = format!("{}{:08}", s.track, s.begin as u64 + i / n);
        let date = self.plan.period.first_day() + Days::days(rng.below(self.days as u64) as i64);
        let date = format_mig_date(date);
        let secs = 8 * 3600 + rng.below(14 * 3600);
        let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
        let random = format!("{:04}", rng.below(10_000));
        let mut details = Vec::new();
        let mut items = Vec::new();
        let mut total = 0i64;
        for k in 0..5 {
            let (name, price) = GOODS[rng.below(GOODS.len() as u64) as usize];
            let qty = 1 + rng.below(3) as i64;
            total += qty * price;
            items.push((name.to_string(), price));
            details.push(json!({
                "Description": name, "Quantity": qty.to_string(), "UnitPrice": price.to_string(),
                "TaxType": "1", "Amount": (qty * price).to_string(),
                "SequenceNumber": format!("{:03}", k + 1),
            }));
        }
        let roll = rng.below(100);
        let mut main = json!({
            "InvoiceNumber": number, "InvoiceDate": date, "InvoiceTime": time,
            "Seller": {"Identifier": s.ubn.as_str(), "Name": s.name, "Address": "台北市中正區重慶南路一段2號"},
            "Buyer": {"Identifier": "0000000000", "Name": "0000"},
            "InvoiceType": "07", "RandomNumber": random,
        });
        let mut carrier = None;
        if let Value::Object(m) = &mut main {
            if roll < 60 {
                let c = demo_carrier(rng.below(self.carriers));
                m.insert("DonateMark".into(), json!("0"));
                m.insert("CarrierType".into(), json!("3J0002"));
                m.insert("CarrierId1".into(), json!(c.id));
                m.insert("CarrierId2".into(), json!(c.id));
                m.insert("PrintMark".into(), json!("N"));
                carrier = Some(c.id);
            } else if roll < 68 {
                m.insert("DonateMark".into(), json!("1"));
                m.insert("PrintMark".into(), json!("N"));
                m.insert(
                    "NPOBAN".into(),
                    json!(["8585", "168", "5299", "919"][(roll % 4) as usize]),
                );
            } else {
                m.insert("DonateMark".into(), json!("0"));
                m.insert("PrintMark".into(), json!("Y"));
            }
        }
        let json = json!({
            "message": "F0401",
            "Main": main,
            "Details": details,
            "Amount": {
                "SalesAmount": total.to_string(), "FreeTaxSalesAmount": "0", "ZeroTaxSalesAmount": "0",
                "TaxType": "1", "TaxRate": "0.05", "TaxAmount": "0", "TotalAmount": total.to_string(),
            },
        });
        GeneratedInvoice {
            seller: s.ubn,
            number,
            date,
            random,
            carrier,
            total,
            json,
            items,
        }
    }

    /// What happens to invoice `i` later, if anything: about 2 % are
    /// cancelled, 1 % voided, 3 % get an allowance on their first item.
    pub fn follow_up(&self, inv: &GeneratedInvoice, i: u64) -> Option<Value> {
        let roll = DemoRng::new(self.plan.seed ^ 0x5EED ^ i.wrapping_mul(0x9E37_79B9)).below(100);
        let seller = inv.seller.as_str();
        match roll {
            0 | 1 => Some(json!({
                "message": "F0501", "CancelInvoiceNumber": inv.number, "InvoiceDate": inv.date,
                "BuyerId": "0000000000", "SellerId": seller, "CancelDate": inv.date,
                "CancelTime": "23:00:00", "CancelReason": "退貨",
            })),
            2 => Some(json!({
                "message": "F0701", "VoidInvoiceNumber": inv.number, "InvoiceDate": inv.date,
                "BuyerId": "0000000000", "SellerId": seller, "VoidDate": inv.date,
                "VoidTime": "23:30:00", "VoidReason": "開立錯誤",
            })),
            3..=5 => {
                let (name, price) = inv.items.first().cloned()?;
                let ex = (price as f64 / 1.05).round() as i64;
                Some(json!({
                    "message": "G0401",
                    "Main": {
                        "AllowanceNumber": format!("AL{}", inv.number),
                        "AllowanceDate": inv.date,
                        "Seller": {"Identifier": seller, "Name": "demo", "Address": "台北市中正區重慶南路一段2號"},
                        "Buyer": {"Identifier": "0000000000", "Name": "0000"},
                        "AllowanceType": "2",
                    },
                    "Details": [{
                        "OriginalInvoiceDate": inv.date, "OriginalInvoiceNumber": inv.number,
                        "OriginalSequenceNumber": "001", "OriginalDescription": name,
                        "Quantity": "1", "UnitPrice": price.to_string(), "Amount": ex.to_string(),
                        "Tax": (price - ex).to_string(), "AllowanceSequenceNumber": "001", "TaxType": "1",
                    }],
                    "Amount": {"TaxAmount": (price - ex).to_string(), "TotalAmount": ex.to_string()},
                }))
            }
            _ => None,
        }
    }
}

/// Decode and validate a generated JSON message.
pub fn validated(v: &Value, rules: &Rules) -> Result<Validated, DemoError> {
    let bytes = serde_json::to_vec(v).map_err(|e| DemoError::Plan(e.to_string()))?;
    let msg = einvoice_mig::decode_json(&bytes).map_err(|e| DemoError::Invalid {
        kind: v["message"].as_str().unwrap_or("?").into(),
        detail: e.to_string(),
    })?;
    validate(&msg, rules).map_err(|vs| DemoError::Invalid {
        kind: msg.kind().to_string(),
        detail: vs
            .0
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    })
}

fn random_token(bytes: usize) -> Result<String, DemoError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| DemoError::Secret(e.to_string()))?;
    Ok(hex(&b))
}

/// The demo NPO directory (愛心碼): the love codes the demo's donated
/// invoices carry, with made-up names marked as demo data.
pub const DEMO_NPOS: [(&str, &str); 4] = [
    ("168", "示範愛心協會 (demo)"),
    ("919", "示範兒童基金會 (demo)"),
    ("5299", "示範長者關懷協會 (demo)"),
    ("8585", "示範家庭扶助基金會 (demo)"),
];

/// Put [`DEMO_NPOS`] into the NPO directory (UBNs from [`demo_ubn`], after
/// the sellers'), each with its `NPO` ledger entry; NPOs already there are
/// left alone.
pub async fn seed_npos<S: Store>(store: &S) -> Result<(), DemoError> {
    for (i, (code, name)) in DEMO_NPOS.iter().enumerate() {
        let love_code =
            einvoice_core::LoveCode::parse(code).map_err(|v| DemoError::Plan(v.message))?;
        if store.npo(&love_code).await?.is_some() {
            continue;
        }
        let npo = einvoice_store::NpoRecord {
            love_code,
            name: (*name).to_string(),
            ubn: demo_ubn(900 + i),
        };
        let entry = npo.ledger_entry("demo");
        store.put_npo(npo, entry).await?;
    }
    Ok(())
}

/// The demo credit-card issuer directory (`creditCardBan`, `cardBin`): bank
/// code, a made-up name marked as demo data, and made-up card BINs.
pub const DEMO_CARD_ISSUERS: [(&str, &str, &[&str]); 3] = [
    ("013", "示範商業銀行 (demo)", &["400361", "540150"]),
    (
        "812",
        "示範國際銀行 (demo)",
        &["404338", "552328", "35600012"],
    ),
    ("822", "示範信託銀行 (demo)", &["414766", "540520"]),
];

/// Put [`DEMO_CARD_ISSUERS`] into the credit-card issuer directory, each
/// with its `CARD_ISSUER` ledger entry; banks already there are left alone.
pub async fn seed_card_issuers<S: Store>(store: &S) -> Result<(), DemoError> {
    let held = store.card_issuers().await?;
    for (code, name, bins) in DEMO_CARD_ISSUERS {
        if held.iter().any(|h| h.bank_code() == code) {
            continue;
        }
        let issuer = einvoice_store::CardIssuerRecord::new(code, name, bins.iter().copied())
            .map_err(|e| DemoError::Plan(e.to_string()))?;
        let entry = issuer.ledger_entry("demo");
        store.put_card_issuer(issuer, entry).await?;
    }
    Ok(())
}

/// The demo citizen's email address (reserved `.invalid` domain: never delivered).
pub const DEMO_EMAIL: &str = "citizen@demo.invalid";
/// The demo citizen's phone number.
pub const DEMO_PHONE: &str = "0900000000";
/// The EasyCard (`1K0001`) linked to the demo citizen's mobile barcode.
pub fn demo_easycard() -> Carrier {
    Carrier {
        kind: CarrierType::Other("1K0001".into()),
        id: "0000000001".into(),
    }
}

/// Make `barcode` a registered mobile barcode of the demo citizen the way
/// a citizen does: a registration challenge confirmed (a
/// `CARRIER_REGISTERED` ledger entry carrying [`DEMO_EMAIL`] and
/// [`DEMO_PHONE`]), then an EasyCard ([`demo_easycard`], same verification
/// code) linked to it (a `CARRIER_LINK` entry). The challenge's mail is
/// marked delivered at once (its address is never reachable). A barcode
/// with a contact already is left alone.
pub async fn seed_citizen<S: Store>(
    store: &S,
    barcode: &Carrier,
    verification_hash: &str,
) -> Result<(), DemoError> {
    use einvoice_store::{
        Challenge, ChallengePurpose, CompleteOutcome, LinkChange, LinkOutcome, MailMessage,
        OutboxOutcome,
    };
    if store.carrier_contact(barcode).await?.is_some() {
        // Registered by an earlier provisioning: the demo hands out a new
        // code each time, as it does for the other demo carriers.
        for carrier in [barcode.clone(), demo_easycard()] {
            store
                .put_carrier(CarrierRecord {
                    carrier,
                    verification_hash: verification_hash.into(),
                    failures: 0,
                    locked_until: 0,
                })
                .await?;
        }
        return Ok(());
    }
    let now = crate::clock::now_unix();
    let id = format!("demo-{}", random_token(8)?);
    let mail = MailMessage {
        id: format!("mail-{id}"),
        to: DEMO_EMAIL.into(),
        subject: "einvoice demo registration".into(),
        text: "The demo citizen was registered by einvoice up.".into(),
    };
    let challenge = Challenge {
        id: id.clone(),
        purpose: ChallengePurpose::Register,
        email: DEMO_EMAIL.into(),
        phone: DEMO_PHONE.into(),
        carrier: None,
        verification_hash: Some(verification_hash.into()),
        code_sha256: random_token(32)?,
        created_unix: now,
        expires_unix: now + 600,
        attempts: 0,
        used: false,
    };
    store.put_challenge(challenge, mail.clone(), now).await?;
    for item in store.mail_claim(now, 16, 60, "demo").await? {
        if item.id == mail.id {
            store
                .mail_mark(&item.id, "demo", OutboxOutcome::Delivered { at_unix: now })
                .await?;
        }
    }
    let credential = einvoice_store::CarrierCredential {
        carrier: barcode.clone(),
        verification_hash: verification_hash.into(),
        contact: Some(einvoice_store::CarrierContact {
            carrier: barcode.clone(),
            email: DEMO_EMAIL.into(),
            phone: DEMO_PHONE.into(),
        }),
    };
    match store.complete_challenge(&id, credential, "demo").await? {
        CompleteOutcome::Done(_) => {}
        other => return Err(DemoError::Plan(format!("demo registration: {other:?}"))),
    }
    let card = demo_easycard();
    store
        .put_carrier(CarrierRecord {
            carrier: card.clone(),
            verification_hash: verification_hash.into(),
            failures: 0,
            locked_until: 0,
        })
        .await?;
    let change = LinkChange {
        barcode: barcode.clone(),
        carrier: card,
        link: true,
        name: "悠遊卡 (demo)".into(),
        actor: "demo".into(),
    };
    match store.change_link(change).await? {
        LinkOutcome::Done(_) => Ok(()),
        LinkOutcome::Refused(r) => Err(DemoError::Plan(format!("demo link: {}", r.code()))),
    }
}

/// Credentials to try a demo site with (`DIR/demo-credentials.json`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct DemoCredentials {
    /// Where the site listens.
    pub base_url: String,
    /// A seller's API key.
    pub seller: SellerCredentials,
    /// A citizen's carrier.
    pub carrier: CarrierCredentials,
    /// A MOF App API application.
    pub app: AppCredentials,
    /// The demo period.
    pub period: String,
    /// The first operator (created by `up` on an empty site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorCredentials>,
    /// Every site of a several-site deployment (`einvoice up --sites N`):
    /// site name to its base URL; absent for a single site.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sites: std::collections::BTreeMap<String, String>,
}

/// An operator's one-time secrets.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct OperatorCredentials {
    /// Login name.
    pub name: String,
    /// Password.
    pub password: String,
    /// TOTP secret (base32) for an authenticator app.
    pub totp_secret: String,
}

/// A seller's API key.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SellerCredentials {
    /// Seller UBN.
    pub ubn: String,
    /// Key id.
    pub key_id: String,
    /// Key secret (HMAC key).
    pub secret: String,
}

/// A carrier and its verification code.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CarrierCredentials {
    /// Carrier type code.
    #[serde(rename = "type")]
    pub kind: String,
    /// Carrier id.
    pub id: String,
    /// Verification code.
    pub verification_code: String,
}

/// An App API application.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct AppCredentials {
    /// appID.
    pub app_id: String,
    /// API key.
    pub api_key: String,
}

/// Register the plan's sellers, allocate their tracks (E0401 entries), and
/// create one API key for the first seller, the first `carriers` carriers with
/// verification codes (the first one's code is returned) and one app.
pub async fn provision<S: Store>(
    store: &S,
    sealer: &Sealer,
    plan: &Plan,
    carriers: u64,
) -> Result<(Vec<DemoSeller>, DemoCredentials), DemoError> {
    let list = sellers(plan)?;
    let rules = Rules::production();
    let mut allocations = Vec::with_capacity(list.len());
    for s in &list {
        store
            .put_seller(SellerRecord {
                ubn: s.ubn,
                name: s.name.clone(),
                qr_key_sealed: None,
            })
            .await?;
        let m = track_message(
            s.ubn.as_str(),
            s.ubn.as_str(),
            "07",
            &plan.period.to_string(),
            s.track.as_str(),
            s.begin,
            s.end,
        );
        allocations.push(validate(&m, &rules).map_err(|vs| DemoError::Invalid {
            kind: "E0401".into(),
            detail: format!("{:?}", vs.0),
        })?);
    }
    for o in store.append(&Scope::All, "demo", allocations).await? {
        o.map_err(|r| DemoError::Rejected(r.to_string()))?;
    }
    let key_id = format!("K{}", random_token(8)?);
    let secret = random_token(24)?;
    let first = &list[0];
    store
        .put_api_key(ApiKeyRecord {
            key_id: key_id.clone(),
            secret_sealed: sealer
                .seal(purpose::API_KEY, secret.as_bytes())
                .map_err(|e| DemoError::Secret(e.to_string()))?,
            sellers: vec![first.ubn],
            disabled: false,
            created_unix: crate::clock::now_unix(),
        })
        .await?;
    let code = format!(
        "{:06}",
        u32::from_str_radix(&random_token(4)?, 16).unwrap_or(0) % 1_000_000
    );
    let hash = hash_verification_code(&code).map_err(|e| DemoError::Secret(e.to_string()))?;
    // The first citizen registers (email, phone) and links an EasyCard;
    // the others are carriers with a verification code only.
    seed_citizen(store, &demo_carrier(0), &hash).await?;
    for n in 1..carriers.max(1) {
        store
            .put_carrier(CarrierRecord {
                carrier: demo_carrier(n),
                verification_hash: hash.clone(),
                failures: 0,
                locked_until: 0,
            })
            .await?;
    }
    seed_npos(store).await?;
    seed_card_issuers(store).await?;
    let app_id = format!("DEMO{}", random_token(4)?.to_uppercase());
    let api_key = random_token(16)?;
    let sealed = AppKey {
        alg: SignatureAlg::HmacSha256,
        key: api_key.clone(),
    }
    .seal(sealer)
    .map_err(|e| DemoError::Secret(e.to_string()))?;
    store
        .put_app(AppRecord {
            app_id: app_id.clone(),
            api_key_sealed: sealed,
            name: "demo app".into(),
            disabled: false,
        })
        .await?;
    let creds = DemoCredentials {
        base_url: String::new(),
        seller: SellerCredentials {
            ubn: first.ubn.to_string(),
            key_id,
            secret,
        },
        carrier: CarrierCredentials {
            kind: "3J0002".into(),
            id: demo_carrier(0).id,
            verification_code: code,
        },
        app: AppCredentials { app_id, api_key },
        period: plan.period.to_string(),
        operator: None,
        sites: std::collections::BTreeMap::new(),
    };
    Ok((list, creds))
}

/// Give a site that is not main (a cloud or standby site of the same
/// deployment) the records its citizen and app services check and that the
/// ledger does not carry: the plan's seller records, the demo API key, the
/// first `carriers` carriers and the demo app — with the **same** secrets as
/// `creds` (what [`provision`] made at main), each sealed or hashed anew
/// under this site's own `sealer` (its own master key, never main's). These
/// are written at main as store records, not ledger entries (sellers, keys
/// and apps as operator `ADMIN` entries whose bodies a cloud does not
/// receive; the demo carriers without an entry), so nothing could check a
/// travelling copy. What the ledger carries is not provisioned: the NPO
/// directory (`NPO` entries), carriers registered or re-coded through the
/// carrier services (`CARRIER_REGISTERED` / `CARRIER_VERIFICATION`), links,
/// donations, the invoices and tracks reach the site through sync, and bank
/// accounts through the records feed (`einvoice_sync::records`).
pub async fn provision_replica<S: Store>(
    store: &S,
    sealer: &Sealer,
    plan: &Plan,
    creds: &DemoCredentials,
    carriers: u64,
) -> Result<(), DemoError> {
    let list = sellers(plan)?;
    for s in &list {
        store
            .put_seller(SellerRecord {
                ubn: s.ubn,
                name: s.name.clone(),
                qr_key_sealed: None,
            })
            .await?;
    }
    let first = Ubn::parse(&creds.seller.ubn).map_err(|v| DemoError::Plan(v.to_string()))?;
    store
        .put_api_key(ApiKeyRecord {
            key_id: creds.seller.key_id.clone(),
            secret_sealed: sealer
                .seal(purpose::API_KEY, creds.seller.secret.as_bytes())
                .map_err(|e| DemoError::Secret(e.to_string()))?,
            sellers: vec![first],
            disabled: false,
            created_unix: crate::clock::now_unix(),
        })
        .await?;
    let hash = hash_verification_code(&creds.carrier.verification_code)
        .map_err(|e| DemoError::Secret(e.to_string()))?;
    for n in 0..carriers.max(1) {
        store
            .put_carrier(CarrierRecord {
                carrier: demo_carrier(n),
                verification_hash: hash.clone(),
                failures: 0,
                locked_until: 0,
            })
            .await?;
    }
    // The demo EasyCard's record (its link arrives with the ledger).
    store
        .put_carrier(CarrierRecord {
            carrier: demo_easycard(),
            verification_hash: hash.clone(),
            failures: 0,
            locked_until: 0,
        })
        .await?;
    let sealed = AppKey {
        alg: SignatureAlg::HmacSha256,
        key: creds.app.api_key.clone(),
    }
    .seal(sealer)
    .map_err(|e| DemoError::Secret(e.to_string()))?;
    store
        .put_app(AppRecord {
            app_id: creds.app.app_id.clone(),
            api_key_sealed: sealed,
            name: "demo app".into(),
            disabled: false,
        })
        .await?;
    Ok(())
}

/// Append the plan's invoices (and their follow-ups) straight to the store in
/// batches of `batch`, calling `progress(done)` after each batch.
pub async fn seed_invoices<S: Store>(
    store: &S,
    generator: &InvoiceGen,
    range: std::ops::Range<u64>,
    batch: usize,
    mut progress: impl FnMut(u64),
) -> Result<SeedStats, DemoError> {
    let rules = Rules::production();
    let mut stats = SeedStats::default();
    let mut pending: Vec<Validated> = Vec::with_capacity(batch);
    let mut later: Vec<Validated> = Vec::new();
    let mut done = 0u64;
    for i in range {
        let inv = generator.invoice(i);
        pending.push(validated(&inv.json, &rules)?);
        if let Some(f) = generator.follow_up(&inv, i) {
            later.push(validated(&f, &rules)?);
        }
        if pending.len() >= batch {
            stats.add(
                store
                    .append(&Scope::All, "demo", std::mem::take(&mut pending))
                    .await?,
            );
            done += batch as u64;
            progress(done);
        }
    }
    if !pending.is_empty() {
        done += pending.len() as u64;
        stats.add(store.append(&Scope::All, "demo", pending).await?);
        progress(done);
    }
    for chunk in later.chunks(batch.max(1)) {
        stats.add(store.append(&Scope::All, "demo", chunk.to_vec()).await?);
    }
    Ok(stats)
}

/// Counts of a seeding run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeedStats {
    /// New entries.
    pub accepted: u64,
    /// Identical resubmissions (a re-run of the same plan).
    pub duplicates: u64,
    /// Refused by the store.
    pub rejected: u64,
}

impl SeedStats {
    fn add(&mut self, outcomes: Vec<einvoice_store::AppendOutcome>) {
        for o in outcomes {
            match o {
                Ok(r) if r.duplicate => self.duplicates += 1,
                Ok(_) => self.accepted += 1,
                Err(_) => self.rejected += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            period: Period::parse("11410").expect("period"),
            sellers: 3,
            invoices: 400,
            seed: 7,
        }
    }

    #[test]
    fn every_generated_message_validates_under_production_rules() {
        let p = plan();
        let list = sellers(&p).expect("sellers");
        let g = InvoiceGen::new(p, list, p.period.last_day());
        let rules = Rules::production();
        let mut follow = 0;
        for i in 0..p.invoices {
            let inv = g.invoice(i);
            validated(&inv.json, &rules).unwrap_or_else(|e| panic!("invoice {i}: {e}"));
            if let Some(f) = g.follow_up(&inv, i) {
                validated(&f, &rules).unwrap_or_else(|e| panic!("follow-up {i}: {e}"));
                follow += 1;
            }
        }
        assert!(follow > 0, "some invoices have follow-ups");
    }

    #[test]
    fn generation_is_deterministic_and_numbers_unique() {
        let p = plan();
        let g = InvoiceGen::new(p, sellers(&p).expect("sellers"), p.period.last_day());
        assert_eq!(g.invoice(5).json, g.invoice(5).json);
        let mut seen = std::collections::HashSet::new();
        for i in 0..p.invoices {
            assert!(seen.insert(g.invoice(i).number), "number repeats at {i}");
        }
    }

    #[test]
    fn demo_ubns_pass_the_checksum() {
        for n in 0..20 {
            assert!(ubn_checksum_ok(demo_ubn(n).as_str(), UbnRule::Div5));
        }
        assert_ne!(demo_ubn(0), demo_ubn(1));
    }
}
