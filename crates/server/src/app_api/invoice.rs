//! `qryInvHeader` and `qryInvDetail`: one invoice found by number and date
//! with its random number (隨機碼) or seller id, as the printed proof shows it.
//!
//! `qryInvHeader` also answers number + date alone, as apps built on public
//! client libraries send it (MOF-RULES.md): the header MOF gives (seller,
//! status, period, date and time) without `buyerBan`, nothing that
//! identifies the buyer; enumeration is held by the per-client and
//! per-appID limits every action counts against (907), not by a refusal.
//! `qryInvDetail` (items and amounts) still needs the random number.

use super::answer::{Fail, code, detail_fields, fail, header_fields};
use super::parameters::{Params, date_param, inv_num_param, period_param, same_date};
use super::state::AppState;
use einvoice_core::proof::{QrKey, verification_field};
use einvoice_core::{RandomNumber, Ubn};
use einvoice_store::Store;
use einvoice_store::read_projection::CarrierInvoice;
use serde_json::{Map, Value};

fn check_type(p: &Params) -> Result<bool, Fail> {
    match p.req("type")? {
        t if t.eq_ignore_ascii_case("QRCode") => Ok(true),
        t if t.eq_ignore_ascii_case("Barcode") => Ok(false),
        _ => Err(fail(code::PARAM, "type must be QRCode or Barcode")),
    }
}

/// Find one invoice by number and date, with a random number or a seller id,
/// as the read projection holds it (no canonical body decoded, except by
/// seller id: the seller's own invoice read).
async fn find_public<S: Store>(st: &AppState<S>, p: &Params) -> Result<CarrierInvoice, Fail> {
    let number = inv_num_param(p)?;
    let date = date_param(p, "invDate")?;
    let not_found = || fail(code::NOT_FOUND, "no such invoice");
    let view = if let Some(r) = p.get("randomNumber") {
        let random = RandomNumber::parse(r)
            .map_err(|_| fail(code::PARAM, "randomNumber must be 4 digits"))?;
        st.store.lookup_invoice(number, random).await?
    } else if let Some(seller) = p.get("sellerID") {
        let seller = Ubn::parse(seller).map_err(|_| fail(code::PARAM, "sellerID must be a UBN"))?;
        st.store
            .invoice(&einvoice_store::Scope::All, seller, number)
            .await?
            .map(|v| CarrierInvoice::from_view(&v))
    } else {
        st.store.lookup_invoice_by_date(number, date).await?
    };
    let view = view
        .filter(|v| same_date(&v.summary, date))
        .ok_or_else(not_found)?;
    if let Some(seller) = p.get("sellerID")
        && seller != view.summary.seller.as_str()
    {
        return Err(not_found());
    }
    Ok(view)
}

pub(super) async fn inv_header<S: Store>(
    st: &AppState<S>,
    p: &Params,
) -> Result<Map<String, Value>, Fail> {
    check_type(p)?;
    let view = find_public(st, p).await?;
    let mut m = header_fields(&view);
    if p.get("randomNumber").is_none() && p.get("sellerID").is_none() {
        // Number and date are printed on every proof and guessable: nothing
        // about the buyer (a business buyer's UBN) without the random code.
        m.remove("buyerBan");
    }
    Ok(m)
}

pub(super) async fn inv_detail<S: Store>(
    st: &AppState<S>,
    p: &Params,
) -> Result<Map<String, Value>, Fail> {
    let qr = check_type(p)?;
    p.req("randomNumber")?;
    if qr {
        check_encrypt(st, p).await?;
    }
    let view = find_public(st, p).await?;
    if !qr {
        let term = period_param(p, "invTerm")?;
        if term != view.summary.period {
            return Err(fail(code::NOT_FOUND, "no such invoice"));
        }
    }
    Ok(detail_fields(&view))
}

/// The QR code's `encrypt` field (MOF-RULES, proof of an e-invoice): the
/// Base64 of AES-128-CBC under the seller's QR key over invoice number ‖
/// random number. Checked against `sellerID`'s key before any invoice is
/// looked up, so a refusal depends only on the parameters and says nothing
/// about whether the invoice exists: an unknown seller is not found (951);
/// a seller without a QR key on this platform, or a field that does not
/// match, is refused (901).
async fn check_encrypt<S: Store>(st: &AppState<S>, p: &Params) -> Result<(), Fail> {
    let seller =
        Ubn::parse(p.req("sellerID")?).map_err(|_| fail(code::PARAM, "sellerID must be a UBN"))?;
    let number = inv_num_param(p)?;
    let random = RandomNumber::parse(p.req("randomNumber")?)
        .map_err(|_| fail(code::PARAM, "randomNumber must be 4 digits"))?;
    let enc = p.req("encrypt")?;
    if enc.len() != 24 {
        return Err(fail(
            code::PARAM,
            "encrypt must be the QR code's 24-character verification field",
        ));
    }
    let rec = st
        .store
        .seller(seller)
        .await?
        .ok_or_else(|| fail(code::NOT_FOUND, "no such invoice"))?;
    let no_key = || {
        fail(
            code::PARAM,
            "this seller's QR key is not registered on this platform, so encrypt cannot be checked: query with type=Barcode",
        )
    };
    let sealed = rec.qr_key_sealed.ok_or_else(no_key)?;
    let hex = st
        .sealer
        .open(einvoice_secrets::purpose::QR_KEY, &sealed)
        .map_err(|_| fail(code::UNAVAILABLE, "the seller's QR key cannot be opened"))?;
    let key = std::str::from_utf8(&hex)
        .ok()
        .and_then(|h| QrKey::parse_hex(h).ok())
        .ok_or_else(|| fail(code::UNAVAILABLE, "the seller's QR key cannot be opened"))?;
    let expected = verification_field(&key, &number, &random);
    if !ct_eq(expected.as_bytes(), enc.as_bytes()) {
        return Err(fail(
            code::PARAM,
            "encrypt does not match this invoice number and random number under the seller's QR key",
        ));
    }
    Ok(())
}

/// Equal bytes, in time that depends only on the lengths.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
