//! Splitting a magic line into arguments, and reading `key=value` arguments with types.
//!
//! Values are JSON or bare words (DESIGN §1.1), so a token runs to the next space outside
//! brackets, braces and strings: `payloads=[{"name": "Bob"}]` is one argument.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use serde_json::{Map, Value};

/// Splits on whitespace outside `[]`, `{}` and double-quoted strings.
pub fn tokens(line: &str) -> Result<Vec<String>> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    let mut in_string = false;
    let mut escaped = false;
    for c in line.chars() {
        if in_string {
            current.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            c if c.is_whitespace() && depth <= 0 => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if in_string {
        bail!("a string is not closed: add the missing `\"`");
    }
    if depth > 0 {
        bail!("a bracket is not closed: check the `[`/`{{` of the JSON values");
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    Ok(tokens)
}

/// The arguments of one magic: positionals in order, then `key=value` options.
#[derive(Debug, Default)]
pub struct Args {
    verb: String,
    positional: Vec<String>,
    options: BTreeMap<String, String>,
}

impl Args {
    pub fn parse(verb: &str, tokens: &[String]) -> Result<Args> {
        let mut args = Args {
            verb: verb.to_string(),
            ..Args::default()
        };
        for token in tokens {
            match option(token) {
                Some((key, value)) => {
                    if args
                        .options
                        .insert(key.to_string(), value.to_string())
                        .is_some()
                    {
                        bail!("{key}= is given twice in %faaset {verb}");
                    }
                }
                None => {
                    if !args.options.is_empty() {
                        bail!(
                            "%faaset {verb}: {token:?} comes after key=value options; put it before them"
                        );
                    }
                    args.positional.push(token.clone())
                }
            }
        }
        Ok(args)
    }

    /// Refuses options not in `known`, naming the accepted ones.
    pub fn only(&self, known: &[&str]) -> Result<()> {
        for key in self.options.keys() {
            if !known.contains(&key.as_str()) {
                let accepted = if known.is_empty() {
                    "it takes none".to_string()
                } else {
                    format!("accepted: {}", known.join(", "))
                };
                bail!(
                    "%faaset {} has no option {key}= ({accepted}); see `%faaset help {}`",
                    self.verb,
                    self.verb
                );
            }
        }
        Ok(())
    }

    /// Positional `index`, required; `what` names it in the error.
    pub fn positional(&self, index: usize, what: &str) -> Result<&str> {
        self.positional
            .get(index)
            .map(String::as_str)
            .ok_or_else(|| {
                anyhow!(
                    "%faaset {} needs {what}; see `%faaset help {}`",
                    self.verb,
                    self.verb
                )
            })
    }

    pub fn optional_positional(&self, index: usize) -> Option<&str> {
        self.positional.get(index).map(String::as_str)
    }

    /// Refuses more than `count` positionals.
    pub fn at_most(&self, count: usize) -> Result<()> {
        if let Some(extra) = self.positional.get(count) {
            bail!(
                "%faaset {}: unexpected argument {extra:?}; see `%faaset help {}`",
                self.verb,
                self.verb
            );
        }
        Ok(())
    }

    pub fn text(&self, key: &str) -> Result<Option<String>> {
        self.options
            .get(key)
            .map(|raw| match serde_json::from_str::<Value>(raw) {
                Ok(Value::String(s)) => Ok(s),
                Ok(Value::Array(_) | Value::Object(_)) => {
                    bail!("{key}= takes a word, not {raw}")
                }
                _ => Ok(raw.clone()),
            })
            .transpose()
    }

    pub fn count(&self, key: &str) -> Result<Option<usize>> {
        self.options
            .get(key)
            .map(|raw| {
                raw.parse::<usize>()
                    .map_err(|_| anyhow!("{key}= takes a whole number like {key}=4, not {raw:?}"))
            })
            .transpose()
    }

    pub fn number(&self, key: &str) -> Result<Option<f64>> {
        self.options
            .get(key)
            .map(|raw| {
                raw.parse::<f64>()
                    .map_err(|_| anyhow!("{key}= takes a number, not {raw:?}"))
            })
            .transpose()
    }

    pub fn flag(&self, key: &str) -> Result<Option<bool>> {
        self.options
            .get(key)
            .map(|raw| match raw.as_str() {
                "true" | "True" | "yes" | "1" => Ok(true),
                "false" | "False" | "no" | "0" => Ok(false),
                _ => bail!("{key}= takes true or false, not {raw:?}"),
            })
            .transpose()
    }

    pub fn json_array(&self, key: &str) -> Result<Option<Vec<Value>>> {
        self.options
            .get(key)
            .map(|raw| match serde_json::from_str::<Value>(raw) {
                Ok(Value::Array(items)) => Ok(items),
                Ok(other) => bail!(
                    "{key}= takes a JSON array like {key}=[{{\"name\": \"Bob\"}}], not {}",
                    faaset::config::kind_name(&other)
                ),
                Err(e) => bail!("{key}= is not valid JSON ({e}): {raw}"),
            })
            .transpose()
    }

    pub fn json_object(&self, key: &str) -> Result<Option<Map<String, Value>>> {
        self.options
            .get(key)
            .map(|raw| object(raw, &format!("{key}=")))
            .transpose()
    }

    /// A comma-separated list of whole numbers (`memory=128,256,512`), or a JSON array.
    pub fn numbers(&self, key: &str) -> Result<Option<Vec<u32>>> {
        self.options
            .get(key)
            .map(|raw| {
                let list = raw.trim_start_matches('[').trim_end_matches(']');
                list.split(',')
                    .map(|n| {
                        n.trim().parse::<u32>().map_err(|_| {
                            anyhow!("{key}= takes whole numbers separated by commas like {key}=128,256,512, not {raw:?}")
                        })
                    })
                    .collect()
            })
            .transpose()
    }
}

/// `key=value` where key is a lower-case identifier (JSON never starts like that).
fn option(token: &str) -> Option<(&str, &str)> {
    let (key, value) = token.split_once('=')?;
    let is_key = key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    is_key.then_some((key, value))
}

/// A JSON object argument; `what` names it in the error.
pub fn object(raw: &str, what: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => bail!(
            "{what} must be a JSON object like {{\"memory\": 1024}}, not {}",
            faaset::config::kind_name(&other)
        ),
        Err(e) => bail!("{what} is not valid JSON ({e}): {raw}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_with_spaces_are_one_token() {
        let t =
            tokens(r#"hello_world payloads=[{"name": "Bob"}, {"name": "a b"}] threads=2"#).unwrap();
        assert_eq!(
            t,
            vec![
                "hello_world",
                r#"payloads=[{"name": "Bob"}, {"name": "a b"}]"#,
                "threads=2"
            ]
        );
        assert!(tokens(r#"f {"a": 1"#).is_err());
        assert!(tokens(r#"f "open"#).is_err());
        assert_eq!(tokens(r#"f {"a": "}"}"#).unwrap().len(), 2);
    }

    #[test]
    fn options_are_typed_and_unknown_ones_named() {
        let t =
            tokens("f e threads=4 shuffle_payloads=true memory=128,256 tags={\"a\":1} name=\"x\"")
                .unwrap();
        let args = Args::parse("experiment", &t).unwrap();
        assert_eq!(args.positional(1, "an experiment").unwrap(), "e");
        assert_eq!(args.count("threads").unwrap(), Some(4));
        assert_eq!(args.flag("shuffle_payloads").unwrap(), Some(true));
        assert_eq!(args.numbers("memory").unwrap(), Some(vec![128, 256]));
        assert_eq!(args.json_object("tags").unwrap().unwrap()["a"], 1);
        assert_eq!(args.text("name").unwrap().as_deref(), Some("x"));
        let error = args.only(&["threads"]).unwrap_err().to_string();
        assert!(error.contains("no option memory=") && error.contains("accepted: threads"));
        assert!(Args::parse("x", &tokens("threads=x").unwrap())
            .unwrap()
            .count("threads")
            .unwrap_err()
            .to_string()
            .contains("whole number"));
        // A JSON object positional is not mistaken for an option.
        let args =
            Args::parse("reconfigure", &tokens(r#"f {"env":{"A":"b=c"}}"#).unwrap()).unwrap();
        assert!(args.only(&[]).is_ok());
        assert!(Args::parse("x", &tokens("a=1 b").unwrap()).is_err());
    }
}
