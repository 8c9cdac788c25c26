//! The CPU governor: Lambda's CPU share (memory / 1,769 MB of one vCPU) on the time scale of a
//! single call.
//!
//! Why not the cgroup's CFS quota alone: a CFS quota is a budget per period that is full
//! whenever an idle environment starts a call, so a call shorter than a few periods runs mostly
//! on that free budget. At 128 MB with Lambda's 20 ms period a 4 ms call then took 31 ms
//! instead of 55 (13.8 × 4), and at 512 MB it was not slowed at all. Shorter periods do not
//! help: the kernel's smallest quota is 1 ms, so the free start is worth at least 1 ms of CPU.
//!
//! The model: CPU comes in quanta of `q` ms, each costing `q / share` ms of wall time, so
//! every quantum is followed by a stall of `q / share - q` (at 128 MB: 1.45 ms of CPU, then
//! 18.6 ms stalled, as measured on Lambda). A call begins at a uniformly random point of a
//! quantum, as if it were one moment of a function that had always been running: the number
//! of stalls a call of `C` ms of CPU meets is `C / q` on average, for every `C`, so the mean
//! time of every call is `C / share` — a 0.05 ms call is rarely stalled, a 4 ms one as often
//! as it should be. The quantum is at most `MAX_QUANTUM` so that the stalls at larger memory
//! are short against a call of a few milliseconds (its median, not only its mean, follows the
//! share) and still longer than 1 ms.
//!
//! How: one thread per engine watches the process CPU clock of every environment that is
//! running a call, stops the process (`SIGSTOP`, through a pidfd so a reused pid is never
//! signalled) when its quantum is spent and continues it (`SIGCONT`) when the quantum's wall
//! time is over. A process on a CPU is stopped before its clock is read, as that clock lags
//! by up to a tick while it runs. Overspending (the thread woke late) is carried into the next
//! quantum and past the call's end into the next call, so the long-run share is exact. The cgroup's CFS quota stays as a backstop for what the process
//! clock does not see (child processes).

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Lambda's CPU period (pauses at 128 MB come in multiples of 20 ms).
const LAMBDA_PERIOD: Duration = Duration::from_millis(20);
/// The largest quantum of CPU between two stalls.
const MAX_QUANTUM: Duration = Duration::from_millis(2);
/// A quantum with less left than this is treated as spent (a shorter wait costs more than
/// it measures).
const MIN_SLICE: Duration = Duration::from_micros(20);
/// The same for a process stopped to read its clock: letting it run on costs another stop.
const STOPPED_SLICE: Duration = Duration::from_micros(200);
/// The most CPU one call's overspending makes the next call pay back (a governor that was
/// kept from running for long must not turn into a stall of seconds).
const MAX_CARRIED_DEBT: Duration = LAMBDA_PERIOD;

/// How one environment's CPU is shared out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share {
    /// CPU time per quantum.
    pub quantum: Duration,
    /// Wall time per quantum: `quantum / share`.
    pub period: Duration,
}

impl Share {
    /// The share for `cpus` CPUs on a host with `host_cpus`; `None` when the process cannot
    /// use more than it is given anyway.
    pub fn new(cpus: f64, host_cpus: f64) -> Option<Share> {
        if cpus.is_nan() || cpus <= 0.0 || cpus >= host_cpus {
            return None;
        }
        let quantum = LAMBDA_PERIOD.mul_f64(cpus).min(MAX_QUANTUM);
        Some(Share {
            quantum,
            period: quantum.div_f64(cpus),
        })
    }
}

/// The governor of this engine process (one thread for all environments).
pub struct Governor {
    shared: Arc<Shared>,
    /// How the governor thread is scheduled (for `faaset local status`).
    priority: String,
}

struct Shared {
    calls: Mutex<Calls>,
    wake: Condvar,
}

#[derive(Default)]
struct Calls {
    next_id: u64,
    running: HashMap<u64, Call>,
    /// When the governor thread wakes next (`None`: it waits for a new call). A call whose
    /// first look is due later needs no wake-up: a warm call then costs no context switch.
    wake_at: Option<Instant>,
}

/// An environment's process, as the governor sees it: opened once when it starts, so a call
/// costs no system call to set up, and a pid the system reused is never signalled.
pub struct Process {
    pidfd: OwnedFd,
    clock: libc::clockid_t,
    /// `/proc/<pid>/stat`, kept open: its state field says whether the process is on a CPU
    /// (its CPU clock may lag) or has stopped.
    stat: std::fs::File,
    /// CPU (ns) a call used beyond its share because the governor looked too late, to be
    /// paid back by the next call: the long-run share stays exact whatever the host's load.
    debt: AtomicU64,
}

impl Process {
    /// `None` when the process is gone (or the kernel has no pidfds, before Linux 5.3).
    pub fn open(pid: u32) -> Option<Arc<Process>> {
        Some(Arc::new(Process {
            pidfd: pidfd_open(pid)?,
            clock: cpu_clock(pid)?,
            stat: std::fs::File::open(format!("/proc/{pid}/stat")).ok()?,
            debt: AtomicU64::new(0),
        }))
    }
}

impl Process {
    /// The state letter of `/proc/<pid>/stat` (`R` running, `S` sleeping, `T` stopped, …).
    fn state(&self) -> Option<u8> {
        use std::os::unix::fs::FileExt;
        let mut buffer = [0u8; 512];
        let n = self.stat.read_at(&mut buffer, 0).ok()?;
        // "pid (comm) S ...": the command may hold spaces and parentheses; the state
        // follows the last ')'.
        let text = &buffer[..n];
        let close = text.iter().rposition(|&b| b == b')')?;
        text.get(close + 2).copied()
    }

    /// Whether the process is on a CPU or waiting for one (else its clock is exact). An
    /// unknown state counts as running: the stop that follows is then only a little work.
    fn is_running(&self) -> bool {
        self.state().is_none_or(|state| state == b'R')
    }

    /// Whether a `SIGSTOP` has taken effect (the process left its CPU: its clock is exact),
    /// or the process is gone.
    fn has_stopped(&self) -> bool {
        matches!(self.state(), Some(b'T' | b't' | b'Z' | b'X') | None)
    }
}

/// A call being governed.
struct Call {
    process: Arc<Process>,
    share: Share,
    /// When the current quantum's wall time began, and the process clock then.
    quantum_start: Instant,
    cpu_at_start: Duration,
    /// CPU this quantum may still use, as of `quantum_start` (negative: debt).
    budget: i128,
    state: State,
}

#[derive(Clone, Copy)]
enum State {
    Running {
        check: Instant,
    },
    /// Sent `SIGSTOP` to read an exact clock; looked at again until the stop took effect
    /// (never waited for: one slow process must not delay the other environments' checks).
    Stopping {
        since: Instant,
    },
    Stopped {
        resume: Instant,
    },
}

/// How often a stopping process is looked at, and how long at most it is waited for.
const STOP_POLL: Duration = Duration::from_micros(20);
const STOP_WAIT: Duration = Duration::from_millis(2);

/// Held while a call runs; dropping it ends the governing (and continues a stopped process).
pub struct CallGuard {
    id: u64,
    shared: Arc<Shared>,
}

impl Governor {
    /// The engine's governor, started on first use.
    pub fn get() -> &'static Governor {
        static GOVERNOR: OnceLock<Governor> = OnceLock::new();
        GOVERNOR.get_or_init(|| {
            let shared = Arc::new(Shared {
                calls: Mutex::new(Calls::default()),
                wake: Condvar::new(),
            });
            let worker = shared.clone();
            let (told, priority) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("faaset-cpu-governor".into())
                .spawn(move || {
                    let _ = told.send(raise_priority());
                    worker.run()
                })
                .expect("start the CPU governor thread");
            let priority = priority.recv().unwrap_or_else(|_| "unknown".into());
            Governor { shared, priority }
        })
    }

    /// How the governor thread is scheduled, e.g. "real-time (SCHED_FIFO)": a governor at
    /// normal priority on a busy host stops functions late, so their calls get more CPU than
    /// their share in the short run.
    pub fn priority(&self) -> &str {
        &self.priority
    }

    /// Starts governing a call of `process`; `offset` in [0, 1) is where in its first
    /// quantum the call begins (uniformly random in use). `None` when the process is gone.
    pub fn start_call(
        &self,
        process: &Arc<Process>,
        share: Share,
        offset: f64,
    ) -> Option<CallGuard> {
        let cpu = read_clock(process.clock)?;
        let now = Instant::now();
        let quantum = share.quantum.as_nanos() as i128;
        let debt = process.debt.swap(0, Ordering::Relaxed) as i128;
        let budget = ((1.0 - offset.clamp(0.0, 1.0)) * quantum as f64) as i128 - debt;
        // As if the quantum had begun (quantum - budget) of CPU ago, running flat out.
        let used = Duration::from_nanos((quantum - budget.max(0)) as u64);
        let call = Call {
            process: process.clone(),
            share,
            quantum_start: now.checked_sub(used).unwrap_or(now),
            cpu_at_start: cpu,
            budget,
            state: State::Running {
                check: now + Duration::from_nanos(budget.max(0) as u64),
            },
        };
        let mut calls = self.shared.calls.lock().unwrap_or_else(|e| e.into_inner());
        calls.next_id += 1;
        let id = calls.next_id;
        let first_look = now + Duration::from_nanos(budget.max(0) as u64);
        let wake = calls.wake_at.is_none_or(|at| at > first_look);
        calls.running.insert(id, call);
        drop(calls);
        if wake {
            self.shared.wake.notify_one();
        }
        Some(CallGuard {
            id,
            shared: self.shared.clone(),
        })
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let mut calls = self.shared.calls.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(call) = calls.running.remove(&self.id) {
            match call.state {
                State::Stopped { .. } | State::Stopping { .. } => {
                    signal(&call.process.pidfd, libc::SIGCONT)
                }
                State::Running { .. } => call.carry_debt(),
            }
        }
    }
}

impl Shared {
    fn run(&self) {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = Instant::now();
            let mut next: Option<Instant> = None;
            for call in calls.running.values_mut() {
                let at = call.step(now);
                next = Some(next.map_or(at, |n| n.min(at)));
            }
            calls.wake_at = next;
            calls = match next {
                None => self.wake.wait(calls).unwrap_or_else(|e| e.into_inner()),
                Some(at) => {
                    let wait = at.saturating_duration_since(Instant::now());
                    self.wake
                        .wait_timeout(calls, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }
}

impl Call {
    /// The call ended: CPU it used beyond its quantum (the governor looked too late) is
    /// owed by the environment's next call.
    fn carry_debt(&self) {
        let Some(cpu) = read_clock(self.process.clock) else {
            return;
        };
        let used = cpu.saturating_sub(self.cpu_at_start).as_nanos() as i128;
        let over = (used - self.budget).clamp(0, MAX_CARRIED_DEBT.as_nanos() as i128);
        self.process.debt.store(over as u64, Ordering::Relaxed);
    }

    /// Advances the call's state to `now`; returns when it needs looking at again.
    fn step(&mut self, now: Instant) -> Instant {
        match self.state {
            State::Running { check } if now < check => check,
            State::Stopped { resume } if now < resume => resume,
            State::Running { .. } => {
                // The kernel brings a process's CPU clock up to date only at a tick or when
                // the process leaves the CPU, so a running process's clock can lag by a tick
                // (4 ms at HZ=250, more than a quantum at 128 MB). Stop it first: a stopped
                // process's clock is exact.
                if self.process.is_running() {
                    signal(&self.process.pidfd, libc::SIGSTOP);
                    self.state = State::Stopping { since: now };
                    return now + STOP_POLL;
                }
                self.decide(now, false)
            }
            State::Stopping { since } => {
                if !self.process.has_stopped() && now < since + STOP_WAIT {
                    return now + STOP_POLL;
                }
                self.decide(now, true)
            }
            State::Stopped { .. } => {
                if let Some(cpu) = read_clock(self.process.clock) {
                    self.cpu_at_start = cpu;
                }
                signal(&self.process.pidfd, libc::SIGCONT);
                let check = now + Duration::from_nanos(self.budget.max(0) as u64);
                self.state = State::Running { check };
                check
            }
        }
    }

    /// With the process's clock exact (`stopped`: held by us until decided), either lets it
    /// run on with what is left of its quantum or ends the quantum.
    fn decide(&mut self, now: Instant, stopped: bool) -> Instant {
        let Some(cpu) = read_clock(self.process.clock) else {
            // The process is gone; its guard will be dropped.
            self.state = State::Running {
                check: now + Duration::from_secs(3600),
            };
            return now + Duration::from_secs(3600);
        };
        let used = cpu.saturating_sub(self.cpu_at_start).as_nanos() as i128;
        let left = self.budget - used;
        // A process we stopped to read its clock runs on only for a worthwhile slice: each
        // such stop costs it tens of microseconds. What is left over goes to the next quantum.
        let slice = if stopped { STOPPED_SLICE } else { MIN_SLICE };
        if left > slice.as_nanos() as i128 {
            if stopped {
                signal(&self.process.pidfd, libc::SIGCONT);
            }
            // Spent at most one CPU's worth per wall nanosecond: look again when the rest
            // could be gone (a multi-threaded process is caught a little late, and pays for
            // it in the next quantum).
            let check = now + Duration::from_nanos(left as u64);
            self.state = State::Running { check };
            return check;
        }
        self.next_quantum(now, cpu, left, stopped)
    }

    /// The quantum is spent: stop until its wall time is over, then start the next with what
    /// is left of this one carried over (`left` < 0: debt).
    fn next_quantum(&mut self, now: Instant, cpu: Duration, left: i128, stopped: bool) -> Instant {
        let quantum = self.share.quantum.as_nanos() as i128;
        let mut resume = self.quantum_start + self.share.period;
        let mut budget = quantum + left;
        while budget <= 0 {
            budget += quantum;
            resume += self.share.period;
        }
        self.quantum_start = resume;
        self.budget = budget;
        self.cpu_at_start = cpu;
        if resume <= now {
            // The quantum was spent slowly (the call waited on I/O): no stall is owed.
            if stopped {
                signal(&self.process.pidfd, libc::SIGCONT);
            }
            self.quantum_start = now;
            let check = now + Duration::from_nanos(budget as u64);
            self.state = State::Running { check };
            return check;
        }
        if !stopped {
            signal(&self.process.pidfd, libc::SIGSTOP);
        }
        self.state = State::Stopped { resume };
        resume
    }
}

/// Makes the calling thread's wake-ups prompt, and says how it is scheduled. Wake-ups are the
/// model's resolution: a late stop is CPU the function should not have had. So: no timer
/// slack, and real-time priority where allowed (root). Under cgroup v1 with real-time group
/// scheduling, a cgroup other than the root has no real-time budget by default, so the thread
/// moves to the root CPU cgroup first. The thread only ever sleeps or makes a few system
/// calls, so its priority cannot starve anything.
fn raise_priority() -> String {
    // SAFETY: prctl, sched_setscheduler and setpriority on this thread (pid 0 / its tid)
    // change only its own scheduling.
    let fifo = || unsafe {
        let param = libc::sched_param { sched_priority: 1 };
        if libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    let refused = match fifo() {
        Ok(()) => return "real-time (SCHED_FIFO)".into(),
        Err(e) => e,
    };
    if let Some(root) = v1_cpu_root() {
        // SAFETY: gettid has no arguments and cannot fail.
        let tid = unsafe { libc::gettid() };
        if std::fs::write(root.join("tasks"), tid.to_string()).is_ok() && fifo().is_ok() {
            return "real-time (SCHED_FIFO, in the root CPU cgroup)".into();
        }
    }
    // SAFETY: see above.
    let nice = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, -20) };
    if nice == 0 {
        format!("nice -20 (real-time refused: {refused})")
    } else {
        format!("normal priority (real-time refused: {refused}): calls may get more CPU than their share on a busy host")
    }
}

/// The mount point of the cgroup v1 hierarchy that has the `cpu` controller.
fn v1_cpu_root() -> Option<std::path::PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut right = right.split_whitespace();
        let (fstype, _source, options) = (right.next()?, right.next()?, right.next()?);
        let has_cpu = options.split(',').any(|o| o == "cpu");
        (fstype == "cgroup" && has_cpu).then(|| left.split_whitespace().nth(4).map(Into::into))?
    })
}

fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: a non-negative result is a descriptor we now own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn signal(pidfd: &OwnedFd, signal: libc::c_int) {
    // SAFETY: pidfd_send_signal on a descriptor we own; a process that has ended gets nothing.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        );
    }
}

/// The CPU-time clock of process `pid` (all its threads).
fn cpu_clock(pid: u32) -> Option<libc::clockid_t> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: writes the clock id into `clock`.
    let rc = unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) };
    (rc == 0).then_some(clock)
}

fn read_clock(clock: libc::clockid_t) -> Option<Duration> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes the time into `t`.
    let rc = unsafe { libc::clock_gettime(clock, &mut t) };
    (rc == 0).then(|| Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_follows_lambda_at_small_memory_and_stays_fine_above() {
        let at_128 = Share::new(128.0 / 1769.0, 2.0).unwrap();
        assert!((at_128.quantum.as_secs_f64() * 1e3 - 1.447).abs() < 0.01);
        assert!((at_128.period.as_secs_f64() * 1e3 - 20.0).abs() < 0.01);
        let at_1024 = Share::new(1024.0 / 1769.0, 2.0).unwrap();
        assert_eq!(at_1024.quantum, MAX_QUANTUM);
        let stall = at_1024.period - at_1024.quantum;
        assert!(stall > Duration::from_millis(1), "{stall:?}");
        assert_eq!(Share::new(2.0, 2.0), None, "the host has no more to give");
        assert_eq!(Share::new(0.0, 2.0), None);
    }

    /// A spinning child under the governor gets its share of the wall time, with stalls of
    /// the model's length.
    #[test]
    fn a_spinning_process_gets_its_share() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .expect("spawn sh");
        let share = Share::new(0.25, 8.0).unwrap();
        let process = Process::open(child.id()).unwrap();
        let clock = process.clock;
        let before = read_clock(clock).unwrap();
        let started = Instant::now();
        let guard = Governor::get().start_call(&process, share, 0.5).unwrap();
        std::thread::sleep(Duration::from_millis(600));
        let used = read_clock(clock).unwrap() - before;
        let wall = started.elapsed();
        drop(guard);
        child.kill().unwrap();
        child.wait().unwrap();
        let fraction = used.as_secs_f64() / wall.as_secs_f64();
        // 25% of a CPU; a loaded test machine can only give less.
        assert!(fraction < 0.30, "{fraction}");
        assert!(fraction > 0.05, "stopped for good? {fraction}");
    }
}
