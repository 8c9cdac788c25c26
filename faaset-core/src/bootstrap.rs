//! The cargo crate of a function's `bootstrap`, generated in `functions/<fn>/<p>/.build/`
//! from the platform's wrapper templates, and the reading of compiler errors back into the
//! user's file and line.
//!
//! The user's source is `include!`d unchanged (its `:dep` lines commented out), so rustc
//! reports errors at the user's own line numbers.

use std::path::Path;

use crate::error::{Error, Result};
use crate::name::FunctionName;
use crate::source::SplitSource;

/// The cargo package (and binary) name of a function's crate: the function's name plus a
/// hash of its folder. Cargo identifies a root package by name and *relative* path, so two
/// workspaces' `hello_world` would share one fingerprint and one binary in the shared target
/// directory, and a build could hand one workspace the other's code.
pub fn crate_name(platform_dir: &Path, name: &FunctionName) -> String {
    let folder = platform_dir.display().to_string();
    let hash = crate::function::sha256_hex(folder.as_bytes());
    format!("{name}_{}", &hash[..12])
}

/// Writes `.build/` afresh: `Cargo.toml` and `src/main.rs` from the folder's `wrapper/`
/// templates, `src/function.rs` (the user's code), and the seed `Cargo.lock`. Returns the
/// crate's name ([`crate_name`]).
pub fn generate(
    platform_dir: &Path,
    name: &FunctionName,
    source: &SplitSource,
    runtime_crate: &Path,
) -> Result<String> {
    let crate_name = crate_name(platform_dir, name);
    let build = platform_dir.join(".build");
    if build.exists() {
        std::fs::remove_dir_all(&build).map_err(|e| Error::io("remove", &build, e))?;
    }
    let src = build.join("src");
    std::fs::create_dir_all(&src).map_err(|e| Error::io("create", &src, e))?;
    let dependencies: String = source
        .dependencies
        .iter()
        .map(|d| format!("{} = {}\n", d.name, d.spec))
        .collect();
    let fill = |template: &str| {
        template
            .replace("{{crate}}", &crate_name)
            .replace("{{function}}", name.as_str())
            .replace("{{faaset_runtime}}", &runtime_crate.display().to_string())
            .replace("{{dependencies}}", &dependencies)
    };
    for (template, target) in [
        ("Cargo.toml", build.join("Cargo.toml")),
        ("main.rs", src.join("main.rs")),
    ] {
        let path = platform_dir.join("wrapper").join(template);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
        std::fs::write(&target, fill(&text)).map_err(|e| Error::io("write", &target, e))?;
    }
    let function = src.join("function.rs");
    std::fs::write(&function, &source.rust).map_err(|e| Error::io("write", &function, e))?;
    let seed = platform_dir.join("Cargo.lock");
    if seed.is_file() {
        let target = build.join("Cargo.lock");
        std::fs::copy(&seed, &target).map_err(|e| Error::io("copy", &seed, e))?;
    }
    Ok(crate_name)
}

/// The first compiler error in cargo's output, as one line pointing into the user's source
/// (`user_source` replaces the crate-relative `src/function.rs`).
pub fn first_compile_error(lines: &[String], user_source: &str) -> Option<String> {
    let start = lines
        .iter()
        .position(|l| l.starts_with("error") && !l.starts_with("error: could not compile"))?;
    let message = lines[start].trim().to_string();
    let location = lines[start + 1..]
        .iter()
        .take(4)
        .find_map(|l| l.trim_start().strip_prefix("--> "))
        .map(str::trim);
    Some(match location {
        Some(location) if location.starts_with("src/function.rs") => {
            format!(
                "{message} at {}",
                location.replacen("src/function.rs", user_source, 1)
            )
        }
        Some(location) if location.starts_with("src/main.rs") => format!(
            "{message} (in the generated wrapper: the entry function must be \
             `fn NAME(request: Value, context: Context) -> Value` or return \
             `Result<Value, E: Display>`; `&Context` is accepted too)"
        ),
        Some(location) => format!("{message} at {location}"),
        None => message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    #[test]
    fn compile_errors_point_into_the_user_source() {
        let out = lines(
            "   Compiling f v0.1.0\nerror[E0425]: cannot find value `x` in this scope\n --> src/function.rs:3:5\n  |\nerror: could not compile `f`",
        );
        assert_eq!(
            first_compile_error(&out, "functions/f/src/function.rs").unwrap(),
            "error[E0425]: cannot find value `x` in this scope at functions/f/src/function.rs:3:5"
        );
        let wrapper =
            lines("error[E0277]: the trait bound is not satisfied\n  --> src/main.rs:9:5");
        assert!(first_compile_error(&wrapper, "x")
            .unwrap()
            .contains("entry function must be"));
        assert!(first_compile_error(&lines("warning: unused\nFinished"), "x").is_none());
    }
}
