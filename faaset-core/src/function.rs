//! A function on disk: `functions/<fn>/FAASET.json` (its state), `src/function.rs` (its
//! source) and one folder per platform; and the sha256 hashes that decide what a deploy must do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::name::FunctionName;
use crate::workspace::Workspace;

/// `FAASET.json`: what the tools remember about a function.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FunctionState {
    pub name: String,
    /// The platform used when none is given.
    pub platform: String,
    /// The user's saved configuration per platform (what cells, `--config` and reconfigure set
    /// on top of the platform defaults).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, Config>,
    /// What is deployed, per platform.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deployed: BTreeMap<String, Deployed>,
}

/// The last successful deploy on one platform.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Deployed {
    pub hashes: Hashes,
    /// The merged configuration that was published.
    pub config: Config,
    /// Epoch milliseconds of the publish.
    pub at: u64,
}

/// sha256 (hex) of the three inputs of a deploy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hashes {
    /// The function source.
    pub source: String,
    /// The merged configuration (canonical JSON).
    pub config: String,
    /// The function's platform folder (scripts, wrappers), without `.build/` and `logs/`.
    pub platform_files: String,
}

/// Paths of one function.
#[derive(Debug, Clone)]
pub struct FunctionPaths {
    pub name: FunctionName,
    pub dir: PathBuf,
}

impl FunctionPaths {
    pub fn new(workspace: &Workspace, name: &FunctionName) -> Self {
        FunctionPaths {
            name: name.clone(),
            dir: workspace.function_dir(name),
        }
    }
    pub fn state_file(&self) -> PathBuf {
        self.dir.join("FAASET.json")
    }
    pub fn source_file(&self) -> PathBuf {
        self.dir.join("src").join("function.rs")
    }
    /// `functions/<fn>/<platform>/`; `platform` must be a validated name.
    pub fn platform_dir(&self, platform: &str) -> PathBuf {
        self.dir.join(platform)
    }
    pub fn build_dir(&self, platform: &str) -> PathBuf {
        self.platform_dir(platform).join(".build")
    }
    pub fn logs_dir(&self, platform: &str) -> PathBuf {
        self.platform_dir(platform).join("logs")
    }
    pub fn experiments_dir(&self) -> PathBuf {
        self.dir.join("experiments")
    }
}

impl FunctionState {
    /// Reads `FAASET.json`; `None` when the function does not exist.
    pub fn load(paths: &FunctionPaths) -> Result<Option<Self>> {
        let file = paths.state_file();
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", file, e)),
        };
        let state: FunctionState = serde_json::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "{} is not valid ({e}); fix or delete it",
                file.display()
            ))
        })?;
        Ok(Some(state))
    }

    /// What is deployed on `platform`, or the error that says how to deploy it there.
    pub fn deployed_on(&self, platform: &str) -> Result<&Deployed> {
        self.deployed
            .get(platform)
            .ok_or_else(|| Error::NotDeployed {
                function: self.name.clone(),
                platform: platform.to_string(),
            })
    }

    /// Writes `FAASET.json` atomically (a temporary file renamed over the old one), so an
    /// interrupted write never replaces good state with half a file.
    pub fn save(&self, paths: &FunctionPaths) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("state serializes") + "\n";
        write_atomic(&paths.state_file(), text.as_bytes())
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with_mode(path, bytes, 0o644)
}

/// [`write_atomic`] of a file only its owner may read (payloads, responses).
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with_mode(path, bytes, 0o600)
}

/// A temporary name beside `path`, unique per write, not only per process: two tasks of one
/// process (a sweep's restore and a cell, two publishes) may write the same file at once.
fn temporary_beside(path: &Path) -> PathBuf {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().expect("path has a parent");
    dir.join(format!(
        ".{}.tmp{}-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id(),
        WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ))
}

/// Puts a copy of `from` at `to` atomically: a hard link when both are on one file system
/// (instant, and it keeps the inode when `from`'s folder is rebuilt), else a copy; then a
/// rename over whatever `to` was.
pub fn place_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = temporary_beside(to);
    if std::fs::hard_link(from, &tmp).is_err() {
        if let Err(e) = std::fs::copy(from, &tmp) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    }
    std::fs::rename(&tmp, to)
}

fn write_atomic_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().expect("path has a parent");
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let tmp = temporary_beside(path);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut file| {
            std::io::Write::write_all(&mut file, bytes)?;
            // On disk before the rename, so a power loss leaves the old file or the new
            // one, never an empty one.
            file.sync_all()
        })
        .map_err(|e| Error::io("write", &tmp, e));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io("replace", path, e))
}

/// sha256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// sha256 of a folder's files (relative path, executable bit and contents, in sorted order),
/// skipping `.build/` and `logs/` at its top.
pub fn hash_platform_files(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.sort();
    let mut hasher = Sha256::new();
    for relative in files {
        let path = dir.join(&relative);
        let bytes = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        hasher.update(relative.to_string_lossy().as_bytes());
        hasher.update([0, is_executable(&path) as u8]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hex(&hasher.finalize()))
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("read", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read", dir, e))?;
        let path = entry.path();
        let relative = path.strip_prefix(root).expect("below root").to_path_buf();
        if dir == root && (relative == Path::new(".build") || relative == Path::new("logs")) {
            continue;
        }
        let kind = entry.file_type().map_err(|e| Error::io("read", &path, e))?;
        if kind.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            out.push(relative);
        }
    }
    Ok(())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Copies every file of `template` into `dest` where it is missing, keeping the user's
/// per-function edits (DESIGN §1.3). Returns the relative paths copied.
pub fn copy_missing(template: &Path, dest: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    collect_files(template, template, &mut files)?;
    let mut copied = Vec::new();
    for relative in files {
        let target = dest.join(&relative);
        if target.exists() {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
        }
        let from = template.join(&relative);
        std::fs::copy(&from, &target).map_err(|e| Error::io("copy", &from, e))?;
        copied.push(relative);
    }
    Ok(copied)
}

/// Current time in epoch milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The error for a function that does not exist, naming the ones that do.
pub(crate) fn unknown_function(workspace: &Workspace, name: &FunctionName) -> Error {
    let known: Vec<String> = workspace
        .functions()
        .iter()
        .map(|f| f.to_string())
        .collect();
    Error::UnknownFunction {
        name: name.to_string(),
        workspace: workspace.root().to_path_buf(),
        known: if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_hash_ignores_build_and_logs_but_sees_edits() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("build.sh"), "echo hi").unwrap();
        let h1 = hash_platform_files(d).unwrap();
        std::fs::create_dir_all(d.join(".build")).unwrap();
        std::fs::write(d.join(".build/bootstrap"), "x").unwrap();
        std::fs::create_dir_all(d.join("logs")).unwrap();
        std::fs::write(d.join("logs/build.log"), "x").unwrap();
        assert_eq!(h1, hash_platform_files(d).unwrap());
        std::fs::write(d.join("build.sh"), "echo hi ").unwrap();
        assert_ne!(h1, hash_platform_files(d).unwrap());
    }

    #[test]
    fn copy_missing_keeps_edits() {
        let t = tempfile::tempdir().unwrap();
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("wrapper")).unwrap();
        std::fs::write(t.path().join("build.sh"), "template").unwrap();
        std::fs::write(t.path().join("wrapper/main.rs"), "template").unwrap();
        std::fs::write(d.path().join("build.sh"), "edited").unwrap();
        let copied = copy_missing(t.path(), d.path()).unwrap();
        assert_eq!(copied, vec![PathBuf::from("wrapper/main.rs")]);
        assert_eq!(
            std::fs::read_to_string(d.path().join("build.sh")).unwrap(),
            "edited"
        );
    }
}
