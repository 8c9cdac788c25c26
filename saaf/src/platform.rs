//! Which FaaS platform the function runs on, from its environment variables.
//!
//! Cloud Run, Azure Flex Consumption and OpenWhisk do not expose every fact SAAF reports, so
//! FaaSET's publisher sets `FAASET_MEMORY_MB` (memory setting) and, where it knows it,
//! `FAASET_REGION`; they fill `functionMemory` and `functionRegion` when the platform's own
//! variables say nothing.

/// `platform` value when `FAASET_PLATFORM=local` (FaaSET's built-in local platform).
pub const LOCAL: &str = "Local";
/// `platform` value on AWS Lambda.
pub const AWS_LAMBDA: &str = "AWS Lambda";
/// `platform` value on Google Cloud Run (services, and Cloud Run functions): `K_SERVICE` set.
pub const GOOGLE_CLOUD_RUN: &str = "Google Cloud Run";
/// `platform` value on first-generation Google Cloud Functions (`X_GOOGLE_*` variables).
pub const GOOGLE_CLOUD_FUNCTIONS: &str = "Google Cloud Functions";
/// `platform` value on Azure Functions.
pub const AZURE: &str = "Azure Functions";
/// `platform` value on Apache OpenWhisk.
pub const OPENWHISK: &str = "OpenWhisk";
/// `platform` value on OpenWhisk run by IBM (API host under `cloud.ibm.com` or `bluemix.net`).
pub const IBM_CLOUD_FUNCTIONS: &str = "IBM Cloud Functions";
/// `platform` value when none of the above is recognised.
pub const UNKNOWN: &str = "Unknown Platform";

/// Memory setting in MB, set by FaaSET's publisher where the platform does not expose it.
pub const MEMORY_ENV: &str = "FAASET_MEMORY_MB";
/// Region, set by FaaSET's publisher where the platform does not expose it (Cloud Run).
pub const REGION_ENV: &str = "FAASET_REGION";

/// What [`detect_platform`] found. `None` fields are left out of the Inspector's output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformInfo {
    /// One of [`LOCAL`], [`AWS_LAMBDA`], [`GOOGLE_CLOUD_RUN`], [`GOOGLE_CLOUD_FUNCTIONS`],
    /// [`AZURE`], [`OPENWHISK`], [`IBM_CLOUD_FUNCTIONS`], [`UNKNOWN`].
    pub platform: &'static str,
    /// The platform's own name for the execution environment, where it exposes one
    /// (Lambda's log stream name, Azure's container or instance name).
    pub container_id: Option<String>,
    /// The function's name on the platform (Azure: the function app's name).
    pub function_name: Option<String>,
    /// The function's memory setting in MB.
    pub function_memory: Option<u64>,
    /// The region (or, on OpenWhisk, the API host) the function is deployed in.
    pub function_region: Option<String>,
}

/// Detects the platform from an environment lookup (`|key| std::env::var(key).ok()` in
/// production; a map in tests). Empty values count as unset.
///
/// Order: `FAASET_PLATFORM=local` first (the local platform also sets the `AWS_LAMBDA_*`
/// variables, because it runs the same binary as Lambda; any other `FAASET_PLATFORM` value is
/// not a signal), then AWS Lambda, Google, Azure and OpenWhisk, else [`UNKNOWN`]. Azure needs
/// a variable only its host sets: `CONTAINER_NAME` alone is common outside Azure (container
/// tools set it) and is only read as the container id once Azure is recognised.
pub fn detect_platform(env: impl Fn(&str) -> Option<String>) -> PlatformInfo {
    let get = |key: &str| env(key).filter(|v| !v.trim().is_empty());
    let first = |keys: &[&str]| keys.iter().find_map(|k| get(k));
    let memory = |keys: &[&str]| first(keys).and_then(|v| v.trim().parse::<u64>().ok());
    let lambda_like = |platform| PlatformInfo {
        platform,
        container_id: get("AWS_LAMBDA_LOG_STREAM_NAME"),
        function_name: get("AWS_LAMBDA_FUNCTION_NAME"),
        function_memory: memory(&["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]),
        function_region: first(&["AWS_REGION", "AWS_DEFAULT_REGION"]),
    };

    if get("FAASET_PLATFORM").is_some_and(|p| p.trim().eq_ignore_ascii_case("local")) {
        return lambda_like(LOCAL);
    }
    if first(&["AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_FUNCTION_NAME"]).is_some() {
        return lambda_like(AWS_LAMBDA);
    }
    if let Some(service) = get("K_SERVICE") {
        // Cloud Run exposes neither region nor memory to the container.
        return PlatformInfo {
            platform: GOOGLE_CLOUD_RUN,
            container_id: None,
            function_name: Some(service),
            function_memory: memory(&[MEMORY_ENV]),
            function_region: get(REGION_ENV),
        };
    }
    if first(&["X_GOOGLE_FUNCTION_NAME", "FUNCTION_TARGET"]).is_some() {
        return PlatformInfo {
            platform: GOOGLE_CLOUD_FUNCTIONS,
            container_id: None,
            function_name: first(&["X_GOOGLE_FUNCTION_NAME", "FUNCTION_NAME", "FUNCTION_TARGET"]),
            function_memory: memory(&["X_GOOGLE_FUNCTION_MEMORY_MB", "FUNCTION_MEMORY_MB"]),
            function_region: first(&["X_GOOGLE_FUNCTION_REGION", "FUNCTION_REGION"]),
        };
    }
    if first(&[
        "FUNCTIONS_CUSTOMHANDLER_PORT",
        "WEBSITE_SITE_NAME",
        "FUNCTIONS_WORKER_RUNTIME",
    ])
    .is_some()
    {
        return PlatformInfo {
            platform: AZURE,
            container_id: first(&["CONTAINER_NAME", "WEBSITE_INSTANCE_ID"]),
            function_name: get("WEBSITE_SITE_NAME"),
            // Flex's instance memory is not in the environment: the publisher's value first.
            function_memory: memory(&[MEMORY_ENV, "WEBSITE_MEMORY_LIMIT_MB"]),
            function_region: first(&["REGION_NAME", "Location", REGION_ENV]),
        };
    }
    if first(&[
        "__OW_ACTION_NAME",
        "__OW_API_HOST",
        "__OW_ACTIVATION_ID",
        "__OW_NAMESPACE",
    ])
    .is_some()
    {
        let api_host = get("__OW_API_HOST");
        let ibm = api_host.as_deref().is_some_and(is_ibm_host);
        return PlatformInfo {
            platform: if ibm { IBM_CLOUD_FUNCTIONS } else { OPENWHISK },
            container_id: None,
            function_name: get("__OW_ACTION_NAME"),
            // OpenWhisk does not give the action its memory limit.
            function_memory: memory(&[MEMORY_ENV]),
            // No region either: the API host stands in for it, as in SAAF.
            function_region: get(REGION_ENV).or(api_host),
        };
    }
    PlatformInfo {
        platform: UNKNOWN,
        ..PlatformInfo::default()
    }
}

/// Whether an OpenWhisk API host (`https://us-south.functions.cloud.ibm.com`, a bare host,
/// with or without a port) is IBM's.
fn is_ibm_host(api_host: &str) -> bool {
    let rest = api_host
        .trim()
        .split_once("://")
        .map_or(api_host.trim(), |(_, rest)| rest);
    let host = rest.split(['/', ':']).next().unwrap_or(rest);
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    ["cloud.ibm.com", "bluemix.net"]
        .iter()
        .any(|domain| host == *domain || host.ends_with(&format!(".{domain}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn detect(pairs: &[(&str, &str)]) -> PlatformInfo {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        detect_platform(|key| env.get(key).cloned())
    }

    const LAMBDA_ENV: [(&str, &str); 4] = [
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2024/01/01/[$LATEST]abc123"),
        ("AWS_LAMBDA_FUNCTION_NAME", "hello_world"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_REGION", "us-east-2"),
    ];

    #[test]
    fn aws_lambda() {
        let info = detect(&LAMBDA_ENV);
        assert_eq!(
            info,
            PlatformInfo {
                platform: AWS_LAMBDA,
                container_id: Some("2024/01/01/[$LATEST]abc123".into()),
                function_name: Some("hello_world".into()),
                function_memory: Some(512),
                function_region: Some("us-east-2".into()),
            }
        );
    }

    #[test]
    fn local_is_checked_before_the_lambda_variables_it_also_sets() {
        let mut env = LAMBDA_ENV.to_vec();
        env.push(("FAASET_PLATFORM", "local"));
        let info = detect(&env);
        assert_eq!(info.platform, LOCAL);
        assert_eq!(info.function_name.as_deref(), Some("hello_world"));
        assert_eq!(info.function_memory, Some(512));
    }

    #[test]
    fn other_faaset_platform_values_do_not_mean_local() {
        let mut env = LAMBDA_ENV.to_vec();
        env.push(("FAASET_PLATFORM", "aws"));
        assert_eq!(detect(&env).platform, AWS_LAMBDA);
    }

    #[test]
    fn google_cloud_run() {
        let info = detect(&[
            ("K_SERVICE", "svc"),
            ("K_REVISION", "svc-00001-abc"),
            ("K_CONFIGURATION", "svc"),
            ("FUNCTION_TARGET", "entry"),
            ("FAASET_PLATFORM", "google"),
            ("FAASET_MEMORY_MB", "1024"),
            ("FAASET_REGION", "europe-west1"),
        ]);
        assert_eq!(
            info,
            PlatformInfo {
                platform: GOOGLE_CLOUD_RUN,
                container_id: None,
                function_name: Some("svc".into()),
                function_memory: Some(1024),
                function_region: Some("europe-west1".into()),
            }
        );
        let bare = detect(&[("K_SERVICE", "svc")]);
        assert_eq!(bare.platform, GOOGLE_CLOUD_RUN);
        assert_eq!((bare.function_memory, bare.function_region), (None, None));
    }

    #[test]
    fn google_cloud_functions_gen1() {
        let gen1 = detect(&[
            ("X_GOOGLE_FUNCTION_NAME", "f"),
            ("X_GOOGLE_FUNCTION_MEMORY_MB", "256"),
            ("X_GOOGLE_FUNCTION_REGION", "us-central1"),
        ]);
        assert_eq!(gen1.platform, GOOGLE_CLOUD_FUNCTIONS);
        assert_eq!(gen1.function_name.as_deref(), Some("f"));
        assert_eq!(gen1.function_memory, Some(256));
        assert_eq!(gen1.function_region.as_deref(), Some("us-central1"));
    }

    #[test]
    fn azure_custom_handler() {
        let info = detect(&[
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "40123"),
            ("WEBSITE_SITE_NAME", "myapp"),
            ("WEBSITE_INSTANCE_ID", "inst-1"),
            ("REGION_NAME", "West Europe"),
            ("FAASET_MEMORY_MB", "2048"),
            ("FAASET_PLATFORM", "azure"),
        ]);
        assert_eq!(
            info,
            PlatformInfo {
                platform: AZURE,
                container_id: Some("inst-1".into()),
                function_name: Some("myapp".into()),
                function_memory: Some(2048),
                function_region: Some("West Europe".into()),
            }
        );
        for signal in [
            "FUNCTIONS_CUSTOMHANDLER_PORT",
            "WEBSITE_SITE_NAME",
            "FUNCTIONS_WORKER_RUNTIME",
        ] {
            assert_eq!(detect(&[(signal, "x")]).platform, AZURE, "{signal}");
        }
        let linux_consumption = detect(&[
            ("FUNCTIONS_WORKER_RUNTIME", "custom"),
            ("CONTAINER_NAME", "c-1"),
        ]);
        assert_eq!(linux_consumption.container_id.as_deref(), Some("c-1"));
    }

    #[test]
    fn container_name_alone_is_not_azure() {
        // Regression: CONTAINER_NAME is set on ordinary container hosts (this project's CI
        // machine among them), and SAAF used to call those "Azure Functions".
        assert_eq!(detect(&[("CONTAINER_NAME", "uid-abc")]).platform, UNKNOWN);
        let ow = detect(&[("CONTAINER_NAME", "uid-abc"), ("__OW_ACTION_NAME", "/g/f")]);
        assert_eq!(ow.platform, OPENWHISK);
    }

    #[test]
    fn openwhisk() {
        let info = detect(&[
            ("__OW_ACTION_NAME", "/guest/act"),
            ("__OW_API_HOST", "https://ow.example.org:443"),
            ("__OW_ACTIVATION_ID", "a1"),
            ("FAASET_MEMORY_MB", "256"),
            ("FAASET_PLATFORM", "openwhisk"),
        ]);
        assert_eq!(
            info,
            PlatformInfo {
                platform: OPENWHISK,
                container_id: None,
                function_name: Some("/guest/act".into()),
                function_memory: Some(256),
                function_region: Some("https://ow.example.org:443".into()),
            }
        );
        // Any activation variable is enough, and FAASET_REGION wins over the API host.
        let other = detect(&[
            ("__OW_API_HOST", "http://172.17.0.1:3233"),
            ("FAASET_REGION", "lab"),
        ]);
        assert_eq!(other.platform, OPENWHISK);
        assert_eq!(other.function_region.as_deref(), Some("lab"));
        assert_eq!(detect(&[("__OW_NAMESPACE", "guest")]).platform, OPENWHISK);
    }

    #[test]
    fn ibm_cloud_functions_only_on_ibm_hosts() {
        let ibm = |host: &str| detect(&[("__OW_ACTION_NAME", "a"), ("__OW_API_HOST", host)]);
        for host in [
            "https://us-south.functions.cloud.ibm.com",
            "us-south.functions.cloud.ibm.com",
            "https://openwhisk.eu-gb.bluemix.net/api",
            "HTTPS://OPENWHISK.NG.BLUEMIX.NET:443",
        ] {
            assert_eq!(ibm(host).platform, IBM_CLOUD_FUNCTIONS, "{host}");
        }
        for host in [
            "https://openwhisk.example.com",
            "https://notcloud.ibm.com.example.org",
            "https://evilbluemix.net",
            "http://172.17.0.1:3233",
        ] {
            assert_eq!(ibm(host).platform, OPENWHISK, "{host}");
        }
    }

    #[test]
    fn unknown_and_empty_values() {
        assert_eq!(detect(&[]).platform, UNKNOWN);
        assert_eq!(
            detect(&[("AWS_LAMBDA_FUNCTION_NAME", "")]).platform,
            UNKNOWN
        );
        assert_eq!(
            detect(&[("HOME", "/root")]),
            PlatformInfo {
                platform: UNKNOWN,
                ..Default::default()
            }
        );
    }

    #[test]
    fn unparsable_memory_is_left_out() {
        let info = detect(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots"),
        ]);
        assert_eq!(info.platform, AWS_LAMBDA);
        assert_eq!(info.function_memory, None);
    }
}
