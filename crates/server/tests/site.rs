//! The whole site over real HTTP on an ephemeral port, on the SQLite store:
//! signed seller requests, the tenant matrix, bad input (each with its code
//! and an unchanged ledger), limits, citizens, the public lookup, probes and
//! the OpenAPI document.

mod common;

use common::now;
use einvoice_server::config::Limits;
use einvoice_server::{SiteOptions, openapi, sign};
use einvoice_store::conformance::{SELLER_A, SELLER_B, allocation, cancel, invoice};
use einvoice_store::{Scope, Store};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const CODE: &str = "Code1234";

/// Seller B's allocation: track AC (seller A has AB), numbers 0–999 of 11402.
fn allocation_b() -> einvoice_core::Validated {
    let m = einvoice_server::ops::track_message(SELLER_B, SELLER_B, "07", "11402", "AC", 0, 999);
    einvoice_core::validate(&m, &einvoice_core::Rules::production()).expect("valid E0401")
}

/// Invoice number `n` in the seller's track.
fn num(seller: &str, n: u32) -> String {
    let track = if seller == SELLER_A { "AB" } else { "AC" };
    format!("{track}{n:08}")
}

type Site = common::TestSite;

/// Keys: `KA` acts for seller A, `KB` for B, `KAB` (an integrator) for both.
fn secret(key: &str) -> String {
    format!("secret-of-{key}")
}

async fn start(opts: SiteOptions) -> Site {
    let (store, dir) = common::sqlite_store();
    let sealer = common::sealer(9);
    for (ubn, name) in [(SELLER_A, "A shop"), (SELLER_B, "B shop")] {
        common::put_seller(&store, ubn, name).await;
    }
    let out = store
        .append(
            &Scope::All,
            "test",
            vec![allocation(SELLER_A), allocation_b()],
        )
        .await
        .expect("tracks");
    assert!(out.iter().all(Result::is_ok));
    for (key, sellers) in [
        ("KA", vec![SELLER_A]),
        ("KB", vec![SELLER_B]),
        ("KAB", vec![SELLER_A, SELLER_B]),
    ] {
        common::put_api_key(&store, &sealer, key, &secret(key), &sellers).await;
    }
    common::put_carrier(&store, "/ABC+123", CODE).await;
    common::serve_site(store, dir, sealer, opts).await
}

fn fast_opts() -> SiteOptions {
    common::fast_site_options()
}

struct Answer {
    status: u16,
    body: Value,
    headers: HeaderMap,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

impl Site {
    async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: Vec<(&str, String)>,
        body: Vec<u8>,
    ) -> Answer {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(m, format!("{}{path}", self.url))
            .body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        if status >= 400 && !(status == 405 && bytes.is_empty()) {
            let ct = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            assert_eq!(
                ct, "application/problem+json",
                "{method} {path}: error {status} must be a problem document"
            );
        }
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            headers,
        }
    }

    /// An unsigned `GET path`.
    async fn get(&self, path: &str) -> Answer {
        self.raw("GET", path, Vec::new(), Vec::new()).await
    }

    /// `GET path` with `token` as its bearer token.
    async fn get_bearer(&self, path: &str, token: &str) -> Answer {
        let auth = vec![("authorization", format!("Bearer {token}"))];
        self.raw("GET", path, auth, Vec::new()).await
    }

    /// A request signed with key `key` at time `ts` with `nonce`.
    #[allow(clippy::too_many_arguments)]
    async fn signed_at(
        &self,
        key: &str,
        method: &str,
        path: &str,
        ct: Option<&str>,
        body: Vec<u8>,
        ts: i64,
        nonce: &str,
    ) -> Answer {
        let mut h: Vec<(&str, String)> =
            sign::sign_headers(key, &secret(key), method, path, ts, nonce, &body).into();
        if let Some(ct) = ct {
            h.push(("content-type", ct.to_string()));
        }
        self.raw(method, path, h, body).await
    }

    async fn signed(
        &self,
        key: &str,
        method: &str,
        path: &str,
        ct: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        self.signed_at(key, method, path, ct, body, now(), &sign::fresh_nonce())
            .await
    }

    /// A `GET path` signed with key `key`, now.
    async fn signed_get(&self, key: &str, path: &str) -> Answer {
        self.signed(key, "GET", path, None, Vec::new()).await
    }

    async fn submit_json(&self, key: &str, msg: &einvoice_core::Validated) -> Answer {
        let body = einvoice_mig::encode_json(&msg.message);
        self.signed(key, "POST", "/v1/messages", Some("application/json"), body)
            .await
    }

    async fn ledger_len(&self) -> usize {
        self.store
            .entries("main", 0, 100_000)
            .await
            .expect("entries")
            .len()
    }
}

const PERIOD: &str = "11402";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_is_idempotent_and_conflicts_name_the_original() {
    let s = start(fast_opts()).await;
    let m = invoice(SELLER_A, "AB00000001", "1234", 100);
    let first = s.submit_json("KA", &m).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["duplicate"], false);
    let again = s.submit_json("KA", &m).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["seq"], first.body["seq"]);
    assert_eq!(again.body["hash"], first.body["hash"]);
    let len = s.ledger_len().await;
    let other = s
        .submit_json("KA", &invoice(SELLER_A, "AB00000001", "1234", 999))
        .await;
    assert_eq!(other.status, 409);
    assert_eq!(other.code(), "DUPLICATE_CONFLICT");
    assert_eq!(other.body["original"]["hash"], first.body["hash"]);
    assert_eq!(s.ledger_len().await, len, "a conflict writes nothing");
    // The same invoice in MIG XML is the same message: a duplicate.
    let xml = einvoice_mig::encode_xml(&m.message);
    let as_xml = s
        .signed("KA", "POST", "/v1/messages", Some("application/xml"), xml)
        .await;
    assert_eq!(as_xml.status, 200, "{}", as_xml.body);
    assert_eq!(as_xml.body["duplicate"], true);
}

/// Every seller route for every (key, seller) pair: allowed exactly when the
/// key was granted the seller; a refusal never reveals or changes anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_matrix() {
    let s = start(fast_opts()).await;
    // One invoice per seller, submitted by the integrator.
    for seller in [SELLER_A, SELLER_B] {
        let a = s
            .submit_json("KAB", &invoice(seller, &num(seller, 10), "4321", 50))
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let grants = [
        ("KA", vec![SELLER_A]),
        ("KB", vec![SELLER_B]),
        ("KAB", vec![SELLER_A, SELLER_B]),
    ];
    for (key, granted) in grants {
        for seller in [SELLER_A, SELLER_B] {
            let allowed = granted.contains(&seller);
            let n10 = num(seller, 10);
            let reads = [
                format!("/v1/sellers/{seller}/invoices/{n10}"),
                format!("/v1/sellers/{seller}/invoices/{n10}/history"),
                format!("/v1/sellers/{seller}/invoices?period={PERIOD}"),
                format!("/v1/sellers/{seller}/tracks?period={PERIOD}"),
                format!("/v1/sellers/{seller}/blanks?period={PERIOD}"),
            ];
            for path in reads {
                let a = s.signed_get(key, &path).await;
                if allowed {
                    assert_eq!(a.status, 200, "{key} GET {path}: {}", a.body);
                } else {
                    assert_eq!(a.status, 403, "{key} GET {path}: {}", a.body);
                    assert_eq!(a.code(), "TENANT_SCOPE");
                    assert!(!a.body.to_string().contains(&n10));
                }
            }
            let before = s.ledger_len().await;
            let a = s
                .submit_json(key, &invoice(seller, &num(seller, 20), "1111", 10))
                .await;
            if allowed {
                assert!(
                    a.status == 201 || a.status == 200,
                    "{key} submit for {seller}: {}",
                    a.body
                );
            } else {
                assert_eq!(a.status, 403, "{key} submit for {seller}: {}", a.body);
                assert_eq!(a.code(), "TENANT_SCOPE");
                assert_eq!(s.ledger_len().await, before);
            }
            let c = s.submit_json(key, &cancel(seller, &n10, "oops")).await;
            if !allowed {
                assert_eq!(c.status, 403);
            }
        }
    }
    // A batch mixing own and foreign messages: only the own ones land.
    let msgs: Vec<Value> = [SELLER_A, SELLER_B]
        .iter()
        .map(|seller| {
            serde_json::from_slice(&einvoice_mig::encode_json(
                &invoice(seller, &num(seller, 30), "2222", 5).message,
            ))
            .expect("json")
        })
        .collect();
    let body = serde_json::to_vec(&json!({"messages": msgs})).expect("body");
    let a = s
        .signed("KA", "POST", "/v1/batches", Some("application/json"), body)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["accepted"], 1);
    assert_eq!(a.body["rejected"], 1);
    assert_eq!(a.body["results"][1]["problem"]["code"], "TENANT_SCOPE");
    let b_view = s
        .signed_get(
            "KB",
            &format!("/v1/sellers/{SELLER_B}/invoices/{}", num(SELLER_B, 30)),
        )
        .await;
    assert_eq!(b_view.status, 404, "the foreign message did not land");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_its_code_and_changes_nothing() {
    let s = start(SiteOptions {
        limits: Limits {
            max_body_bytes: 64 * 1024,
            max_batch: 3,
            max_items: 9999,
            max_page: 50,
            ..Limits::default()
        },
        ..fast_opts()
    })
    .await;
    let before = s.ledger_len().await;
    let good = einvoice_mig::encode_xml(&invoice(SELLER_A, "AB00000040", "1234", 100).message);
    let good_text = String::from_utf8(good.clone()).expect("utf8");
    let xml = |body: &[u8]| body.to_vec();
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "malformed XML",
            "application/xml",
            xml(b"<Invoice><Main>"),
            400,
            "XML_MALFORMED",
        ),
        (
            "DTD",
            "application/xml",
            good_text
                .replacen(
                    "<Invoice",
                    "<!DOCTYPE Invoice [<!ENTITY x \"y\">]><Invoice",
                    1,
                )
                .into_bytes(),
            400,
            "XML_DTD_FORBIDDEN",
        ),
        (
            "entity",
            "application/xml",
            good_text.replacen("Shop", "&ext;", 1).into_bytes(),
            400,
            "XML_ENTITY_FORBIDDEN",
        ),
        (
            "invalid UTF-8",
            "application/json",
            b"{\"message\":\"F0401\",\"x\":\"\xff\xfe\"}".to_vec(),
            400,
            "ENCODING_INVALID",
        ),
        (
            "malformed JSON",
            "application/json",
            b"{\"message\":".to_vec(),
            400,
            "JSON_MALFORMED",
        ),
        (
            "unknown field",
            "application/json",
            {
                let mut v: Value = serde_json::from_slice(&einvoice_mig::encode_json(
                    &invoice(SELLER_A, "AB00000041", "1234", 100).message,
                ))
                .expect("json");
                v["Main"]["Surprise"] = json!("1");
                serde_json::to_vec(&v).expect("json")
            },
            400,
            "UNKNOWN_FIELD",
        ),
        (
            "wrong content type",
            "text/plain",
            good.clone(),
            415,
            "CONTENT_TYPE",
        ),
        (
            "non-UTF-8 charset",
            "application/xml; charset=big5",
            good.clone(),
            415,
            "CONTENT_TYPE",
        ),
        (
            "invalid identifier",
            "application/xml",
            good_text.replace(SELLER_A, "04595258").into_bytes(),
            422,
            "UBN_CHECKSUM",
        ),
        (
            "outside the track",
            "application/json",
            einvoice_mig::encode_json(&invoice(SELLER_A, "AB00005000", "1234", 100).message),
            422,
            "NUMBER_OUTSIDE_TRACK",
        ),
        (
            "track allocation by a seller",
            "application/json",
            einvoice_mig::encode_json(&allocation(SELLER_A).message),
            403,
            "KIND_FORBIDDEN",
        ),
        (
            "oversized body",
            "application/xml",
            vec![b' '; 65 * 1024],
            413,
            "BODY_TOO_LARGE",
        ),
    ];
    for (what, ct, body, status, code) in cases {
        let a = s
            .signed("KAB", "POST", "/v1/messages", Some(ct), body)
            .await;
        assert_eq!(a.status, status, "{what}: {}", a.body);
        assert_eq!(a.code(), code, "{what}: {}", a.body);
        assert!(
            !a.body["detail"].as_str().unwrap_or("").is_empty(),
            "{what} explains itself"
        );
        assert_eq!(s.ledger_len().await, before, "{what} wrote nothing");
    }
    // A batch over the limit.
    let one: Value = serde_json::from_slice(&einvoice_mig::encode_json(
        &invoice(SELLER_A, "AB00000042", "1234", 100).message,
    ))
    .expect("json");
    let body = serde_json::to_vec(&json!({"messages": [one, one, one, one]})).expect("json");
    let a = s
        .signed("KA", "POST", "/v1/batches", Some("application/json"), body)
        .await;
    assert_eq!((a.status, a.code()), (400, "BATCH_TOO_LARGE"));
    // A page over the limit.
    let a = s
        .signed_get(
            "KA",
            &format!("/v1/sellers/{SELLER_A}/invoices?period={PERIOD}&limit=51"),
        )
        .await;
    assert_eq!((a.status, a.code()), (400, "PAGE_TOO_LARGE"));
    let a = s
        .signed_get(
            "KA",
            &format!("/v1/sellers/{SELLER_A}/invoices?period={PERIOD}&bogus=1"),
        )
        .await;
    assert_eq!((a.status, a.code()), (400, "QUERY_INVALID"));
    assert_eq!(s.ledger_len().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_clock_and_replays() {
    let s = start(fast_opts()).await;
    let path = "/v1/whoami";
    let ok = s.signed_get("KA", path).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["sellers"], json!([SELLER_A]));
    // No headers at all.
    let a = s.get(path).await;
    assert_eq!((a.status, a.code()), (401, "AUTH_MISSING"));
    // Signed with the wrong secret.
    let body = Vec::new();
    let mut h: Vec<(&str, String)> = sign::sign_headers(
        "KA",
        "not-the-secret",
        "GET",
        path,
        now(),
        &sign::fresh_nonce(),
        &body,
    )
    .into();
    let a = s.raw("GET", path, h.clone(), Vec::new()).await;
    assert_eq!((a.status, a.code()), (401, "AUTH_SIGNATURE"));
    // Unknown key.
    h[0].1 = "KZZ".into();
    let a = s.raw("GET", path, h, Vec::new()).await;
    assert_eq!((a.status, a.code()), (401, "AUTH_KEY"));
    // Body changed after signing.
    let m = einvoice_mig::encode_json(&invoice(SELLER_A, "AB00000050", "1234", 100).message);
    let mut h: Vec<(&str, String)> = sign::sign_headers(
        "KA",
        &secret("KA"),
        "POST",
        "/v1/messages",
        now(),
        &sign::fresh_nonce(),
        &m,
    )
    .into();
    h.push(("content-type", "application/json".into()));
    let mut tampered = m.clone();
    if let Some(p) = tampered.iter().position(|b| *b == b'1') {
        tampered[p] = b'2';
    }
    let a = s.raw("POST", "/v1/messages", h, tampered).await;
    assert_eq!((a.status, a.code()), (401, "AUTH_SIGNATURE"));
    // Stale and future timestamps.
    for skew in [-301, 400] {
        let a = s
            .signed_at(
                "KA",
                "GET",
                path,
                None,
                Vec::new(),
                now() + skew,
                &sign::fresh_nonce(),
            )
            .await;
        assert_eq!((a.status, a.code()), (401, "AUTH_TIMESTAMP"), "skew {skew}");
    }
    // Bad nonce shape.
    let a = s
        .signed_at("KA", "GET", path, None, Vec::new(), now(), "short")
        .await;
    assert_eq!((a.status, a.code()), (401, "AUTH_NONCE"));
    // Replay: the same signed request twice.
    let nonce = sign::fresh_nonce();
    let ts = now();
    let first = s
        .signed_at(
            "KA",
            "POST",
            "/v1/messages",
            Some("application/json"),
            m.clone(),
            ts,
            &nonce,
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let len = s.ledger_len().await;
    let replay = s
        .signed_at(
            "KA",
            "POST",
            "/v1/messages",
            Some("application/json"),
            m,
            ts,
            &nonce,
        )
        .await;
    assert_eq!((replay.status, replay.code()), (401, "AUTH_REPLAY"));
    assert_eq!(s.ledger_len().await, len);
    // The query string is signed too.
    let mut h: Vec<(&str, String)> = sign::sign_headers(
        "KA",
        &secret("KA"),
        "GET",
        &format!("/v1/sellers/{SELLER_A}/invoices?period=11402"),
        now(),
        &sign::fresh_nonce(),
        &[],
    )
    .into();
    h.truncate(4);
    let a = s
        .raw(
            "GET",
            &format!("/v1/sellers/{SELLER_A}/invoices?period=11404"),
            h,
            Vec::new(),
        )
        .await;
    assert_eq!((a.status, a.code()), (401, "AUTH_SIGNATURE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after() {
    let s = start(SiteOptions {
        limits: Limits {
            seller_per_second: 1,
            seller_burst: 3,
            public_per_second: 1,
            public_burst: 2,
            ..Limits::default()
        },
        ..fast_opts()
    })
    .await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        let a = s.signed_get("KA", "/v1/whoami").await;
        codes.push(a.status);
        if a.status == 429 {
            assert_eq!(a.code(), "RATE_LIMITED");
            let ra: u64 = a.headers["retry-after"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("seconds");
            assert!(ra >= 1);
        }
    }
    assert_eq!(&codes[..3], &[200, 200, 200]);
    assert_eq!(codes[4], 429);
    // Another key is not affected.
    assert_eq!(s.signed_get("KB", "/v1/whoami").await.status, 200);
    let mut public = Vec::new();
    for _ in 0..4 {
        public.push(
            s.get("/v1/public/invoices/AB00000001?random=1234&date=20250115")
                .await
                .status,
        );
    }
    assert_eq!(&public[..2], &[404, 404]);
    assert_eq!(public[3], 429);
}

/// Behind a trusted proxy (the gateway) each client named in
/// `X-Forwarded-For` has its own per-address budget; without the trust, the
/// header changes nothing and every request counts against the peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_address_limits_follow_the_client_behind_a_trusted_proxy() {
    const LOOKUP: &str = "/v1/public/invoices/AB00000001?random=1234&date=20250115";
    for (trusted, other_client_served) in [(vec!["127.0.0.1"], true), (vec![], false)] {
        let s = start(SiteOptions {
            limits: Limits {
                public_per_second: 1,
                public_burst: 2,
                trusted_proxies: trusted
                    .iter()
                    .map(|c| einvoice_soc::Cidr::parse(c).expect("cidr"))
                    .collect(),
                ..Limits::default()
            },
            ..fast_opts()
        })
        .await;
        let from = |client: &str| vec![("x-forwarded-for", client.to_string())];
        let mut first = Vec::new();
        for _ in 0..4 {
            // A client forging an entry to the left changes nothing.
            let forged = format!("6.6.6.{}, 198.51.100.9", first.len());
            first.push(s.raw("GET", LOOKUP, from(&forged), Vec::new()).await.status);
        }
        assert_eq!(&first[..2], &[404, 404], "trusted {trusted:?}");
        assert_eq!(first[3], 429, "trusted {trusted:?}");
        let other = s
            .raw("GET", LOOKUP, from("198.51.100.10"), Vec::new())
            .await;
        assert_eq!(
            other.status == 404,
            other_client_served,
            "trusted {trusted:?}: {}",
            other.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizens_and_the_public_lookup() {
    let s = start(fast_opts()).await;
    let a = s
        .submit_json("KA", &invoice(SELLER_A, "AB00000060", "5678", 321))
        .await;
    assert_eq!(a.status, 201);
    let login = |code: &str| {
        serde_json::to_vec(
            &json!({"carrier_type": "3J0002", "carrier_id": "/ABC+123", "verification_code": code}),
        )
        .expect("json")
    };
    let ct = vec![("content-type", "application/json".to_string())];
    let wrong = s
        .raw("POST", "/v1/carrier/login", ct.clone(), login("nope"))
        .await;
    assert_eq!((wrong.status, wrong.code()), (401, "CARRIER_AUTH"));
    let bad = s
        .raw(
            "POST",
            "/v1/carrier/login",
            ct.clone(),
            br#"{"carrier_type":"3J0002","carrier_id":"ABC","verification_code":"x"}"#.to_vec(),
        )
        .await;
    assert_eq!(bad.status, 400);
    let ok = s.raw("POST", "/v1/carrier/login", ct, login(CODE)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let token = ok.body["token"].as_str().expect("token").to_string();
    let list = s
        .get_bearer("/v1/carrier/invoices?period=11402", &token)
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    let rows = list.body["invoices"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["number"], "AB00000060");
    assert_eq!(rows[0]["total"], 321);
    // A token altered by one character is refused.
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    let a = s
        .get_bearer("/v1/carrier/invoices?period=11402", &forged)
        .await;
    assert_eq!((a.status, a.code()), (401, "TOKEN_INVALID"));
    let a = s.get("/v1/carrier/invoices?period=11402").await;
    assert_eq!((a.status, a.code()), (401, "AUTH_MISSING"));
    // Public lookup: number + random (+ date); never the carrier or buyer.
    let p = s
        .get("/v1/public/invoices/AB00000060?random=5678&date=20250115")
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["total"], 321);
    assert!(p.body.get("carrier").is_none() && p.body.get("buyer").is_none());
    assert!(!p.body.to_string().contains("/ABC+123"));
    let p = s
        .get("/v1/public/invoices/AB00000060?random=5679&date=20250115")
        .await;
    assert_eq!((p.status, p.code()), (404, "INVOICE_NOT_FOUND"));
    let p = s
        .get("/v1/public/invoices/AB00000060?random=5678&date=20250116")
        .await;
    assert_eq!(p.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_metrics_and_every_documented_route_is_mounted() {
    let s = start(fast_opts()).await;
    assert_eq!(s.get("/healthz").await.status, 200);
    assert_eq!(s.get("/readyz").await.status, 200);
    let _ = s.signed_get("KA", "/v1/whoami").await;
    let m = s
        .http
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .expect("metrics");
    let text = m.text().await.expect("text");
    assert!(text.contains("einvoice_http_requests_total"), "{text}");
    let nf = s.get("/nowhere").await;
    assert_eq!((nf.status, nf.code()), (404, "ROUTE_NOT_FOUND"));
    let doc = s.get("/openapi.json").await;
    assert_eq!(doc.body, openapi::document());
    for r in openapi::ROUTES {
        let path = r
            .path
            .replace("{ubn}", SELLER_A)
            .replace("{number}", "AB00000001")
            .replace("{period}", PERIOD);
        let a = s
            .raw(&r.method.to_uppercase(), &path, Vec::new(), Vec::new())
            .await;
        assert_ne!(
            a.code(),
            "ROUTE_NOT_FOUND",
            "{} {} is documented but not mounted",
            r.method,
            r.path
        );
        assert_ne!(
            a.status, 405,
            "{} {} is documented but not mounted",
            r.method, r.path
        );
    }
}

/// The committed `openapi.json` is the document the code generates
/// (regenerate with `EINVOICE_WRITE_OPENAPI=1 cargo test -p einvoice-server --test site`).
#[test]
fn committed_openapi_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json");
    let generated = openapi::document_bytes();
    if std::env::var_os("EINVOICE_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write openapi.json");
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json drifted from the code: regenerate it with EINVOICE_WRITE_OPENAPI=1 cargo test -p einvoice-server --test site"
    );
}
