//! Function configuration: merging (platform defaults < saved < override) and checking every
//! key and value against the platform's accepted keys (DESIGN §1.4).

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A configuration: a JSON object, keys sorted (serde_json's default map), so its JSON text
/// is canonical and can be hashed.
pub type Config = Map<String, Value>;

/// The value that marks a key the user must set.
pub const REQUIREMENT: &str = "FAASET_REQUIREMENT";

/// What values a configuration key accepts.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// An integer in `min..=max`.
    Integer {
        min: i64,
        max: i64,
        unit: &'static str,
    },
    /// A number in `min..=max`.
    Number {
        min: f64,
        max: f64,
        unit: &'static str,
    },
    /// Any string.
    Text,
    /// One of the listed strings.
    OneOf(&'static [&'static str]),
    /// An object whose values are strings (environment variables, headers).
    StringMap,
    /// An array of strings.
    StringList,
    /// true or false.
    Boolean,
}

/// One accepted configuration key of a platform.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub key: &'static str,
    pub kind: Kind,
}

/// `env`: the function's environment variables, the same key on every platform that builds.
pub const ENV_KEY: KeySpec = KeySpec {
    key: "env",
    kind: Kind::StringMap,
};

/// `architecture`: what the binary is built for (Lambda's two).
pub const ARCHITECTURE_KEY: KeySpec = KeySpec {
    key: "architecture",
    kind: Kind::OneOf(&["x86_64", "arm64"]),
};

/// `defaults` < `saved` < `overrides`, key by key (an object value such as `env` is replaced
/// as a whole, so a user can remove a variable).
pub fn merge(layers: &[&Config]) -> Config {
    let mut merged = Config::new();
    for layer in layers {
        for (k, v) in layer.iter() {
            merged.insert(k.clone(), v.clone());
        }
    }
    merged
}

/// Parses a JSON object given by the user (a cell, a flag).
pub fn parse_object(text: &str, what: &str) -> Result<Config> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Error::Config(format!(
            "{what} must be a JSON object like {{\"memory\": 1024}}, not {}",
            kind_name(&other)
        ))),
        Err(e) => Err(Error::Config(format!("{what} is not valid JSON: {e}"))),
    }
}

/// Refuses keys the platform does not know, naming the key, a close match and the accepted keys.
pub fn check_keys(platform: &str, specs: &[KeySpec], config: &Config) -> Result<()> {
    for key in config.keys() {
        if !specs.iter().any(|s| s.key == key) {
            let accepted: Vec<&str> = specs.iter().map(|s| s.key).collect();
            let hint = crate::words::closest(&accepted, key)
                .map(|a| format!("did you mean \"{a}\"? "))
                .unwrap_or_default();
            return Err(Error::Config(format!(
                "unknown config key \"{key}\" for platform {platform} ({hint}accepted: {})",
                accepted.join(", ")
            )));
        }
    }
    Ok(())
}

/// Checks a merged configuration: known keys, valid values, no requirement left unset.
pub fn check(platform: &str, specs: &[KeySpec], config: &Config) -> Result<()> {
    check_keys(platform, specs, config)?;
    for spec in specs {
        let Some(value) = config.get(spec.key) else {
            continue;
        };
        if value.as_str() == Some(REQUIREMENT) {
            return Err(Error::Config(format!(
                "config key \"{}\" is required for platform {platform}: set it in the cell or \
                 with --config '{{\"{}\": ...}}', or in platforms/{platform}/default_config.json",
                spec.key, spec.key
            )));
        }
        check_value(spec, value).map_err(|expected| {
            Error::Config(format!(
                "bad value {value} for config key \"{}\" of platform {platform}: expected {expected}",
                spec.key
            ))
        })?;
    }
    Ok(())
}

fn check_value(spec: &KeySpec, value: &Value) -> Result<(), String> {
    let ok = match spec.kind {
        Kind::Integer { min, max, .. } => value.as_i64().is_some_and(|v| (min..=max).contains(&v)),
        Kind::Number { min, max, .. } => value.as_f64().is_some_and(|v| (min..=max).contains(&v)),
        Kind::Text => value.is_string(),
        Kind::OneOf(options) => value.as_str().is_some_and(|v| options.contains(&v)),
        // Names and values end up as environment variables or headers: a NUL cannot be
        // passed at all, and an `=` or a space in a name would make another name.
        Kind::StringMap => value.as_object().is_some_and(|m| {
            m.iter().all(|(name, value)| {
                !name.is_empty()
                    && !name.contains(['=', '\0'])
                    && !name.chars().any(char::is_whitespace)
                    && value.as_str().is_some_and(|v| !v.contains('\0'))
            })
        }),
        Kind::StringList => value
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string)),
        Kind::Boolean => value.is_boolean(),
    };
    if ok {
        return Ok(());
    }
    Err(match spec.kind {
        Kind::Integer { min, max, unit } => format!("an integer from {min} to {max}{unit}"),
        Kind::Number { min, max, unit } => format!("a number from {min} to {max}{unit}"),
        Kind::Text => "a string".to_string(),
        Kind::OneOf(options) => format!("one of {}", options.join(", ")),
        Kind::StringMap => "an object of string values, like {\"KEY\": \"value\"}, with names free of '=', spaces and NUL, and values free of NUL".to_string(),
        Kind::StringList => "an array of strings".to_string(),
        Kind::Boolean => "true or false".to_string(),
    })
}

/// What kind of JSON value this is, for error messages ("an array", "a number").
pub fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPECS: &[KeySpec] = &[
        KeySpec {
            key: "memory",
            kind: Kind::Integer {
                min: 128,
                max: 10240,
                unit: " MB",
            },
        },
        KeySpec {
            key: "role",
            kind: Kind::Text,
        },
        ENV_KEY,
        ARCHITECTURE_KEY,
    ];

    fn obj(v: Value) -> Config {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn merge_orders_layers() {
        let d = obj(json!({"memory": 512, "env": {"A": "1"}}));
        let s = obj(json!({"memory": 1024}));
        let o = obj(json!({"env": {"B": "2"}}));
        assert_eq!(
            Value::Object(merge(&[&d, &s, &o])),
            json!({"memory": 1024, "env": {"B": "2"}})
        );
    }

    #[test]
    fn check_names_the_problem() {
        let cases = [
            (json!({"memroy": 1}), "unknown config key \"memroy\" for platform p (did you mean \"memory\"? accepted: memory, role, env, architecture)"),
            (json!({"memory": 50}), "bad value 50 for config key \"memory\" of platform p: expected an integer from 128 to 10240 MB"),
            (json!({"memory": "big"}), "expected an integer"),
            (json!({"role": "FAASET_REQUIREMENT"}), "config key \"role\" is required"),
            (json!({"env": {"A": 1}}), "an object of string values"),
            (json!({"architecture": "mips"}), "one of x86_64, arm64"),
        ];
        for (config, expected) in cases {
            let err = check("p", SPECS, &obj(config.clone()))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{config}: {err}");
        }
        assert!(check("p", SPECS, &obj(json!({"memory": 128, "env": {}}))).is_ok());
    }

    #[test]
    fn parse_object_refuses_non_objects() {
        assert!(parse_object("[1]", "config")
            .unwrap_err()
            .to_string()
            .contains("not an array"));
        assert!(parse_object("{", "config")
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
        assert_eq!(parse_object("{\"a\":1}", "config").unwrap().len(), 1);
    }
}
