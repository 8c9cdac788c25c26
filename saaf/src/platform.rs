//! Which FaaS platform the function runs on, from its environment variables.

/// `platform` value when `FAASET_PLATFORM=local` (FaaSET's built-in local platform).
pub const LOCAL: &str = "Local";
/// `platform` value on AWS Lambda.
pub const AWS_LAMBDA: &str = "AWS Lambda";
/// `platform` value on Google Cloud Functions / Cloud Run functions.
pub const GOOGLE: &str = "Google Cloud Functions";
/// `platform` value on Azure Functions.
pub const AZURE: &str = "Azure Functions";
/// `platform` value on Apache OpenWhisk (SAAF's name, from IBM's OpenWhisk service).
pub const OPENWHISK: &str = "IBM Cloud Functions";
/// `platform` value when none of the above is recognised.
pub const UNKNOWN: &str = "Unknown Platform";

/// What [`detect_platform`] found. `None` fields are left out of the Inspector's output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformInfo {
    /// One of [`LOCAL`], [`AWS_LAMBDA`], [`GOOGLE`], [`AZURE`], [`OPENWHISK`], [`UNKNOWN`].
    pub platform: &'static str,
    /// The platform's own name for the execution environment, where it exposes one
    /// (Lambda's log stream name, Azure's container name).
    pub container_id: Option<String>,
    /// The function's name on the platform.
    pub function_name: Option<String>,
    /// The function's memory setting in MB.
    pub function_memory: Option<u64>,
    /// The region (or API host) the function is deployed in.
    pub function_region: Option<String>,
}

/// Detects the platform from an environment lookup (`|key| std::env::var(key).ok()` in
/// production; a map in tests). Empty values count as unset.
///
/// Order: `FAASET_PLATFORM=local` first (the local platform also sets the `AWS_LAMBDA_*`
/// variables, because it runs the same binary as Lambda), then AWS Lambda, Google, Azure and
/// OpenWhisk, else [`UNKNOWN`].
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
    const GOOGLE_NAMES: [&str; 4] = [
        "K_SERVICE",
        "FUNCTION_TARGET",
        "X_GOOGLE_FUNCTION_NAME",
        "FUNCTION_NAME",
    ];
    if first(&["K_SERVICE", "FUNCTION_TARGET", "X_GOOGLE_FUNCTION_NAME"]).is_some() {
        return PlatformInfo {
            platform: GOOGLE,
            container_id: None,
            function_name: first(&GOOGLE_NAMES),
            function_memory: memory(&["X_GOOGLE_FUNCTION_MEMORY_MB", "FUNCTION_MEMORY_MB"]),
            function_region: first(&["X_GOOGLE_FUNCTION_REGION", "FUNCTION_REGION"]),
        };
    }
    if first(&[
        "WEBSITE_SITE_NAME",
        "FUNCTIONS_WORKER_RUNTIME",
        "CONTAINER_NAME",
    ])
    .is_some()
    {
        return PlatformInfo {
            platform: AZURE,
            container_id: first(&["CONTAINER_NAME", "WEBSITE_INSTANCE_ID"]),
            function_name: get("WEBSITE_SITE_NAME"),
            function_memory: memory(&["WEBSITE_MEMORY_LIMIT_MB"]),
            function_region: first(&["REGION_NAME", "Location"]),
        };
    }
    if let Some(action) = get("__OW_ACTION_NAME") {
        return PlatformInfo {
            platform: OPENWHISK,
            container_id: None,
            function_name: Some(action),
            function_memory: None,
            function_region: get("__OW_API_HOST"),
        };
    }
    PlatformInfo {
        platform: UNKNOWN,
        ..PlatformInfo::default()
    }
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
    fn google_gen1_and_cloud_run() {
        let gen1 = detect(&[
            ("X_GOOGLE_FUNCTION_NAME", "f"),
            ("X_GOOGLE_FUNCTION_MEMORY_MB", "256"),
            ("X_GOOGLE_FUNCTION_REGION", "us-central1"),
        ]);
        assert_eq!(gen1.platform, GOOGLE);
        assert_eq!(gen1.function_name.as_deref(), Some("f"));
        assert_eq!(gen1.function_memory, Some(256));
        assert_eq!(gen1.function_region.as_deref(), Some("us-central1"));

        let run = detect(&[("K_SERVICE", "svc"), ("FUNCTION_TARGET", "entry")]);
        assert_eq!(run.platform, GOOGLE);
        assert_eq!(run.function_name.as_deref(), Some("svc"));
        assert_eq!(run.function_memory, None);
    }

    #[test]
    fn azure() {
        let info = detect(&[
            ("FUNCTIONS_WORKER_RUNTIME", "custom"),
            ("WEBSITE_SITE_NAME", "myapp"),
            ("CONTAINER_NAME", "c-1"),
            ("REGION_NAME", "West Europe"),
        ]);
        assert_eq!(info.platform, AZURE);
        assert_eq!(info.function_name.as_deref(), Some("myapp"));
        assert_eq!(info.container_id.as_deref(), Some("c-1"));
        assert_eq!(info.function_region.as_deref(), Some("West Europe"));
    }

    #[test]
    fn openwhisk() {
        let info = detect(&[
            ("__OW_ACTION_NAME", "/ns/act"),
            ("__OW_API_HOST", "https://ow"),
        ]);
        assert_eq!(info.platform, OPENWHISK);
        assert_eq!(info.function_name.as_deref(), Some("/ns/act"));
        assert_eq!(info.function_region.as_deref(), Some("https://ow"));
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
