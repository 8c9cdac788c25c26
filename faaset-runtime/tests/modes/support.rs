//! Starting the probe, a guard that kills and reaps it, and a minimal HTTP/1.1 client (the
//! bytes a platform's front end would send, nothing in between).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The probe with an empty environment: each test sets exactly what its platform sets.
pub fn probe() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_faaset-runtime-probe"));
    command.env_clear().stdin(Stdio::null());
    command
}

/// A running probe, killed and reaped when dropped (whatever the test's outcome).
pub struct Running {
    child: Option<Child>,
}

impl Running {
    pub fn spawn(command: &mut Command) -> Running {
        let child = command.spawn().expect("spawn the probe");
        Running { child: Some(child) }
    }

    pub fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("the probe is running")
    }

    pub fn id(&self) -> u32 {
        self.child.as_ref().expect("the probe is running").id()
    }

    /// Its exit status, waiting at most `timeout` (then it is killed and the test fails).
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child().try_wait().expect("wait for the probe") {
                self.child = None;
                return status;
            }
            assert!(
                started.elapsed() < timeout,
                "the probe did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its stdout to the end, and its exit status, within `timeout`.
    pub fn finish(&mut self, timeout: Duration) -> (ExitStatus, String) {
        let mut stdout = self.child().stdout.take().expect("stdout piped");
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            let _ = send.send(text);
        });
        let text = receive
            .recv_timeout(timeout)
            .expect("the probe's stdout did not end in time");
        (self.wait(timeout), text)
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid, which is not yet reaped (Running holds it).
        let rc = unsafe { libc::kill(self.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port that was free a moment ago (the platform picks ports the same way).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the answer.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Answer> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        headers.push_str(&line);
    }
    // Connection: close, so the body ends with the stream (the server sets Content-Length).
    let mut body = String::new();
    reader.read_to_string(&mut body)?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

pub fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    request(addr, "POST", path, headers, body)
        .unwrap_or_else(|e| panic!("POST {path} to {addr}: {e}"))
}

/// Polls `GET /` until it answers 200, as Azure's host does before the first call.
pub fn wait_ready(running: &mut Running, addr: SocketAddr) {
    let started = Instant::now();
    loop {
        if let Ok(answer) = request(addr, "GET", "/", &[], "") {
            assert_eq!(answer.status, 200, "{answer:?}");
            return;
        }
        if let Some(status) = running.child().try_wait().expect("poll the probe") {
            panic!("the probe exited before it was ready: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the probe did not answer GET / on {addr} within 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The IPv4 address a socket listens on at `port`, from the kernel's table (`/proc/net/tcp`,
/// state 0A = LISTEN): proves 0.0.0.0 vs 127.0.0.1 without needing a second interface.
pub fn listening_ip(port: u16) -> Option<std::net::Ipv4Addr> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (ip, local_port) = fields.get(1)?.split_once(':')?;
        let listening = fields.get(3) == Some(&"0A");
        if !listening || u16::from_str_radix(local_port, 16).ok()? != port {
            return None;
        }
        // The kernel prints the address in host byte order (little-endian here).
        let raw = u32::from_str_radix(ip, 16).ok()?;
        Some(std::net::Ipv4Addr::from(raw.swap_bytes()))
    })
}
