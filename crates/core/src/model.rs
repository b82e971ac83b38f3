//! The MIG 4.1 message model.
//!
//! Every field of every supported message, as the text the MIG carries (trimmed).
//! The model is deliberately lexical: it can hold whatever a sender wrote, so that
//! [`crate::validate`] can report *every* problem at once with its field path, and
//! codecs can round-trip any document. Typed values (`Ubn`, `InvoiceNumber`, `Money`, …)
//! come out of validation; nothing downstream of validation reads these strings.
//!
//! Serde names are the MIG element names, so the JSON form uses the same field names
//! as the XML. Optional elements are `Option`s and are omitted when absent.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of message einvoice accepts (MIG 4.1 message ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MessageKind {
    /// Issue an invoice (開立發票), root `Invoice`.
    F0401,
    /// Cancel an invoice (作廢發票), root `CancelInvoice`.
    F0501,
    /// Void an invoice (註銷發票), root `VoidInvoice`.
    F0701,
    /// Issue an allowance (折讓證明單), root `Allowance`.
    G0401,
    /// Cancel an allowance (作廢折讓證明單), root `CancelAllowance`.
    G0501,
    /// Track allocation to a branch (分支機構配號), root `BranchTrack`.
    E0401,
    /// Blank unused numbers of a track (空白未使用字軌), root `BranchTrackBlank`.
    E0402,
    /// Seller's number allocation (營業人配號), root `InvoiceAssignNo`.
    E0501,
    /// B2B exchange invoice (存證/交換發票), root `Invoice`; same body as F0401.
    A0101,
}

impl MessageKind {
    /// All kinds.
    pub const ALL: [MessageKind; 9] = [
        Self::F0401,
        Self::F0501,
        Self::F0701,
        Self::G0401,
        Self::G0501,
        Self::E0401,
        Self::E0402,
        Self::E0501,
        Self::A0101,
    ];
    /// The MIG message id, e.g. `F0401`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::F0401 => "F0401",
            Self::F0501 => "F0501",
            Self::F0701 => "F0701",
            Self::G0401 => "G0401",
            Self::G0501 => "G0501",
            Self::E0401 => "E0401",
            Self::E0402 => "E0402",
            Self::E0501 => "E0501",
            Self::A0101 => "A0101",
        }
    }
    /// Parse a message id.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// The XML root element name.
    pub fn root_element(&self) -> &'static str {
        match self {
            Self::F0401 | Self::A0101 => "Invoice",
            Self::F0501 => "CancelInvoice",
            Self::F0701 => "VoidInvoice",
            Self::G0401 => "Allowance",
            Self::G0501 => "CancelAllowance",
            Self::E0401 => "BranchTrack",
            Self::E0402 => "BranchTrackBlank",
            Self::E0501 => "InvoiceAssignNo",
        }
    }
    /// The XML namespace, `urn:GEINV:eInvoiceMessage:<MSG>:4.1`.
    pub fn namespace(&self) -> String {
        format!("urn:GEINV:eInvoiceMessage:{}:4.1", self.as_str())
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One MIG 4.1 message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "message")]
pub enum Message {
    /// F0401 issue invoice.
    F0401(Invoice),
    /// F0501 cancel invoice.
    F0501(CancelInvoice),
    /// F0701 void invoice.
    F0701(VoidInvoice),
    /// G0401 allowance.
    G0401(Allowance),
    /// G0501 cancel allowance.
    G0501(CancelAllowance),
    /// E0401 branch track allocation.
    E0401(BranchTrack),
    /// E0402 blank unused numbers.
    E0402(BranchTrackBlank),
    /// E0501 seller number allocation.
    E0501(InvoiceAssignNo),
    /// A0101 B2B exchange invoice (same body as F0401).
    A0101(Invoice),
}

impl Message {
    /// Which message this is.
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::F0401(_) => MessageKind::F0401,
            Self::F0501(_) => MessageKind::F0501,
            Self::F0701(_) => MessageKind::F0701,
            Self::G0401(_) => MessageKind::G0401,
            Self::G0501(_) => MessageKind::G0501,
            Self::E0401(_) => MessageKind::E0401,
            Self::E0402(_) => MessageKind::E0402,
            Self::E0501(_) => MessageKind::E0501,
            Self::A0101(_) => MessageKind::A0101,
        }
    }
}

/// `RoleDescriptionType`: a seller or buyer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Party {
    /// UBN (buyer: `0000000000` for a consumer).
    pub identifier: String,
    /// Name (≤ 60).
    pub name: String,
    /// Address (≤ 100; required for the seller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Person in charge (≤ 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_in_charge: Option<String>,
    /// Telephone (≤ 26).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telephone_number: Option<String>,
    /// Fax (≤ 26).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facsimile_number: Option<String>,
    /// E-mail (≤ 80).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    /// Customer number (≤ 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_number: Option<String>,
    /// Role remark (≤ 40).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_remark: Option<String>,
}

/// F0401 / A0101 `Invoice`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Invoice {
    /// `Main`.
    pub main: InvoiceMain,
    /// `Details/ProductItem` (1–9999).
    pub details: Vec<ProductItem>,
    /// `Amount`.
    pub amount: InvoiceAmount,
}

/// F0401 `Main`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InvoiceMain {
    /// InvoiceNumber `[A-Z]{2}\d{8}`.
    pub invoice_number: String,
    /// InvoiceDate `yyyyMMdd`.
    pub invoice_date: String,
    /// InvoiceTime `HH:mm:ss`.
    pub invoice_time: String,
    /// Seller.
    pub seller: Party,
    /// Buyer.
    pub buyer: Party,
    /// BuyerRemark (1–4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_remark: Option<String>,
    /// MainRemark (≤ 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_remark: Option<String>,
    /// CustomsClearanceMark (1 or 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customs_clearance_mark: Option<String>,
    /// Category (≤ 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// RelateNumber (≤ 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relate_number: Option<String>,
    /// InvoiceType (`07` general, `08` special).
    pub invoice_type: String,
    /// GroupMark (`*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_mark: Option<String>,
    /// DonateMark (`0`/`1`).
    pub donate_mark: String,
    /// CarrierType.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_type: Option<String>,
    /// CarrierId1 (visible id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_id1: Option<String>,
    /// CarrierId2 (hidden id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_id2: Option<String>,
    /// PrintMark (`Y`/`N`). Optional in the A0101 exchange message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub print_mark: Option<String>,
    /// NPOBAN (love code).
    #[serde(default, rename = "NPOBAN", skip_serializing_if = "Option::is_none")]
    pub npoban: Option<String>,
    /// RandomNumber (4 digits). Optional in the A0101 exchange message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_number: Option<String>,
    /// BondedAreaConfirm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bonded_area_confirm: Option<String>,
    /// ZeroTaxRateReason (71–79).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_tax_rate_reason: Option<String>,
    /// Reserved1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved1: Option<String>,
    /// Reserved2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved2: Option<String>,
}

/// F0401 `Details/ProductItem`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ProductItem {
    /// Description (≤ 500).
    pub description: String,
    /// Quantity (decimal).
    pub quantity: String,
    /// Unit (≤ 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// UnitPrice (decimal).
    pub unit_price: String,
    /// TaxType (1, 2, 3, 4).
    pub tax_type: String,
    /// Amount (decimal).
    pub amount: String,
    /// SequenceNumber (≤ 4).
    pub sequence_number: String,
    /// Remark (≤ 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// RelateNumber (≤ 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relate_number: Option<String>,
}

/// F0401 `Amount`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InvoiceAmount {
    /// SalesAmount (taxable items; B2B ex-tax, B2C tax-inclusive).
    pub sales_amount: String,
    /// FreeTaxSalesAmount. Absent in the A0101 sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_tax_sales_amount: Option<String>,
    /// ZeroTaxSalesAmount. Absent in the A0101 sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_tax_sales_amount: Option<String>,
    /// TaxType (1, 2, 3, 4, 9).
    pub tax_type: String,
    /// TaxRate (e.g. 0.05).
    pub tax_rate: String,
    /// TaxAmount (whole NT$).
    pub tax_amount: String,
    /// TotalAmount.
    pub total_amount: String,
    /// DiscountAmount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_amount: Option<String>,
    /// OriginalCurrencyAmount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_currency_amount: Option<String>,
    /// ExchangeRate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_rate: Option<String>,
    /// Currency (ISO 4217).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// F0501 `CancelInvoice` (flat).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CancelInvoice {
    /// CancelInvoiceNumber.
    pub cancel_invoice_number: String,
    /// InvoiceDate of the original.
    pub invoice_date: String,
    /// BuyerId.
    pub buyer_id: String,
    /// SellerId.
    pub seller_id: String,
    /// CancelDate.
    pub cancel_date: String,
    /// CancelTime.
    pub cancel_time: String,
    /// CancelReason (≤ 20).
    pub cancel_reason: String,
    /// ReturnTaxDocumentNumber (≤ 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_tax_document_number: Option<String>,
    /// Remark (≤ 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
}

/// F0701 `VoidInvoice` (flat).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VoidInvoice {
    /// VoidInvoiceNumber.
    pub void_invoice_number: String,
    /// InvoiceDate of the original.
    pub invoice_date: String,
    /// BuyerId.
    pub buyer_id: String,
    /// SellerId.
    pub seller_id: String,
    /// VoidDate.
    pub void_date: String,
    /// VoidTime.
    pub void_time: String,
    /// VoidReason (≤ 20).
    pub void_reason: String,
    /// Remark (≤ 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
}

/// G0401 `Allowance`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Allowance {
    /// `Main`.
    pub main: AllowanceMain,
    /// `Details/ProductItem`.
    pub details: Vec<AllowanceItem>,
    /// `Amount`.
    pub amount: AllowanceAmount,
}

/// G0401 `Main`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AllowanceMain {
    /// AllowanceNumber (≤ 16).
    pub allowance_number: String,
    /// AllowanceDate.
    pub allowance_date: String,
    /// Seller.
    pub seller: Party,
    /// Buyer.
    pub buyer: Party,
    /// AllowanceType (fixed `2` in 4.1).
    pub allowance_type: String,
    /// OriginalInvoiceSellerId (new in 4.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_invoice_seller_id: Option<String>,
    /// OriginalInvoiceBuyerId (new in 4.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_invoice_buyer_id: Option<String>,
}

/// G0401 `Details/ProductItem`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AllowanceItem {
    /// OriginalInvoiceDate.
    pub original_invoice_date: String,
    /// OriginalInvoiceNumber.
    pub original_invoice_number: String,
    /// OriginalSequenceNumber.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_sequence_number: Option<String>,
    /// OriginalDescription.
    pub original_description: String,
    /// Quantity.
    pub quantity: String,
    /// Unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// UnitPrice.
    pub unit_price: String,
    /// Amount (ex-tax).
    pub amount: String,
    /// Tax.
    pub tax: String,
    /// AllowanceSequenceNumber.
    pub allowance_sequence_number: String,
    /// TaxType.
    pub tax_type: String,
}

/// G0401 `Amount`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AllowanceAmount {
    /// TaxAmount.
    pub tax_amount: String,
    /// TotalAmount (ex-tax).
    pub total_amount: String,
}

/// G0501 `CancelAllowance` (flat).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CancelAllowance {
    /// CancelAllowanceNumber.
    pub cancel_allowance_number: String,
    /// AllowanceType.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowance_type: Option<String>,
    /// AllowanceDate.
    pub allowance_date: String,
    /// BuyerId.
    pub buyer_id: String,
    /// SellerId.
    pub seller_id: String,
    /// CancelDate.
    pub cancel_date: String,
    /// CancelTime.
    pub cancel_time: String,
    /// CancelReason.
    pub cancel_reason: String,
    /// Remark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
}

/// E0401 `BranchTrack`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BranchTrack {
    /// `Main`.
    pub main: BranchTrackMain,
    /// `Details/BranchTrackItem`.
    pub details: Vec<BranchTrackItem>,
}

/// E0401 `Main`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BranchTrackMain {
    /// HeadBan.
    pub head_ban: String,
    /// BranchBan.
    pub branch_ban: String,
    /// InvoiceType.
    pub invoice_type: String,
    /// YearMonth (a period).
    pub year_month: String,
    /// InvoiceTrack.
    pub invoice_track: String,
    /// InvoiceBeginNo (8 digits).
    pub invoice_begin_no: String,
    /// InvoiceEndNo (8 digits).
    pub invoice_end_no: String,
}

/// E0401 `BranchTrackItem`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BranchTrackItem {
    /// InvoiceBeginNo.
    pub invoice_begin_no: String,
    /// InvoiceEndNo.
    pub invoice_end_no: String,
    /// InvoiceBooklet (booklets of 50 numbers).
    pub invoice_booklet: String,
}

/// E0402 `BranchTrackBlank`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BranchTrackBlank {
    /// `Main`.
    pub main: BranchTrackBlankMain,
    /// `Details/BranchTrackBlankItem`: the unused ranges.
    pub details: Vec<BlankRange>,
}

/// E0402 `Main`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BranchTrackBlankMain {
    /// HeadBan.
    pub head_ban: String,
    /// BranchBan.
    pub branch_ban: String,
    /// InvoiceType.
    pub invoice_type: String,
    /// YearMonth (a period).
    pub year_month: String,
    /// InvoiceTrack.
    pub invoice_track: String,
}

/// E0402 `BranchTrackBlankItem`: an unused range.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BlankRange {
    /// InvoiceBeginNo.
    pub invoice_begin_no: String,
    /// InvoiceEndNo.
    pub invoice_end_no: String,
}

/// E0501 `InvoiceAssignNo`: a seller's number allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InvoiceAssignNo {
    /// Ban (the seller's UBN).
    pub ban: String,
    /// InvoiceType.
    pub invoice_type: String,
    /// YearMonth (a period).
    pub year_month: String,
    /// InvoiceTrack.
    pub invoice_track: String,
    /// InvoiceBeginNo.
    pub invoice_begin_no: String,
    /// InvoiceEndNo.
    pub invoice_end_no: String,
    /// InvoiceBooklet.
    pub invoice_booklet: String,
}
