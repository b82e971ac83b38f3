//! A small element tree read from XML with quick-xml, with the safety checks
//! the MIG needs (no DTD, no custom entities, bounded depth and size).

use crate::{DecodeError, MAX_DEPTH, MAX_DOCUMENT_BYTES};
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// One element: its local name, its attributes (raw name, value), and either
/// children or text.
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub name: String,
    pub prefix: Option<String>,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

fn malformed(reader: &Reader<&[u8]>, what: impl std::fmt::Display) -> DecodeError {
    DecodeError::new(
        "XML_MALFORMED",
        "",
        format!(
            "malformed XML near byte {}: {what}",
            reader.error_position()
        ),
    )
}

fn split_name(s: &str) -> (Option<String>, String) {
    match s.split_once(':') {
        Some((p, l)) => (Some(p.to_string()), l.to_string()),
        None => (None, s.to_string()),
    }
}

fn start_element(
    reader: &Reader<&[u8]>,
    e: &quick_xml::events::BytesStart<'_>,
) -> Result<Element, DecodeError> {
    let (prefix, name) = split_name(e.name().as_ref());
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| malformed(reader, err))?;
        let key = a.key.as_ref().to_string();
        let raw = a.value.to_string();
        let value = quick_xml::escape::unescape(&raw)
            .map_err(|err| {
                DecodeError::new(
                    "XML_ENTITY_FORBIDDEN",
                    name.clone(),
                    format!("attribute {key}: {err}; only the five predefined entities and character references are allowed"),
                )
            })?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        prefix,
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

/// Parse a whole document into its root element.
pub(crate) fn parse(bytes: &[u8]) -> Result<Element, DecodeError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(DecodeError::new(
            "DOCUMENT_TOO_LARGE",
            "",
            format!("documents are limited to {MAX_DOCUMENT_BYTES} bytes"),
        ));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(body) {
        return Err(DecodeError::new(
            "ENCODING_INVALID",
            "",
            format!(
                "the document is not valid UTF-8 (byte {}); MIG 4.1 documents are UTF-8",
                e.valid_up_to()
            ),
        ));
    }
    let mut reader = Reader::from_reader(body);
    let cfg = reader.config_mut();
    cfg.check_end_names = true;
    cfg.expand_empty_elements = false;
    cfg.trim_text(false);

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let ev = reader.read_event().map_err(|e| malformed(&reader, e))?;
        match ev {
            Event::Decl(d) => {
                if let Some(Ok(enc)) = d.encoding() {
                    let enc = enc.to_ascii_uppercase();
                    if enc != "UTF-8" && enc != "UTF8" {
                        return Err(DecodeError::new(
                            "ENCODING_INVALID",
                            "",
                            format!("declared encoding {enc} is not supported; send UTF-8"),
                        ));
                    }
                }
            }
            Event::DocType(_) => {
                return Err(DecodeError::new(
                    "XML_DTD_FORBIDDEN",
                    "",
                    "DOCTYPE declarations are not accepted (no DTDs, no entity definitions); remove the <!DOCTYPE ...>",
                ));
            }
            Event::PI(_) => {
                return Err(DecodeError::new(
                    "XML_PI_FORBIDDEN",
                    "",
                    "processing instructions are not accepted in MIG documents",
                ));
            }
            Event::Comment(_) => {}
            Event::Start(e) => {
                if root.is_some() {
                    return Err(malformed(&reader, "content after the root element"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(DecodeError::new(
                        "XML_TOO_DEEP",
                        path(&stack),
                        format!("elements nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
                let el = start_element(&reader, &e)?;
                stack.push(el);
            }
            Event::Empty(e) => {
                if root.is_some() {
                    return Err(malformed(&reader, "content after the root element"));
                }
                let el = start_element(&reader, &e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let Some(mut el) = stack.pop() else {
                    return Err(malformed(&reader, "unexpected end tag"));
                };
                let trimmed = el.text.trim();
                if !el.children.is_empty() && !trimmed.is_empty() {
                    return Err(DecodeError::new(
                        "XML_MIXED_CONTENT",
                        format!("{}/{}", path(&stack), el.name),
                        "an element holds both text and child elements",
                    ));
                }
                if trimmed.len() != el.text.len() {
                    el.text = trimmed.to_string();
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.xml10_content();
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None => {
                        if !s.trim().is_empty() {
                            return Err(malformed(&reader, "text outside the root element"));
                        }
                    }
                }
            }
            Event::CData(c) => {
                let s = c.xml10_content();
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None => return Err(malformed(&reader, "CDATA outside the root element")),
                }
            }
            Event::GeneralRef(r) => {
                let ch = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c),
                        _ => return Err(malformed(&reader, "invalid character reference")),
                    }
                } else {
                    match r.as_ref() {
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "amp" => Some('&'),
                        "apos" => Some('\''),
                        "quot" => Some('"'),
                        other => {
                            return Err(DecodeError::new(
                                "XML_ENTITY_FORBIDDEN",
                                path(&stack),
                                format!(
                                    "entity &{other}; is not allowed; only &lt; &gt; &amp; &apos; &quot; and character references are"
                                ),
                            ));
                        }
                    }
                };
                match (stack.last_mut(), ch) {
                    (Some(el), Some(c)) => el.text.push(c),
                    _ => return Err(malformed(&reader, "reference outside the root element")),
                }
            }
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(DecodeError::new(
            "XML_MALFORMED",
            path(&stack),
            "the document ends before its elements are closed (truncated?)",
        ));
    }
    root.ok_or_else(|| DecodeError::new("XML_MALFORMED", "", "the document has no root element"))
}

fn path(stack: &[Element]) -> String {
    stack
        .iter()
        .skip(1)
        .map(|e| e.name.as_str())
        .collect::<Vec<_>>()
        .join("/")
}
