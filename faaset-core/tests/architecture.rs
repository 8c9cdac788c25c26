//! ARCHITECTURE.md stays the map of the code: every module of every crate is named there
//! (as `name`, `name.rs` or `name/`), so a module added without a word about its job fails here.

use std::path::{Path, PathBuf};

fn modules(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            modules(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn architecture_md_names_every_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let mut files = Vec::new();
    for krate in [
        "faaset-core/src",
        "faaset-runtime/src",
        "saaf/src",
        "kernel/src",
        "kernel/bridge/src",
    ] {
        modules(&root.join(krate), &mut files);
    }
    let mut missing = Vec::new();
    for file in &files {
        let stem = file.file_stem().unwrap().to_string_lossy();
        // Roots and tests are named by their crate or folder, not by file.
        if matches!(stem.as_ref(), "lib" | "main" | "mod" | "tests") {
            continue;
        }
        let named = [
            format!("`{stem}`"),
            format!("`{stem}.rs`"),
            format!("`{stem}/`"),
            format!("/{stem}.rs"),
            format!("{stem}.rs`"),
        ]
        .iter()
        .any(|name| map.contains(name.as_str()));
        if !named {
            missing.push(file.strip_prefix(&root).unwrap().display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md does not name these modules (say what each is for): {missing:?}"
    );
}
