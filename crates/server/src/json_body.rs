//! Every JSON request body the site documents is an object. `serde`'s
//! derived structs also accept a JSON array (the fields in order), so a body
//! like `[]` or `["a", "b"]` would pass for an object whose fields are all
//! optional or happen to line up; the API fuzzer found `POST
//! /v1/ops/apps/{id}/disable` answering 200 to `[]`. [`object`] refuses
//! anything but an object before `serde` sees it.

use serde::Deserialize;

/// Parses `bytes` as `T` if the body is a JSON object; anything else (an
/// array, a string, a number, `null`, nothing) is refused with the same
/// error type `serde_json::from_slice` returns, so callers word it as usual.
pub(crate) fn object<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, serde_json::Error> {
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        return Err(<serde_json::Error as serde::de::Error>::custom(
            "the body must be a JSON object",
        ));
    }
    serde_json::from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::object;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Reason {
        #[serde(default)]
        reason: Option<String>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Pair {
        a: String,
        b: String,
    }

    #[test]
    fn only_objects_pass() {
        // What serde alone would accept as these structs.
        assert!(serde_json::from_slice::<Reason>(b"[]").is_ok());
        assert!(serde_json::from_slice::<Pair>(br#"["x", "y"]"#).is_ok());
        // Refused here.
        for bad in [&b"[]"[..], b" \n[null]", b"null", b"\"x\"", b"1", b""] {
            assert!(
                object::<Reason>(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(object::<Pair>(br#"["x", "y"]"#).is_err());
        assert_eq!(
            object::<Reason>(b" \r\n\t{\"reason\": \"r\"}").ok(),
            Some(Reason {
                reason: Some("r".into())
            })
        );
        assert_eq!(
            object::<Pair>(br#"{"a": "x", "b": "y"}"#).ok(),
            Some(Pair {
                a: "x".into(),
                b: "y".into()
            })
        );
    }
}
