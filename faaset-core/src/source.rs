//! A function's source: Rust items plus evcxr-style `:dep` lines. Splits the two, and finds
//! the entry function (shared by `faaset new` and the kernel's `%%cloud_function`).

use crate::error::{Error, Result};

/// A `:dep` line turned into a Cargo dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// Crate name.
    pub name: String,
    /// The TOML value after `name =` (`"1"`, `{ version = "1", features = [...] }`).
    pub spec: String,
}

/// A function source split into Rust and dependencies.
#[derive(Debug, Clone)]
pub struct SplitSource {
    /// The Rust code with each `:dep` line blanked (commented out), so line numbers in
    /// compiler messages are the user's line numbers.
    pub rust: String,
    pub dependencies: Vec<Dependency>,
}

/// Splits `:dep name = spec` / `:dep name` lines from the Rust code.
pub fn split(source: &str) -> Result<SplitSource> {
    let mut rust = String::with_capacity(source.len());
    let mut dependencies = Vec::new();
    for (index, line) in source.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(":dep") {
            dependencies.push(parse_dep(rest.trim(), index + 1)?);
            rust.push_str("// ");
        }
        rust.push_str(line);
        rust.push('\n');
    }
    Ok(SplitSource { rust, dependencies })
}

fn parse_dep(text: &str, line: usize) -> Result<Dependency> {
    let (name, spec) = match text.split_once('=') {
        Some((name, spec)) => (name.trim(), spec.trim().to_string()),
        None => (text, "\"*\"".to_string()),
    };
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid || spec.is_empty() {
        return Err(Error::Source(format!(
            "line {line}: bad :dep line {text:?}; write `:dep name = \"version\"` or \
             `:dep name = {{ version = \"1\", features = [\"x\"] }}`"
        )));
    }
    Ok(Dependency {
        name: name.to_string(),
        spec,
    })
}

/// The name of the entry function: `wanted` when given (it must exist and take two
/// parameters), else the first top-level `fn` taking two parameters `(request, context)`.
/// Code that does not parse is left for rustc to report, with `Ok(None)` here unless
/// `wanted` names the entry.
pub fn find_entry(rust: &str, wanted: Option<&str>) -> Result<Option<String>> {
    let file = match syn::parse_file(rust) {
        Ok(file) => file,
        Err(_) => return Ok(wanted.map(str::to_string)),
    };
    let two_param_fns = file.items.iter().filter_map(|item| match item {
        syn::Item::Fn(f) if f.sig.inputs.len() == 2 => Some(f.sig.ident.to_string()),
        _ => None,
    });
    let mut candidates = two_param_fns;
    match wanted {
        Some(name) => {
            if candidates.any(|f| f == name) {
                Ok(Some(name.to_string()))
            } else {
                Err(Error::Source(format!(
                    "the source has no function `fn {name}(request: Value, context: Context) -> Value`; \
                     the entry function must have the function's name and take two parameters"
                )))
            }
        }
        None => Ok(candidates.next()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deps_are_split_and_lines_kept() {
        let s =
            split(":dep rand = \"0.8\"\n:dep itoa\nfn f(a: Value, b: Context) -> Value { a }\n")
                .unwrap();
        assert_eq!(
            s.dependencies,
            vec![
                Dependency {
                    name: "rand".into(),
                    spec: "\"0.8\"".into()
                },
                Dependency {
                    name: "itoa".into(),
                    spec: "\"*\"".into()
                },
            ]
        );
        assert_eq!(s.rust.lines().count(), 3);
        assert!(s.rust.lines().nth(2).unwrap().starts_with("fn f"));
        assert!(split(":dep = \"1\"")
            .unwrap_err()
            .to_string()
            .contains("line 1: bad :dep"));
    }

    #[test]
    fn entry_is_first_two_parameter_fn() {
        let src = "fn helper(x: u32) -> u32 { x }\nfn hello(r: Value, c: Context) -> Value { r }\nfn other(a: Value, b: &Context) -> Value { a }";
        assert_eq!(find_entry(src, None).unwrap().as_deref(), Some("hello"));
        assert_eq!(
            find_entry(src, Some("other")).unwrap().as_deref(),
            Some("other")
        );
        assert!(find_entry(src, Some("helper")).is_err());
        assert_eq!(
            find_entry("fn broken( {", Some("x")).unwrap().as_deref(),
            Some("x")
        );
        assert_eq!(find_entry("fn broken( {", None).unwrap(), None);
    }
}
