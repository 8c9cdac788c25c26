//! Test support: a fresh workspace holding copies of the example functions, a `faaset`
//! command builder, and a guard that stops the workspace's engine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct TempWorkspace {
    dir: tempfile::TempDir,
}

impl TempWorkspace {
    /// The pid of the engine serving this workspace, from its `engine.json`.
    pub fn engine_pid(&self) -> u64 {
        let info = std::fs::read_to_string(self.file(".faaset/local/engine.json")).unwrap();
        serde_json::from_str::<faaset::engine::EngineInfo>(&info)
            .unwrap()
            .pid
            .into()
    }

    /// A workspace with the named example functions copied in.
    pub fn with_functions(names: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
        for name in names {
            let to = dir.path().join("functions").join(name);
            std::fs::create_dir_all(to.join("src")).unwrap();
            for file in ["FAASET.json", "src/function.rs"] {
                std::fs::copy(examples.join(name).join(file), to.join(file)).unwrap();
            }
        }
        TempWorkspace { dir }
    }

    /// A copy of another workspace, everything included (`cp -a`, as a user would copy it).
    pub fn copy_of(other: &TempWorkspace) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let copied = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", other.path().display()))
            .arg(dir.path())
            .status()
            .expect("run cp");
        assert!(copied.success());
        TempWorkspace { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes a function's source and a `FAASET.json` for it.
    pub fn add_function(&self, name: &str, source: &str) {
        self.add_function_on(name, "local", source);
    }

    /// A function `name` saved for `platform` with `source`, not deployed.
    pub fn add_function_on(&self, name: &str, platform: &str, source: &str) {
        let dir = self.file(&format!("functions/{name}"));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/function.rs"), source).unwrap();
        std::fs::write(
            dir.join("FAASET.json"),
            format!("{{\"name\": \"{name}\", \"platform\": \"{platform}\"}}"),
        )
        .unwrap();
    }

    /// Runs `faaset ARGS` in the workspace.
    pub fn faaset(&self, args: &[&str]) -> Run {
        self.faaset_with_env(args, &[])
    }

    /// Each `(args, message)`: `faaset ARGS` fails as a user error saying `message`, and the
    /// workspace is still exactly `before` (bad input changes nothing).
    pub fn refuses_without_writing(
        &self,
        cases: &[(&[&str], &str)],
        before: &[(PathBuf, Vec<u8>)],
    ) {
        for (args, expected) in cases {
            self.faaset(args).user_error(expected);
            assert!(
                self.snapshot() == before,
                "`faaset {}` wrote to the workspace",
                args.join(" ")
            );
        }
    }

    /// `faaset ARGS` started in the background (output discarded), for a test that kills it.
    pub fn spawn_faaset(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_faaset"))
            .args(args)
            .current_dir(self.path())
            .env("FAASET_BIN", env!("CARGO_BIN_EXE_faaset"))
            .env_remove("FAASET_WORKSPACE")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start faaset")
    }

    /// Runs `faaset ARGS` with extra environment variables (an engine it starts inherits them).
    pub fn faaset_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_faaset"))
            .args(args)
            .envs(env.iter().copied())
            .current_dir(self.path())
            .env("FAASET_BIN", env!("CARGO_BIN_EXE_faaset"))
            .env_remove("FAASET_WORKSPACE")
            .output()
            .expect("run faaset");
        Run(output)
    }

    /// Every file below the workspace with its contents (to prove nothing was written).
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        collect(self.path(), self.path(), &mut files);
        files.sort();
        files
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let relative = path.strip_prefix(root).unwrap().to_path_buf();
        // The engine's runtime state and logs are not user data.
        if relative.starts_with(".faaset") || relative.components().any(|c| c.as_os_str() == "logs")
        {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            out.push((relative, std::fs::read(&path).unwrap()));
        }
    }
}

impl Drop for TempWorkspace {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_faaset"))
            .args(["local", "stop"])
            .current_dir(self.path())
            .output();
    }
}

/// A finished `faaset` process.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout(),
                self.stderr()
            )
        })
    }
    /// Asserts success and returns self.
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code(),
            0,
            "faaset failed\nstdout: {}\nstderr: {}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    /// Asserts a user error: exit code 1 and one line on stderr containing `expected`.
    pub fn user_error(self, expected: &str) -> Self {
        let stderr = self.stderr();
        assert_eq!(
            self.code(),
            1,
            "expected exit code 1\nstdout: {}\nstderr: {stderr}",
            self.stdout()
        );
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("faaset: "))
            .collect();
        assert_eq!(lines.len(), 1, "expected one error line, got: {stderr}");
        assert!(
            lines[0].contains(expected),
            "expected {expected:?} in {:?}",
            lines[0]
        );
        self
    }
}

/// Whether another local user (`nobody`, through `setpriv`) can read `path`; `None`, with a
/// message, where the tests cannot become another user (not root, or no setpriv).
pub fn another_user_can_read(path: &str) -> Option<bool> {
    if unsafe { libc::geteuid() } != 0 || !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("skipped: the second-user step needs root and setpriv");
        return None;
    }
    let read = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "cat",
            path,
        ])
        .output()
        .unwrap();
    Some(read.status.success())
}
