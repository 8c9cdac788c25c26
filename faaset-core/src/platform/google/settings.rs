//! A function's Cloud Run settings from its merged configuration: the service id, memory and
//! the CPU derived from it, their combination checked against Cloud Run's rules, and the
//! Admin API v2 `Service` body (`run.v2.json` schema `GoogleCloudRunV2Service`).

use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::error::{Error, Result};

/// Cloud Run functions' memory → CPU pairing (MiB → vCPU,
/// https://cloud.google.com/functions/docs/configuring/memory). FaaSET derives `cpu` from
/// `memory` with it unless `cpu` is set, so a memory sweep means what it means on Lambda
/// (CPU grows with memory): a memory between two rows gets the next row's CPU.
pub const CPU_FOR_MEMORY: &[(u64, f64)] = &[
    (128, 0.083),
    (256, 0.167),
    (512, 0.333),
    (1024, 0.583),
    (2048, 1.0),
    (4096, 2.0),
    (8192, 2.0),
    (16384, 4.0),
    (32768, 8.0),
];

/// The longest service id Cloud Run accepts (fewer than 50 characters).
pub const MAX_SERVICE_ID: usize = 49;

/// The Cloud Run service id of a FaaSET function: `_` → `-` (service ids are lowercase
/// letters, digits and hyphens, starting with a letter, not ending with a hyphen).
pub fn service_id(function: &str) -> Result<String> {
    let id = function.replace('_', "-");
    if id.len() > MAX_SERVICE_ID {
        return Err(Error::Config(format!(
            "function name {function} is {} characters; its Cloud Run service id {id} must be \
             at most {MAX_SERVICE_ID}: choose a shorter name for the google platform",
            id.len()
        )));
    }
    if id.ends_with('-') {
        return Err(Error::Config(format!(
            "function name {function} ends with `_`, so its Cloud Run service id {id} would end \
             with a hyphen, which Cloud Run refuses: choose a name that ends with a letter or \
             digit"
        )));
    }
    Ok(id)
}

/// The CPU Cloud Run functions pair with `memory` MiB.
pub fn cpu_for(memory: u64) -> f64 {
    CPU_FOR_MEMORY
        .iter()
        .find(|(m, _)| memory <= *m)
        .map(|(_, cpu)| *cpu)
        .unwrap_or(8.0)
}

/// The most memory (MiB) Cloud Run allows with `cpu` vCPUs, and the least
/// (https://cloud.google.com/run/docs/configuring/services/memory-limits and
/// .../configuring/cpu: below 0.5 vCPU at most 512 MiB, below 1 at most 1 GiB, 1 → 4 GiB,
/// 2 → 8 GiB, 4 → 2–16 GiB, 6 → 4–24 GiB, 8 → 4–32 GiB).
pub fn memory_range(cpu: f64) -> (u64, u64) {
    match cpu {
        c if c < 0.5 => (128, 512),
        c if c < 1.0 => (128, 1024),
        c if c <= 1.0 => (128, 4096),
        c if c <= 2.0 => (128, 8192),
        c if c <= 4.0 => (2048, 16384),
        c if c <= 6.0 => (4096, 24576),
        _ => (4096, 32768),
    }
}

/// The service's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub project: String,
    pub region: String,
    pub repository: String,
    pub memory: u64,
    pub cpu: f64,
    /// Whether `cpu` was derived from `memory` (for messages).
    pub cpu_derived: bool,
    pub timeout: u64,
    pub concurrency: u64,
    pub max_instances: Option<u64>,
    pub env: Map<String, Value>,
    pub public: bool,
    pub service_account: Option<String>,
}

impl Settings {
    /// The settings of a configuration `config::check` accepted; Cloud Run's combination rules
    /// (memory with CPU, concurrency below one CPU) are checked here.
    pub fn from_config(config: &Config) -> Result<Settings> {
        let text = |key: &str| {
            config
                .get(key)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let number = |key: &str| config.get(key).and_then(Value::as_f64);
        let project = text("project").ok_or_else(|| {
            Error::Config(
                "config key \"project\" is required for platform google: set it to your Google \
                 Cloud project id (like {\"project\": \"my-project-123\"})"
                    .to_string(),
            )
        })?;
        if !is_project_id(&project) {
            return Err(Error::Config(format!(
                "config key \"project\" is {project:?}, which is not a Google Cloud project id \
                 (6–30 lowercase letters, digits and hyphens, starting with a letter): use the \
                 project's id, not its name or number"
            )));
        }
        let repository = text("repository").unwrap_or_else(|| "faaset".into());
        if !is_repository_id(&repository) {
            return Err(Error::Config(format!(
                "config key \"repository\" is {repository:?}, which is not an Artifact Registry \
                 repository id (lowercase letters, digits and hyphens, starting with a letter, at \
                 most 63)"
            )));
        }
        let memory = number("memory").unwrap_or(512.0) as u64;
        let (cpu, cpu_derived) = match number("cpu") {
            Some(cpu) => (cpu, false),
            None => (cpu_for(memory), true),
        };
        let settings = Settings {
            project,
            region: text("region").unwrap_or_else(|| "us-central1".into()),
            repository,
            memory,
            cpu,
            cpu_derived,
            timeout: number("timeout").unwrap_or(300.0).round() as u64,
            concurrency: number("concurrency").unwrap_or(1.0) as u64,
            max_instances: number("max_instances").map(|n| n as u64),
            env: config
                .get("env")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            public: config.get("public").and_then(Value::as_bool) == Some(true),
            service_account: text("service_account"),
        };
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<()> {
        let cpu = self.cpu;
        if cpu >= 1.0 && ![1.0, 2.0, 4.0, 6.0, 8.0].contains(&cpu) {
            return Err(Error::Config(format!(
                "cpu {cpu} is not a Cloud Run CPU: use 1, 2, 4, 6 or 8, or a fraction from 0.08 \
                 below 1"
            )));
        }
        let (min, max) = memory_range(cpu);
        let derived = if self.cpu_derived {
            " (derived from memory)"
        } else {
            ""
        };
        if self.memory < min {
            return Err(Error::Config(format!(
                "cpu {cpu} needs at least {min} MB of memory on Cloud Run, and memory is {} MB: \
                 raise \"memory\" to {min} or lower \"cpu\"",
                self.memory
            )));
        }
        if self.memory > max {
            return Err(Error::Config(format!(
                "memory {} MB needs more CPU than cpu {cpu}{derived} on Cloud Run (at most {max} \
                 MB with {cpu} vCPU): raise \"cpu\" or lower \"memory\"",
                self.memory
            )));
        }
        if cpu < 1.0 && self.concurrency > 1 {
            return Err(Error::Config(format!(
                "concurrency {} needs at least 1 vCPU on Cloud Run, and cpu is {cpu}{derived}: \
                 set \"cpu\": 1 (or more) or \"concurrency\": 1",
                self.concurrency
            )));
        }
        Ok(())
    }

    /// `1`, `2`, … or a fraction as millicores (`333m`): the CPU limit as Cloud Run takes it.
    pub fn cpu_limit(&self) -> String {
        if self.cpu >= 1.0 {
            format!("{}", self.cpu as u64)
        } else {
            format!("{}m", (self.cpu * 1000.0).round() as u64)
        }
    }

    /// `projects/{p}/locations/{l}`.
    pub fn parent(&self) -> String {
        format!("projects/{}/locations/{}", self.project, self.region)
    }

    /// The execution environment: below one vCPU (or below gen2's 512 MiB) Cloud Run needs
    /// the first generation; the second otherwise.
    pub fn execution_environment(&self) -> &'static str {
        if self.cpu < 1.0 || self.memory < 512 {
            "EXECUTION_ENVIRONMENT_GEN1"
        } else {
            "EXECUTION_ENVIRONMENT_GEN2"
        }
    }

    /// `projects/{p}/locations/{l}/services/{id}`: the service's resource name.
    pub fn service_name(&self, id: &str) -> String {
        format!("{}/services/{id}", self.parent())
    }

    /// The `Service` to PATCH: `image` (pinned by digest) with these settings; no `name`
    /// (it is the request's path; Google's own client leaves it out of the body too). The process
    /// gets `FAASET_MEMORY_MB`, `FAASET_TIMEOUT_S` and `FAASET_REGION` (Cloud Run tells it
    /// none of them; SAAF reports them) besides the config's `env`.
    pub fn service(&self, image: &str) -> Value {
        let mut env = vec![
            json!({"name": "FAASET_MEMORY_MB", "value": self.memory.to_string()}),
            json!({"name": "FAASET_TIMEOUT_S", "value": self.timeout.to_string()}),
            json!({"name": "FAASET_REGION", "value": self.region}),
        ];
        for (key, value) in &self.env {
            let value = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            env.push(json!({"name": key, "value": value}));
        }
        let mut template = json!({
            "containers": [{
                "image": image,
                "ports": [{"containerPort": 8080}],
                "env": env,
                "resources": {
                    "limits": {"memory": format!("{}Mi", self.memory), "cpu": self.cpu_limit()},
                    // The API: with `resources` set, cpuIdle must be sent true to keep the
                    // default (CPU only during requests: request-based billing).
                    "cpuIdle": true,
                    "startupCpuBoost": false,
                },
            }],
            "timeout": format!("{}s", self.timeout),
            // Sent even when 1: Cloud Run's default is 80 from 1 vCPU up.
            "maxInstanceRequestConcurrency": self.concurrency,
            "executionEnvironment": self.execution_environment(),
        });
        if let Some(max) = self.max_instances {
            template["scaling"] = json!({"maxInstanceCount": max});
        }
        if let Some(account) = &self.service_account {
            template["serviceAccount"] = account.clone().into();
        }
        json!({
            "labels": {"managed-by": "faaset"},
            "ingress": "INGRESS_TRAFFIC_ALL",
            "invokerIamDisabled": self.public,
            "template": template,
        })
    }
}

/// A project id: 6–30 characters, lowercase letters, digits and hyphens, a letter first, not
/// ending with a hyphen. (Older "domain:" projects are not supported.)
pub fn is_project_id(id: &str) -> bool {
    (6..=30).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// An Artifact Registry repository id.
pub fn is_repository_id(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(v: Value) -> Result<Settings> {
        let mut config = json!({"project": "my-project-1"})
            .as_object()
            .unwrap()
            .clone();
        config.extend(v.as_object().unwrap().clone());
        Settings::from_config(&config)
    }

    #[test]
    fn cpu_follows_memory_as_in_cloud_run_functions() {
        for (memory, cpu, limit) in [
            (128, 0.083, "83m"),
            (256, 0.167, "167m"),
            (512, 0.333, "333m"),
            (768, 0.583, "583m"),
            (1024, 0.583, "583m"),
            (2048, 1.0, "1"),
            (4096, 2.0, "2"),
            (8192, 2.0, "2"),
            (16384, 4.0, "4"),
            (32768, 8.0, "8"),
        ] {
            let s = settings(json!({"memory": memory})).unwrap();
            assert_eq!((s.cpu, s.cpu_limit().as_str()), (cpu, limit), "{memory}");
            assert!(s.cpu_derived);
        }
        let s = settings(json!({"memory": 512, "cpu": 1})).unwrap();
        assert_eq!((s.cpu, s.cpu_derived), (1.0, false));
        assert_eq!(s.execution_environment(), "EXECUTION_ENVIRONMENT_GEN2");
        assert_eq!(
            settings(json!({})).unwrap().execution_environment(),
            "EXECUTION_ENVIRONMENT_GEN1"
        );
    }

    #[test]
    fn combinations_cloud_run_refuses_are_one_clear_line() {
        let m = |v: Value| settings(v).unwrap_err().to_string();
        assert_eq!(
            m(json!({"memory": 1024, "cpu": 4})),
            "cpu 4 needs at least 2048 MB of memory on Cloud Run, and memory is 1024 MB: raise \
             \"memory\" to 2048 or lower \"cpu\""
        );
        assert_eq!(
            m(json!({"memory": 2048, "cpu": 0.5})),
            "memory 2048 MB needs more CPU than cpu 0.5 on Cloud Run (at most 1024 MB with 0.5 \
             vCPU): raise \"cpu\" or lower \"memory\""
        );
        assert!(m(json!({"cpu": 3})).starts_with("cpu 3 is not a Cloud Run CPU"));
        assert!(m(json!({"concurrency": 8})).starts_with(
            "concurrency 8 needs at least 1 vCPU on Cloud Run, and cpu is 0.333 (derived from memory)"
        ));
        assert!(settings(json!({"concurrency": 8, "cpu": 1})).is_ok());
        let m = Settings::from_config(
            &json!({"project": "My Project"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap_err()
        .to_string();
        assert!(m.contains("not a Google Cloud project id"), "{m}");
    }

    #[test]
    fn service_ids() {
        assert_eq!(service_id("hello_world").unwrap(), "hello-world");
        assert_eq!(service_id("a").unwrap(), "a");
        assert_eq!(service_id(&"a".repeat(49)).unwrap().len(), 49);
        let m = service_id(&"a".repeat(50)).unwrap_err().to_string();
        assert!(m.contains("must be at most 49"), "{m}");
        let m = service_id("hello_").unwrap_err().to_string();
        assert!(m.contains("would end with a hyphen"), "{m}");
    }

    #[test]
    fn the_service_body() {
        let s = settings(json!({"memory": 1024, "timeout": 60, "max_instances": 3,
                                "env": {"A": "1"}, "public": true,
                                "service_account": "run@my-project-1.iam.gserviceaccount.com"}))
        .unwrap();
        let body = s.service("r/p/x@sha256:00");
        assert_eq!(
            s.service_name("hello-world"),
            "projects/my-project-1/locations/us-central1/services/hello-world"
        );
        assert!(body.get("name").is_none());
        assert_eq!(body["invokerIamDisabled"], true);
        let t = &body["template"];
        assert_eq!(t["timeout"], "60s");
        assert_eq!(t["maxInstanceRequestConcurrency"], 1);
        assert_eq!(t["scaling"], json!({"maxInstanceCount": 3}));
        assert_eq!(
            t["serviceAccount"],
            "run@my-project-1.iam.gserviceaccount.com"
        );
        let c = &t["containers"][0];
        assert_eq!(c["image"], "r/p/x@sha256:00");
        assert_eq!(
            c["resources"],
            json!({"limits": {"memory": "1024Mi", "cpu": "583m"}, "cpuIdle": true,
                   "startupCpuBoost": false})
        );
        assert_eq!(
            c["env"][0],
            json!({"name": "FAASET_MEMORY_MB", "value": "1024"})
        );
        assert_eq!(c["env"][3], json!({"name": "A", "value": "1"}));
    }
}
