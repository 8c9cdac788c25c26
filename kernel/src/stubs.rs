//! The Rust code the kernel evaluates in the session: the prelude (bridge, SAAF, panic
//! reports) and one stub per function, so `hello_world(json!({...}))` calls the platform.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use faaset::FunctionName;

/// The crates the session uses, found like the platform templates: `$FAASET_HOME`, the
/// source tree, or the copy `install.sh` made.
pub struct Crates {
    pub bridge: PathBuf,
    pub saaf: PathBuf,
}

impl Crates {
    pub fn find() -> Result<Crates> {
        let Some(root) = faaset::workspace::resources_dir() else {
            bail!("cannot find the FaaSET resources (kernel/bridge, saaf): run ./install.sh, or set FAASET_HOME to the folder it installed");
        };
        let crates = Crates {
            bridge: root.join("kernel").join("bridge"),
            saaf: root.join("saaf"),
        };
        for dir in [&crates.bridge, &crates.saaf] {
            if !dir.join("Cargo.toml").is_file() {
                bail!(
                    "{} is missing: run ./install.sh again (or set FAASET_HOME)",
                    dir.display()
                );
            }
        }
        Ok(crates)
    }
}

/// The size of evcxr's compiled-crate cache (`~/.cache/evcxr`, shared by every session of
/// the user, whatever the folder): the crates the bridge and SAAF use and polars, which
/// `faaset-kernel --warm-up` (run by install.sh) compiles into it once.
pub const CACHE_MIB: u64 = 4096;

/// polars as `%faaset load … polars=true` uses it (and the warm-up compiles it).
pub const POLARS_DEP: &str =
    ":dep polars = { version = \"0.55\", default-features = false, features = [\"csv\", \"fmt\"] }";

/// `:dep` lines, imports, the panic hook and the stubs, as one evaluation.
pub fn prelude(crates: &Crates, functions: &[FunctionName]) -> String {
    let mut code = format!(
        ":cache {CACHE_MIB}\n:dep faaset_bridge = {{ path = {} }}\n:dep saaf = {{ path = {} }}\n\
         use faaset_bridge::{{json, Value}};\n\
         #[allow(unused_imports)]\nuse faaset_bridge::JsonDisplay as _;\n\
         #[allow(unused_imports)]\nuse saaf::Inspector;\n\
         faaset_bridge::report_panics();\n",
        toml_string(&crates.bridge),
        toml_string(&crates.saaf)
    );
    for name in functions.iter().filter(|n| !is_keyword(n.as_str())) {
        code += &stub(name);
    }
    code
}

/// Names a stub cannot have (a function named so is still callable with `%faaset invoke`).
pub fn is_keyword(name: &str) -> bool {
    const KEYWORDS: [&str; 38] = [
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
        "type", "unsafe", "use", "where", "while", "yield",
    ];
    KEYWORDS.contains(&name)
}

/// `fn <name>(payload: Value) -> Value`, calling the function on its platform.
pub fn stub(name: &FunctionName) -> String {
    format!(
        "/// Calls the FaaS function `{name}` (deploying it first if it changed) and returns its response.\n\
         #[allow(dead_code)]\n\
         fn {name}(payload: Value) -> Value {{ faaset_bridge::call(\"{name}\", payload) }}\n"
    )
}

/// A path as a TOML basic string.
fn toml_string(path: &Path) -> String {
    serde_json::to_string(&path.display().to_string()).expect("strings serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stubs_and_prelude() {
        let name = FunctionName::new("hello_world").unwrap();
        assert!(stub(&name).contains(
            "fn hello_world(payload: Value) -> Value { faaset_bridge::call(\"hello_world\", payload) }"
        ));
        let crates = Crates {
            bridge: "/a \"b\"/bridge".into(),
            saaf: "/s".into(),
        };
        let code = prelude(&crates, &[name]);
        assert!(code.contains("\n:dep faaset_bridge = { path = \"/a \\\"b\\\"/bridge\" }\n"));
        assert!(code.starts_with(":cache "));
        assert!(code.contains("fn hello_world("));
    }
}
