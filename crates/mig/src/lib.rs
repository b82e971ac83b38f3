//! einvoice-mig: the MIG 4.1 codecs.
//!
//! - **XML** ([`decode_xml`], [`encode_xml`]): the root element and its
//!   namespace (`urn:GEINV:eInvoiceMessage:<MSG>:4.1`) select the message kind.
//!   DOCTYPE declarations and entity references other than the five predefined
//!   ones and numeric character references are rejected, never expanded.
//!   Surrounding whitespace of every value is trimmed.
//! - **JSON** ([`decode_json`], [`encode_json`]): the model's serde form — the
//!   MIG element names as keys, `"message": "F0401"` as the kind tag,
//!   `Details` as an array of items.
//! - **Canonical bytes** ([`canonical`]): what ledger hashes and signatures
//!   cover. See [`canonical`] for the exact definition.
//!
//! **MIG 3.x** (e.g. C0401 under `urn:GEINV:eInvoiceMessage:C0401:3.2`) was
//! retired by MOF on 2025-01-01; such documents are rejected with
//! `MIG3_RETIRED` rather than converted, because 3.x messages carry amount
//! semantics (and message ids) that 4.1 replaced, and a silent conversion
//! would sign something the sender never wrote.
//!
//! Decode error codes (stable): `ENCODING_INVALID`, `XML_MALFORMED`,
//! `XML_DTD_FORBIDDEN`, `XML_ENTITY_FORBIDDEN`, `XML_PI_FORBIDDEN`,
//! `XML_ROOT_UNKNOWN`, `XML_NAMESPACE`, `MIG3_RETIRED`, `XML_MIXED_CONTENT`,
//! `XML_ATTRIBUTE_UNEXPECTED`, `XML_TOO_DEEP`, `DOCUMENT_TOO_LARGE`,
//! `ITEMS_TOO_MANY`, `FIELD_DUPLICATE`, `UNKNOWN_FIELD`, `FIELD_REQUIRED`,
//! `FIELD_TYPE`, `JSON_MALFORMED`, `MESSAGE_KIND_UNKNOWN`, `FORMAT_UNKNOWN`.

pub mod bench;
mod tree;
mod xml;

use einvoice_core::{Message, MessageKind, Violation};
use serde_json::Value;

pub use xml::{decode_xml, encode_xml};

/// Largest document accepted by the decoders (bytes).
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// Most `Details` items accepted in one message (the MIG's own limit).
pub const MAX_ITEMS: usize = 9999;
/// Deepest element nesting accepted (MIG documents need 4).
pub const MAX_DEPTH: usize = 16;

/// The wire form of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// MIG 4.1 XML (`application/xml`).
    Xml,
    /// The JSON form: `{"message":"F0401", ...MIG field names...}` (`application/json`).
    Json,
}

impl Format {
    /// Guess the format from the first non-whitespace byte (`<` is XML, `{` is JSON).
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'<') => Some(Format::Xml),
            Some(b'{') => Some(Format::Json),
            _ => None,
        }
    }
}

/// Why bytes could not be decoded into a [`Message`]. Converts into a
/// [`Violation`] carrying the same code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} at {field}: {message}")]
pub struct DecodeError {
    /// Stable code (see the crate documentation).
    pub code: &'static str,
    /// Where in the document (a path of MIG element names), or empty.
    pub field: String,
    /// What a person can do about it.
    pub message: String,
}

impl DecodeError {
    pub(crate) fn new(
        code: &'static str,
        field: impl Into<String>,
        msg: impl Into<String>,
    ) -> Self {
        Self {
            code,
            field: field.into(),
            message: msg.into(),
        }
    }
}

impl From<DecodeError> for Violation {
    fn from(e: DecodeError) -> Self {
        Violation::new(e.code, e.field, e.message)
    }
}

/// Decode a message in the given format.
pub fn decode(bytes: &[u8], format: Format) -> Result<Message, DecodeError> {
    match format {
        Format::Xml => decode_xml(bytes),
        Format::Json => decode_json(bytes),
    }
}

/// Decode bytes of either format, sniffing which one it is.
pub fn decode_any(bytes: &[u8]) -> Result<Message, DecodeError> {
    match Format::sniff(bytes) {
        Some(f) => decode(bytes, f),
        None => Err(DecodeError::new(
            "FORMAT_UNKNOWN",
            "",
            "the document is neither MIG XML (starts with '<') nor JSON (starts with '{')",
        )),
    }
}

/// Decode the JSON form. String values are trimmed, as in XML.
pub fn decode_json(bytes: &[u8]) -> Result<Message, DecodeError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(too_large());
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        DecodeError::new(
            "ENCODING_INVALID",
            "",
            format!("the document is not valid UTF-8 (byte {})", e.valid_up_to()),
        )
    })?;
    let mut value: Value = serde_json::from_str(text).map_err(|e| {
        DecodeError::new(
            "JSON_MALFORMED",
            "",
            format!(
                "malformed JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    check_json_shape(&value, 0)?;
    let kind = match value.get("message") {
        Some(Value::String(s)) => MessageKind::parse(s).ok_or_else(|| {
            DecodeError::new(
                "MESSAGE_KIND_UNKNOWN",
                "message",
                format!(
                    "unknown message kind {s:?}; expected one of F0401, F0501, F0701, G0401, G0501, E0401, E0402, E0501, A0101"
                ),
            )
        })?,
        _ => {
            return Err(DecodeError::new(
                "FIELD_REQUIRED",
                "message",
                "the JSON form needs a \"message\" field naming the kind, e.g. \"F0401\"",
            ));
        }
    };
    trim_strings(&mut value);
    let _ = kind;
    from_value(value)
}

fn too_large() -> DecodeError {
    DecodeError::new(
        "DOCUMENT_TOO_LARGE",
        "",
        format!("documents are limited to {MAX_DOCUMENT_BYTES} bytes"),
    )
}

/// Reject JSON nesting deeper than [`MAX_DEPTH`] and item lists longer than [`MAX_ITEMS`].
fn check_json_shape(v: &Value, depth: usize) -> Result<(), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::new(
            "XML_TOO_DEEP",
            "",
            format!("nesting deeper than {MAX_DEPTH} levels"),
        ));
    }
    match v {
        Value::Array(a) => {
            if a.len() > MAX_ITEMS {
                return Err(DecodeError::new(
                    "ITEMS_TOO_MANY",
                    "Details",
                    format!("{} items; a message holds at most {MAX_ITEMS}", a.len()),
                ));
            }
            a.iter().try_for_each(|x| check_json_shape(x, depth + 1))
        }
        Value::Object(o) => o.values().try_for_each(|x| check_json_shape(x, depth + 1)),
        _ => Ok(()),
    }
}

fn trim_strings(v: &mut Value) {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if t.len() != s.len() {
                *s = t.to_string();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(trim_strings),
        Value::Object(o) => o.values_mut().for_each(trim_strings),
        _ => {}
    }
}

/// Turn the generic tree into the model, mapping serde's complaints to codes with paths.
pub(crate) fn from_value(value: Value) -> Result<Message, DecodeError> {
    serde_path_to_error::deserialize::<_, Message>(value).map_err(|e| {
        let path = e
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Seq { index } => Some(format!("[{}]", index + 1)),
                _ => None,
            })
            .fold(String::new(), |mut acc, seg| {
                if !acc.is_empty() && !seg.starts_with('[') {
                    acc.push('/');
                }
                acc.push_str(&seg);
                acc
            });
        let inner = e.into_inner().to_string();
        if let Some(rest) = inner.strip_prefix("unknown field `") {
            let name = rest.split('`').next().unwrap_or("");
            let field = if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}/{name}")
            };
            DecodeError::new(
                "UNKNOWN_FIELD",
                field,
                format!("{name} is not a MIG 4.1 element here; {inner}"),
            )
        } else if let Some(rest) = inner.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or("");
            let field = if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}/{name}")
            };
            DecodeError::new(
                "FIELD_REQUIRED",
                field,
                format!("the required element {name} is missing"),
            )
        } else if inner.contains("unknown variant") {
            DecodeError::new("MESSAGE_KIND_UNKNOWN", "message", inner)
        } else {
            DecodeError::new(
                "FIELD_TYPE",
                path,
                format!("wrong shape: {inner} (values are text; Details is a list of items)"),
            )
        }
    })
}

/// Encode as the JSON form (compact; MIG element order).
pub fn encode_json(msg: &Message) -> Vec<u8> {
    serde_json::to_vec(msg).unwrap_or_default()
}

/// Encode as the JSON form, indented for people.
pub fn encode_json_pretty(msg: &Message) -> Vec<u8> {
    serde_json::to_vec_pretty(msg).unwrap_or_default()
}

/// The canonical bytes of a message, covered by ledger hashes and signatures.
///
/// Definition (version 1): the compact JSON form of the decoded model —
/// `{"message":"<KIND>",` then the MIG elements **in MIG schema order**
/// (the model's field order, never the arrival order), absent optional
/// elements omitted, every value a trimmed string, `Details` an array,
/// no whitespace between tokens, strings escaped as `serde_json` does (only
/// `"` `\` and control characters; non-ASCII as raw UTF-8). So the same
/// message gives the same bytes whether it arrived as XML or JSON, with any
/// whitespace, indentation or element order. Golden tests pin this: changing
/// it invalidates every ledger hash.
pub fn canonical(msg: &Message) -> Vec<u8> {
    encode_json(msg)
}

#[cfg(test)]
mod tests;
