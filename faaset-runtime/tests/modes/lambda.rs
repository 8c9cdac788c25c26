//! Lambda's Runtime API, the local platform's hot path: still chosen first, even when other
//! platforms' signals are present, and still speaking the API through `lambda_runtime`. The
//! Runtime API here is a minimal one written from AWS's documented routes.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{probe, Running};

/// What the runtime sent to `/invocation/{id}/response` or `/error`.
#[derive(Debug)]
struct Posted {
    path: String,
    body: Value,
}

/// Serves `events` (request id, payload) on `/next`, one each, then holds the next `/next`
/// open forever (Lambda freezes an idle environment); reports every POST.
fn runtime_api(events: Vec<(&'static str, Value)>, posted: Sender<Posted>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let events = Arc::new(Mutex::new(VecDeque::from(events)));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            let (events, posted) = (events.clone(), posted.clone());
            std::thread::spawn(move || serve_connection(stream, &events, &posted));
        }
    });
    addr
}

fn serve_connection(
    stream: TcpStream,
    events: &Mutex<VecDeque<(&'static str, Value)>>,
    posted: &Sender<Posted>,
) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let path = request_line.split_whitespace().nth(1).unwrap().to_string();
        if path.ends_with("/invocation/next") {
            let Some((id, payload)) = events.lock().unwrap().pop_front() else {
                // No more events: keep the runtime waiting, as an idle environment does.
                std::thread::sleep(Duration::from_secs(3600));
                return;
            };
            let payload = payload.to_string();
            write!(
                writer,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                 Lambda-Runtime-Aws-Request-Id: {id}\r\n\
                 Lambda-Runtime-Deadline-Ms: 1900000000000\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:hello\r\n\
                 Content-Length: {}\r\n\r\n{payload}",
                payload.len()
            )
            .unwrap();
        } else {
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let _ = posted.send(Posted { path, body });
            writer
                .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
                .unwrap();
        }
    }
}

#[test]
fn lambda_wins_over_every_other_signal_and_serves_the_runtime_api() {
    let (send, posted) = mpsc::channel();
    let api = runtime_api(
        vec![
            ("req-1", json!({"name": "Lambda"})),
            ("req-2", json!({"action": "fail", "why": "on purpose"})),
        ],
        send,
    );
    let mut command = probe();
    command
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "hello")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/hello")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/03/[$LATEST]abc")
        .env("FAASET_PLATFORM", "local")
        // Signals of the other modes, all ignored.
        .env("PORT", "1")
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", "2")
        .env("__OW_ACTIVATION_ID", "x")
        .arg("{}");
    let _running = Running::spawn(&mut command);

    let timeout = Duration::from_secs(20);
    let first = posted.recv_timeout(timeout).expect("a response");
    assert_eq!(first.path, "/2018-06-01/runtime/invocation/req-1/response");
    assert_eq!(first.body["message"], "Hello Lambda!");
    assert_eq!(first.body["platform"], "Local");
    assert_eq!(first.body["functionMemory"], 1024);
    let context = &first.body["context"];
    assert_eq!(context["requestId"], "req-1");
    assert_eq!(context["functionName"], "hello");
    assert_eq!(context["memoryLimitMb"], 1024);
    assert_eq!(context["deadlineMs"], 1_900_000_000_000u64);

    let second = posted.recv_timeout(timeout).expect("an error");
    assert_eq!(second.path, "/2018-06-01/runtime/invocation/req-2/error");
    assert_eq!(second.body["errorType"], "String");
    assert_eq!(
        second.body["errorMessage"],
        "asked to fail (\"on purpose\")"
    );
}
