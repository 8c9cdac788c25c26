//! The workspace: the folder holding `functions/` and `platforms/`, and where the installed
//! resources (platform templates, the runtime crates functions are built against) live.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::name::FunctionName;

/// The workspace's own state (engine, caches), under its root.
pub const STATE_DIR: &str = ".faaset";

/// A workspace root. An empty folder is a valid workspace: platform templates are then found
/// in the installed copy.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// Opens `root`, which must be an existing directory.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        let root = root.canonicalize().map_err(|e| {
            Error::Usage(format!(
                "workspace {} cannot be opened ({e}); pass an existing folder with --workspace",
                root.display()
            ))
        })?;
        if !root.is_dir() {
            return Err(Error::Usage(format!(
                "workspace {} is not a folder",
                root.display()
            )));
        }
        Ok(Workspace { root })
    }

    /// `$FAASET_WORKSPACE`, else the nearest ancestor of `start` holding `functions/` or
    /// `platforms/`, else `start` itself (the kernel's rule, DESIGN §1.1).
    pub fn discover(start: &Path) -> Result<Self> {
        if let Some(dir) = std::env::var_os("FAASET_WORKSPACE") {
            return Workspace::open(dir);
        }
        let found = start
            .ancestors()
            .find(|dir| dir.join("functions").is_dir() || dir.join("platforms").is_dir());
        Workspace::open(found.unwrap_or(start))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn functions_dir(&self) -> PathBuf {
        self.root.join("functions")
    }

    pub fn function_dir(&self, name: &FunctionName) -> PathBuf {
        self.functions_dir().join(name.as_str())
    }

    /// Private runtime state of the tools (engine address and token, code store); never
    /// user data, ignored by git.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// The template folder of `platform`: the workspace's own `platforms/<p>` first, then the
    /// installed copy. `platform` must already be a validated name.
    pub fn platform_template(&self, platform: &str) -> Option<PathBuf> {
        let own = self.root.join("platforms").join(platform);
        if own.is_dir() {
            return Some(own);
        }
        let installed = resources_dir()?.join("platforms").join(platform);
        installed.is_dir().then_some(installed)
    }

    /// Names of the platforms with a template folder, sorted.
    pub fn platforms(&self) -> Vec<String> {
        let mut names: Vec<String> = [
            Some(self.root.join("platforms")),
            resources_dir().map(|d| d.join("platforms")),
        ]
        .into_iter()
        .flatten()
        .flat_map(|dir| list_dirs(&dir))
        .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The functions of the workspace (folders of `functions/` with a valid name and a
    /// `FAASET.json`), sorted.
    pub fn functions(&self) -> Vec<FunctionName> {
        let mut names: Vec<FunctionName> = list_dirs(&self.functions_dir())
            .into_iter()
            .filter_map(|n| FunctionName::new(&n).ok())
            .filter(|n| self.function_dir(n).join("FAASET.json").is_file())
            .collect();
        names.sort();
        names
    }
}

fn list_dirs(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

/// Where the installed resources live: `platforms/` (templates) and the crates a function is
/// built against (`faaset-runtime/`, `saaf/`). `$FAASET_HOME` wins; then the source tree this
/// binary was built from, when it still exists (exactly matching versions); then the copy
/// `install.sh` made in `~/.local/share/faaset`.
pub fn resources_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("FAASET_HOME") {
        return Some(PathBuf::from(home));
    }
    let source_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if source_tree.join("faaset-runtime").is_dir() && source_tree.join("platforms").is_dir() {
        return source_tree.canonicalize().ok();
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    let installed = data.join("faaset");
    installed.is_dir().then_some(installed)
}

/// The cargo target directory every function build shares, so dependencies compile once per
/// machine: `$FAASET_TARGET_DIR`, else `$XDG_CACHE_HOME/faaset/target` (`~/.cache/...`).
pub fn shared_target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FAASET_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("faaset").join("target")
}
