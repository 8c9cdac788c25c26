//! `FunctionName`: a function name validated once, so it is safe to join into paths and to
//! use as a platform resource name everywhere else.

use std::fmt;

use crate::error::{Error, Result};

/// A valid function name: `^[a-z][a-z0-9_]{0,62}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionName(String);

impl FunctionName {
    pub fn new(name: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidName {
            name: name.to_string(),
            reason,
        };
        let mut chars = name.chars();
        match chars.next() {
            None => return Err(invalid("it is empty")),
            Some(c) if !c.is_ascii_lowercase() => {
                return Err(invalid("it must start with a lowercase letter a-z"))
            }
            Some(_) => {}
        }
        if name.len() > 63 {
            return Err(invalid("it is longer than 63 characters"));
        }
        if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(invalid(
                "only lowercase letters, digits and underscores are allowed",
            ));
        }
        Ok(FunctionName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FunctionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        for ok in ["hello_world", "a", "f1", &format!("a{}", "b".repeat(62))] {
            assert!(FunctionName::new(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("../x", "lowercase letter"),
            ("Hello", "lowercase letter"),
            ("1abc", "lowercase letter"),
            ("_a", "lowercase letter"),
            ("a-b", "underscores"),
            ("a/b", "underscores"),
            ("a b", "underscores"),
            ("héllo", "underscores"),
        ] {
            let err = FunctionName::new(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let long = format!("a{}", "b".repeat(63));
        assert!(FunctionName::new(&long)
            .unwrap_err()
            .to_string()
            .contains("longer"));
    }
}
