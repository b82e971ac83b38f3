//! einvoice-mig: the MIG 4.1 codecs. XML (namespace and root element checked,
//! DTDs and entities rejected, never expanded), a JSON form with the same field
//! names, and the canonical byte encoding that ledger hashes and signatures use.
//!
//! The surface below is the contract other crates code against; the bodies are
//! being built (they answer `NOT_IMPLEMENTED` until then).

use einvoice_core::{Message, Violation};

/// The wire form of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// MIG 4.1 XML (`application/xml`).
    Xml,
    /// The JSON form: `{"message": "F0401", ...MIG field names...}` (`application/json`).
    Json,
}

impl Format {
    /// Guess the format from the first non-whitespace byte (`<` is XML, `{` is JSON).
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'<') => Some(Format::Xml),
            Some(b'{') => Some(Format::Json),
            _ => None,
        }
    }
}

/// Why bytes could not be decoded into a [`Message`]. Converts into a
/// [`Violation`] carrying a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} at {field}: {message}")]
pub struct DecodeError {
    /// Stable code, e.g. `XML_MALFORMED`, `XML_DTD_FORBIDDEN`, `JSON_MALFORMED`, `UNKNOWN_FIELD`.
    pub code: &'static str,
    /// Where in the document (a path of MIG element names), or empty.
    pub field: String,
    /// What a person can do about it.
    pub message: String,
}

impl From<DecodeError> for Violation {
    fn from(e: DecodeError) -> Self {
        Violation::new(e.code, e.field, e.message)
    }
}

fn not_yet(what: &str) -> DecodeError {
    DecodeError {
        code: "NOT_IMPLEMENTED",
        field: String::new(),
        message: format!("{what} is being built"),
    }
}

/// Decode a message in the given format.
pub fn decode(bytes: &[u8], format: Format) -> Result<Message, DecodeError> {
    match format {
        Format::Xml => decode_xml(bytes),
        Format::Json => decode_json(bytes),
    }
}

/// Decode MIG 4.1 XML.
pub fn decode_xml(_bytes: &[u8]) -> Result<Message, DecodeError> {
    Err(not_yet("XML decoding"))
}

/// Decode the JSON form.
pub fn decode_json(_bytes: &[u8]) -> Result<Message, DecodeError> {
    Err(not_yet("JSON decoding"))
}

/// Encode as MIG 4.1 XML (UTF-8, with the kind's namespace).
pub fn encode_xml(_msg: &Message) -> Vec<u8> {
    Vec::new()
}

/// Encode as the JSON form.
pub fn encode_json(_msg: &Message) -> Vec<u8> {
    Vec::new()
}

/// The canonical bytes of a message: the same message gives the same bytes
/// whatever whitespace, field order or format it arrived in.
pub fn canonical(_msg: &Message) -> Vec<u8> {
    Vec::new()
}
