//! Proof codes of an e-invoice (電子發票證明聯): the 1D barcode, the left and
//! right QR codes, the AES verification field and MOF's QR key derivation —
//! builders and parsers. No I/O.
//!
//! Decisions where the MOF spec leaves room:
//! - We emit item names in UTF-8 (encoding flag `1`) by default; Big5 (`0`) and
//!   Base64 (`2`) are available. In Base64 mode the whole item run after the
//!   flag (and after `**` in the right code) is the Base64 of its UTF-8 text.
//! - A `:` inside an item name would break the `name:qty:price` list, so it is
//!   written as a fullwidth `：`.
//! - Each QR text has a byte budget ([`QrOptions::max_bytes`], default 180);
//!   from the first item that fits neither code on, items are left out (the
//!   spec allows it; order is kept) and the left code still counts them in
//!   "total items".

use crate::error::Violation;
use crate::ids::{InvoiceNumber, RandomNumber};
use crate::money::{Decimal, Money};
use crate::period::{Period, format_roc_date};
use crate::validated::InvoiceFacts;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha1::{Digest, Sha1};

/// MOF's fixed IV for the verification field: Base64 `Dt8lyToo17X/XkXaQvihuA==`.
const IV: [u8; 16] = [
    0x0e, 0xdf, 0x25, 0xc9, 0x3a, 0x28, 0xd7, 0xb5, 0xff, 0x5e, 0x45, 0xda, 0x42, 0xf8, 0xa1, 0xb8,
];
/// MOF's salt for key derivation: Base64 `Nd8NUYIxHIBxlzExqGM9gA==`.
const DERIVATION_SALT_B64: &str = "Nd8NUYIxHIBxlzExqGM9gA==";
/// Length of the left QR header.
pub const HEADER_LEN: usize = 77;

fn bad(code: &'static str, msg: impl Into<String>) -> Violation {
    Violation::new(code, "", msg)
}

/// A seller's QR AES key (16 bytes, written as 32 hex digits). `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct QrKey([u8; 16]);

impl std::fmt::Debug for QrKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QrKey(..)")
    }
}

impl QrKey {
    /// Parse 32 hex digits.
    pub fn parse_hex(s: &str) -> Result<Self, Violation> {
        let s = s.trim();
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("QR_KEY_FORMAT", "a QR key is 32 hex digits"));
        }
        let mut k = [0u8; 16];
        for (i, slot) in k.iter_mut().enumerate() {
            *slot = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)
                .map_err(|_| bad("QR_KEY_FORMAT", "a QR key is 32 hex digits"))?;
        }
        Ok(Self(k))
    }

    /// MOF's derivation from a seller passphrase: seed = SHA-1(passphrase ‖
    /// salt), key = first 16 bytes of SHA-1(SHA-1(seed)).
    pub fn from_passphrase(passphrase: &str) -> Self {
        let salt = B64.decode(DERIVATION_SALT_B64).unwrap_or_default();
        let mut h = Sha1::new();
        h.update(passphrase.as_bytes());
        h.update(&salt);
        let seed = h.finalize();
        let state = Sha1::digest(seed);
        let out = Sha1::digest(state);
        let mut k = [0u8; 16];
        k.copy_from_slice(&out[..16]);
        Self(k)
    }

    /// Upper-case hex (for the seller's own display; never log it).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02X}")).collect()
    }
}

/// The 24-character verification field: Base64(AES-128-CBC(key, IV, PKCS#7,
/// invoice number ‖ random number)).
pub fn verification_field(key: &QrKey, number: &InvoiceNumber, random: &RandomNumber) -> String {
    let plain = format!("{number}{}", random.as_str());
    let enc = cbc::Encryptor::<aes::Aes128>::new(&key.0.into(), &IV.into());
    B64.encode(enc.encrypt_padded_vec::<Pkcs7>(plain.as_bytes()))
}

/// Decrypt a verification field back to its 14 characters.
pub fn open_verification_field(key: &QrKey, field: &str) -> Result<String, Violation> {
    let raw = B64
        .decode(field)
        .map_err(|_| bad("QR_AES_FORMAT", "the verification field is not Base64"))?;
    let dec = cbc::Decryptor::<aes::Aes128>::new(&key.0.into(), &IV.into());
    let plain = dec.decrypt_padded_vec::<Pkcs7>(&raw).map_err(|_| {
        bad(
            "QR_AES_MISMATCH",
            "the verification field does not decrypt with this key",
        )
    })?;
    String::from_utf8(plain).map_err(|_| {
        bad(
            "QR_AES_MISMATCH",
            "the verification field does not decrypt with this key",
        )
    })
}

/// The 19-character Code 39 text: period (5) + invoice number (10) + random (4).
pub fn barcode(period: Period, number: &InvoiceNumber, random: &RandomNumber) -> String {
    format!("{period}{number}{}", random.as_str())
}

/// A parsed 1D barcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Barcode {
    /// Period.
    pub period: Period,
    /// Invoice number.
    pub number: InvoiceNumber,
    /// Random number.
    pub random: RandomNumber,
}

/// Parse a 1D barcode text.
pub fn parse_barcode(s: &str) -> Result<Barcode, Violation> {
    if s.len() != 19 || !s.is_ascii() {
        return Err(bad(
            "BARCODE_FORMAT",
            "a proof barcode is 19 characters: period (5), invoice number (10), random number (4)",
        ));
    }
    let f = |e: Violation| bad("BARCODE_FORMAT", e.message);
    Ok(Barcode {
        period: Period::parse(&s[..5]).map_err(f)?,
        number: InvoiceNumber::parse(&s[5..15]).map_err(f)?,
        random: RandomNumber::parse(&s[15..]).map_err(f)?,
    })
}

/// How item names are encoded in the QR codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemEncoding {
    /// `0`: Big5.
    Big5,
    /// `1`: UTF-8.
    Utf8,
    /// `2`: Base64 of the UTF-8 item run.
    Base64,
}

impl ItemEncoding {
    fn flag(self) -> char {
        match self {
            Self::Big5 => '0',
            Self::Utf8 => '1',
            Self::Base64 => '2',
        }
    }
}

/// Options for building the QR texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrOptions {
    /// Item encoding.
    pub encoding: ItemEncoding,
    /// Seller area (10 characters; `**********` when unused).
    pub seller_area: String,
    /// Byte budget of each QR text.
    pub max_bytes: usize,
}

impl Default for QrOptions {
    fn default() -> Self {
        Self {
            encoding: ItemEncoding::Utf8,
            seller_area: "**********".into(),
            max_bytes: 180,
        }
    }
}

/// One `name:quantity:unit price` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrItem {
    /// Item name.
    pub name: String,
    /// Quantity (exact).
    pub quantity: Decimal,
    /// Unit price (exact).
    pub unit_price: Decimal,
}

/// The left and right QR texts (as bytes: Big5 output is not UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCodes {
    /// Left code.
    pub left: Vec<u8>,
    /// Right code.
    pub right: Vec<u8>,
}

fn encode_text(s: &str, enc: ItemEncoding) -> Result<Vec<u8>, Violation> {
    match enc {
        ItemEncoding::Big5 => {
            let (out, _, unmappable) = encoding_rs::BIG5.encode(s);
            if unmappable {
                return Err(bad(
                    "QR_ENCODING",
                    "an item name has characters Big5 cannot encode; use UTF-8",
                ));
            }
            Ok(out.into_owned())
        }
        ItemEncoding::Utf8 => Ok(s.as_bytes().to_vec()),
        ItemEncoding::Base64 => Ok(B64.encode(s.as_bytes()).into_bytes()),
    }
}

fn item_text(it: &QrItem) -> String {
    format!(
        "{}:{}:{}",
        it.name.replace(':', "："),
        it.quantity.normalize(),
        it.unit_price.normalize()
    )
}

/// The 77-character header of the left code.
pub fn left_header(f: &InvoiceFacts, key: &QrKey) -> Result<String, Violation> {
    let random = f.random.as_ref().ok_or_else(|| {
        bad(
            "RANDOM_NUMBER_REQUIRED",
            "the proof needs the invoice's random number",
        )
    })?;
    let hex8 = |m: Money| -> Result<String, Violation> {
        u32::try_from(m.0).map(|v| format!("{v:08X}")).map_err(|_| {
            bad(
                "QR_AMOUNT_RANGE",
                "amounts above FFFFFFFF cannot be written in the QR header",
            )
        })
    };
    let h = format!(
        "{}{}{}{}{}{}{}{}",
        f.number,
        format_roc_date(f.date),
        random.as_str(),
        hex8(f.sales_ex_tax())?,
        hex8(f.total)?,
        f.buyer.qr_str(),
        f.seller,
        verification_field(key, &f.number, random)
    );
    debug_assert_eq!(h.len(), HEADER_LEN);
    Ok(h)
}

/// Build both QR texts for a validated invoice.
pub fn qr_codes(f: &InvoiceFacts, key: &QrKey, opts: &QrOptions) -> Result<QrCodes, Violation> {
    let header = left_header(f, key)?;
    let items: Vec<QrItem> = f
        .items
        .iter()
        .map(|i| QrItem {
            name: i.description.clone(),
            quantity: i.quantity,
            unit_price: i.unit_price,
        })
        .collect();
    build_qr(&header, &items, opts)
}

/// Build the QR texts from a header and items (exposed for tests and tools).
pub fn build_qr(header: &str, items: &[QrItem], opts: &QrOptions) -> Result<QrCodes, Violation> {
    if opts.seller_area.chars().count() != 10 || opts.seller_area.contains(':') {
        return Err(bad(
            "QR_SELLER_AREA",
            "the seller area is exactly 10 characters without ':'",
        ));
    }
    let texts: Vec<String> = items.iter().map(item_text).collect();
    let encoded: Vec<Vec<u8>> = match opts.encoding {
        ItemEncoding::Base64 => texts.iter().map(|t| t.as_bytes().to_vec()).collect(),
        e => texts
            .iter()
            .map(|t| encode_text(t, e))
            .collect::<Result<_, _>>()?,
    };
    // Fill the left code, then the right; an item goes where it fits whole.
    let count_digits = items.len().to_string().len();
    let fixed_left =
        header.len() + 1 + opts.seller_area.len() + 1 + count_digits + 1 + count_digits + 1 + 1 + 1;
    let (mut left_items, mut right_items): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    let mut left_used = fixed_left;
    let mut right_used = 2;
    let b64_len = |n: usize| n.div_ceil(3) * 4;
    for (i, e) in encoded.iter().enumerate() {
        let cost = e.len() + 1;
        let fits_left = right_items.is_empty()
            && match opts.encoding {
                ItemEncoding::Base64 => {
                    fixed_left
                        + b64_len(
                            left_items
                                .iter()
                                .map(|&j| encoded[j].len() + 1)
                                .sum::<usize>()
                                + cost,
                        )
                        <= opts.max_bytes
                }
                _ => left_used + cost <= opts.max_bytes,
            };
        if fits_left {
            left_items.push(i);
            left_used += cost;
            continue;
        }
        let fits_right = match opts.encoding {
            ItemEncoding::Base64 => {
                2 + b64_len(
                    right_items
                        .iter()
                        .map(|&j| encoded[j].len() + 1)
                        .sum::<usize>()
                        + cost,
                ) <= opts.max_bytes
            }
            _ => right_used + cost <= opts.max_bytes,
        };
        if !fits_right {
            // Keep the printed order: once an item does not fit, the rest are left out.
            break;
        }
        right_items.push(i);
        right_used += cost;
    }
    let join = |idx: &[usize], trailing: bool| -> Vec<u8> {
        let mut out = Vec::new();
        for (n, &i) in idx.iter().enumerate() {
            if n > 0 {
                out.push(b':');
            }
            out.extend_from_slice(&encoded[i]);
        }
        if trailing && !idx.is_empty() {
            out.push(b':');
        }
        out
    };
    let continued = !right_items.is_empty();
    let mut left = format!(
        "{header}:{}:{}:{}:{}:",
        opts.seller_area,
        left_items.len() + right_items.len(),
        items.len(),
        opts.encoding.flag()
    )
    .into_bytes();
    let left_run = join(&left_items, continued);
    let right_run = join(&right_items, false);
    match opts.encoding {
        ItemEncoding::Base64 => {
            left.extend_from_slice(B64.encode(&left_run).as_bytes());
            let mut right = b"**".to_vec();
            right.extend_from_slice(B64.encode(&right_run).as_bytes());
            Ok(QrCodes { left, right })
        }
        _ => {
            left.extend_from_slice(&left_run);
            let mut right = b"**".to_vec();
            right.extend_from_slice(&right_run);
            Ok(QrCodes { left, right })
        }
    }
}

/// The parsed left QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftQr {
    /// Invoice number.
    pub number: InvoiceNumber,
    /// ROC date `yyyMMdd`.
    pub roc_date: String,
    /// Random number.
    pub random: RandomNumber,
    /// Sales excluding tax.
    pub sales: Money,
    /// Total.
    pub total: Money,
    /// Buyer UBN text (`None` for a consumer, `00000000`).
    pub buyer: Option<String>,
    /// Seller UBN text (8 digits; not checksum-checked: test UBNs appear on samples).
    pub seller: String,
    /// The 24-character verification field.
    pub verification: String,
    /// Seller area.
    pub seller_area: String,
    /// Items encoded in the two codes.
    pub items_in_codes: u32,
    /// Items on the invoice.
    pub items_total: u32,
    /// Encoding flag.
    pub encoding: ItemEncoding,
    /// The item run as text (decoded), possibly ending with `:` when continued.
    pub item_run: String,
}

impl LeftQr {
    /// Does the verification field decrypt to this code's number and random under `key`?
    pub fn verify(&self, key: &QrKey) -> Result<(), Violation> {
        let plain = open_verification_field(key, &self.verification)?;
        if plain == format!("{}{}", self.number, self.random.as_str()) {
            Ok(())
        } else {
            Err(bad(
                "QR_AES_MISMATCH",
                "the verification field does not match the invoice and random numbers",
            ))
        }
    }
}

fn decode_run(bytes: &[u8], enc: ItemEncoding) -> Result<String, Violation> {
    match enc {
        ItemEncoding::Utf8 => String::from_utf8(bytes.to_vec())
            .map_err(|_| bad("QR_ENCODING", "items are not valid UTF-8")),
        ItemEncoding::Big5 => {
            let (s, _, had_errors) = encoding_rs::BIG5.decode(bytes);
            if had_errors {
                return Err(bad("QR_ENCODING", "items are not valid Big5"));
            }
            Ok(s.into_owned())
        }
        ItemEncoding::Base64 => {
            let raw = B64
                .decode(bytes)
                .map_err(|_| bad("QR_ENCODING", "items are not valid Base64"))?;
            String::from_utf8(raw).map_err(|_| bad("QR_ENCODING", "Base64 items are not UTF-8"))
        }
    }
}

/// Parse a left QR code (bytes as scanned).
pub fn parse_left_qr(bytes: &[u8]) -> Result<LeftQr, Violation> {
    if bytes.len() < HEADER_LEN {
        return Err(bad(
            "QR_HEADER_LENGTH",
            format!(
                "the left QR code starts with a {HEADER_LEN}-character header; got {} bytes",
                bytes.len()
            ),
        ));
    }
    let (head, rest) = bytes.split_at(HEADER_LEN);
    let head = std::str::from_utf8(head)
        .ok()
        .filter(|h| h.is_ascii())
        .ok_or_else(|| bad("QR_FORMAT", "the QR header is ASCII"))?;
    let f = |e: Violation| bad("QR_FORMAT", e.message);
    let hex = |s: &str| -> Result<Money, Violation> {
        u32::from_str_radix(s, 16)
            .map(|v| Money(i64::from(v)))
            .map_err(|_| bad("QR_FORMAT", format!("{s:?} is not 8 hex digits")))
    };
    let roc_date = &head[10..17];
    if !roc_date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            "QR_FORMAT",
            "the header's date is 7 digits (ROC yyyMMdd)",
        ));
    }
    let buyer_s = &head[37..45];
    let seller = &head[45..53];
    if !buyer_s
        .bytes()
        .chain(seller.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return Err(bad(
            "QR_FORMAT",
            "the buyer and seller UBNs are 8 digits each",
        ));
    }
    let buyer = (buyer_s != "00000000").then(|| buyer_s.to_string());
    // After the header: ':' area ':' n ':' total ':' flag ':' run
    let rest = rest
        .strip_prefix(b":")
        .ok_or_else(|| bad("QR_FORMAT", "':' must follow the 77-character header"))?;
    let mut parts = rest.splitn(5, |b| *b == b':');
    let mut next = |what: &str| -> Result<&[u8], Violation> {
        parts
            .next()
            .ok_or_else(|| bad("QR_FORMAT", format!("missing {what} after the header")))
    };
    let area = next("seller area")?;
    let n = next("item count")?;
    let total = next("total item count")?;
    let flag = next("encoding flag")?;
    let run = parts.next().unwrap_or(&[]);
    let num = |b: &[u8], what: &str| -> Result<u32, Violation> {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("QR_FORMAT", format!("the {what} is a whole number")))
    };
    let encoding = match flag {
        b"0" => ItemEncoding::Big5,
        b"1" => ItemEncoding::Utf8,
        b"2" => ItemEncoding::Base64,
        _ => {
            return Err(bad(
                "QR_FORMAT",
                "the encoding flag is 0 (Big5), 1 (UTF-8) or 2 (Base64)",
            ));
        }
    };
    Ok(LeftQr {
        number: InvoiceNumber::parse(&head[..10]).map_err(f)?,
        roc_date: roc_date.to_string(),
        random: RandomNumber::parse(&head[17..21]).map_err(f)?,
        sales: hex(&head[21..29])?,
        total: hex(&head[29..37])?,
        buyer,
        seller: seller.to_string(),
        verification: head[53..].to_string(),
        seller_area: String::from_utf8_lossy(area).into_owned(),
        items_in_codes: num(n, "item count")?,
        items_total: num(total, "total item count")?,
        encoding,
        item_run: decode_run(run, encoding)?,
    })
}

/// Parse a right QR code's item run (`**` + items), given the left code's encoding.
pub fn parse_right_qr(bytes: &[u8], encoding: ItemEncoding) -> Result<String, Violation> {
    let run = bytes
        .strip_prefix(b"**")
        .ok_or_else(|| bad("QR_FORMAT", "the right QR code starts with **"))?;
    decode_run(run, encoding)
}

/// Split a joined item run (`left run` + `right run`) into items.
pub fn parse_items(run: &str) -> Result<Vec<QrItem>, Violation> {
    let run = run.strip_suffix(':').unwrap_or(run);
    if run.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = run.split(':').collect();
    if !parts.len().is_multiple_of(3) {
        return Err(bad(
            "QR_ITEMS",
            "items are name:quantity:unit price triples",
        ));
    }
    parts
        .chunks_exact(3)
        .map(|c| {
            let d =
                |s: &str| crate::money::parse_decimal(s).map_err(|e| bad("QR_ITEMS", e.message));
            Ok(QrItem {
                name: c[0].to_string(),
                quantity: d(c[1])?,
                unit_price: d(c[2])?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
