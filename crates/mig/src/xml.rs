//! MIG 4.1 XML: decode through the checked element tree, encode in schema order.

use crate::tree::{self, Element};
use crate::{DecodeError, MAX_ITEMS, from_value};
use einvoice_core::{Message, MessageKind};
use serde_json::{Map, Value};

/// The element name of `Details` items for a kind.
fn item_element(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::E0401 => "BranchTrackItem",
        MessageKind::E0402 => "BranchTrackBlankItem",
        _ => "ProductItem",
    }
}

fn kind_from_namespace(root: &Element) -> Result<MessageKind, DecodeError> {
    let ns_attr = match &root.prefix {
        Some(p) => format!("xmlns:{p}"),
        None => "xmlns".to_string(),
    };
    let ns = root
        .attrs
        .iter()
        .find(|(k, _)| *k == ns_attr)
        .map(|(_, v)| v.trim().to_string())
        .ok_or_else(|| {
            DecodeError::new(
                "XML_NAMESPACE",
                root.name.clone(),
                format!(
                    "the root element {} has no namespace; expected xmlns=\"urn:GEINV:eInvoiceMessage:<MSG>:4.1\"",
                    root.name
                ),
            )
        })?;
    let rest = ns
        .strip_prefix("urn:GEINV:eInvoiceMessage:")
        .ok_or_else(|| {
            DecodeError::new(
                "XML_NAMESPACE",
                root.name.clone(),
                format!(
                    "namespace {ns:?} is not a MIG namespace (urn:GEINV:eInvoiceMessage:<MSG>:4.1)"
                ),
            )
        })?;
    let (msg, version) = rest.split_once(':').unwrap_or((rest, ""));
    if version.starts_with('3') {
        return Err(DecodeError::new(
            "MIG3_RETIRED",
            root.name.clone(),
            format!(
                "{msg} under MIG {version} was retired (MIG 3.x ended 2025-01-01); send the MIG 4.1 message instead (C0401 becomes F0401, C0501 F0501, C0701 F0701, D0401 G0401, D0501 G0501)"
            ),
        ));
    }
    if version != "4.1" {
        return Err(DecodeError::new(
            "XML_NAMESPACE",
            root.name.clone(),
            format!("MIG version {version:?} is not supported; expected 4.1"),
        ));
    }
    let kind = MessageKind::parse(msg).ok_or_else(|| {
        DecodeError::new(
            "XML_NAMESPACE",
            root.name.clone(),
            format!("message {msg:?} is not one einvoice accepts"),
        )
    })?;
    if kind.root_element() != root.name {
        return Err(DecodeError::new(
            "XML_ROOT_UNKNOWN",
            root.name.clone(),
            format!(
                "root element {} does not match namespace {ns}; {kind} documents have root {}",
                root.name,
                kind.root_element()
            ),
        ));
    }
    Ok(kind)
}

fn check_child(el: &Element, root_prefix: &Option<String>, path: &str) -> Result<(), DecodeError> {
    if el.prefix != *root_prefix {
        return Err(DecodeError::new(
            "XML_NAMESPACE",
            path.to_string(),
            format!("element {} is not in the message's namespace", el.name),
        ));
    }
    if let Some((k, _)) = el.attrs.iter().find(|(k, _)| !k.starts_with("xmlns")) {
        return Err(DecodeError::new(
            "XML_ATTRIBUTE_UNEXPECTED",
            path.to_string(),
            format!("MIG elements carry no attributes; found {k}"),
        ));
    }
    Ok(())
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}/{name}")
    }
}

fn to_value(
    el: Element,
    kind: MessageKind,
    prefix: &Option<String>,
    path: &str,
) -> Result<Value, DecodeError> {
    if el.children.is_empty() {
        return Ok(Value::String(el.text));
    }
    let mut map = Map::new();
    for child in el.children {
        let cpath = join(path, &child.name);
        check_child(&child, prefix, &cpath)?;
        let name = child.name.clone();
        let value = if name == "Details" {
            if child.children.len() > MAX_ITEMS {
                return Err(DecodeError::new(
                    "ITEMS_TOO_MANY",
                    cpath,
                    format!(
                        "{} items; a message holds at most {MAX_ITEMS}",
                        child.children.len()
                    ),
                ));
            }
            let want = item_element(kind);
            let mut items = Vec::with_capacity(child.children.len());
            for (i, item) in child.children.into_iter().enumerate() {
                let ipath = format!("{cpath}/{}[{}]", item.name, i + 1);
                check_child(&item, prefix, &ipath)?;
                if item.name != want {
                    return Err(DecodeError::new(
                        "UNKNOWN_FIELD",
                        ipath,
                        format!("{kind} Details hold {want} elements, not {}", item.name),
                    ));
                }
                if item.children.is_empty() {
                    return Err(DecodeError::new(
                        "FIELD_TYPE",
                        ipath,
                        format!("{want} must contain elements"),
                    ));
                }
                items.push(to_value(item, kind, prefix, &ipath)?);
            }
            Value::Array(items)
        } else {
            to_value(child, kind, prefix, &cpath)?
        };
        if map.contains_key(&name) {
            return Err(DecodeError::new(
                "FIELD_DUPLICATE",
                join(path, &name),
                format!("{name} appears more than once"),
            ));
        }
        map.insert(name, value);
    }
    Ok(Value::Object(map))
}

/// Decode MIG 4.1 XML.
pub fn decode_xml(bytes: &[u8]) -> Result<Message, DecodeError> {
    let root = tree::parse(bytes)?;
    let kind = kind_from_namespace(&root)?;
    let prefix = root.prefix.clone();
    let root_name = root.name.clone();
    let body = if root.children.is_empty() {
        Value::Object(Map::new())
    } else {
        to_value(root, kind, &prefix, "")?
    };
    let Value::Object(fields) = body else {
        return Err(DecodeError::new(
            "FIELD_TYPE",
            root_name,
            "the root element must contain elements",
        ));
    };
    let mut obj = Map::with_capacity(fields.len() + 1);
    obj.insert("message".into(), Value::String(kind.as_str().into()));
    obj.extend(fields);
    from_value(Value::Object(obj))
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            c if (c as u32) < 0x20 => {
                // Not representable in XML 1.0; keep it visible as a reference
                // so the decoder reports it instead of silently dropping it.
                out.push_str(&format!("&#{};", c as u32));
            }
            c => out.push(c),
        }
    }
}

fn write_value(out: &mut String, name: &str, v: &Value, kind: MessageKind, indent: usize) {
    let pad = "  ".repeat(indent);
    match v {
        Value::String(s) => {
            out.push_str(&pad);
            out.push('<');
            out.push_str(name);
            out.push('>');
            escape_into(out, s);
            out.push_str("</");
            out.push_str(name);
            out.push_str(">\n");
        }
        Value::Object(map) => {
            out.push_str(&format!("{pad}<{name}>\n"));
            for (k, v) in map {
                write_value(out, k, v, kind, indent + 1);
            }
            out.push_str(&format!("{pad}</{name}>\n"));
        }
        Value::Array(items) => {
            out.push_str(&format!("{pad}<{name}>\n"));
            for item in items {
                write_value(out, item_element(kind), item, kind, indent + 1);
            }
            out.push_str(&format!("{pad}</{name}>\n"));
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Encode as MIG 4.1 XML (UTF-8, with the kind's namespace, schema order).
pub fn encode_xml(msg: &Message) -> Vec<u8> {
    let kind = msg.kind();
    let mut out = String::with_capacity(2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<{} xmlns=\"{}\">\n",
        kind.root_element(),
        kind.namespace()
    ));
    if let Ok(Value::Object(map)) = serde_json::to_value(msg) {
        for (k, v) in &map {
            if k != "message" {
                write_value(&mut out, k, v, kind, 1);
            }
        }
    }
    out.push_str(&format!("</{}>\n", kind.root_element()));
    out.into_bytes()
}
