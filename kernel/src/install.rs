//! `faaset-kernel --install`: the kernelspec that makes Jupyter offer "Rust (FaaSET)".

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::json;

pub const KERNEL_NAME: &str = "faaset";
pub const DISPLAY_NAME: &str = "Rust (FaaSET)";

/// Where kernelspecs go: `--prefix DIR` → `DIR/share/jupyter/kernels`, else the user's
/// Jupyter data folder (`$JUPYTER_DATA_DIR`, else `$XDG_DATA_HOME/jupyter`, else
/// `~/.local/share/jupyter`) — the places `jupyter kernelspec list` looks.
fn kernels_dir(args: &[String]) -> Result<PathBuf> {
    match args {
        [] | [_] if args.first().is_none_or(|a| a == "--user") => {
            if let Some(dir) = std::env::var_os("JUPYTER_DATA_DIR") {
                return Ok(PathBuf::from(dir).join("kernels"));
            }
            let data = std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
                .context("cannot tell where the user's Jupyter data folder is: set HOME or JUPYTER_DATA_DIR")?;
            Ok(data.join("jupyter").join("kernels"))
        }
        [flag, dir] if flag == "--prefix" => Ok(PathBuf::from(dir).join("share/jupyter/kernels")),
        _ => bail!("usage: faaset-kernel --install [--user | --prefix DIR]"),
    }
}

pub fn install(args: &[String]) -> Result<()> {
    let dir = kernels_dir(args)?.join(KERNEL_NAME);
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("cannot find this program's own path")?;
    let spec = json!({
        "argv": [exe.display().to_string(), "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "rust",
        // Interrupts come as control messages, so Ctrl-C semantics do not depend on signals.
        "interrupt_mode": "message",
        "metadata": {"debugger": false},
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file = dir.join("kernel.json");
    let text = serde_json::to_string_pretty(&spec)? + "\n";
    faaset::function::write_atomic(&file, text.as_bytes())?;
    eprintln!(
        "installed the Jupyter kernel {KERNEL_NAME:?} (\"{DISPLAY_NAME}\") in {}",
        dir.display()
    );
    Ok(())
}

pub fn uninstall(args: &[String]) -> Result<()> {
    let dir = kernels_dir(args)?.join(KERNEL_NAME);
    if dir.is_dir() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
        eprintln!("removed {}", dir.display());
    } else {
        eprintln!("no kernelspec at {}", dir.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_bad_arguments() {
        let dir = kernels_dir(&["--prefix".into(), "/opt/venv".into()]).unwrap();
        assert_eq!(dir, PathBuf::from("/opt/venv/share/jupyter/kernels"));
        assert!(kernels_dir(&["--bogus".into()]).is_err());
    }
}
