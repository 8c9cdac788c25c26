//! The real function binary (`faaset-runtime-probe`: example functions behind
//! `faaset_runtime::run`) driven as each platform drives it: Cloud Run and Azure's host over
//! HTTP, OpenWhisk's ActionLoop and dockerskeleton proxies over pipes. Contract tests written
//! from the platforms' documented protocols (docs/function-runtime.md), not emulators.

mod azure;
mod cloud_run;
mod lambda;
mod openwhisk;
mod support;

use support::probe;

#[test]
fn without_a_platform_it_says_what_to_set_and_exits_1() {
    let output = probe().output().expect("run the probe");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("faaset-runtime: no platform recognised: set AWS_LAMBDA_RUNTIME_API"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn a_bad_port_is_one_line_and_exit_1() {
    let output = probe().env("PORT", "http").output().expect("run the probe");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim_end(),
        "faaset-runtime: PORT=\"http\" is not a port number (1-65535): set it to the port to listen on"
    );
}
