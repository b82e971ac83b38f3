//! The OpenAPI document says what the server accepts and answers: patterns
//! agree with the core's parsers, the signing example is what the signing code
//! produces, every route documents its answers and problems, and `/docs`
//! serves the reference from the binary.

mod common;

use einvoice_core::{InvoiceNumber, Period, RandomNumber, Ubn};
use einvoice_server::openapi::{self, ROUTES, SIGNING_EXAMPLE, SIGNING_EXAMPLE_SIGNATURE};
use einvoice_server::sign;
use proptest::prelude::*;
use serde_json::Value;

fn schema(name: &str) -> Value {
    openapi::document()["components"]["schemas"][name].clone()
}

fn pattern(name: &str) -> String {
    schema(name)["pattern"]
        .as_str()
        .unwrap_or_else(|| panic!("schema {name} has no pattern"))
        .to_string()
}

/// Strings matching a schema's pattern (anchored `^…$`; the generator takes
/// the body, which it matches whole).
fn strategy(name: &str) -> proptest::string::RegexGeneratorStrategy<String> {
    let p = pattern(name);
    let body = p
        .strip_prefix('^')
        .and_then(|p| p.strip_suffix('$'))
        .unwrap_or_else(|| panic!("pattern of {name} is not anchored: {p}"));
    proptest::string::string_regex(body).expect("the pattern is a valid regex")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every invoice number the document allows, `InvoiceNumber::parse` accepts.
    #[test]
    fn invoice_number_pattern_is_the_parser(s in strategy("InvoiceNumber")) {
        prop_assert!(InvoiceNumber::parse(&s).is_ok(), "{s}");
    }

    /// Every period the document allows, `Period::parse` accepts.
    #[test]
    fn period_pattern_is_the_parser(s in strategy("Period")) {
        prop_assert!(Period::parse(&s).is_ok(), "{s}");
    }

    /// Every random code the document allows, `RandomNumber::parse` accepts.
    #[test]
    fn random_number_pattern_is_the_parser(s in strategy("RandomNumber")) {
        prop_assert!(RandomNumber::parse(&s).is_ok(), "{s}");
    }

    /// A UBN of the document's shape is refused only for its checksum, the
    /// rule the document names (`format: tw-ubn`), never for its form.
    #[test]
    fn ubn_pattern_is_the_parsers_shape(s in strategy("Ubn")) {
        if let Err(v) = Ubn::parse(&s) {
            prop_assert_eq!(v.code, "UBN_CHECKSUM", "{}", s);
        }
    }
}

#[test]
fn signing_example_is_what_the_signing_code_produces() {
    let (key, secret, method, pq, ts, nonce, body) = SIGNING_EXAMPLE;
    let headers = sign::sign_headers(key, secret, method, pq, ts, nonce, body);
    // The expected value was computed independently (Python's hmac/hashlib).
    assert_eq!(headers[3].1, SIGNING_EXAMPLE_SIGNATURE);
    assert!(sign::verify(
        secret,
        &sign::string_to_sign(method, pq, ts, nonce, body),
        SIGNING_EXAMPLE_SIGNATURE
    ));
    let doc = openapi::document();
    let recipe = doc["components"]["securitySchemes"]["signedRequest"]["description"]
        .as_str()
        .expect("the scheme has a description")
        .to_string();
    let text = sign::string_to_sign(method, pq, ts, nonce, body);
    assert!(
        recipe.contains(&text),
        "the document shows the string to sign"
    );
    for (name, value) in &headers {
        let shown = format!("{}: {value}", header_case(name));
        assert!(recipe.contains(&shown), "the document shows {shown}");
    }
}

fn header_case(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[test]
fn every_security_scheme_is_declared_and_used() {
    let doc = openapi::document();
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("schemes");
    for name in ["signedRequest", "carrierToken", "operatorSession", "appId"] {
        assert!(schemes.contains_key(name), "{name} declared");
    }
    assert_eq!(schemes["signedRequest"]["type"], "apiKey");
    assert_eq!(schemes["signedRequest"]["in"], "header");
    for r in ROUTES {
        let op = &doc["paths"][r.path][r.method];
        for req in op["security"].as_array().expect("security") {
            for name in req.as_object().expect("requirement").keys() {
                assert!(
                    schemes.contains_key(name),
                    "{} {}: {name}",
                    r.method,
                    r.path
                );
            }
        }
    }
}

/// Every operation describes its success answer with a schema, every path
/// parameter with more than "a string", every body with a schema, and lists
/// the problems of the edge layers and of its authentication.
#[test]
fn every_operation_is_described() {
    let doc = openapi::document();
    for r in ROUTES {
        let op = &doc["paths"][r.path][r.method];
        let what = format!("{} {}", r.method, r.path);
        let ok = &op["responses"][r.ok.0.to_string()]["content"];
        let (_, media) = ok
            .as_object()
            .and_then(|m| m.iter().next())
            .unwrap_or_else(|| panic!("{what}: no success content"));
        assert_ne!(
            media["schema"],
            serde_json::json!({}),
            "{what}: success schema"
        );
        for param in op["parameters"].as_array().into_iter().flatten() {
            if param["in"] == "path" {
                assert_ne!(
                    param["schema"],
                    serde_json::json!({"type": "string"}),
                    "{what}: path parameter {} has no pattern",
                    param["name"]
                );
            }
        }
        for (_, media) in op["requestBody"]["content"]
            .as_object()
            .into_iter()
            .flatten()
        {
            assert_ne!(
                media["schema"],
                serde_json::json!({}),
                "{what}: body schema"
            );
        }
        for status in ["404", "405", "413", "500", "503"] {
            let problem = &op["responses"][status]["content"]["application/problem+json"];
            assert!(problem.is_object(), "{what}: {status} documented");
        }
        if !matches!(r.auth, openapi::Auth::Public | openapi::Auth::AppId) {
            assert!(op["responses"]["401"].is_object(), "{what}: 401 documented");
        }
    }
}

/// What the issue found: logins with `{}` were schema-valid.
#[test]
fn login_bodies_mark_their_fields_required() {
    let doc = openapi::document();
    for (path, fields) in [
        (
            "/v1/carrier/login",
            &["carrier_type", "carrier_id", "verification_code"][..],
        ),
        ("/v1/ops/login", &["name", "password", "totp"][..]),
    ] {
        let body =
            &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
        let required: Vec<&str> = body["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(required, fields, "{path}");
        assert_eq!(body["additionalProperties"], false, "{path}");
    }
}

fn declared_type(path: &str) -> String {
    let doc = openapi::document();
    doc["paths"][path]["get"]["responses"]["200"]["content"]
        .as_object()
        .and_then(|m| m.keys().next().cloned())
        .expect("a declared content type")
}

#[tokio::test]
async fn metrics_and_docs_answer_the_content_types_the_document_declares() {
    let (store, dir) = common::sqlite_store();
    let site = common::serve_site(store, dir, common::sealer(7), common::fast_site_options()).await;
    for path in ["/metrics", "/docs", "/healthz", "/openapi.json"] {
        let resp = site
            .http
            .get(format!("{}{path}", site.url))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 200, "{path}");
        let got = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_eq!(got, declared_type(path), "{path}");
    }
}

/// The body of a GET on the site, as text.
async fn get_text(site: &common::TestSite, path: &str) -> String {
    site.http
        .get(format!("{}{path}", site.url))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text")
}

#[tokio::test]
async fn docs_page_loads_its_renderer_from_the_site_itself() {
    let (store, dir) = common::sqlite_store();
    let site = common::serve_site(store, dir, common::sealer(7), common::fast_site_options()).await;
    let page = get_text(&site, "/docs").await;
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no CDN: {page}"
    );
    let mut assets = 0;
    for src in page.split(['"', '\'']).filter(|s| s.starts_with("/docs/")) {
        let resp = site
            .http
            .get(format!("{}{src}", site.url))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 200, "{src}");
        let body = resp.bytes().await.expect("body");
        assert!(!body.is_empty(), "{src}");
        assets += 1;
    }
    assert_eq!(
        assets, 3,
        "the page loads the bundle, the style and its start-up script"
    );
    let init = get_text(&site, "/docs/init.js").await;
    assert!(
        init.contains("\"/openapi.json\""),
        "the page renders this site's document"
    );
    let bundle = get_text(&site, "/docs/swagger-ui-bundle.js").await;
    assert!(bundle.contains("SwaggerUIBundle"), "the renderer is served");
}

/// The document's MIG tables require exactly the fields the model's serde
/// form always writes (its required fields), structure by structure.
#[test]
fn mig_message_schemas_require_what_the_model_requires() {
    use einvoice_core::model as m;
    fn keys<T: serde::Serialize + Default>() -> Vec<String> {
        let v = serde_json::to_value(T::default()).expect("serialize");
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    }
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("Party", keys::<m::Party>()),
        ("Invoice", keys::<m::Invoice>()),
        ("InvoiceMain", keys::<m::InvoiceMain>()),
        ("ProductItem", keys::<m::ProductItem>()),
        ("InvoiceAmount", keys::<m::InvoiceAmount>()),
        ("CancelInvoice", keys::<m::CancelInvoice>()),
        ("VoidInvoice", keys::<m::VoidInvoice>()),
        ("Allowance", keys::<m::Allowance>()),
        ("AllowanceMain", keys::<m::AllowanceMain>()),
        ("AllowanceItem", keys::<m::AllowanceItem>()),
        ("AllowanceAmount", keys::<m::AllowanceAmount>()),
        ("CancelAllowance", keys::<m::CancelAllowance>()),
        ("BranchTrackBlank", keys::<m::BranchTrackBlank>()),
        ("BranchTrackBlankMain", keys::<m::BranchTrackBlankMain>()),
        ("BlankRange", keys::<m::BlankRange>()),
    ];
    assert_eq!(cases.len(), openapi::MIG_STRUCTS.len());
    for (name, model_keys) in cases {
        let s = schema(&format!("Mig{name}"));
        let mut required: Vec<String> = s["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        required.sort();
        assert_eq!(required, model_keys, "Mig{name}");
    }
}

/// The example of a message is a real one: it decodes and validates.
#[test]
fn message_example_is_a_valid_demo_invoice() {
    let example = schema("Message")["example"].clone();
    assert_eq!(example["message"], "F0401");
    let bytes = serde_json::to_vec(&example).expect("bytes");
    let msg = einvoice_mig::decode_json(&bytes).expect("the example decodes");
    einvoice_core::validate(&msg, &einvoice_core::Rules::production())
        .expect("the example validates");
}
