//! Typed views of messages that passed validation.
//!
//! [`crate::validate::validate`] turns a lexical [`crate::model::Message`] into one of
//! these, or into the full list of violations. Everything downstream (store,
//! projections, prize draw) works on these typed values only.

use crate::ids::{BuyerId, Carrier, InvoiceNumber, LoveCode, RandomNumber, Track, Ubn};
use crate::model::{Message, MessageKind};
use crate::money::{Decimal, Money};
use crate::period::Period;
use serde::{Deserialize, Serialize};
use time::{Date, Time};

/// A message that passed every rule, with its typed facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    /// The message as received (for the canonical body).
    pub message: Message,
    /// The typed facts.
    pub facts: Facts,
}

impl Validated {
    /// The message kind.
    pub fn kind(&self) -> MessageKind {
        self.message.kind()
    }
    /// The natural key this message is about.
    pub fn key(&self) -> NaturalKey {
        self.facts.key()
    }
    /// The seller (tenant) this message belongs to.
    pub fn seller(&self) -> Ubn {
        self.facts.seller()
    }
}

/// What a natural key identifies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum NaturalKey {
    /// An invoice: seller + number (F0401, F0501, F0701, A0101).
    Invoice {
        /// Issuing seller.
        seller: Ubn,
        /// Invoice number.
        number: InvoiceNumber,
    },
    /// An allowance: seller + allowance number (G0401, G0501).
    Allowance {
        /// Issuing seller.
        seller: Ubn,
        /// Allowance number (≤ 16 characters).
        number: String,
    },
    /// A track range: seller + period + track + first number (E0401, E0402, E0501).
    TrackRange {
        /// The seller (branch) the range belongs to.
        seller: Ubn,
        /// Period.
        period: Period,
        /// Track.
        track: Track,
        /// First number of the range.
        begin: u32,
    },
}

impl NaturalKey {
    /// A stable text form, e.g. `invoice/90000011/KZ10000002`.
    pub fn to_key_string(&self) -> String {
        match self {
            Self::Invoice { seller, number } => format!("invoice/{seller}/{number}"),
            Self::Allowance { seller, number } => format!("allowance/{seller}/{number}"),
            Self::TrackRange {
                seller,
                period,
                track,
                begin,
            } => {
                format!("track/{seller}/{period}/{track}/{begin:08}")
            }
        }
    }
}

/// Typed facts per message kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Facts {
    /// F0401 / A0101.
    Invoice(InvoiceFacts),
    /// F0501.
    Cancel(CancelFacts),
    /// F0701.
    Void(CancelFacts),
    /// G0401.
    Allowance(AllowanceFacts),
    /// G0501.
    CancelAllowance(CancelAllowanceFacts),
    /// E0401 / E0501: a range of numbers allocated.
    TrackAllocation(TrackRangeFacts),
    /// E0402: ranges reported blank.
    Blank(BlankFacts),
}

impl Facts {
    /// The natural key.
    pub fn key(&self) -> NaturalKey {
        match self {
            Self::Invoice(f) => NaturalKey::Invoice {
                seller: f.seller,
                number: f.number,
            },
            Self::Cancel(f) | Self::Void(f) => NaturalKey::Invoice {
                seller: f.seller,
                number: f.number,
            },
            Self::Allowance(f) => NaturalKey::Allowance {
                seller: f.seller,
                number: f.number.clone(),
            },
            Self::CancelAllowance(f) => NaturalKey::Allowance {
                seller: f.seller,
                number: f.number.clone(),
            },
            Self::TrackAllocation(f) => NaturalKey::TrackRange {
                seller: f.seller,
                period: f.period,
                track: f.track,
                begin: f.begin,
            },
            Self::Blank(f) => NaturalKey::TrackRange {
                seller: f.seller,
                period: f.period,
                track: f.track,
                begin: f.ranges.first().map(|r| r.0).unwrap_or(0),
            },
        }
    }
    /// The seller (tenant).
    pub fn seller(&self) -> Ubn {
        match self {
            Self::Invoice(f) => f.seller,
            Self::Cancel(f) | Self::Void(f) => f.seller,
            Self::Allowance(f) => f.seller,
            Self::CancelAllowance(f) => f.seller,
            Self::TrackAllocation(f) => f.seller,
            Self::Blank(f) => f.seller,
        }
    }
}

/// How the invoice reaches the buyer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Delivery {
    /// Kept on a carrier (not printed).
    Carrier(Carrier),
    /// Donated to an NPO (DonateMark=1).
    Donated(LoveCode),
    /// Printed proof (PrintMark=Y).
    Printed,
    /// B2B, none of the above.
    None,
}

/// F0401 / A0101 facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceFacts {
    /// Invoice number.
    pub number: InvoiceNumber,
    /// Period the invoice date falls in.
    pub period: Period,
    /// Invoice date.
    pub date: Date,
    /// Invoice time.
    pub time: Time,
    /// Seller UBN.
    pub seller: Ubn,
    /// Seller name.
    pub seller_name: String,
    /// Buyer.
    pub buyer: BuyerId,
    /// Random number (absent only on A0101).
    pub random: Option<RandomNumber>,
    /// Carrier, donation or print.
    pub delivery: Delivery,
    /// Items.
    pub items: Vec<ItemFacts>,
    /// SalesAmount as sent (B2B ex-tax; B2C tax-inclusive).
    pub sales: Money,
    /// FreeTaxSalesAmount.
    pub free_tax_sales: Money,
    /// ZeroTaxSalesAmount.
    pub zero_tax_sales: Money,
    /// TaxAmount.
    pub tax: Money,
    /// TotalAmount.
    pub total: Money,
    /// Amount TaxType code (1, 2, 3, 4, 9).
    pub tax_type: u8,
    /// TaxRate.
    pub tax_rate: Decimal,
}

impl InvoiceFacts {
    /// B2C (consumer buyer)?
    pub fn is_b2c(&self) -> bool {
        !self.buyer.is_business()
    }
    /// Sales excluding tax: B2B as sent; B2C split from the tax-inclusive total
    /// (what the QR header and tax filing use).
    pub fn sales_ex_tax(&self) -> Money {
        if self.is_b2c() {
            crate::money::split_tax_inclusive(self.sales, self.tax_rate).0
        } else {
            self.sales
        }
    }
}

/// One invoice item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFacts {
    /// SequenceNumber.
    pub sequence: String,
    /// Description.
    pub description: String,
    /// Quantity (exact).
    pub quantity: Decimal,
    /// Unit price (exact).
    pub unit_price: Decimal,
    /// Amount (exact).
    pub amount: Decimal,
    /// TaxType code.
    pub tax_type: u8,
}

/// F0501 / F0701 facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelFacts {
    /// The invoice cancelled or voided.
    pub number: InvoiceNumber,
    /// The original invoice date.
    pub invoice_date: Date,
    /// Seller.
    pub seller: Ubn,
    /// Buyer.
    pub buyer: BuyerId,
    /// Cancel / void date.
    pub date: Date,
    /// Cancel / void time.
    pub time: Time,
    /// Reason.
    pub reason: String,
}

/// G0401 facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowanceFacts {
    /// Allowance number.
    pub number: String,
    /// Allowance date.
    pub date: Date,
    /// Seller.
    pub seller: Ubn,
    /// Buyer.
    pub buyer: BuyerId,
    /// Items, each against an original invoice.
    pub items: Vec<AllowanceItemFacts>,
    /// Total tax.
    pub tax: Money,
    /// Total ex-tax.
    pub total: Money,
}

/// One G0401 item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowanceItemFacts {
    /// Original invoice number.
    pub original_number: InvoiceNumber,
    /// Original invoice date.
    pub original_date: Date,
    /// Original item sequence number, if given.
    pub original_sequence: Option<String>,
    /// Quantity.
    pub quantity: Decimal,
    /// Unit price.
    pub unit_price: Decimal,
    /// Amount ex-tax.
    pub amount: Decimal,
    /// Tax.
    pub tax: Money,
    /// TaxType code.
    pub tax_type: u8,
}

/// G0501 facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelAllowanceFacts {
    /// Allowance number.
    pub number: String,
    /// Allowance date.
    pub allowance_date: Date,
    /// Seller.
    pub seller: Ubn,
    /// Buyer.
    pub buyer: BuyerId,
    /// Cancel date.
    pub date: Date,
    /// Cancel time.
    pub time: Time,
}

/// E0401 / E0501 facts: a contiguous range of numbers of one track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRangeFacts {
    /// The seller (E0501 `Ban`, E0401 `BranchBan`).
    pub seller: Ubn,
    /// Head office (E0401 `HeadBan`; same as seller for E0501).
    pub head: Ubn,
    /// InvoiceType (07/08).
    pub invoice_type: String,
    /// Period.
    pub period: Period,
    /// Track.
    pub track: Track,
    /// First number (inclusive).
    pub begin: u32,
    /// Last number (inclusive).
    pub end: u32,
    /// Sub-ranges with their booklet counts (E0401 details).
    pub items: Vec<(u32, u32, u32)>,
}

/// E0402 facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlankFacts {
    /// Branch seller.
    pub seller: Ubn,
    /// Head office.
    pub head: Ubn,
    /// InvoiceType.
    pub invoice_type: String,
    /// Period.
    pub period: Period,
    /// Track.
    pub track: Track,
    /// Unused ranges (inclusive), ascending.
    pub ranges: Vec<(u32, u32)>,
}
