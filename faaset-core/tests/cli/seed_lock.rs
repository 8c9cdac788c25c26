//! The seed `Cargo.lock` of function builds pins the same versions as the workspace, so the
//! `bootstrap` built for a function is built from the crates this repository tests.

use std::collections::BTreeMap;

fn versions(lock: &str) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            map.entry(n)
                .or_default()
                .push(v.trim_matches('"').to_string());
        }
    }
    map
}

#[test]
fn seed_lock_matches_the_workspace_lock() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace = versions(&std::fs::read_to_string(root.join("Cargo.lock")).unwrap());
    let seed = versions(&std::fs::read_to_string(root.join("platforms/local/Cargo.lock")).unwrap());
    for crate_name in ["lambda_runtime", "tokio", "serde_json", "hyper"] {
        assert!(
            seed.contains_key(crate_name),
            "seed lock lacks {crate_name}"
        );
    }
    for (name, seed_versions) in &seed {
        if let Some(ws_versions) = workspace.get(name) {
            for v in seed_versions {
                assert!(
                    ws_versions.contains(v),
                    "platforms/local/Cargo.lock pins {name} {v}, the workspace has {ws_versions:?}: \
                     copy a fresh functions/<fn>/local/.build/Cargo.lock over it"
                );
            }
        }
    }
}
