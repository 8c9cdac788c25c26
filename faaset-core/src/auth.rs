//! The secrets of FaaSET's own loopback servers (the engine's control API, each environment's
//! Runtime API path, the kernel's bridge): how they are made and checked, in one place; and
//! the cloud platforms' secrets (keys, tokens) as they are held and masked ([`Secret`]), with
//! the form body of OAuth2 token requests ([`form`]).

use crate::error::{Error, Result};

/// 24 random bytes from the kernel's generator, in hex (48 characters).
pub fn new_token() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::io("read", "/dev/urandom", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether an `Authorization` header value is `Bearer <token>`, compared in constant time
/// (a loopback client must not learn the token a byte at a time from response times).
pub fn bearer_matches(header: Option<&str>, token: &str) -> bool {
    let presented = header.and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    constant_time_eq(presented.as_bytes(), token.as_bytes())
}

/// A secret as messages may show it: `…` and its last four characters, enough to tell two
/// apart, nothing to use.
pub fn masked(secret: &str) -> String {
    let tail: Vec<char> = secret.chars().rev().take(4).collect();
    format!("…{}", tail.into_iter().rev().collect::<String>())
}

/// A cloud secret (a private key, a client secret, a refresh token, an access or ID token). `Debug` and `Display`
/// show only its last four characters, so no format string can leak it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The secret itself, for a header or a signature only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", masked(&self.0))
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&masked(&self.0))
    }
}

/// `application/x-www-form-urlencoded` of `pairs` (through `url`'s serializer, already here
/// as reqwest's).
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://form/").expect("a valid URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_string()
}

/// Four lines are not worth a crate (`subtle`): every byte is compared, whatever differs.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_hex_and_only_the_exact_bearer_matches() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert!(a.len() == 48 && a.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(bearer_matches(Some(&format!("Bearer {a}")), &a));
        for wrong in [
            None,
            Some(""),
            Some(a.as_str()),
            Some("Bearer "),
            Some(&*format!("Bearer {b}")),
        ] {
            assert!(!bearer_matches(wrong, &a), "{wrong:?}");
        }
        assert!(!bearer_matches(Some(&format!("Bearer {a}x")), &a));
    }
}
