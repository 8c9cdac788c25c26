//! Lambda's resource model on Linux cgroups: each environment gets its own cgroup with
//! memory limit = the function's `memory` and a CPU share of memory / 1,769 MB of one CPU
//! (Lambda's ratio), capped at 6 CPUs and at the host's CPU count. The share is enforced
//! call by call by the [`governor`](super::governor) (fine-grained, as on Lambda); the CFS
//! quota here is its backstop.
//!
//! cgroup v1 and v2 are detected at run time; environments are created below the engine's
//! own cgroup (delegation, not the root). Where cgroups cannot be used (not root, no
//! delegation, switched off with `FAASET_LOCAL_LIMITS=off`) functions still run and every
//! record says `limitsEnforced: false`; the engine says why once, at start.

use std::ffi::CString;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::governor::{CallGuard, Governor, Process, Share};

/// Lambda gives one full vCPU at 1,769 MB.
pub const MB_PER_CPU: f64 = 1769.0;
/// Lambda's largest CPU allocation.
pub const MAX_CPUS: f64 = 6.0;
/// CFS period of the backstop quota: the kernel's default. The governor shapes the CPU
/// within it; the quota only catches what the governor cannot see (child processes).
const CPU_PERIOD_US: u64 = 100_000;

/// Whether and how limits are enforced, decided once per engine.
pub enum Limits {
    Enforced(Hierarchy),
    /// Why limits are not enforced.
    Off(String),
}

/// Where the engine creates environment cgroups.
pub enum Hierarchy {
    V1 { memory: PathBuf, cpu: PathBuf },
    V2 { base: PathBuf },
}

/// The cgroup(s) of one environment; removed when dropped (after its process has ended).
pub struct EnvironmentCgroup {
    dirs: Vec<PathBuf>,
    /// `cgroup.procs` files the child writes itself into before `exec`.
    procs: Vec<CString>,
    /// The peak-memory file, kept open: it is read after every call (`pread` at 0 costs a
    /// microsecond, open-read-close about twenty).
    /// (`None` where the kernel has no such file, e.g. `memory.peak` before Linux 5.19.)
    peak_file: Option<std::fs::File>,
    oom_file: PathBuf,
    /// The CPU quota file and the value that limits it, written when init ends.
    cpu_file: PathBuf,
    cpu_value: String,
    v2: bool,
    /// How the governor shares out the CPU (`None`: the host has no more to give).
    share: Option<Share>,
    /// The environment's process, once started.
    process: OnceLock<Arc<Process>>,
}

impl Limits {
    /// Detects what this machine allows. `FAASET_LOCAL_LIMITS=off` switches limits off.
    pub fn detect() -> Limits {
        if std::env::var("FAASET_LOCAL_LIMITS").is_ok_and(|v| v == "off" || v == "0") {
            return Limits::Off("switched off by FAASET_LOCAL_LIMITS=off".into());
        }
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let hierarchy = if Path::new("/sys/fs/cgroup/cgroup.controllers").is_file() {
            v2_hierarchy(&own)
        } else {
            v1_hierarchy(&own)
        };
        match hierarchy.and_then(|h| h.probe().map(|()| h)) {
            Ok(h) => Limits::Enforced(h),
            Err(why) => Limits::Off(why),
        }
    }

    pub fn enforced(&self) -> bool {
        matches!(self, Limits::Enforced(_))
    }

    /// A line for logs and `faaset local status`.
    pub fn describe(&self) -> String {
        match self {
            Limits::Enforced(hierarchy) => {
                let version = match hierarchy {
                    Hierarchy::V1 { .. } => "v1",
                    Hierarchy::V2 { .. } => "v2",
                };
                let governor = Governor::get().priority();
                format!("enforced (cgroup {version}: memory, cpu; CPU governor: {governor})")
            }
            Limits::Off(why) => format!("NOT enforced: {why}; memory and CPU are not limited"),
        }
    }

    /// Creates the cgroup of a new environment (`None` when limits are off).
    pub fn create(
        &self,
        environment: &str,
        memory_mb: u32,
    ) -> std::io::Result<Option<EnvironmentCgroup>> {
        let Limits::Enforced(hierarchy) = self else {
            return Ok(None);
        };
        let share = Share::new(cpus(memory_mb, host_cpus()), host_cpus());
        // One quantum of slack per period, so the backstop never cuts into the governor's
        // schedule (whose windows do not line up with the kernel's periods).
        let slack = share.map_or(0, |s| s.quantum.as_micros() as u64);
        let quota = cpu_quota_us(memory_mb, host_cpus()) + slack;
        let bytes = u64::from(memory_mb) * 1024 * 1024;
        let cgroup = match hierarchy {
            Hierarchy::V1 { memory, cpu } => {
                let mem = memory.join(environment);
                let cpu_dir = cpu.join(environment);
                std::fs::create_dir_all(&mem)?;
                std::fs::create_dir_all(&cpu_dir)?;
                std::fs::write(mem.join("memory.limit_in_bytes"), bytes.to_string())?;
                // Without swap the limit is absolute, as on Lambda.
                let _ = std::fs::write(mem.join("memory.memsw.limit_in_bytes"), bytes.to_string());
                let _ = std::fs::write(mem.join("memory.swappiness"), "0");
                std::fs::write(cpu_dir.join("cpu.cfs_period_us"), CPU_PERIOD_US.to_string())?;
                // Unlimited until init ends (see `EnvironmentCgroup::limit_cpu`).
                std::fs::write(cpu_dir.join("cpu.cfs_quota_us"), "-1")?;
                EnvironmentCgroup {
                    cpu_file: cpu_dir.join("cpu.cfs_quota_us"),
                    cpu_value: quota.to_string(),
                    procs: vec![
                        c_path(&mem.join("cgroup.procs")),
                        c_path(&cpu_dir.join("cgroup.procs")),
                    ],
                    peak_file: std::fs::File::open(mem.join("memory.max_usage_in_bytes")).ok(),
                    oom_file: mem.join("memory.oom_control"),
                    dirs: vec![mem, cpu_dir],
                    v2: false,
                    share,
                    process: OnceLock::new(),
                }
            }
            Hierarchy::V2 { base } => {
                let dir = base.join(environment);
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join("memory.max"), bytes.to_string())?;
                let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                std::fs::write(dir.join("cpu.max"), format!("max {CPU_PERIOD_US}"))?;
                EnvironmentCgroup {
                    cpu_file: dir.join("cpu.max"),
                    cpu_value: format!("{quota} {CPU_PERIOD_US}"),
                    procs: vec![c_path(&dir.join("cgroup.procs"))],
                    peak_file: std::fs::File::open(dir.join("memory.peak")).ok(),
                    oom_file: dir.join("memory.events"),
                    dirs: vec![dir],
                    v2: true,
                    share,
                    process: OnceLock::new(),
                }
            }
        };
        Ok(Some(cgroup))
    }

    /// Ends what killed engines left in their cgroups and removes them: at start, and again
    /// from the reaper, since an engine killed a moment before this one started (a client
    /// reconnecting at once) may not have finished dying at the first look.
    pub fn remove_stale(&self) {
        if let Limits::Enforced(h) = self {
            for dir in h.dirs() {
                remove_stale_siblings(dir);
            }
        }
    }

    /// Removes the engine's parent cgroups (at shutdown, when they are empty).
    pub fn cleanup(&self) {
        if let Limits::Enforced(h) = self {
            for dir in h.dirs() {
                // Environments whose processes are still dying: end them, then remove.
                if let Ok(children) = std::fs::read_dir(dir) {
                    for child in children.flatten().filter(|c| c.path().is_dir()) {
                        kill_cgroup_procs(&child.path());
                        for _ in 0..40 {
                            if std::fs::remove_dir(child.path()).is_ok() || !child.path().exists() {
                                break;
                            }
                            std::thread::sleep(std::time::Duration::from_millis(25));
                        }
                    }
                }
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

impl Hierarchy {
    fn dirs(&self) -> Vec<&Path> {
        match self {
            Hierarchy::V1 { memory, cpu } => vec![memory, cpu],
            Hierarchy::V2 { base } => vec![base],
        }
    }

    /// Creates the engine's parent cgroups, proving we may.
    fn probe(&self) -> Result<(), String> {
        for dir in self.dirs() {
            remove_stale_siblings(dir);
            std::fs::create_dir_all(dir).map_err(|e| {
                format!("cannot create cgroup {} ({e}); run the engine as root or with a delegated cgroup", dir.display())
            })?;
        }
        if let Hierarchy::V2 { base } = self {
            std::fs::write(base.join("cgroup.subtree_control"), "+memory +cpu").map_err(|e| {
                format!(
                    "cannot enable the memory and cpu controllers in {} ({e})",
                    base.display()
                )
            })?;
        }
        Ok(())
    }
}

impl EnvironmentCgroup {
    /// Paths of `cgroup.procs` files for the child to join before `exec`.
    pub fn procs_files(&self) -> Vec<CString> {
        self.procs.clone()
    }

    /// Applies the CPU quota. Called when the runtime first asks for work: init (process
    /// start) runs on the host's CPUs so a cold start measures starting, not throttling;
    /// every invocation runs under the quota. Memory is limited from the start.
    pub fn limit_cpu(&self) -> std::io::Result<()> {
        std::fs::write(&self.cpu_file, &self.cpu_value)
    }

    /// Records the environment's process (for the governor).
    pub fn set_pid(&self, pid: u32) {
        if self.share.is_some() {
            if let Some(process) = Process::open(pid) {
                let _ = self.process.set(process);
            }
        }
    }

    /// Starts governing the CPU of a call that begins now, at a random point of its first
    /// quantum (see the governor's model). `None` when there is nothing to govern.
    pub fn start_call(&self) -> Option<CallGuard> {
        let share = self.share?;
        let process = self.process.get()?;
        Governor::get().start_call(process, share, random_fraction())
    }

    /// Kills every process still in the environment's cgroup.
    pub fn kill_all(&self) {
        for dir in &self.dirs {
            kill_cgroup_procs(dir);
        }
    }

    /// Peak memory of the environment in MB.
    pub fn peak_mb(&self) -> Option<f64> {
        use std::os::unix::fs::FileExt;
        let mut buffer = [0u8; 32];
        let n = self.peak_file.as_ref()?.read_at(&mut buffer, 0).ok()?;
        let text = std::str::from_utf8(&buffer[..n]).ok()?;
        text.trim()
            .parse::<f64>()
            .ok()
            .map(|b| b / (1024.0 * 1024.0))
    }

    /// Whether the kernel's OOM killer ended a process of this environment.
    pub fn oom_killed(&self) -> bool {
        let text = std::fs::read_to_string(&self.oom_file).unwrap_or_default();
        let count = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        if self.v2 {
            count("oom_kill ") > 0
        } else {
            count("oom_kill ") > 0 || count("under_oom ") > 0
        }
    }
}

impl Drop for EnvironmentCgroup {
    fn drop(&mut self) {
        let dirs = std::mem::take(&mut self.dirs);
        let left: Vec<PathBuf> = dirs
            .into_iter()
            .filter(|dir| std::fs::remove_dir(dir).is_err() && dir.exists())
            .collect();
        if left.is_empty() {
            return;
        }
        // The kernel may take a moment to release a just-reaped process; retry off the
        // engine's (single) thread.
        std::thread::spawn(move || {
            for _ in 0..40 {
                std::thread::sleep(std::time::Duration::from_millis(25));
                if left
                    .iter()
                    .all(|d| std::fs::remove_dir(d).is_ok() || !d.exists())
                {
                    break;
                }
            }
        });
    }
}

/// Removes the cgroups of engines that ended without cleaning up (killed): sibling
/// `faaset-engine-<pid>` folders whose process is gone, with their empty children.
fn remove_stale_siblings(own: &Path) {
    let Some(parent) = own.parent() else { return };
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("faaset-engine-")) else {
            continue;
        };
        // A zombie is gone too: a killed engine waits for its parent to reap it.
        if pid.parse().is_ok_and(super::process_alive) {
            continue;
        }
        let dir = entry.path();
        if let Ok(children) = std::fs::read_dir(&dir) {
            for child in children.flatten().filter(|c| c.path().is_dir()) {
                // What a killed engine's functions left running ends here.
                kill_cgroup_procs(&child.path());
                let _ = std::fs::remove_dir(child.path());
            }
        }
        let _ = std::fs::remove_dir(&dir);
    }
}

/// Joins the calling process to each cgroup: writing "0" to `cgroup.procs` moves the writer.
/// Runs in the child between `fork` and `exec`, so it uses only async-signal-safe calls.
pub fn join_cgroups(procs: &[CString]) -> std::io::Result<()> {
    for path in procs {
        // SAFETY: `path` is a valid NUL-terminated string; open/write/close are
        // async-signal-safe and touch no memory other than the given buffers.
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let written = libc::write(fd, b"0".as_ptr().cast(), 1);
            libc::close(fd);
            if written != 1 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// In the child before `exec`: its own process group (so everything the function starts can
/// be ended together) and a `SIGKILL` when the engine's thread that started it ends (the
/// engine killed by any signal leaves no environment running). Async-signal-safe only.
///
/// The death signal follows the *thread* that forked: environments are started from the
/// engine's runtime worker threads, which live as long as the engine.
pub fn tie_to_engine() -> std::io::Result<()> {
    // SAFETY: setpgid, prctl, getppid and _exit are async-signal-safe system calls.
    unsafe {
        if libc::setpgid(0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let engine = libc::getppid();
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // The engine may have died before the death signal was armed.
        if libc::getppid() != engine {
            libc::_exit(137);
        }
    }
    Ok(())
}

/// Kills every process left in the process group `pgid` (an environment's).
pub fn kill_group(pgid: u32) {
    if pgid > 1 {
        // SAFETY: killpg only sends a signal; a group that no longer exists gets none.
        unsafe { libc::killpg(pgid as libc::pid_t, libc::SIGKILL) };
    }
}

/// Kills every process listed in `dir/cgroup.procs` until none is left (or about a second
/// has passed): processes that left the environment's process group are still in its cgroup.
fn kill_cgroup_procs(dir: &Path) {
    let procs = dir.join("cgroup.procs");
    for _ in 0..100 {
        let Ok(text) = std::fs::read_to_string(&procs) else {
            return;
        };
        let pids: Vec<libc::pid_t> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            // SAFETY: kill only sends a signal.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// CPUs for a memory size: memory / 1,769 MB of one CPU, capped at `MAX_CPUS` and the
/// host's CPUs.
pub fn cpus(memory_mb: u32, host_cpus: f64) -> f64 {
    (f64::from(memory_mb) / MB_PER_CPU)
        .min(MAX_CPUS)
        .min(host_cpus)
}

/// CPU quota per period for a memory size (`cpus`), at least the kernel's minimum of 1 ms.
pub fn cpu_quota_us(memory_mb: u32, host_cpus: f64) -> u64 {
    ((cpus(memory_mb, host_cpus) * CPU_PERIOD_US as f64).round() as u64).max(1000)
}

/// A uniformly distributed number in [0, 1): std's hasher keys are random per instance.
fn random_fraction() -> f64 {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

pub fn host_cpus() -> f64 {
    std::thread::available_parallelism()
        .map(|n| n.get() as f64)
        .unwrap_or(1.0)
}

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_encoded_bytes()).expect("cgroup paths have no NUL")
}

/// The engine's own cgroup path for a v1 controller, from `/proc/self/cgroup`.
fn own_path<'a>(own: &'a str, controller: &str) -> Option<&'a str> {
    own.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then_some(path)
    })
}

fn v1_hierarchy(own: &str) -> Result<Hierarchy, String> {
    let engine = format!("faaset-engine-{}", std::process::id());
    let mut dirs = Vec::new();
    for controller in ["memory", "cpu"] {
        let mount = Path::new("/sys/fs/cgroup").join(controller);
        if !mount.join("cgroup.procs").is_file() {
            return Err(format!(
                "the cgroup v1 {controller} controller is not mounted at {}",
                mount.display()
            ));
        }
        let own = own_path(own, controller)
            .unwrap_or("/")
            .trim_start_matches('/');
        dirs.push(mount.join(own).join(&engine));
    }
    let cpu = dirs.pop().expect("two dirs");
    let memory = dirs.pop().expect("two dirs");
    Ok(Hierarchy::V1 { memory, cpu })
}

fn v2_hierarchy(own: &str) -> Result<Hierarchy, String> {
    let path = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("/")
        .trim_start_matches('/');
    let base = Path::new("/sys/fs/cgroup")
        .join(path)
        .join(format!("faaset-engine-{}", std::process::id()));
    Ok(Hierarchy::V2 { base })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_quota_follows_lambda() {
        assert_eq!(cpu_quota_us(1769, 8.0), 100_000);
        assert_eq!(cpu_quota_us(3538, 8.0), 200_000);
        assert_eq!(cpu_quota_us(128, 8.0), 7236);
        assert_eq!(cpu_quota_us(10240, 8.0), 578_858);
        assert_eq!(
            cpu_quota_us(10240, 2.0),
            200_000,
            "capped at the host's CPUs"
        );
        assert_eq!(cpu_quota_us(12_000, 64.0), 600_000, "capped at 6 CPUs");
        assert_eq!(cpu_quota_us(1, 8.0), 1000, "the kernel's minimum");
    }

    #[test]
    fn own_cgroup_paths_are_read_per_controller() {
        let own = "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n0::/";
        assert_eq!(own_path(own, "memory"), Some("/process_api/abc"));
        assert_eq!(own_path(own, "cpu"), Some("/x"));
        assert_eq!(own_path(own, "pids"), None);
    }
}
