//! `einvoice bench decode`: XML decode + validate of a 5-item F0401 next to raw
//! quick-xml tokenising of the same bytes, measured in the same run.

use einvoice_core::{Rules, validate};
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use serde::Serialize;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Medians of the measurement rounds.
#[derive(Debug, Clone, Serialize)]
pub struct DecodeBench {
    /// Size of the document.
    pub bytes: usize,
    /// Rounds per measurement.
    pub rounds: usize,
    /// Median messages per second for decode + validate.
    pub decode_validate_per_s: f64,
    /// Median messages per second for tokenising only.
    pub tokenise_per_s: f64,
    /// decode_validate / tokenise.
    pub ratio: f64,
}

/// A valid B2C F0401 with five items (production UBN).
pub fn sample_f0401() -> String {
    let mut items = String::new();
    let mut total = 0u32;
    for i in 1..=5u32 {
        let (q, p) = (i, 10 * i + 5);
        total += q * p;
        items.push_str(&format!(
            "<ProductItem><Description>商品 {i}</Description><Quantity>{q}</Quantity><UnitPrice>{p}</UnitPrice><TaxType>1</TaxType><Amount>{}</Amount><SequenceNumber>{i}</SequenceNumber></ProductItem>\n",
            q * p
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:GEINV:eInvoiceMessage:F0401:4.1">
<Main><InvoiceNumber>AB12345678</InvoiceNumber><InvoiceDate>20250115</InvoiceDate><InvoiceTime>10:20:30</InvoiceTime>
<Seller><Identifier>04595257</Identifier><Name>測試商店</Name><Address>台北市中正區</Address></Seller>
<Buyer><Identifier>0000000000</Identifier><Name>0000</Name></Buyer>
<InvoiceType>07</InvoiceType><DonateMark>0</DonateMark><CarrierType>3J0002</CarrierType><CarrierId1>/ABC+123</CarrierId1><CarrierId2>/ABC+123</CarrierId2><PrintMark>N</PrintMark><RandomNumber>0421</RandomNumber></Main>
<Details>
{items}</Details>
<Amount><SalesAmount>{total}</SalesAmount><FreeTaxSalesAmount>0</FreeTaxSalesAmount><ZeroTaxSalesAmount>0</ZeroTaxSalesAmount><TaxType>1</TaxType><TaxRate>0.05</TaxRate><TaxAmount>0</TaxAmount><TotalAmount>{total}</TotalAmount></Amount>
</Invoice>
"#
    )
}

fn rate(seconds: f64, mut f: impl FnMut()) -> f64 {
    let budget = Duration::from_secs_f64(seconds.max(0.05));
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..64 {
            f();
        }
        n += 64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Run the benchmark: 5 alternating rounds of each, `seconds` per round.
pub fn decode_validate(seconds: f64) -> DecodeBench {
    let doc = sample_f0401();
    let bytes = doc.as_bytes();
    let rules = Rules::production();
    let rounds = 5;
    let (mut full, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        full.push(rate(seconds, || {
            let ok = crate::decode_xml(black_box(bytes))
                .ok()
                .and_then(|m| validate(&m, &rules).ok())
                .is_some();
            black_box(ok);
        }));
        raw.push(rate(seconds, || {
            let mut r = Reader::from_reader(black_box(bytes));
            let mut events = 0u32;
            loop {
                match r.read_event() {
                    Ok(Event::Eof) | Err(_) => break,
                    Ok(e) => {
                        black_box(&e);
                        events += 1;
                    }
                }
            }
            black_box(events);
        }));
    }
    let (d, t) = (median(full), median(raw));
    DecodeBench {
        bytes: bytes.len(),
        rounds,
        decode_validate_per_s: d,
        tokenise_per_s: t,
        ratio: if t > 0.0 { d / t } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bench_document_is_a_valid_f0401() {
        let m = crate::decode_xml(super::sample_f0401().as_bytes()).expect("decodes");
        einvoice_core::validate(&m, &einvoice_core::Rules::production()).expect("valid");
    }
}
