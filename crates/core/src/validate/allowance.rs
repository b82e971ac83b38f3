//! G0401 (allowance) and G0501 (cancel allowance).

use super::ctx::Ctx;
use super::invoice::{
    MAX_ITEMS, buyer, check_item_amount, date, decimal, invoice_number, money, seller, time,
};
use crate::ids::{BuyerId, Ubn};
use crate::model::{Allowance, CancelAllowance};
use crate::money::{Decimal, Money, round_half_up};
use crate::validated::{AllowanceFacts, AllowanceItemFacts, CancelAllowanceFacts};

/// G0401.
pub(super) fn allowance(cx: &mut Ctx, a: &Allowance) -> Option<AllowanceFacts> {
    let m = &a.main;
    let number = cx.required("Main/AllowanceNumber", &m.allowance_number, 16);
    let adate = date(cx, "Main/AllowanceDate", &m.allowance_date);
    let (seller_ubn, _) = seller(cx, "Main/Seller", &m.seller);
    let buyer_id = buyer(cx, "Main/Buyer", &m.buyer);
    cx.one_of("Main/AllowanceType", &m.allowance_type, &["2"]);
    if let Some(s) = &m.original_invoice_seller_id {
        let r = Ubn::parse_with(s, &cx.rules.ids);
        cx.parse("Main/OriginalInvoiceSellerId", r);
    }
    if let Some(b) = &m.original_invoice_buyer_id {
        let r = BuyerId::parse_with(b, &cx.rules.ids);
        cx.parse("Main/OriginalInvoiceBuyerId", r);
    }
    if a.details.is_empty() {
        cx.push(
            "ITEMS_REQUIRED",
            "Details",
            "an allowance has at least one ProductItem",
        );
    }
    if a.details.len() > MAX_ITEMS {
        cx.push(
            "ITEMS_TOO_MANY",
            "Details",
            format!("{} items; at most {MAX_ITEMS}", a.details.len()),
        );
    }
    let mut items = Vec::with_capacity(a.details.len());
    let mut all = true;
    let (mut amount_sum, mut tax_sum) = (Decimal::ZERO, 0i64);
    for (i, it) in a.details.iter().enumerate().take(MAX_ITEMS) {
        let at = format!("Details/ProductItem[{}]", i + 1);
        let odate = date(
            cx,
            &format!("{at}/OriginalInvoiceDate"),
            &it.original_invoice_date,
        );
        let onum = invoice_number(
            cx,
            &format!("{at}/OriginalInvoiceNumber"),
            &it.original_invoice_number,
        );
        let oseq = cx.optional(
            &format!("{at}/OriginalSequenceNumber"),
            &it.original_sequence_number,
            4,
        );
        cx.required(
            &format!("{at}/OriginalDescription"),
            &it.original_description,
            500,
        );
        let q = decimal(cx, &format!("{at}/Quantity"), &it.quantity);
        cx.optional(&format!("{at}/Unit"), &it.unit, 6);
        let p = decimal(cx, &format!("{at}/UnitPrice"), &it.unit_price);
        let amt = decimal(cx, &format!("{at}/Amount"), &it.amount);
        let tax = money(cx, &format!("{at}/Tax"), &it.tax);
        cx.required(
            &format!("{at}/AllowanceSequenceNumber"),
            &it.allowance_sequence_number,
            4,
        );
        let tt = cx
            .one_of(
                &format!("{at}/TaxType"),
                &it.tax_type,
                &["1", "2", "3", "4"],
            )
            .and_then(|s| s.parse::<u8>().ok());
        // Amount is ex-tax. A B2B UnitPrice is ex-tax too (Amount ≈ Quantity ×
        // UnitPrice); a B2C UnitPrice is the tax-inclusive shelf price (Amount +
        // Tax ≈ Quantity × UnitPrice, as in MOF's B2C sample: 1 × 20 = 19 + 1).
        if let (Some(q), Some(p), Some(a)) = (q, p, amt) {
            let inclusive = tax.and_then(|t| a.checked_add(Decimal::from(t.0)));
            let fits_inclusive = match (q.checked_mul(p), inclusive) {
                (Some(prod), Some(inc)) => (prod - inc).abs() <= Decimal::new(5, 1),
                _ => false,
            };
            if !fits_inclusive {
                check_item_amount(cx, &at, q, p, a);
            }
        }
        if let (Some(od), Some(ad)) = (odate, adate)
            && ad < od
        {
            cx.push(
                "DATE_ORDER",
                &format!("{at}/OriginalInvoiceDate"),
                format!(
                    "the allowance date {} is before the original invoice date {}",
                    m.allowance_date, it.original_invoice_date
                ),
            );
        }
        if let (Some(2 | 3), Some(t)) = (tt, tax)
            && t.0 != 0
        {
            cx.push(
                "TAX_AMOUNT_MISMATCH",
                &format!("{at}/Tax"),
                format!("Tax is {t} but a zero-rated or tax-free item carries no tax"),
            );
        }
        if let Some(a) = amt {
            amount_sum = amount_sum.checked_add(a).unwrap_or(Decimal::MAX);
        }
        if let Some(t) = tax {
            tax_sum = tax_sum.saturating_add(t.0);
        }
        match (odate, onum, q, p, amt, tax, tt) {
            (Some(od), Some(on), Some(q), Some(p), Some(a), Some(t), Some(tt)) => {
                items.push(AllowanceItemFacts {
                    original_number: on,
                    original_date: od,
                    original_sequence: oseq.map(str::to_string),
                    quantity: q,
                    unit_price: p,
                    amount: a,
                    tax: t,
                    tax_type: tt,
                })
            }
            _ => all = false,
        }
    }
    let tax_total = money(cx, "Amount/TaxAmount", &a.amount.tax_amount);
    let total = money(cx, "Amount/TotalAmount", &a.amount.total_amount);
    if all {
        if let Some(t) = tax_total
            && t.0 != tax_sum
        {
            cx.push(
                "TAX_AMOUNT_MISMATCH",
                "Amount/TaxAmount",
                format!("TaxAmount is {t} but the items' Tax adds up to {tax_sum}"),
            );
        }
        if let Some(t) = total
            && Decimal::from(t.0) != round_half_up(amount_sum)
        {
            cx.push(
                "TOTAL_AMOUNT_MISMATCH",
                "Amount/TotalAmount",
                format!(
                    "TotalAmount is {t} but the items' Amount (ex-tax) adds up to {amount_sum}"
                ),
            );
        }
    }
    if !cx.ok() {
        return None;
    }
    Some(AllowanceFacts {
        number: number?.to_string(),
        date: adate?,
        seller: seller_ubn?,
        buyer: buyer_id?,
        items,
        tax: tax_total?,
        total: total.unwrap_or(Money::ZERO),
    })
}

/// G0501.
pub(super) fn cancel(cx: &mut Ctx, c: &CancelAllowance) -> Option<CancelAllowanceFacts> {
    let number = cx.required("CancelAllowanceNumber", &c.cancel_allowance_number, 16);
    if let Some(t) = &c.allowance_type {
        cx.one_of("AllowanceType", t, &["1", "2"]);
    }
    let adate = date(cx, "AllowanceDate", &c.allowance_date);
    let buyer = if cx.required("BuyerId", &c.buyer_id, 10).is_some() {
        let r = BuyerId::parse_with(&c.buyer_id, &cx.rules.ids);
        cx.parse("BuyerId", r)
    } else {
        None
    };
    let seller = if cx.required("SellerId", &c.seller_id, 10).is_some() {
        let r = Ubn::parse_with(&c.seller_id, &cx.rules.ids);
        cx.parse("SellerId", r)
    } else {
        None
    };
    let d = date(cx, "CancelDate", &c.cancel_date);
    let t = time(cx, "CancelTime", &c.cancel_time);
    cx.required("CancelReason", &c.cancel_reason, 20);
    cx.optional("Remark", &c.remark, 200);
    if let (Some(a), Some(d)) = (adate, d)
        && d < a
    {
        cx.push(
            "DATE_ORDER",
            "CancelDate",
            format!(
                "CancelDate {} is before the AllowanceDate {}",
                c.cancel_date, c.allowance_date
            ),
        );
    }
    if !cx.ok() {
        return None;
    }
    Some(CancelAllowanceFacts {
        number: number?.to_string(),
        allowance_date: adate?,
        seller: seller?,
        buyer: buyer?,
        date: d?,
        time: t?,
    })
}
