//! evcxr's build folder (`$EVCXR_TMPDIR`): where the session's crate and its dependencies
//! are compiled. It is one of a small pool per user, `~/.cache/faaset/evcxr/session-<n>`,
//! not one per workspace: a folder holds no workspace's state (the prelude is evaluated
//! anew at every start), so the first kernel in a folder never used before finds the
//! dependencies that install.sh's warm-up compiled and linked there (polars included)
//! instead of copying them out of evcxr's cache and linking them again. Two live kernels
//! cannot share a folder (evcxr rewrites its sources there): each holds a lock on its
//! folder while it lives, and the next kernel takes the first folder nobody holds.

use std::fs::File;
use std::path::{Path, PathBuf};

/// More kernels than this at once, and the next one gets no kept folder (evcxr's own
/// temporary one, removed when it ends).
const POOL_SIZE: usize = 32;

/// A build folder of the pool, held (locked) while this value lives.
pub struct BuildDir {
    pub path: PathBuf,
    _lock: File,
}

/// The pool: `~/.cache/faaset/evcxr` (beside the functions' shared target folder).
pub fn pool_root() -> Option<PathBuf> {
    faaset::workspace::shared_target_dir()
        .parent()
        .map(|cache| cache.join("evcxr"))
}

/// Takes the first free folder of the pool and points evcxr at it (`EVCXR_TMPDIR`), unless
/// the user chose one; `None` when no folder could be taken (evcxr then uses a temporary one).
/// Call it while the process has one thread: it sets the environment the session inherits.
pub fn take() -> Option<BuildDir> {
    if std::env::var_os("EVCXR_TMPDIR").is_some() {
        return None;
    }
    let root = pool_root()?;
    remove_per_workspace_folders(&root);
    let taken = take_from(&root)?;
    std::env::set_var("EVCXR_TMPDIR", &taken.path);
    Some(taken)
}

fn take_from(root: &Path) -> Option<BuildDir> {
    (0..POOL_SIZE).find_map(|n| {
        let path = root.join(format!("session-{n}"));
        std::fs::create_dir_all(&path).ok()?;
        let lock = File::create(path.with_extension("lock")).ok()?;
        lock.try_lock().ok()?;
        Some(BuildDir { path, _lock: lock })
    })
}

/// Releases before 2026-12 kept one folder per workspace (`evcxr/<16 hex digits>`), each a
/// copy of the session's dependencies: removed when no kernel holds them.
fn remove_per_workspace_folders(root: &Path) {
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let legacy = name.len() == 16 && name.bytes().all(|b| b.is_ascii_hexdigit());
        if !legacy || !entry.path().is_dir() {
            continue;
        }
        let lock = entry.path().with_extension("lock");
        let free = File::options()
            .write(true)
            .open(&lock)
            .map_or(true, |file| file.try_lock().is_ok());
        if free {
            let _ = std::fs::remove_dir_all(entry.path());
            let _ = std::fs::remove_file(lock);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_folder_is_skipped_and_a_released_one_is_taken_again() {
        let root = tempfile::tempdir().unwrap();
        let first = take_from(root.path()).unwrap();
        let second = take_from(root.path()).unwrap();
        assert_eq!(first.path, root.path().join("session-0"));
        assert_eq!(second.path, root.path().join("session-1"));
        drop(first);
        let again = take_from(root.path()).unwrap();
        assert_eq!(again.path, root.path().join("session-0"));
    }

    #[test]
    fn only_unheld_per_workspace_folders_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let old = root.path().join("0123456789abcdef");
        let held = root.path().join("fedcba9876543210");
        let other = root.path().join("notes");
        for dir in [&old, &held, &other] {
            std::fs::create_dir_all(dir.join("target")).unwrap();
        }
        let lock = File::create(held.with_extension("lock")).unwrap();
        lock.try_lock().unwrap();
        remove_per_workspace_folders(root.path());
        assert!(!old.exists());
        assert!(held.exists(), "a live kernel's folder stays");
        assert!(other.exists(), "only names of the old scheme are touched");
    }
}
