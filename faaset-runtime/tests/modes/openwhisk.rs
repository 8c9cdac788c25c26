//! OpenWhisk's two native-action protocols, driven as their proxies drive them: the Go
//! ActionLoop proxy (`executor.go`: one process, stdin lines in, fd 3 lines out, optional ack)
//! and dockerskeleton's `actionproxy.py` (a process per call, `argv[1]` + stdin in, last
//! stdout line out, the activation in `__OW_*`).

use std::io::{BufRead, BufReader, PipeReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{probe, Running};

const TIMEOUT: Duration = Duration::from_secs(20);

/// A probe started as the ActionLoop proxy starts an action: stdin a pipe, fd 3 the write end
/// of a pipe whose lines the driver reads.
struct ActionLoop {
    running: Running,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl ActionLoop {
    fn start(command: &mut Command) -> ActionLoop {
        let (reader, writer) = std::io::pipe().expect("a pipe for fd 3");
        let fd = writer.as_raw_fd();
        command.stdin(Stdio::piped()).stdout(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe calls (dup2, fcntl) run.
        unsafe {
            command.pre_exec(move || {
                if fd == 3 {
                    // Already fd 3: just let it survive exec.
                    if libc::fcntl(3, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(fd, 3) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut running = Running::spawn(command);
        // Only the child holds the write end now, so its exit ends our reads.
        drop(writer);
        let stdin = running.child().stdin.take();
        ActionLoop {
            running,
            stdin,
            lines: read_lines(reader),
        }
    }

    fn next_line(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(TIMEOUT)
            .expect("a line on fd 3 in time");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("fd 3 line is not JSON ({e}): {line}"))
    }

    /// One call: the proxy's `/run` body as one line, the result line back.
    fn call(&mut self, run_body: &Value) -> Value {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{run_body}").expect("write the call");
        stdin.flush().unwrap();
        self.next_line()
    }
}

fn read_lines(reader: PipeReader) -> Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

fn run_body(value: Value, activation: &str, api_host: &str) -> Value {
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 60_000;
    json!({
        "value": value,
        "namespace": "guest",
        "action_name": "/guest/hello",
        "api_host": api_host,
        "api_key": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:secret",
        "activation_id": activation,
        "transaction_id": "tx-1",
        // The invoker sends the deadline as a string of epoch milliseconds.
        "deadline": deadline.to_string(),
    })
}

fn action_loop_command(ack: bool) -> Command {
    let mut command = probe();
    command
        .env("FAASET_MEMORY_MB", "256")
        .env("FAASET_PLATFORM", "openwhisk")
        // Set on ordinary container hosts: must not make SAAF say Azure.
        .env("CONTAINER_NAME", "uid-test-container");
    if ack {
        command.env("__OW_WAIT_FOR_ACK", "1");
    }
    command
}

#[test]
fn action_loop_with_ack_serves_every_call_in_one_process() {
    let mut action = ActionLoop::start(&mut action_loop_command(true));
    assert_eq!(
        action.next_line(),
        json!({"ok": true}),
        "the ack comes first"
    );

    let host = "http://172.17.0.1:3233";
    let first = action.call(&run_body(json!({"name": "Ada"}), "act-1", host));
    assert_eq!(first["message"], "Hello Ada!");
    assert_eq!(first["platform"], "OpenWhisk");
    assert_eq!(first["functionName"], "/guest/hello");
    assert_eq!(first["functionMemory"], 256);
    assert_eq!(first["functionRegion"], host);
    assert_eq!(first["newcontainer"], 1);
    let context = &first["context"];
    assert_eq!(context["requestId"], "act-1");
    assert_eq!(context["functionName"], "/guest/hello");
    assert_eq!(context["memoryLimitMb"], 256);
    let deadline = context["deadlineMs"].as_u64().unwrap();
    assert!(deadline > 1_700_000_000_000, "{context}");
    assert_eq!(context["pid"], action.running.id());

    let failed = action.call(&run_body(
        json!({"action": "fail", "why": 1}),
        "act-2",
        host,
    ));
    assert_eq!(failed, json!({"error": "asked to fail (1)"}));
    let panicked = action.call(&run_body(json!({"action": "panic"}), "act-3", host));
    assert_eq!(
        panicked,
        json!({"error": "function panicked: asked to panic"})
    );

    // Each call's __OW_* values replace the last one's: an IBM host is IBM Cloud Functions.
    let ibm = "https://us-south.functions.cloud.ibm.com";
    let later = action.call(&run_body(json!({}), "act-4", ibm));
    assert_eq!(later["platform"], "IBM Cloud Functions");
    assert_eq!(later["context"]["requestId"], "act-4");
    assert_eq!(later["newcontainer"], 0);
    assert_eq!(later["uuid"], first["uuid"]);
    assert_eq!(later["context"]["pid"], first["context"]["pid"]);

    // A line that is not a call gets an error line, and the loop goes on.
    {
        let stdin = action.stdin.as_mut().unwrap();
        writeln!(stdin, "not json").unwrap();
    }
    let error = action.next_line();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("one JSON object per line"),
        "{error}"
    );

    // The proxy closing stdin ends the action cleanly.
    drop(action.stdin.take());
    assert_eq!(action.running.wait(TIMEOUT).code(), Some(0));
}

#[test]
fn action_loop_without_ack_answers_the_first_call_first() {
    let mut action = ActionLoop::start(&mut action_loop_command(false));
    let first = action.call(&run_body(json!({"name": "Bob"}), "a-1", "https://ow"));
    assert_eq!(
        first["message"], "Hello Bob!",
        "no ack line before the result"
    );
    let second = action.call(&run_body(json!({"name": "Eve"}), "a-2", "https://ow"));
    assert_eq!(second["message"], "Hello Eve!");
    assert_eq!(
        (
            first["newcontainer"].as_u64(),
            second["newcontainer"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(second["context"]["pid"], first["context"]["pid"]);
}

/// One dockerskeleton `/run`: the activation's fields as `__OW_*`, the params in `argv[1]`
/// (unless `on_stdin_only`) and on stdin.
fn skeleton_run(params: &Value, activation: &str, on_stdin_only: bool) -> (i32, String) {
    let mut command = probe();
    command
        .env("__OW_ACTION_NAME", "/guest/native")
        .env("__OW_ACTIVATION_ID", activation)
        .env("__OW_NAMESPACE", "guest")
        .env("__OW_API_HOST", "https://openwhisk.example.org")
        .env("__OW_DEADLINE", "1900000000000")
        .env("FAASET_MEMORY_MB", "128")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    if !on_stdin_only {
        command.arg(params.to_string());
    }
    let mut running = Running::spawn(&mut command);
    {
        let mut stdin = running.child().stdin.take().unwrap();
        // With argv[1] the action need not read stdin and may be gone already: like the
        // proxy's `communicate`, a broken pipe here is not an error.
        if let Err(error) = stdin.write_all(params.to_string().as_bytes()) {
            assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
        }
    }
    let (status, stdout) = running.finish(TIMEOUT);
    (status.code().expect("exited"), stdout)
}

/// The proxy's rule: the last line of stdout is the result, earlier lines are logs.
fn last_line(stdout: &str) -> Value {
    let line = stdout.trim_end_matches('\n').rsplit('\n').next().unwrap();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line not JSON ({e}): {stdout:?}"))
}

#[test]
fn dockerskeleton_runs_one_call_per_process() {
    let (code, stdout) = skeleton_run(&json!({"name": "Ada"}), "d-1", false);
    assert_eq!(code, 0);
    let first = last_line(&stdout);
    assert_eq!(first["message"], "Hello Ada!");
    assert_eq!(first["platform"], "OpenWhisk");
    assert_eq!(first["functionName"], "/guest/native");
    assert_eq!(first["functionMemory"], 128);
    assert_eq!(first["context"]["requestId"], "d-1");
    assert_eq!(first["context"]["deadlineMs"], 1_900_000_000_000u64);
    assert_eq!(first["newcontainer"], 1);

    // A process per call: new again, another pid.
    let (_, stdout) = skeleton_run(&json!({"name": "Bob"}), "d-2", false);
    let second = last_line(&stdout);
    assert_eq!(second["newcontainer"], 1);
    assert_ne!(second["context"]["pid"], first["context"]["pid"]);

    // Long inputs come on stdin only.
    let (code, stdout) = skeleton_run(&json!({"name": "Stdin"}), "d-3", true);
    assert_eq!(code, 0);
    assert_eq!(last_line(&stdout)["message"], "Hello Stdin!");
}

#[test]
fn dockerskeleton_keeps_the_functions_output_off_the_result_line() {
    let (code, stdout) = skeleton_run(&json!({"action": "print", "name": "Log"}), "d-4", false);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("a log line\na log without a newline\n"),
        "{stdout:?}"
    );
    assert_eq!(last_line(&stdout)["message"], "Hello Log!");

    let (code, stdout) = skeleton_run(&json!({"action": "fail", "why": "x"}), "d-5", false);
    assert_eq!(code, 0, "an application error is a result, not a crash");
    assert_eq!(
        last_line(&stdout),
        json!({"error": "asked to fail (\"x\")"})
    );
}
