//! F0401 / A0101 (issue), F0501 (cancel), F0701 (void).

use super::ctx::Ctx;
use crate::ids::{BuyerId, Carrier, CarrierType, InvoiceNumber, LoveCode, RandomNumber, Ubn};
use crate::model::{CancelInvoice, Invoice, Party, VoidInvoice};
use crate::money::{Decimal, Money, parse_decimal, round_half_up};
use crate::period::{Period, parse_mig_date, parse_mig_time};
use crate::validated::{CancelFacts, Delivery, InvoiceFacts, ItemFacts};
use time::Date;

/// Most items in one message.
pub(super) const MAX_ITEMS: usize = 9999;

/// The optional contact fields of a `RoleDescriptionType`.
pub(super) fn party_contacts(cx: &mut Ctx, at: &str, p: &Party) {
    cx.optional(&format!("{at}/PersonInCharge"), &p.person_in_charge, 30);
    cx.optional(&format!("{at}/TelephoneNumber"), &p.telephone_number, 26);
    cx.optional(&format!("{at}/FacsimileNumber"), &p.facsimile_number, 26);
    cx.optional(&format!("{at}/EmailAddress"), &p.email_address, 80);
    cx.optional(&format!("{at}/CustomerNumber"), &p.customer_number, 20);
    cx.optional(&format!("{at}/RoleRemark"), &p.role_remark, 40);
}

/// A seller party: UBN, name, address required.
pub(super) fn seller(cx: &mut Ctx, at: &str, p: &Party) -> (Option<Ubn>, String) {
    let id_field = format!("{at}/Identifier");
    let ubn = if cx.required(&id_field, &p.identifier, 10).is_some() {
        let r = Ubn::parse_with(&p.identifier, &cx.rules.ids);
        cx.parse(&id_field, r)
    } else {
        None
    };
    cx.required(&format!("{at}/Name"), &p.name, 60);
    match &p.address {
        Some(a) => {
            cx.required(&format!("{at}/Address"), a, 100);
        }
        None => cx.push(
            "FIELD_REQUIRED",
            &format!("{at}/Address"),
            "the seller's Address is required",
        ),
    }
    party_contacts(cx, at, p);
    (ubn, p.name.clone())
}

/// A buyer party: a UBN or the consumer id, a name.
pub(super) fn buyer(cx: &mut Ctx, at: &str, p: &Party) -> Option<BuyerId> {
    let id_field = format!("{at}/Identifier");
    let id = if cx.required(&id_field, &p.identifier, 10).is_some() {
        let r = BuyerId::parse_with(&p.identifier, &cx.rules.ids);
        cx.parse(&id_field, r)
    } else {
        None
    };
    cx.required(&format!("{at}/Name"), &p.name, 60);
    cx.optional(&format!("{at}/Address"), &p.address, 100);
    party_contacts(cx, at, p);
    id
}

pub(super) fn date(cx: &mut Ctx, field: &str, s: &str) -> Option<Date> {
    cx.required(field, s, 8)?;
    cx.parse(field, parse_mig_date(s))
}

pub(super) fn time(cx: &mut Ctx, field: &str, s: &str) -> Option<time::Time> {
    cx.required(field, s, 8)?;
    cx.parse(field, parse_mig_time(s))
}

pub(super) fn money(cx: &mut Ctx, field: &str, s: &str) -> Option<Money> {
    cx.required(field, s, 20)?;
    cx.parse(field, Money::parse(s))
}

/// A non-negative exact decimal.
pub(super) fn decimal(cx: &mut Ctx, field: &str, s: &str) -> Option<Decimal> {
    cx.required(field, s, 40)?;
    let d = cx.parse(field, parse_decimal(s))?;
    if d.is_sign_negative() && !d.is_zero() {
        cx.push(
            "AMOUNT_NEGATIVE",
            field,
            format!(
                "{} must not be negative in MIG 4.1, got {s}",
                super::ctx::leaf(field)
            ),
        );
        return None;
    }
    Some(d)
}

pub(super) fn invoice_number(cx: &mut Ctx, field: &str, s: &str) -> Option<InvoiceNumber> {
    cx.required(field, s, 10)?;
    cx.parse(field, InvoiceNumber::parse(s))
}

/// Item amount agrees with quantity × unit price within half a dollar (the
/// MIG gives no rounding rule for item amounts; sellers round per line).
pub(super) fn check_item_amount(cx: &mut Ctx, at: &str, q: Decimal, p: Decimal, amount: Decimal) {
    match q.checked_mul(p) {
        Some(product) => {
            let diff = (product - amount).abs();
            if diff > Decimal::new(5, 1) {
                cx.push(
                    "ITEM_AMOUNT_MISMATCH",
                    &format!("{at}/Amount"),
                    format!("Amount is {amount} but Quantity × UnitPrice is {q} × {p} = {product}"),
                );
            }
        }
        None => cx.push(
            "AMOUNT_RANGE",
            &format!("{at}/Amount"),
            "Quantity × UnitPrice is out of range",
        ),
    }
}

fn sum_money(parts: &[Money]) -> Option<Money> {
    parts
        .iter()
        .try_fold(0i64, |acc, m| acc.checked_add(m.0))
        .map(Money)
}

/// F0401 (`strict` = true) or A0101 (PrintMark, RandomNumber and the zero/free
/// buckets optional).
pub(super) fn invoice(cx: &mut Ctx, inv: &Invoice, strict: bool) -> Option<InvoiceFacts> {
    let m = &inv.main;
    let number = invoice_number(cx, "Main/InvoiceNumber", &m.invoice_number);
    let date = date(cx, "Main/InvoiceDate", &m.invoice_date);
    let period = date.and_then(|d| {
        let p = Period::of_date(d);
        if p.is_none() {
            cx.push(
                "DATE_RANGE",
                "Main/InvoiceDate",
                format!(
                    "{} is before the ROC calendar's first period",
                    m.invoice_date
                ),
            );
        }
        p
    });
    let time = time(cx, "Main/InvoiceTime", &m.invoice_time);
    let (seller, seller_name) = seller(cx, "Main/Seller", &m.seller);
    let buyer = buyer(cx, "Main/Buyer", &m.buyer);

    if let Some(r) = &m.buyer_remark {
        cx.one_of("Main/BuyerRemark", r, &["1", "2", "3", "4"]);
    }
    cx.optional("Main/MainRemark", &m.main_remark, 200);
    if let Some(c) = &m.customs_clearance_mark {
        cx.one_of("Main/CustomsClearanceMark", c, &["1", "2"]);
    }
    cx.optional("Main/Category", &m.category, 2);
    cx.optional("Main/RelateNumber", &m.relate_number, 20);
    cx.one_of("Main/InvoiceType", &m.invoice_type, &["07", "08"]);
    if let Some(g) = &m.group_mark {
        cx.one_of("Main/GroupMark", g, &["*"]);
    }
    let donate = cx.one_of("Main/DonateMark", &m.donate_mark, &["0", "1"]);
    let print = match &m.print_mark {
        Some(p) => cx.one_of("Main/PrintMark", p, &["Y", "N"]),
        None => {
            if strict {
                cx.push(
                    "FIELD_REQUIRED",
                    "Main/PrintMark",
                    "PrintMark (Y or N) is required",
                );
            }
            None
        }
    };
    let random = match &m.random_number {
        Some(r) if !r.is_empty() => cx.parse("Main/RandomNumber", RandomNumber::parse(r)),
        _ => {
            if strict {
                cx.push(
                    "RANDOM_NUMBER_REQUIRED",
                    "Main/RandomNumber",
                    "an F0401 carries the 4-digit random number printed on its proof",
                );
            }
            None
        }
    };
    if let Some(b) = &m.bonded_area_confirm {
        cx.one_of("Main/BondedAreaConfirm", b, &["1", "2"]);
    }
    if let Some(z) = &m.zero_tax_rate_reason {
        cx.one_of(
            "Main/ZeroTaxRateReason",
            z,
            &["71", "72", "73", "74", "75", "76", "77", "78", "79"],
        );
    }
    cx.optional("Main/Reserved1", &m.reserved1, 20);
    cx.optional("Main/Reserved2", &m.reserved2, 100);

    // Carrier: the three fields go together.
    let carrier = carrier(cx, m);
    let npoban = match &m.npoban {
        Some(n) if !n.is_empty() => cx.parse("Main/NPOBAN", LoveCode::parse(n)),
        _ => None,
    };
    let has_carrier =
        m.carrier_type.is_some() || m.carrier_id1.is_some() || m.carrier_id2.is_some();
    let has_npoban = m.npoban.as_deref().is_some_and(|s| !s.is_empty());
    let b2c = buyer.map(|b| !b.is_business());
    let mut delivery = Delivery::None;
    match donate {
        Some("1") => {
            if !has_npoban {
                cx.push(
                    "NPOBAN_REQUIRED",
                    "Main/NPOBAN",
                    "DonateMark 1 (donated) needs the NPOBAN love code of the receiving organisation",
                );
            }
            if b2c == Some(false) {
                cx.push(
                    "DONATION_NOT_B2C",
                    "Main/DonateMark",
                    "only an invoice to a consumer (buyer 0000000000) can be donated",
                );
            }
            if has_carrier {
                cx.push(
                    "DELIVERY_CONFLICT",
                    "Main/CarrierType",
                    "a donated invoice is not kept on a carrier: remove the carrier or set DonateMark 0",
                );
            }
            if print == Some("Y") {
                cx.push(
                    "DELIVERY_CONFLICT",
                    "Main/PrintMark",
                    "a donated invoice is not printed: set PrintMark N",
                );
            }
            if let Some(code) = npoban.clone() {
                delivery = Delivery::Donated(code);
            }
        }
        Some(_) => {
            if has_npoban {
                cx.push(
                    "DELIVERY_CONFLICT",
                    "Main/NPOBAN",
                    "an NPOBAN is given only when the invoice is donated (DonateMark 1)",
                );
            }
            if has_carrier && print == Some("Y") {
                cx.push(
                    "DELIVERY_CONFLICT",
                    "Main/PrintMark",
                    "an invoice kept on a carrier is not printed: set PrintMark N or remove the carrier",
                );
            }
            if b2c == Some(true) && print == Some("N") && !has_carrier {
                cx.push(
                    "DELIVERY_MISSING",
                    "Main/PrintMark",
                    "a consumer's invoice that is not printed must be on a carrier or donated",
                );
            }
            delivery = match (&carrier, print) {
                (Some(c), _) => Delivery::Carrier(c.clone()),
                (None, Some("Y")) => Delivery::Printed,
                _ => Delivery::None,
            };
        }
        None => {}
    }

    // Amounts.
    let a = &inv.amount;
    let sales = money(cx, "Amount/SalesAmount", &a.sales_amount);
    let bucket = |cx: &mut Ctx, field: &str, v: &Option<String>| match v {
        Some(s) => money(cx, field, s),
        None => {
            if strict {
                cx.push(
                    "FIELD_REQUIRED",
                    field,
                    format!("{} is required", super::ctx::leaf(field)),
                );
                None
            } else {
                Some(Money::ZERO)
            }
        }
    };
    let free = bucket(cx, "Amount/FreeTaxSalesAmount", &a.free_tax_sales_amount);
    let zero = bucket(cx, "Amount/ZeroTaxSalesAmount", &a.zero_tax_sales_amount);
    let tax_type = cx
        .one_of("Amount/TaxType", &a.tax_type, &["1", "2", "3", "4", "9"])
        .and_then(|s| s.parse::<u8>().ok());
    let rate = if cx.required("Amount/TaxRate", &a.tax_rate, 10).is_some() {
        let r = parse_decimal(&a.tax_rate);
        cx.parse("Amount/TaxRate", r)
    } else {
        None
    };
    let tax = money(cx, "Amount/TaxAmount", &a.tax_amount);
    let total = money(cx, "Amount/TotalAmount", &a.total_amount);
    if let Some(d) = &a.discount_amount {
        decimal(cx, "Amount/DiscountAmount", d);
    }
    if let Some(d) = &a.original_currency_amount {
        decimal(cx, "Amount/OriginalCurrencyAmount", d);
    }
    if let Some(d) = &a.exchange_rate {
        decimal(cx, "Amount/ExchangeRate", d);
    }
    if let Some(c) = &a.currency
        && !(c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
    {
        cx.push(
            "CURRENCY_FORMAT",
            "Amount/Currency",
            format!("Currency is an ISO 4217 code of 3 capital letters, got {c:?}"),
        );
    }

    // Tax type and rate.
    if let (Some(tt), Some(r)) = (tax_type, rate) {
        let general = cx.rules.general_tax_rate;
        let ok = match tt {
            1 | 9 => r == general,
            2 | 3 => r.is_zero(),
            _ => r > Decimal::ZERO && r < Decimal::ONE,
        };
        if !ok {
            let want = match tt {
                1 | 9 => format!("{general}"),
                2 | 3 => "0".to_string(),
                _ => "a special rate between 0 and 1".to_string(),
            };
            cx.push(
                "TAX_RATE_MISMATCH",
                "Amount/TaxRate",
                format!("TaxRate is {r} but TaxType {tt} requires {want}"),
            );
        }
    }
    if let (Some(tt), Some(s), Some(f), Some(z)) = (tax_type, sales, free, zero) {
        let (bad, why) = match tt {
            1 | 4 if f.0 != 0 || z.0 != 0 => (
                true,
                "taxable invoices carry no free-tax or zero-rated sales",
            ),
            2 if s.0 != 0 || f.0 != 0 => (
                true,
                "a zero-rated invoice (TaxType 2) puts its sales in ZeroTaxSalesAmount",
            ),
            3 if s.0 != 0 || z.0 != 0 => (
                true,
                "a tax-free invoice (TaxType 3) puts its sales in FreeTaxSalesAmount",
            ),
            _ => (false, ""),
        };
        if bad {
            cx.push(
                "AMOUNT_BUCKET_MISMATCH",
                "Amount",
                format!("SalesAmount {s}, FreeTaxSalesAmount {f}, ZeroTaxSalesAmount {z}: {why}"),
            );
        }
    }
    if let (Some(tt), Some(r), Some(s), Some(t), Some(b2c)) = (tax_type, rate, sales, tax, b2c) {
        let expected = if matches!(tt, 2 | 3) || b2c {
            Some(0)
        } else {
            Decimal::from(s.0)
                .checked_mul(r)
                .map(round_half_up)
                .and_then(|d| i64::try_from(d).ok())
        };
        if let Some(e) = expected
            && e != t.0
        {
            let why = if matches!(tt, 2 | 3) {
                format!(
                    "TaxType {tt} ({}) requires 0",
                    if tt == 2 { "zero-rated" } else { "tax-free" }
                )
            } else if b2c {
                "a consumer invoice's SalesAmount includes tax, so TaxAmount is 0".to_string()
            } else {
                format!("SalesAmount {s} × TaxRate {r} rounded half up is {e}")
            };
            cx.push(
                "TAX_AMOUNT_MISMATCH",
                "Amount/TaxAmount",
                format!("TaxAmount is {t} but {why}"),
            );
        }
    }
    if let (Some(s), Some(f), Some(z), Some(t), Some(tot)) = (sales, free, zero, tax, total) {
        match sum_money(&[s, f, z, t]) {
            Some(sum) if sum == tot => {}
            Some(sum) => cx.push(
                "TOTAL_AMOUNT_MISMATCH",
                "Amount/TotalAmount",
                format!("TotalAmount is {tot} but SalesAmount + FreeTaxSalesAmount + ZeroTaxSalesAmount + TaxAmount = {s} + {f} + {z} + {t} = {sum}"),
            ),
            None => cx.push("AMOUNT_RANGE", "Amount/TotalAmount", "the amounts overflow"),
        }
    }

    // Items.
    let items = items(cx, inv, tax_type);
    if let (Some(items), Some(s), Some(f), Some(z)) = (&items, sales, free, zero) {
        let mut sums = [Decimal::ZERO; 3]; // taxable (1, 4), zero (2), free (3)
        let mut overflow = false;
        for it in items {
            let slot = match it.tax_type {
                2 => 1,
                3 => 2,
                _ => 0,
            };
            match sums[slot].checked_add(it.amount) {
                Some(x) => sums[slot] = x,
                None => overflow = true,
            }
        }
        if overflow {
            cx.push("AMOUNT_RANGE", "Details", "item amounts overflow");
        } else {
            for (i, (field, bucket)) in [
                ("Amount/SalesAmount", s),
                ("Amount/ZeroTaxSalesAmount", z),
                ("Amount/FreeTaxSalesAmount", f),
            ]
            .into_iter()
            .enumerate()
            {
                let got = round_half_up(sums[i]);
                if got != Decimal::from(bucket.0) {
                    cx.push(
                        "ITEM_SUM_MISMATCH",
                        field,
                        format!(
                            "{} is {bucket} but its items add up to {}",
                            super::ctx::leaf(field),
                            sums[i]
                        ),
                    );
                }
            }
        }
    }

    if !cx.ok() {
        return None;
    }
    Some(InvoiceFacts {
        number: number?,
        period: period?,
        date: date?,
        time: time?,
        seller: seller?,
        seller_name,
        buyer: buyer?,
        random,
        delivery,
        items: items?,
        sales: sales?,
        free_tax_sales: free?,
        zero_tax_sales: zero?,
        tax: tax?,
        total: total?,
        tax_type: tax_type?,
        tax_rate: rate?,
    })
}

fn carrier(cx: &mut Ctx, m: &crate::model::InvoiceMain) -> Option<Carrier> {
    let (t, id1, id2) = (&m.carrier_type, &m.carrier_id1, &m.carrier_id2);
    if t.is_none() && id1.is_none() && id2.is_none() {
        return None;
    }
    let mut missing = Vec::new();
    for (name, v) in [("CarrierType", t), ("CarrierId1", id1), ("CarrierId2", id2)] {
        if v.as_deref().is_none_or(str::is_empty) {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        cx.push(
            "CARRIER_INCOMPLETE",
            &format!("Main/{}", missing[0]),
            format!(
                "a carrier needs CarrierType, CarrierId1 and CarrierId2; missing {}",
                missing.join(", ")
            ),
        );
        return None;
    }
    let kind = cx.parse(
        "Main/CarrierType",
        CarrierType::parse(t.as_deref().unwrap_or(""), &cx.rules.carrier_types),
    )?;
    cx.max_len("Main/CarrierId2", id2.as_deref().unwrap_or(""), 64);
    cx.parse(
        "Main/CarrierId1",
        Carrier::parse(kind, id1.as_deref().unwrap_or("")),
    )
}

fn items(cx: &mut Ctx, inv: &Invoice, invoice_tax_type: Option<u8>) -> Option<Vec<ItemFacts>> {
    if inv.details.is_empty() {
        cx.push(
            "ITEMS_REQUIRED",
            "Details",
            "an invoice has at least one ProductItem",
        );
        return None;
    }
    if inv.details.len() > MAX_ITEMS {
        cx.push(
            "ITEMS_TOO_MANY",
            "Details",
            format!("{} items; at most {MAX_ITEMS}", inv.details.len()),
        );
        return None;
    }
    let mut out = Vec::with_capacity(inv.details.len());
    let mut all = true;
    for (i, it) in inv.details.iter().enumerate() {
        let at = format!("Details/ProductItem[{}]", i + 1);
        let desc = cx.required(&format!("{at}/Description"), &it.description, 500);
        let q = decimal(cx, &format!("{at}/Quantity"), &it.quantity);
        cx.optional(&format!("{at}/Unit"), &it.unit, 6);
        let p = decimal(cx, &format!("{at}/UnitPrice"), &it.unit_price);
        let tt = cx
            .one_of(
                &format!("{at}/TaxType"),
                &it.tax_type,
                &["1", "2", "3", "4"],
            )
            .and_then(|s| s.parse::<u8>().ok());
        let amount = decimal(cx, &format!("{at}/Amount"), &it.amount);
        let seq = cx.required(&format!("{at}/SequenceNumber"), &it.sequence_number, 4);
        cx.optional(&format!("{at}/Remark"), &it.remark, 120);
        cx.optional(&format!("{at}/RelateNumber"), &it.relate_number, 50);
        if let (Some(q), Some(p), Some(a)) = (q, p, amount) {
            check_item_amount(cx, &at, q, p, a);
        }
        if let (Some(tt), Some(itt)) = (tt, invoice_tax_type)
            && itt != 9
            && tt != itt
        {
            cx.push(
                "ITEM_TAX_TYPE_MISMATCH",
                &format!("{at}/TaxType"),
                format!("item TaxType {tt} differs from the invoice's TaxType {itt}; use TaxType 9 (mixed) for invoices mixing tax types"),
            );
        }
        match (desc, q, p, tt, amount, seq) {
            (Some(d), Some(q), Some(p), Some(tt), Some(a), Some(s)) => out.push(ItemFacts {
                sequence: s.to_string(),
                description: d.to_string(),
                quantity: q,
                unit_price: p,
                amount: a,
                tax_type: tt,
            }),
            _ => all = false,
        }
    }
    all.then_some(out)
}

struct CancelFields<'a> {
    number: &'a str,
    invoice_date: &'a str,
    buyer: &'a str,
    seller: &'a str,
    date: &'a str,
    time: &'a str,
    reason: &'a str,
    remark: &'a Option<String>,
}

fn cancel_like(cx: &mut Ctx, word: &str, f: CancelFields<'_>) -> Option<CancelFacts> {
    let number = invoice_number(cx, &format!("{word}InvoiceNumber"), f.number);
    let invoice_date = date(cx, "InvoiceDate", f.invoice_date);
    let buyer = if cx.required("BuyerId", f.buyer, 10).is_some() {
        let r = BuyerId::parse_with(f.buyer, &cx.rules.ids);
        cx.parse("BuyerId", r)
    } else {
        None
    };
    let seller = if cx.required("SellerId", f.seller, 10).is_some() {
        let r = Ubn::parse_with(f.seller, &cx.rules.ids);
        cx.parse("SellerId", r)
    } else {
        None
    };
    let d = date(cx, &format!("{word}Date"), f.date);
    let t = time(cx, &format!("{word}Time"), f.time);
    let reason = cx.required(&format!("{word}Reason"), f.reason, 20);
    cx.optional("Remark", f.remark, 200);
    if let (Some(inv), Some(d)) = (invoice_date, d)
        && d < inv
    {
        cx.push(
            "DATE_ORDER",
            &format!("{word}Date"),
            format!(
                "{word}Date {} is before the InvoiceDate {}",
                f.date, f.invoice_date
            ),
        );
    }
    if !cx.ok() {
        return None;
    }
    Some(CancelFacts {
        number: number?,
        invoice_date: invoice_date?,
        seller: seller?,
        buyer: buyer?,
        date: d?,
        time: t?,
        reason: reason?.to_string(),
    })
}

/// F0501.
pub(super) fn cancel(cx: &mut Ctx, c: &CancelInvoice) -> Option<CancelFacts> {
    cx.optional("ReturnTaxDocumentNumber", &c.return_tax_document_number, 60);
    cancel_like(
        cx,
        "Cancel",
        CancelFields {
            number: &c.cancel_invoice_number,
            invoice_date: &c.invoice_date,
            buyer: &c.buyer_id,
            seller: &c.seller_id,
            date: &c.cancel_date,
            time: &c.cancel_time,
            reason: &c.cancel_reason,
            remark: &c.remark,
        },
    )
}

/// F0701.
pub(super) fn void(cx: &mut Ctx, c: &VoidInvoice) -> Option<CancelFacts> {
    cancel_like(
        cx,
        "Void",
        CancelFields {
            number: &c.void_invoice_number,
            invoice_date: &c.invoice_date,
            buyer: &c.buyer_id,
            seller: &c.seller_id,
            date: &c.void_date,
            time: &c.void_time,
            reason: &c.void_reason,
            remark: &c.remark,
        },
    )
}
