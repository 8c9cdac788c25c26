//! SAAF for Rust: the Serverless Application Analytics Framework's `Inspector`, which profiles
//! a FaaS function's execution environment from inside the function.
//!
//! A function creates an [`Inspector`] when it starts, asks it to inspect what it wants
//! (container, CPU, memory, platform, kernel), adds its own attributes and returns
//! [`Inspector::finish`]'s JSON object as (part of) its response:
//!
//! ```
//! let mut inspector = saaf::Inspector::new();
//! inspector.inspect_all();
//! // ... the function's work ...
//! inspector.inspect_all_deltas();
//! inspector.add_attribute("message", "Hello!");
//! let response = inspector.finish();
//! assert!(response["runtime"].is_number());
//! ```
//!
//! Attribute names are those of SAAF Python 0.7 (`version`, `lang`, `startTime`, `runtime`,
//! `uuid`, `newcontainer`, `cpuType`, `cpuUser`, …, `pageFaults`, `platform`, `functionMemory`,
//! …) plus `vmuptime` and `contextSwitches` from SAAF Java, so FaaS Runner-style tools read
//! them unchanged. Every method documents the attributes it adds.
//!
//! What it does:
//! - reads Linux `/proc` directly (`stat`, `cpuinfo`, `meminfo`, `vmstat`, `self/auxv`,
//!   `self/stat`, `sys/kernel/*`); it runs no commands, writes no files and needs no libc;
//! - identifies the execution environment with a `uuid` held in process-global state:
//!   `newcontainer` is 1 for the first Inspector of the process and 0 afterwards. (SAAF keeps
//!   this in `/tmp/container-id`; a process is the right scope here because FaaSET's local
//!   platform runs several environments that share `/tmp`);
//! - detects the platform from environment variables ([`detect_platform`]): `Local`,
//!   `AWS Lambda`, `Google Cloud Run`, `Google Cloud Functions` (1st gen), `Azure Functions`,
//!   `OpenWhisk`, `IBM Cloud Functions` (OpenWhisk on IBM's API host) or `Unknown Platform`;
//!   where the platform hides the memory setting or region, FaaSET's publisher passes them as
//!   `FAASET_MEMORY_MB` and `FAASET_REGION`.
//!
//! What it does not do:
//! - CPU times and page faults are those of the whole (virtual) machine, as in SAAF, not of
//!   the function's cgroup; on a shared machine they include other processes' work;
//! - it omits SAAF's `cpuInfo` (per-core dump), `cpuPolls`, `vmID` and the memory
//!   recommendation (`recommendedMemory`);
//! - on a system without `/proc` (not Linux) the `/proc` attributes are missing and an
//!   attribute such as `SAAFCPUError` says why; it never panics over an unreadable file.
//!
//! Times: `startTime` and `endTime` are epoch milliseconds (integers, as in SAAF);
//! `runtime`, `frameworkRuntime`, `userRuntime`, `frameworkRuntimeDeltas` and time stamps from
//! [`Inspector::add_time_stamp`] are milliseconds since `startTime` measured with a monotonic
//! clock, as floats with microsecond resolution. CPU times (`cpuUser`, …) are milliseconds:
//! `/proc/stat` clock ticks × 1000 / `CLK_TCK`.

mod cpuinfo;
mod meminfo;
mod platform;
mod proc_stat;
mod sys;

use std::fs;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use serde_json::{Map, Value};

pub use platform::{
    detect_platform, PlatformInfo, AWS_LAMBDA, AZURE, GOOGLE_CLOUD_FUNCTIONS, GOOGLE_CLOUD_RUN,
    IBM_CLOUD_FUNCTIONS, LOCAL, MEMORY_ENV, OPENWHISK, REGION_ENV, UNKNOWN,
};

/// The SAAF version whose attribute names this crate produces (`version` attribute).
pub const SAAF_VERSION: f64 = 0.7;
/// The `lang` attribute.
pub const LANG: &str = "rust";

/// Inspectors created in this process so far (SAAF's `invocations`).
static INVOCATIONS: AtomicU64 = AtomicU64::new(0);
/// The execution environment's identity, made once per process.
static CONTAINER_UUID: OnceLock<String> = OnceLock::new();
/// When this execution environment started (epoch ms), made once per process.
static INITIALIZATION_TIME: OnceLock<u64> = OnceLock::new();
/// `CLK_TCK`, read once per process.
static CLK_TCK: OnceLock<u64> = OnceLock::new();

fn clk_tck() -> u64 {
    *CLK_TCK.get_or_init(sys::clk_tck)
}

/// Collects SAAF attributes about one function invocation. See the crate docs.
#[derive(Debug)]
pub struct Inspector {
    attributes: Map<String, Value>,
    started: Instant,
    /// `/proc/stat` as read by [`Inspector::inspect_cpu`], the base of the CPU deltas.
    cpu_base: Option<proc_stat::ProcStat>,
    /// `/proc/vmstat` as read by [`Inspector::inspect_memory`], the base of the memory deltas.
    memory_base: Option<meminfo::VmStat>,
}

impl Default for Inspector {
    fn default() -> Self {
        Self::new()
    }
}

impl Inspector {
    /// Starts the clock and records `version` (0.7), `lang` (`"rust"`), `startTime` (epoch ms),
    /// `invocations` (Inspectors created in this process, this one included),
    /// `initializationTime` (epoch ms when this process started), `uuid` (the execution
    /// environment's id, the same for the life of the process) and `newcontainer` (1 for the
    /// first Inspector of the process, else 0).
    pub fn new() -> Self {
        let started = Instant::now();
        let start_time = sys::now_epoch_ms();
        let invocations = INVOCATIONS.fetch_add(1, Ordering::SeqCst) + 1;
        let uuid = CONTAINER_UUID.get_or_init(sys::new_uuid).clone();
        let initialization_time = *INITIALIZATION_TIME.get_or_init(|| {
            sys::process_start_epoch_ms(start_time, clk_tck())
                .filter(|&t| t <= start_time)
                .unwrap_or(start_time)
        });

        let mut attributes = Map::new();
        attributes.insert("version".into(), SAAF_VERSION.into());
        attributes.insert("lang".into(), LANG.into());
        attributes.insert("startTime".into(), start_time.into());
        attributes.insert("invocations".into(), invocations.into());
        attributes.insert("initializationTime".into(), initialization_time.into());
        attributes.insert("uuid".into(), uuid.into());
        attributes.insert("newcontainer".into(), u64::from(invocations == 1).into());
        Inspector {
            attributes,
            started,
            cpu_base: None,
            memory_base: None,
        }
    }

    /// Adds `uuid`, `newcontainer` (see [`Inspector::new`]) and `vmuptime` (boot time of the
    /// machine, epoch seconds, from `/proc/stat` `btime`).
    pub fn inspect_container(&mut self) {
        // uuid and newcontainer were fixed at construction (SAAF decides them per instance).
        match read_proc_stat() {
            Ok(stat) => self.put_opt("vmuptime", stat.boot_time),
            Err(e) => self.put("SAAFContainerError", e),
        }
    }

    /// Adds `cpuType` (model name), `cpuModel`, `cpuCores` (processors the kernel lists) and
    /// `architecture` (`x86_64` or `arm64`).
    pub fn inspect_cpu_info(&mut self) {
        match fs::read_to_string("/proc/cpuinfo") {
            Ok(text) => {
                let info = cpuinfo::parse(&text);
                self.put_opt("cpuType", info.cpu_type);
                self.put_opt("cpuModel", info.cpu_model);
                self.put("cpuCores", info.cores);
            }
            Err(e) => self.put("SAAFCPUInfoError", format!("/proc/cpuinfo: {e}")),
        }
        self.put("architecture", sys::architecture());
    }

    /// Adds the machine's CPU times since boot in milliseconds — `cpuUser`, `cpuNice`,
    /// `cpuKernel`, `cpuIdle`, `cpuIOWait`, `cpuIrq`, `cpuSoftIrq`, `cpuSteal`, `cpuGuest`,
    /// `cpuGuestNice` — plus `bootTime` (epoch s) and `contextSwitches`, and keeps the reading
    /// as the base of [`Inspector::inspect_cpu_delta`].
    pub fn inspect_cpu(&mut self) {
        let stat = match read_proc_stat() {
            Ok(stat) => stat,
            Err(e) => return self.put("SAAFCPUError", e),
        };
        for (name, ticks) in proc_stat::CPU_FIELDS.iter().zip(stat.cpu_ticks) {
            if let Some(ticks) = ticks {
                self.put(name, ticks_to_ms(ticks as i128));
            }
        }
        self.put_opt("bootTime", stat.boot_time);
        self.put_opt("contextSwitches", stat.context_switches);
        self.cpu_base = Some(stat);
    }

    /// Adds `cpuUserDelta` … `cpuGuestNiceDelta` (ms) and `contextSwitchesDelta`: the change
    /// since [`Inspector::inspect_cpu`]. Without an earlier `inspect_cpu` it adds
    /// `SAAFCPUDeltaError` instead, as SAAF does.
    pub fn inspect_cpu_delta(&mut self) {
        let Some(base) = self.cpu_base.clone() else {
            return self.put(
                "SAAFCPUDeltaError",
                "CPU not inspected before collecting deltas!",
            );
        };
        let now = match read_proc_stat() {
            Ok(stat) => stat,
            Err(e) => return self.put("SAAFCPUDeltaError", e),
        };
        let fields = proc_stat::CPU_FIELDS.iter();
        for ((name, before), after) in fields.zip(base.cpu_ticks).zip(now.cpu_ticks) {
            if let (Some(before), Some(after)) = (before, after) {
                let delta = after as i128 - before as i128;
                self.put(&format!("{name}Delta"), ticks_to_ms(delta));
            }
        }
        if let (Some(before), Some(after)) = (base.context_switches, now.context_switches) {
            self.put("contextSwitchesDelta", after as i64 - before as i64);
        }
    }

    /// Adds `totalMemory` and `freeMemory` (kB, `/proc/meminfo`) and `pageFaults` and
    /// `majorPageFaults` (since boot, `/proc/vmstat`), keeping the latter as the base of
    /// [`Inspector::inspect_memory_delta`].
    pub fn inspect_memory(&mut self) {
        match fs::read_to_string("/proc/meminfo") {
            Ok(text) => {
                let info = meminfo::parse_meminfo(&text);
                self.put_opt("totalMemory", info.total_kb);
                self.put_opt("freeMemory", info.free_kb);
            }
            Err(e) => self.put("SAAFMemoryError", format!("/proc/meminfo: {e}")),
        }
        match read_vmstat() {
            Ok(stat) => {
                self.put_opt("pageFaults", stat.page_faults);
                self.put_opt("majorPageFaults", stat.major_page_faults);
                self.memory_base = Some(stat);
            }
            Err(e) => self.put("SAAFMemoryError", e),
        }
    }

    /// Adds `pageFaultsDelta` and `majorPageFaultsDelta`: the change since
    /// [`Inspector::inspect_memory`]. Without an earlier `inspect_memory` it adds
    /// `SAAFMemoryDeltaError` instead, as SAAF does.
    pub fn inspect_memory_delta(&mut self) {
        let Some(base) = self.memory_base.clone() else {
            return self.put(
                "SAAFMemoryDeltaError",
                "Memory not inspected before collecting deltas!",
            );
        };
        let now = match read_vmstat() {
            Ok(stat) => stat,
            Err(e) => return self.put("SAAFMemoryDeltaError", e),
        };
        let pairs = [
            ("pageFaultsDelta", base.page_faults, now.page_faults),
            (
                "majorPageFaultsDelta",
                base.major_page_faults,
                now.major_page_faults,
            ),
        ];
        for (name, before, after) in pairs {
            if let (Some(before), Some(after)) = (before, after) {
                self.put(name, after as i64 - before as i64);
            }
        }
    }

    /// Adds `platform` (see [`detect_platform`] for the names), `containerID` (the platform's
    /// id of the execution environment where it has one, else the `uuid`), and where the
    /// platform tells: `functionName`, `functionMemory` (MB, a number) and `functionRegion`.
    pub fn inspect_platform(&mut self) {
        let info = detect_platform(|key| std::env::var(key).ok());
        self.put("platform", info.platform);
        let container_id = info
            .container_id
            .unwrap_or_else(|| CONTAINER_UUID.get_or_init(sys::new_uuid).clone());
        self.put("containerID", container_id);
        self.put_opt("functionName", info.function_name);
        self.put_opt("functionMemory", info.function_memory);
        self.put_opt("functionRegion", info.function_region);
    }

    /// Adds `linuxVersion`: `<sysname> <nodename> <release> <version> <machine>`, the fields
    /// `uname -a` prints.
    pub fn inspect_linux(&mut self) {
        match sys::linux_version() {
            Some(version) => self.put("linuxVersion", version),
            None => self.put(
                "SAAFLinuxError",
                "cannot read /proc/sys/kernel or /proc/version",
            ),
        }
    }

    /// Runs every inspection (container, CPU info, platform, Linux, memory, CPU, in SAAF's
    /// order) and records `frameworkRuntime`, the ms they took since the Inspector started.
    pub fn inspect_all(&mut self) {
        self.inspect_container();
        self.inspect_cpu_info();
        self.inspect_platform();
        self.inspect_linux();
        self.inspect_memory();
        self.inspect_cpu();
        self.add_time_stamp("frameworkRuntime");
    }

    /// Records `userRuntime` (ms since [`Inspector::inspect_all`] finished, if it ran), then
    /// the CPU and memory deltas, and `frameworkRuntimeDeltas` (ms the deltas took).
    pub fn inspect_all_deltas(&mut self) {
        let now = self.elapsed_ms();
        if let Some(framework) = self.framework_runtime() {
            self.put("userRuntime", round_us(now - framework));
        }
        self.inspect_cpu_delta();
        self.inspect_memory_delta();
        self.put("frameworkRuntimeDeltas", round_us(self.elapsed_ms() - now));
    }

    /// Adds (or replaces) a custom attribute.
    pub fn add_attribute(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.attributes.insert(key.into(), value.into());
    }

    /// Records `key` = milliseconds since the Inspector started.
    pub fn add_time_stamp(&mut self, key: impl Into<String>) {
        let ms = round_us(self.elapsed_ms());
        self.attributes.insert(key.into(), ms.into());
    }

    /// An attribute collected so far.
    pub fn get_attribute(&self, key: &str) -> Option<&Value> {
        self.attributes.get(key)
    }

    /// All attributes collected so far.
    pub fn attributes(&self) -> &Map<String, Value> {
        &self.attributes
    }

    /// Records `runtime` (ms since the Inspector started) and `endTime` (epoch ms) and returns
    /// every attribute as a JSON object. If [`Inspector::inspect_all`] ran but
    /// [`Inspector::inspect_all_deltas`] did not, it also records `userRuntime` =
    /// `runtime` − `frameworkRuntime`, so the split is always there when the framework part is.
    pub fn finish(mut self) -> Value {
        let runtime = round_us(self.elapsed_ms());
        self.put("runtime", runtime);
        self.put("endTime", sys::now_epoch_ms());
        if !self.attributes.contains_key("userRuntime") {
            if let Some(framework) = self.framework_runtime() {
                self.put("userRuntime", round_us(runtime - framework));
            }
        }
        Value::Object(self.attributes)
    }

    fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    fn framework_runtime(&self) -> Option<f64> {
        self.attributes
            .get("frameworkRuntime")
            .and_then(Value::as_f64)
    }

    fn put(&mut self, key: &str, value: impl Into<Value>) {
        self.attributes.insert(key.to_string(), value.into());
    }

    fn put_opt(&mut self, key: &str, value: Option<impl Into<Value>>) {
        if let Some(value) = value {
            self.put(key, value);
        }
    }
}

fn read_proc_stat() -> Result<proc_stat::ProcStat, String> {
    fs::read_to_string("/proc/stat")
        .map(|text| proc_stat::parse(&text))
        .map_err(|e| format!("/proc/stat: {e}"))
}

fn read_vmstat() -> Result<meminfo::VmStat, String> {
    fs::read_to_string("/proc/vmstat")
        .map(|text| meminfo::parse_vmstat(&text))
        .map_err(|e| format!("/proc/vmstat: {e}"))
}

/// Clock ticks as milliseconds: an integer when `CLK_TCK` divides 1000 (it is 100 on Linux),
/// else a float.
fn ticks_to_ms(ticks: i128) -> Value {
    ticks_to_ms_at(ticks, clk_tck())
}

fn ticks_to_ms_at(ticks: i128, hz: u64) -> Value {
    let hz = hz.max(1) as i128;
    if 1000 % hz == 0 {
        Value::from((ticks * (1000 / hz)) as i64)
    } else {
        Value::from(ticks as f64 * 1000.0 / hz as f64)
    }
}

/// Rounds milliseconds to whole microseconds.
fn round_us(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread::sleep;
    use std::time::Duration;

    #[test]
    fn ticks_become_milliseconds() {
        assert_eq!(ticks_to_ms_at(5692, 100), Value::from(56_920));
        assert_eq!(ticks_to_ms_at(-3, 100), Value::from(-30));
        assert_eq!(ticks_to_ms_at(3, 1000), Value::from(3));
        assert_eq!(ticks_to_ms_at(3, 300), Value::from(10.0));
    }

    #[test]
    fn rounding_to_microseconds() {
        assert_eq!(round_us(1.234_567_8), 1.235);
        assert_eq!(round_us(0.000_4), 0.0);
    }

    const SAAF_ALL: [&str; 24] = [
        "version",
        "lang",
        "startTime",
        "uuid",
        "newcontainer",
        "vmuptime",
        "cpuType",
        "cpuModel",
        "cpuCores",
        "architecture",
        "platform",
        "containerID",
        "linuxVersion",
        "totalMemory",
        "freeMemory",
        "pageFaults",
        "majorPageFaults",
        "cpuUser",
        "cpuKernel",
        "cpuIdle",
        "cpuSteal",
        "bootTime",
        "contextSwitches",
        "frameworkRuntime",
    ];

    /// Runs on this machine's real /proc.
    #[test]
    fn inspect_all_on_the_real_proc() {
        let mut inspector = Inspector::new();
        inspector.inspect_all();
        // Burn a little CPU so the user time can move.
        let mut x = 0u64;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        inspector.inspect_all_deltas();
        let r = inspector.finish();
        for key in SAAF_ALL {
            assert!(r.get(key).is_some(), "missing {key} in {r}");
        }
        for key in [
            "cpuUserDelta",
            "cpuIdleDelta",
            "cpuGuestNiceDelta",
            "contextSwitchesDelta",
            "pageFaultsDelta",
            "majorPageFaultsDelta",
            "userRuntime",
            "frameworkRuntimeDeltas",
            "runtime",
            "endTime",
        ] {
            assert!(r.get(key).is_some(), "missing {key} in {r}");
        }
        assert!(r.get("SAAFCPUDeltaError").is_none());
        assert_eq!(r["lang"], "rust");
        assert_eq!(r["version"], 0.7);
        assert!(r["cpuCores"].as_u64().unwrap() >= 1);
        assert!(r["totalMemory"].as_u64().unwrap() >= r["freeMemory"].as_u64().unwrap());
        assert!(r["runtime"].as_f64().unwrap() >= 30.0);
        let user = r["userRuntime"].as_f64().unwrap();
        let framework = r["frameworkRuntime"].as_f64().unwrap();
        assert!(user >= 30.0 && framework >= 0.0, "{user} {framework}");
        assert!(r["cpuUserDelta"].as_i64().unwrap() >= 0);
        assert!(r["contextSwitchesDelta"].as_i64().unwrap() >= 0);
        // bootTime and vmuptime are both /proc/stat btime.
        assert_eq!(r["bootTime"], r["vmuptime"]);
        // The machine booted before the process started, which was before this Inspector.
        let boot_ms = r["bootTime"].as_u64().unwrap() * 1000;
        let init = r["initializationTime"].as_u64().unwrap();
        let start_time = r["startTime"].as_u64().unwrap();
        assert!(
            boot_ms <= init && init <= start_time,
            "{boot_ms} {init} {start_time}"
        );
        assert!(r["endTime"].as_u64().unwrap() >= start_time + 30);
        // CPU times are ms: cpu_total/cores is about the machine's uptime. Not exactly: in a VM
        // the CPU accounting and the boot time (whole seconds) drift apart by a fraction of a
        // percent over hours of uptime (seen: +0.13% after 2.5 h), so the bound is relative.
        let cpu_total: i64 = proc_stat::CPU_FIELDS[..8]
            .iter()
            .map(|k| r[*k].as_i64().unwrap())
            .sum();
        let uptime_ms = start_time as i64 - boot_ms as i64;
        let cores = r["cpuCores"].as_i64().unwrap();
        let per_core = cpu_total / cores;
        assert!(
            per_core <= uptime_ms + uptime_ms / 50 + 2_000 && per_core >= uptime_ms / 4,
            "cpu ms per core {per_core} vs uptime ms {uptime_ms}"
        );
        assert_eq!(r["architecture"], sys::architecture());
        assert!(r["linuxVersion"].as_str().unwrap().starts_with("Linux"));
    }

    #[test]
    fn deltas_without_a_base_report_saaf_errors() {
        let mut inspector = Inspector::new();
        inspector.inspect_all_deltas();
        let r = inspector.finish();
        assert!(r["SAAFCPUDeltaError"].is_string());
        assert!(r["SAAFMemoryDeltaError"].is_string());
        assert!(r.get("cpuUserDelta").is_none());
        assert!(r.get("userRuntime").is_none(), "no inspect_all, no split");
    }

    #[test]
    fn time_stamps_attributes_and_user_runtime_in_finish() {
        let mut inspector = Inspector::new();
        inspector.inspect_all();
        sleep(Duration::from_millis(20));
        inspector.add_time_stamp("afterSleep");
        inspector.add_attribute("message", "hi");
        inspector.add_attribute("count", 3);
        inspector.add_attribute(String::from("nested"), serde_json::json!({"a": [1, 2]}));
        assert_eq!(inspector.get_attribute("count"), Some(&Value::from(3)));
        let r = inspector.finish();
        let stamp = r["afterSleep"].as_f64().unwrap();
        let runtime = r["runtime"].as_f64().unwrap();
        assert!(stamp >= 20.0 && stamp <= runtime, "{stamp} {runtime}");
        assert_eq!(r["message"], "hi");
        assert_eq!(r["nested"]["a"][1], 2);
        let user = r["userRuntime"].as_f64().unwrap();
        let framework = r["frameworkRuntime"].as_f64().unwrap();
        assert!((user + framework - runtime).abs() < 0.002);
        assert!(user >= 20.0);
    }

    #[test]
    fn uuid_is_shared_by_inspectors_and_threads_of_the_process() {
        let a = Inspector::new().finish();
        let b = std::thread::spawn(|| Inspector::new().finish())
            .join()
            .unwrap();
        assert_eq!(a["uuid"], b["uuid"]);
        assert_eq!(a["uuid"].as_str().unwrap().len(), 36);
        assert!(b["invocations"].as_u64() > a["invocations"].as_u64());
        // Not the first Inspector of the process any more (whatever ran first).
        assert_eq!(b["newcontainer"], 0);
    }

    #[test]
    fn platform_attributes_are_written() {
        let mut inspector = Inspector::new();
        inspector.inspect_platform();
        let r = inspector.finish();
        let expected = detect_platform(|k| std::env::var(k).ok());
        assert_eq!(r["platform"], expected.platform);
        assert!(r["containerID"].as_str().is_some_and(|s| !s.is_empty()));
    }
}
