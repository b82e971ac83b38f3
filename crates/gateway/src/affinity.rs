//! Carrier sessions stay on the site that opened them.
//!
//! A carrier token (`POST /v1/carrier/login`) is sealed with the master key
//! of the site that issued it, and each site has its own key, so a token is
//! good only at its own site. The gateway remembers, for each token a login
//! through it returned, which site issued it, and sends requests carrying
//! that token (`Authorization: Bearer …`) there while it is healthy (if it
//! is not, elsewhere: the site answers 401 and the citizen logs in again).
//!
//! Only a digest of each token is kept (the first 16 bytes of its SHA-256),
//! never the token; entries end with the token's `expires_unix` (at most a
//! day), and at most `[limits] max_sessions` are kept.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest a session is remembered.
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

type Key = [u8; 16];

fn key(token: &str) -> Key {
    let d = Sha256::digest(token.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

/// Token digest → issuing site.
#[derive(Debug)]
pub struct Affinity {
    max: usize,
    map: Mutex<HashMap<Key, (usize, Instant)>>,
}

impl Affinity {
    /// At most `max` sessions.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Remember that site `site` issued `token`, good for `ttl`.
    pub fn remember(&self, token: &str, site: usize, ttl: Duration) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= self.max {
            let now = Instant::now();
            map.retain(|_, (_, until)| *until > now);
            if map.len() >= self.max {
                return;
            }
        }
        map.insert(key(token), (site, Instant::now() + ttl.min(MAX_TTL)));
    }

    /// The site that issued the bearer token of an `Authorization` value.
    pub fn site_of(&self, authorization: &str) -> Option<usize> {
        let (scheme, token) = authorization.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&key(token.trim()))
            .filter(|(_, until)| *until > Instant::now())
            .map(|(site, _)| *site)
    }

    /// The token and its lifetime in a login answer (`{"token", "expires_unix"}`).
    pub fn login_answer(body: &[u8]) -> Option<(String, Duration)> {
        #[derive(serde::Deserialize)]
        struct Login {
            token: String,
            expires_unix: Option<i64>,
        }
        let l: Login = serde_json::from_slice(body).ok()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let ttl = l
            .expires_unix
            .map_or(3600, |e| e.saturating_sub(now).max(0) as u64);
        Some((l.token, Duration::from_secs(ttl)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_token_names_its_site_until_it_expires() {
        let a = Affinity::new(2);
        a.remember("tok-1", 2, Duration::from_secs(60));
        assert_eq!(a.site_of("Bearer tok-1"), Some(2));
        assert_eq!(a.site_of("bearer  tok-1"), Some(2));
        assert_eq!(a.site_of("Basic tok-1"), None);
        assert_eq!(a.site_of("Bearer tok-2"), None);
        a.remember("tok-2", 1, Duration::ZERO);
        assert_eq!(a.site_of("Bearer tok-2"), None, "expired");
        a.remember("tok-3", 1, Duration::from_secs(60));
        assert_eq!(
            a.site_of("Bearer tok-3"),
            Some(1),
            "the expired one made room"
        );
        a.remember("tok-4", 1, Duration::from_secs(60));
        assert_eq!(a.site_of("Bearer tok-4"), None, "full");
        let (t, ttl) = Affinity::login_answer(br#"{"token":"x","expires_unix":1}"#).expect("login");
        assert_eq!((t.as_str(), ttl), ("x", Duration::ZERO));
        assert!(Affinity::login_answer(b"{}").is_none());
    }
}
