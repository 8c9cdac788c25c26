//! Which protocol the process serves, decided once at start from what the platform gives it:
//! environment variables, `argv[1]` and an inherited fd 3. The contract, with the reasons for
//! the order, is `docs/function-runtime.md`.

use std::net::{Ipv4Addr, SocketAddr};

/// Lambda's Runtime API address (also set by FaaSET's local platform).
pub(crate) const LAMBDA_ENV: &str = "AWS_LAMBDA_RUNTIME_API";
/// The port the Azure Functions host picks for a custom handler.
pub(crate) const AZURE_PORT_ENV: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";
/// Cloud Run's (and any container platform's) port.
pub(crate) const PORT_ENV: &str = "PORT";

/// The protocol to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// AWS Lambda's Runtime API, through `lambda_runtime`.
    Lambda,
    /// An HTTP server: POST a JSON payload, get the function's JSON back.
    Http {
        addr: SocketAddr,
        /// For the start-up log line: "Azure custom handler" or "Cloud Run".
        platform: &'static str,
    },
    /// OpenWhisk's ActionLoop: one process, JSON lines on stdin, results on fd 3.
    ActionLoop,
    /// OpenWhisk's dockerskeleton: one process per call, the input in `argv[1]` (or on stdin
    /// only, when it is too long for an argument), the result on the last stdout line.
    DockerSkeleton { argument: Option<String> },
}

/// Decides the mode. `env` looks a variable up (empty values count as unset), `first_arg` is
/// `argv[1]`, `fd3_is_pipe` tells whether fd 3 is an inherited pipe (only asked when needed, so
/// Lambda's start costs one lookup). An error is the one line to print before exiting 1.
///
/// Order: the two variables no one sets by accident (Lambda's, Azure's) first; then OpenWhisk's
/// structural signals (a JSON `argv[1]`, a pipe on fd 3), which only its proxies produce; then
/// `PORT`, a generic name a container may inherit for other reasons; last, an OpenWhisk
/// environment without an argument (dockerskeleton's long inputs arrive on stdin only).
pub(crate) fn select(
    env: impl Fn(&str) -> Option<String>,
    first_arg: Option<String>,
    fd3_is_pipe: impl FnOnce() -> bool,
) -> Result<Mode, String> {
    let get = |key: &str| env(key).filter(|v| !v.trim().is_empty());
    if get(LAMBDA_ENV).is_some() {
        return Ok(Mode::Lambda);
    }
    if let Some(port) = get(AZURE_PORT_ENV) {
        return Ok(Mode::Http {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, parse_port(AZURE_PORT_ENV, &port)?)),
            platform: "Azure custom handler",
        });
    }
    if let Some(arg) = first_arg.filter(|a| looks_like_json_input(a)) {
        return Ok(Mode::DockerSkeleton {
            argument: Some(arg),
        });
    }
    if fd3_is_pipe() {
        return Ok(Mode::ActionLoop);
    }
    if let Some(port) = get(PORT_ENV) {
        return Ok(Mode::Http {
            addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, parse_port(PORT_ENV, &port)?)),
            platform: "Cloud Run",
        });
    }
    if get("__OW_ACTIVATION_ID").is_some() || get("__OW_ACTION_NAME").is_some() {
        return Ok(Mode::DockerSkeleton { argument: None });
    }
    Err(format!(
        "no platform recognised: set {LAMBDA_ENV} (AWS Lambda, FaaSET local), {AZURE_PORT_ENV} \
         (Azure custom handler) or {PORT_ENV} (Cloud Run), or start it as an OpenWhisk action \
         (ActionLoop: a pipe on fd 3; dockerskeleton: the input JSON as argv[1]); see \
         docs/function-runtime.md"
    ))
}

/// dockerskeleton passes the parameters as JSON text (an object, or an array); any other
/// argument is not an OpenWhisk input and is ignored.
fn looks_like_json_input(arg: &str) -> bool {
    matches!(arg.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

fn parse_port(key: &str, value: &str) -> Result<u16, String> {
    match value.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!(
            "{key}={value:?} is not a port number (1-65535): set it to the port to listen on"
        )),
    }
}

/// Whether fd 3 is open and a pipe, as ActionLoop proxies leave it (the Go proxy passes the
/// write end of an `os.Pipe` as its first extra file). `/proc/self/fd/3` follows to the pipe
/// itself; on a system without `/proc` this says no.
pub(crate) fn fd3_is_pipe() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata("/proc/self/fd/3").is_ok_and(|m| m.file_type().is_fifo())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn check(pairs: &[(&str, &str)], arg: Option<&str>, fd3: bool) -> Result<Mode, String> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        select(|k| env.get(k).cloned(), arg.map(String::from), || fd3)
    }

    fn http(ip: [u8; 4], port: u16, platform: &'static str) -> Result<Mode, String> {
        Ok(Mode::Http {
            addr: SocketAddr::from((ip, port)),
            platform,
        })
    }

    #[test]
    fn each_platform_is_recognised() {
        let lambda = [(LAMBDA_ENV, "127.0.0.1:9001")];
        assert_eq!(check(&lambda, None, false), Ok(Mode::Lambda));
        let azure = [(AZURE_PORT_ENV, "40123")];
        assert_eq!(
            check(&azure, None, false),
            http([127, 0, 0, 1], 40123, "Azure custom handler")
        );
        let cloud_run = [(PORT_ENV, "8080"), ("K_SERVICE", "f")];
        assert_eq!(
            check(&cloud_run, None, false),
            http([0, 0, 0, 0], 8080, "Cloud Run")
        );
        assert_eq!(check(&[], None, true), Ok(Mode::ActionLoop));
        assert_eq!(
            check(&[], Some(r#"{"name":"x"}"#), false),
            Ok(Mode::DockerSkeleton {
                argument: Some(r#"{"name":"x"}"#.into())
            })
        );
        let long_input = [("__OW_ACTIVATION_ID", "a1")];
        assert_eq!(
            check(&long_input, None, false),
            Ok(Mode::DockerSkeleton { argument: None })
        );
    }

    #[test]
    fn lambda_wins_and_never_probes_fd3() {
        // The local platform's hot path: one variable lookup, nothing else.
        let env = [(LAMBDA_ENV, "x"), (PORT_ENV, "8080"), (AZURE_PORT_ENV, "1")];
        let mode = select(
            |k| {
                env.iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            },
            Some("{}".into()),
            || panic!("fd 3 probed"),
        );
        assert_eq!(mode, Ok(Mode::Lambda));
    }

    #[test]
    fn azure_port_beats_port_and_openwhisk_signals() {
        let env = [(AZURE_PORT_ENV, "7071"), (PORT_ENV, "8080")];
        assert_eq!(
            check(&env, Some("{}"), true),
            http([127, 0, 0, 1], 7071, "Azure custom handler")
        );
    }

    #[test]
    fn openwhisk_structure_beats_an_inherited_port() {
        let env = [(PORT_ENV, "8080")];
        assert_eq!(check(&env, None, true), Ok(Mode::ActionLoop));
        assert!(matches!(
            check(&env, Some("[1]"), true),
            Ok(Mode::DockerSkeleton { .. })
        ));
    }

    #[test]
    fn an_argument_that_is_not_json_is_not_dockerskeleton() {
        let env = [(PORT_ENV, "8080")];
        assert_eq!(
            check(&env, Some("--verbose"), false),
            http([0, 0, 0, 0], 8080, "Cloud Run")
        );
        assert!(check(&[], Some("--verbose"), false).is_err());
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env = [(LAMBDA_ENV, ""), (AZURE_PORT_ENV, " "), (PORT_ENV, "9000")];
        assert_eq!(
            check(&env, None, false),
            http([0, 0, 0, 0], 9000, "Cloud Run")
        );
    }

    #[test]
    fn nothing_recognised_says_what_to_set() {
        let err = check(&[("HOME", "/root")], None, false).unwrap_err();
        for needle in [LAMBDA_ENV, AZURE_PORT_ENV, PORT_ENV, "fd 3", "argv[1]"] {
            assert!(err.contains(needle), "{needle} missing in: {err}");
        }
        assert!(!err.contains('\n'));
    }

    #[test]
    fn a_bad_port_is_an_error_naming_the_variable() {
        let err = check(&[(PORT_ENV, "eighty")], None, false).unwrap_err();
        assert!(
            err.starts_with("PORT=\"eighty\" is not a port number"),
            "{err}"
        );
        let err = check(&[(AZURE_PORT_ENV, "0")], None, false).unwrap_err();
        assert!(
            err.starts_with("FUNCTIONS_CUSTOMHANDLER_PORT=\"0\""),
            "{err}"
        );
        assert!(check(&[(PORT_ENV, "70000")], None, false).is_err());
    }
}
