//! Citizen problem texts in Traditional Chinese (zh-TW) and English, chosen
//! by the request's `Accept-Language` (RFC 9110 §12.5.4: the highest `q`
//! wins; ties go to the earlier tag). Anything that is not Chinese gets
//! English; the stable `code` is the same in both.

use crate::problem::Problem;
use axum::http::{HeaderMap, StatusCode, header};

/// The language of a citizen answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Traditional Chinese (`zh-TW`, `zh-Hant`, `zh`).
    ZhTw,
    /// English (the default).
    En,
}

impl Lang {
    /// The preferred language of `Accept-Language` (English if absent or unparsable).
    pub fn of(headers: &HeaderMap) -> Self {
        let Some(v) = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
        else {
            return Self::En;
        };
        let mut best: Option<(u16, Self)> = None;
        for part in v.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_string))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .map_or(1000, |q| (q.clamp(0.0, 1.0) * 1000.0) as u16);
            if q == 0 || tag.is_empty() {
                continue;
            }
            let lang = if tag == "zh" || tag.starts_with("zh-") {
                Self::ZhTw
            } else if tag == "en" || tag.starts_with("en-") || tag == "*" {
                Self::En
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Self::En, |(_, l)| l)
    }

    /// The `Content-Language` tag.
    pub fn tag(self) -> &'static str {
        match self {
            Self::ZhTw => "zh-TW",
            Self::En => "en",
        }
    }
}

/// A problem whose `detail` is in the caller's language.
pub fn problem(lang: Lang, status: StatusCode, code: &str, en: &str, zh: &str) -> Problem {
    Problem::new(
        status,
        code,
        match lang {
            Lang::ZhTw => zh,
            Lang::En => en,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn lang(v: &str) -> Lang {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(v).expect("header"),
        );
        Lang::of(&h)
    }

    #[test]
    fn accept_language_picks_the_best_supported_tag() {
        assert_eq!(Lang::of(&HeaderMap::new()), Lang::En);
        assert_eq!(lang("zh-TW"), Lang::ZhTw);
        assert_eq!(lang("zh-Hant-TW,zh;q=0.9,en;q=0.8"), Lang::ZhTw);
        assert_eq!(lang("en-US,zh-TW;q=0.5"), Lang::En);
        assert_eq!(lang("fr, zh-TW;q=0.4"), Lang::ZhTw);
        assert_eq!(lang("zh-TW;q=0, en"), Lang::En);
        assert_eq!(lang("de"), Lang::En);
    }
}
