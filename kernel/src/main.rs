//! `faaset-kernel`: the FaaSET Jupyter kernel. Rust cells run on evcxr; `%%cloud_function`
//! and `%faaset` magics run through the `faaset` core library.
//!
//! ```text
//! faaset-kernel <connection-file>        started by Jupyter (see the kernelspec)
//! faaset-kernel --install [--user | --prefix DIR]
//! faaset-kernel --uninstall [--user | --prefix DIR]
//! faaset-kernel --warm-up                 compiles what sessions use, once (install.sh)
//! ```

mod bridge;
mod build_dir;
mod complete;
mod content;
mod display;
mod history;
mod install;
mod jupyter;
mod kernel;
mod magic;
mod session;
mod stubs;
mod warm_up;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use faaset::Workspace;

/// The bridge's loopback listener and token, made before any thread starts so the session
/// process inherits them through its environment.
pub struct BridgeListener {
    pub listener: std::net::TcpListener,
    pub token: String,
}

const USAGE: &str = "usage: faaset-kernel <connection-file>   (started by Jupyter)
       faaset-kernel --install [--user | --prefix DIR]
       faaset-kernel --uninstall [--user | --prefix DIR]
       faaset-kernel --warm-up       (compiles what sessions use into evcxr's cache; install.sh runs it)";

fn main() {
    // First thing: in the session's child process this runs the evaluated code and never
    // returns (evcxr starts this same binary for it). Its stdout goes through the display
    // relay first, so displays show where they were printed.
    content::relay_session_stdout();
    evcxr::runtime_hook();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--install") => install::install(&args[1..]),
        Some("--uninstall") => install::uninstall(&args[1..]),
        Some("--warm-up") if args.len() == 1 => warm_up::run(),
        Some("--version" | "-V") => {
            println!("faaset-kernel {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Some("--help" | "-h") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(path) if args.len() == 1 && !path.starts_with('-') => serve(Path::new(path)),
        Some(_) => {
            eprintln!("{USAGE}");
            std::process::exit(1);
        }
    };
    if let Err(error) = result {
        eprintln!("faaset-kernel: {error:#}");
        std::process::exit(1);
    }
}

fn serve(connection_file: &Path) -> Result<()> {
    let info = jupyter::ConnectionInfo::read(connection_file)?;
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let workspace = Workspace::discover(&cwd)?;
    let _build_dir = build_dir::take();
    add_rust_libraries_to_library_path();
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("cannot listen on 127.0.0.1 for the session's calls")?;
    let token = faaset::auth::new_token()?;
    // The token is in an owner-only file, and only its path in the environment: every child
    // of the kernel (cargo, `build.rs` of a `:dep` crate, a function's build) inherits the
    // environment, and would show the secret in an `env` dump or a log. The session reads
    // it at each call, so a session evcxr restarts (after an interrupt) finds it again.
    let token_file = TokenFile::write(&workspace, &token)?;
    // Still one thread here: setting the environment is safe, and the session inherits it.
    std::env::set_var(bridge::ADDRESS_VAR, listener.local_addr()?.to_string());
    std::env::set_var(bridge::TOKEN_FILE_VAR, &token_file.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(kernel::run(
        info,
        workspace,
        BridgeListener { listener, token },
    ))
}

/// `.faaset/kernel/bridge-<pid>.token` (mode 0600, in a 0700 folder), removed when the
/// kernel ends; files of kernels that died are removed when the next one starts.
struct TokenFile(PathBuf);

impl TokenFile {
    fn write(workspace: &Workspace, token: &str) -> Result<Self> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let dir = workspace.state_dir().join("kernel");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for stale in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = stale.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix("bridge-")
                .and_then(|rest| rest.strip_suffix(".token"))
                .and_then(|pid| pid.parse::<u32>().ok());
            if pid.is_some_and(|pid| !faaset::engine::process_alive(pid)) {
                let _ = std::fs::remove_file(stale.path());
            }
        }
        let path = dir.join(format!("bridge-{}.token", std::process::id()));
        let _ = std::fs::remove_file(&path);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut file| file.write_all(token.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(TokenFile(path))
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The session's code is a `cdylib` linked against the toolchain's `libstd-*.so`; its
/// rpath is relative to where rustc wrote it, which does not hold for every build folder
/// (e.g. one under the home folder, as ours). Adding the toolchain's library folder to the
/// session's library path makes loading independent of where the build folder is.
pub(crate) fn add_rust_libraries_to_library_path() {
    let Ok(output) = std::process::Command::new("rustc")
        .args(["--print", "target-libdir"])
        .output()
    else {
        return;
    };
    let libdir = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if libdir.is_empty() {
        return;
    }
    let mut paths = vec![PathBuf::from(&libdir)];
    if let Some(existing) = std::env::var_os("LD_LIBRARY_PATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    if let Ok(joined) = std::env::join_paths(paths) {
        std::env::set_var("LD_LIBRARY_PATH", joined);
    }
}
