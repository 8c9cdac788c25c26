//! The `openwhisk` platform end to end through the real `faaset` CLI, against a contract test
//! of OpenWhisk's control plane (`openwhisk_control_plane.py`, run by FaaSET's venv Python):
//! real HTTP on 127.0.0.1, HTTP Basic checked, every request checked against OpenWhisk's
//! Swagger file, and the built `exec` unzipped and run under the ActionLoop protocol (one
//! long-lived process per container: cold, then warm) and the dockerskeleton protocol.
//! It is not OpenWhisk: what the real controller and invoker add (scheduling, Docker, Kafka)
//! is not here (docs/openwhisk.md).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{Run, TempWorkspace};

/// A made-up key of the shape OpenWhisk uses; it must never appear in any file or output.
const AUTH: &str =
    "0c4f3e1a-7b2d-4e59-9a61-faa5e7c0ffee:kQ7vX2mN9pL4sR8tW1yZ6bC3dF5gH0jK2lM4nP6qS8uV0wX3zA5cE7";

/// The blocking window of the control plane: calls longer than this get a 202.
const WINDOW_MS: u64 = 1500;

/// FaaSET's venv Python (where install.sh puts jsonschema).
fn python() -> PathBuf {
    let home = PathBuf::from(std::env::var("HOME").expect("HOME"));
    let venv = match std::env::var_os("FAASET_VENV").filter(|v| !v.is_empty()) {
        Some(venv) => PathBuf::from(venv),
        None => match std::env::var_os("FAASET_HOME") {
            Some(faaset_home) => PathBuf::from(faaset_home).join("venv"),
            None => home.join(".local/share/faaset/venv"),
        },
    };
    let python = venv.join("bin/python");
    let has_jsonschema = Command::new(&python)
        .args(["-c", "import jsonschema"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has_jsonschema,
        "{} cannot import jsonschema: run ./install.sh (it installs requirements-openwhisk.txt \
         into FaaSET's venv)",
        python.display()
    );
    python
}

/// OpenWhisk's Swagger file: `$FAASET_OPENWHISK_SWAGGER`, else the copy kept with the tests
/// (`tests/specs/`, with its source and licence).
fn swagger() -> PathBuf {
    if let Some(path) = std::env::var_os("FAASET_OPENWHISK_SWAGGER").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/specs/openwhisk-apiv1swagger.json")
}

/// The official npm `openwhisk` client, where install.sh puts it.
fn npm_client() -> PathBuf {
    let home = PathBuf::from(std::env::var("HOME").expect("HOME"));
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".local/share"));
    let modules = data.join("faaset/node/node_modules");
    assert!(
        modules.join("openwhisk/package.json").is_file(),
        "the npm openwhisk client is not in {}: run ./install.sh (it installs \
         faaset-core/tests/node/package.json there)",
        modules.display()
    );
    modules
}

/// The contract-test control plane on a free loopback port, in a process group of its own;
/// stopped (with every process it started) by [`ControlPlane::stop`] or on drop.
struct ControlPlane {
    tls: bool,
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ControlPlane {
    fn start() -> ControlPlane {
        Self::start_with(false)
    }

    /// `tls`: https with a self-signed certificate, as a local deployment serves.
    fn start_with(tls: bool) -> ControlPlane {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        let mut child = Command::new(python())
            .arg(here.join("cli/openwhisk_control_plane.py"))
            .arg(swagger())
            .arg(&log)
            .arg(WINDOW_MS.to_string())
            .env("OW_CONTRACT_AUTH", AUTH)
            .env("OW_CONTRACT_TLS", if tls { "1" } else { "0" })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            // Its own group: the actions it runs are in it too, so one kill stops them all.
            .process_group(0)
            .spawn()
            .expect("start the control plane");
        let stdin = child.stdin.take();
        let (send, receive) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = send.send(line);
        });
        let mut plane = ControlPlane {
            tls,
            child,
            stdin,
            port: 0,
            log,
            _dir: dir,
        };
        let line = receive
            .recv_timeout(Duration::from_secs(300))
            .expect("the control plane says where it listens within 300 s");
        plane.port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the control plane did not start: {line:?}"));
        plane
    }

    fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    fn entries(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Every request so far (method, path, query, body with the code shortened, status).
    fn requests(&self) -> Vec<Value> {
        self.entries()
            .into_iter()
            .filter(|e| e.get("method").is_some())
            .collect()
    }

    /// The pids of the action processes it started.
    fn started(&self) -> Vec<i32> {
        self.entries()
            .iter()
            .filter_map(|e| e["started"].as_i64())
            .map(|p| p as i32)
            .collect()
    }

    /// Closes its stdin (it then kills what it started and exits); kills the group if it
    /// has not gone within 10 s.
    fn stop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

const SOURCE: &str = r#"
fn hello_ow(request: Value, context: Context) -> Result<Value, String> {
    if let Some(message) = request["fail"].as_str() {
        return Err(message.to_string());
    }
    if let Some(ms) = request["sleep_ms"].as_u64() {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    let mut inspector = Inspector::new();
    inspector.inspect_platform();
    inspector.add_attribute("message", format!("Hello {}!", request["name"].as_str().unwrap_or("World")));
    inspector.add_attribute("requestId", context.request_id.clone());
    Ok(inspector.finish())
}
"#;

/// A properties file as `wsk` writes it, pointed at by `WSK_CONFIG_FILE`.
fn wskprops(dir: &Path, name: &str, lines: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, lines).unwrap();
    path.display().to_string()
}

fn faaset(ws: &TempWorkspace, props: &str, args: &[&str]) -> Run {
    let run = ws.faaset_with_env(args, &[("WSK_CONFIG_FILE", props)]);
    let (uuid, key) = AUTH.split_once(':').unwrap();
    for text in [run.stdout(), run.stderr()] {
        assert!(
            !text.contains(uuid) && !text.contains(key),
            "the key was shown: {text}"
        );
    }
    run
}

/// The PUTs of FaaSET's action, in order.
fn puts(plane: &ControlPlane) -> Vec<Value> {
    plane
        .requests()
        .into_iter()
        .filter(|r| r["method"] == "PUT" && r["path"].as_str().unwrap().ends_with("/hello_ow"))
        .collect()
}

/// The header and the rows (column → cell) of a results.csv.
fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Whether an ELF file asks for a program interpreter (a dynamic loader): a static binary
/// (static-pie included) has no `PT_INTERP` program header.
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not 64-bit");
    assert_eq!(u16::from_le_bytes([elf[18], elf[19]]), 62, "not x86_64");
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize;
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    let (offset, size, count) = (u64_at(32), u16_at(54), u16_at(56));
    (0..count).any(|i| {
        let at = offset + i * size;
        u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) == 3
    })
}

#[test]
fn openwhisk_lifecycle_against_a_contract_test_control_plane() {
    let mut plane = ControlPlane::start();
    let ws = TempWorkspace::with_functions(&[]);
    let dir = ws.file(".wsk");
    std::fs::create_dir_all(&dir).unwrap();
    let props = wskprops(
        &dir,
        "wskprops",
        &format!("APIHOST={}\nAUTH={AUTH}\nNAMESPACE=_\n", plane.url()),
    );
    ws.add_function_on("hello_ow", "openwhisk", SOURCE);
    let fdir = ws.file("functions/hello_ow");

    // Bad input: one line each, before anything is built or sent, nothing written.
    let no_auth = wskprops(&dir, "no-auth", &format!("APIHOST={}\n", plane.url()));
    let wrong = wskprops(
        &dir,
        "wrong-key",
        &format!(
            "APIHOST={}\nAUTH=0c4f3e1a-0000:not-the-key-1234\n",
            plane.url()
        ),
    );
    let before = ws.snapshot();
    let deploy = |props: &str, config: Value| {
        faaset(
            &ws,
            props,
            &["deploy", "hello_ow", "--config", &config.to_string()],
        )
    };
    deploy(&props, json!({"memory": 1024})).user_error(&format!(
        "memory 1024 MB is outside the limits of the OpenWhisk deployment at {}: 128–512 MB",
        plane.url()
    ));
    deploy(&props, json!({"timeout": 600})).user_error("timeout 600 s is outside the limits");
    deploy(&no_auth, json!({})).user_error(&format!(
        "no OpenWhisk key: set AUTH=<uuid:key> in {no_auth}"
    ));
    deploy(&props, json!({"auth": AUTH})).user_error("must name an environment variable");
    deploy(&wrong, json!({})).user_error(&format!(
        "OpenWhisk at {} refused the key (AUTH of {wrong}, ending …1234) with 401",
        plane.url()
    ));
    deploy(&props, json!({"apihost": "http://127.0.0.1:1"}))
        .user_error("cannot reach OpenWhisk at http://127.0.0.1:1");
    deploy(&props, json!({"apihost": "ftp://openwhisk"})).user_error("is not an http(s) URL");
    deploy(&props, json!({"namespace": "guest/pkg"})).user_error("packages");
    deploy(&props, json!({"kind": "nodejs:20"})).user_error("does not run a native `exec`");
    assert!(!fdir.join("openwhisk/.build").exists(), "nothing was built");
    assert!(puts(&plane).is_empty(), "nothing was sent");
    // The platform is asked before anything is written: not even the template is copied.
    assert!(
        ws.snapshot() == before,
        "a refused deploy wrote to the workspace"
    );

    // Deploy: build the static exec, PUT it with the limits.
    let run = faaset(&ws, &props, &["deploy", "hello_ow"]).ok();
    assert!(
        run.stderr()
            .contains("code and limits, rust:1.34, 256 MB, 60000 ms"),
        "{}",
        run.stderr()
    );
    let put = &puts(&plane)[0];
    assert_eq!(put["status"], 200, "{put}");
    assert_eq!(put["query"], json!([["overwrite", "true"]]));
    assert_eq!(put["path"], "/api/v1/namespaces/_/actions/hello_ow");
    assert_eq!(put["body"]["exec"]["kind"], "rust:1.34");
    assert!(put["body"]["exec"].get("binary").is_none(), "{put}");
    assert_eq!(
        put["body"]["limits"],
        json!({"memory": 256, "timeout": 60000, "concurrency": 1, "logs": 10})
    );
    let exec = std::fs::read(fdir.join("openwhisk/.build/bootstrap")).unwrap();
    assert!(!has_interpreter(&exec), "exec is linked statically");

    // The official npm client makes the same create, invoke and get requests.
    let limits = put["body"]["limits"].to_string();
    let zip = fdir.join("openwhisk/.build/exec.zip");
    let node = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/openwhisk_npm_client.js"))
        .args([Path::new("hello_npm"), &zip])
        .args([limits.as_str(), r#"{"name": "npm"}"#])
        .env("NODE_PATH", npm_client())
        .env("__OW_API_HOST", plane.url())
        .env("__OW_API_KEY", AUTH)
        .output()
        .expect("run node (install.sh installs Debian's nodejs)");
    assert!(
        node.status.success(),
        "{}",
        String::from_utf8_lossy(&node.stderr)
    );
    let npm_record: Value = serde_json::from_slice(&node.stdout).unwrap();
    assert_eq!(npm_record["response"]["result"]["message"], "Hello npm!");

    // Reconfigure: limits only, no build, no code.
    let build_log = fdir.join("openwhisk/logs/build.log");
    let log_before = std::fs::read(&build_log).unwrap();
    let run = faaset(
        &ws,
        &props,
        &["reconfigure", "hello_ow", r#"{"memory": 512}"#],
    )
    .ok();
    assert!(run.stderr().contains("limits only"), "{}", run.stderr());
    let put = puts(&plane).pop().unwrap();
    assert_eq!(put["status"], 200, "{put}");
    assert!(put["body"].get("exec").is_none(), "no code re-sent: {put}");
    assert_eq!(put["body"]["limits"]["memory"], 512);
    assert_eq!(std::fs::read(&build_log).unwrap(), log_before, "no build");

    // Invoke: cold, then warm in the same process; the record's fields in the answer.
    let cold = faaset(&ws, &props, &["invoke", "hello_ow", r#"{"name": "Whisk"}"#])
        .ok()
        .json();
    assert_eq!(cold["message"], "Hello Whisk!", "{cold}");
    assert_eq!(
        cold["platform"], "OpenWhisk",
        "SAAF names the platform: {cold}"
    );
    assert_eq!(
        cold["functionMemory"], 512,
        "FAASET_MEMORY_MB reached the process: {cold}"
    );
    assert_eq!(cold["coldStart"], true, "{cold}");
    assert!(cold["initDuration"].as_f64().is_some(), "{cold}");
    assert_eq!(cold["memorySize"], 512, "{cold}");
    assert_eq!(cold["activationId"], cold["requestId"], "{cold}");
    assert!(cold["waitTime"].as_f64().is_some() && cold["duration"].as_f64().is_some());
    let warm = faaset(&ws, &props, &["invoke", "hello_ow", "{}"])
        .ok()
        .json();
    assert_eq!(
        warm["coldStart"],
        false,
        "{warm} {:?}",
        plane
            .entries()
            .iter()
            .map(|r| format!(
                "{} {} {} {}",
                r["method"], r["path"], r["status"], r["started"]
            ))
            .collect::<Vec<_>>()
    );
    assert!(warm.get("initDuration").is_none(), "{warm}");
    assert_eq!(warm["newcontainer"], 0, "the same process: {warm}");
    assert_eq!(warm["containerID"], cold["containerID"]);
    assert_ne!(warm["activationId"], cold["activationId"]);

    // An application error (502) is the action's message; a long call (202) is polled.
    faaset(
        &ws,
        &props,
        &["invoke", "hello_ow", r#"{"fail": "no such city"}"#],
    )
    .user_error("no such city");
    let slow = faaset(
        &ws,
        &props,
        &["invoke", "hello_ow", r#"{"sleep_ms": 2500}"#],
    )
    .ok()
    .json();
    assert_eq!(slow["message"], "Hello World!", "{slow}");
    let requests = plane.requests();
    let accepted = requests
        .iter()
        .find(|r| r["status"] == 202)
        .expect("the slow call outlived the blocking window");
    let polls: Vec<&Value> = requests
        .iter()
        .filter(|r| {
            r["method"] == "GET"
                && r["path"].as_str().unwrap().ends_with(&format!(
                    "/activations/{}",
                    accepted["activationId"].as_str().unwrap()
                ))
        })
        .collect();
    assert!(
        polls.last().is_some_and(|p| p["status"] == 200),
        "{polls:?}"
    );
    assert_eq!(slow["activationId"], accepted["activationId"]);

    // An experiment: a row per call with the record's fields.
    faaset(
        &ws,
        &props,
        &[
            "experiment",
            "hello_ow",
            "--threads",
            "2",
            "--runs-per-thread",
            "3",
            "--payloads",
            r#"[{"name": "a"}, {"name": "b"}]"#,
            "--experiment-name",
            "e1",
        ],
    )
    .ok();
    let rows = read_csv(&fdir.join("experiments/e1/results.csv"));
    assert_eq!(rows.len(), 6);
    for row in &rows {
        assert_eq!(row["error"], "", "{row:?}");
        // The client's `platform` column; SAAF's own is kept beside it.
        assert_eq!(row["platform"], "openwhisk");
        assert_eq!(row["response.platform"], "OpenWhisk", "{row:?}");
        assert_eq!(row["memorySize"], "512");
        assert!(
            row["activationId"].len() == 32 && !row["waitTime"].is_empty(),
            "{row:?}"
        );
    }
    let cold_starts = rows.iter().filter(|r| r["coldStart"] == "true").count();
    assert!(
        cold_starts <= 2,
        "at most one cold start per worker: {rows:?}"
    );

    // A sweep: limits only per setting, the memory put back.
    let run = faaset(
        &ws,
        &props,
        &[
            "sweep",
            "hello_ow",
            "--memory",
            "256,512",
            "--threads",
            "1",
            "--runs-per-thread",
            "2",
            "--experiment-name",
            "sw",
        ],
    )
    .ok();
    assert!(run.stdout().contains("256"), "{}", run.stdout());
    let rows = read_csv(&fdir.join("experiments/sw/results.csv"));
    let memories: Vec<&str> = rows.iter().map(|r| r["memorySize"].as_str()).collect();
    assert!(
        memories.contains(&"256") && memories.contains(&"512"),
        "{memories:?}"
    );
    let all_puts = puts(&plane);
    assert!(
        all_puts[1..]
            .iter()
            .all(|p| p["body"].get("exec").is_none()),
        "no code re-sent"
    );
    assert_eq!(
        all_puts.last().unwrap()["body"]["limits"]["memory"],
        512,
        "memory restored"
    );

    // The dockerskeleton protocol: a kind change re-sends the code; a process per call.
    faaset(
        &ws,
        &props,
        &["reconfigure", "hello_ow", r#"{"kind": "blackbox"}"#],
    )
    .ok();
    let put = puts(&plane).pop().unwrap();
    assert_eq!(put["body"]["exec"]["kind"], "blackbox", "{put}");
    assert_eq!(put["body"]["exec"]["image"], "openwhisk/dockerskeleton");
    for name in ["one", "two"] {
        let answer = faaset(
            &ws,
            &props,
            &["invoke", "hello_ow", &json!({"name": name}).to_string()],
        )
        .ok()
        .json();
        assert_eq!(answer["message"], format!("Hello {name}!"), "{answer}");
        assert_eq!(answer["platform"], "OpenWhisk");
        assert_eq!(answer["newcontainer"], 1, "a process per call: {answer}");
    }

    // FaaSET's requests next to the npm client's: method, path, query, content type, body.
    let requests = plane.requests();
    let of = |method: &str, action: &str| -> Vec<&Value> {
        requests
            .iter()
            .filter(|r| r["method"] == method && r["path"].as_str().unwrap().ends_with(action))
            .collect()
    };
    // (The content type's media type: the npm client adds `; charset=utf-8`.)
    let media = |v: &Value| v.as_str().map(|t| t.split(';').next().unwrap().to_string());
    let same = |ours: &Value, theirs: &Value, fields: &[&str]| {
        for field in fields {
            let (a, b) = if *field == "content_type" {
                (json!(media(&ours[field])), json!(media(&theirs[field])))
            } else {
                (ours[field].clone(), theirs[field].clone())
            };
            assert_eq!(a, b, "{field}: ours {ours}, npm {theirs}");
        }
    };
    let rename = |r: &Value| r["path"].as_str().unwrap().replace("hello_npm", "hello_ow");
    let (our_put, npm_put) = (of("PUT", "/hello_ow")[0], of("PUT", "/hello_npm")[0]);
    same(our_put, npm_put, &["query", "content_type", "status"]);
    assert_eq!(our_put["path"], rename(npm_put));
    for (key, theirs) in npm_put["body"].as_object().unwrap() {
        // The same zip: the same code (logged as its length), kind and limits.
        assert_eq!(&our_put["body"][key], theirs, "body.{key}");
    }
    let (our_post, npm_post) = (of("POST", "/hello_ow")[0], of("POST", "/hello_npm")[0]);
    same(our_post, npm_post, &["query", "content_type", "status"]);
    assert_eq!(our_post["path"], rename(npm_post));
    assert_eq!(npm_post["body"], json!({"name": "npm"}));
    let gets: Vec<&Value> = requests
        .iter()
        .filter(|r| r["method"] == "GET" && r["path"].as_str().unwrap().contains("/activations/"))
        .collect();
    let npm_get = gets
        .iter()
        .find(|g| {
            g["path"]
                .as_str()
                .unwrap()
                .ends_with(npm_record["activationId"].as_str().unwrap())
        })
        .expect("the npm client got its activation");
    let our_get = gets.iter().rev().find(|g| g["status"] == 200).unwrap();
    same(our_get, npm_get, &["query", "status"]);
    let shape = |r: &Value| {
        r["path"]
            .as_str()
            .unwrap()
            .rsplit_once('/')
            .unwrap()
            .0
            .to_string()
    };
    assert_eq!(shape(our_get), shape(npm_get));
    assert!(our_get.get("body").is_none() && npm_get.get("body").is_none());

    // Every request authenticated (but the one with the wrong key), none against the Swagger
    // file, none with result=true.
    let refused: Vec<Value> = plane
        .requests()
        .into_iter()
        .filter(|r| r["auth_ok"] == false)
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["path"], "/api/v1/namespaces");
    for request in plane.requests() {
        assert!(request.get("violations").is_none(), "{request}");
        assert!(
            !request["query"].to_string().contains("result"),
            "blocking without result=true: {request}"
        );
    }
    // The key is in no file of the workspace (logs and state included).
    let (uuid, key) = AUTH.split_once(':').unwrap();
    for file in walk(ws.path()) {
        if file.starts_with(&dir) {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(
            !text.contains(uuid) && !text.contains(key),
            "{} holds the key",
            file.display()
        );
    }

    // Stopping the control plane stops every action process it started.
    let started = plane.started();
    assert!(started.len() >= 4, "{started:?}");
    plane.stop();
    std::thread::sleep(Duration::from_millis(200));
    for pid in started {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "action process {pid} outlived the control plane"
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.is_file() {
            out.push(path);
        }
    }
    out
}

/// A deployment with a self-signed certificate (OpenWhisk standalone behind TLS, a `kind`
/// cluster) is refused, with the fix named, unless `insecure` is set.
#[test]
fn self_signed_tls_needs_insecure() {
    let mut plane = ControlPlane::start_with(true);
    let ws = TempWorkspace::with_functions(&[]);
    let dir = ws.file(".wsk");
    std::fs::create_dir_all(&dir).unwrap();
    let props = wskprops(
        &dir,
        "wskprops",
        &format!("APIHOST={}\nAUTH={AUTH}\n", plane.url()),
    );
    ws.add_function_on("tls_ow", "openwhisk", &SOURCE.replace("hello_ow", "tls_ow"));
    let fdir = ws.file("functions/tls_ow");
    let run = faaset(&ws, &props, &["deploy", "tls_ow"])
        .user_error(&format!("cannot reach OpenWhisk at {}", plane.url()));
    assert!(
        run.stderr().contains("certificate") && run.stderr().contains("\"insecure\": true"),
        "{}",
        run.stderr()
    );
    assert!(!fdir.join("openwhisk/.build").exists());
    faaset(
        &ws,
        &props,
        &["deploy", "tls_ow", "--config", r#"{"insecure": true}"#],
    )
    .ok();
    let answer = faaset(&ws, &props, &["invoke", "tls_ow", r#"{"name": "tls"}"#])
        .ok()
        .json();
    assert_eq!(answer["message"], "Hello tls!", "{answer}");
    assert!(plane
        .requests()
        .iter()
        .all(|r| r.get("violations").is_none()));
    plane.stop();
}

/// Against a real OpenWhisk deployment, only when asked for: `FAASET_OPENWHISK_LIVE=1` and the
/// `wsk` properties file (`$WSK_CONFIG_FILE` or `~/.wskprops`) exist. `FAASET_OPENWHISK_CONFIG`
/// may add config keys (like `{"insecure": true}` for a standalone deployment's certificate).
/// Deploys, calls, reconfigures and runs a small experiment, then deletes the action.
#[test]
fn openwhisk_live_deployment_when_asked_for() {
    if std::env::var("FAASET_OPENWHISK_LIVE").as_deref() != Ok("1") {
        eprintln!(
            "skipped: set FAASET_OPENWHISK_LIVE=1 (and have ~/.wskprops) to test a real deployment"
        );
        return;
    }
    let home = PathBuf::from(std::env::var("HOME").expect("HOME"));
    let props = std::env::var_os("WSK_CONFIG_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".wskprops"));
    let text = std::fs::read_to_string(&props)
        .unwrap_or_else(|e| panic!("FAASET_OPENWHISK_LIVE=1 needs {}: {e}", props.display()));
    let wsk = faaset::platform::openwhisk::credentials::parse_wskprops(&text);
    let config: Value = std::env::var("FAASET_OPENWHISK_CONFIG")
        .ok()
        .map(|c| serde_json::from_str(&c).expect("FAASET_OPENWHISK_CONFIG is a JSON object"))
        .unwrap_or_else(|| json!({}));
    let ws = TempWorkspace::with_functions(&[]);
    let name = "faaset_live_test";
    ws.add_function_on(name, "openwhisk", &SOURCE.replace("hello_ow", name));
    let fdir = ws.file(&format!("functions/{name}"));
    let props = props.display().to_string();
    let run = |args: &[&str]| ws.faaset_with_env(args, &[("WSK_CONFIG_FILE", props.as_str())]);
    run(&["deploy", name, "--config", &config.to_string()]).ok();
    let first = run(&["invoke", name, r#"{"name": "live"}"#]).ok().json();
    assert_eq!(first["message"], "Hello live!", "{first}");
    assert_eq!(first["platform"], "OpenWhisk", "{first}");
    assert!(
        first["activationId"].is_string() && first["duration"].is_number(),
        "{first}"
    );
    let second = run(&["invoke", name, "{}"]).ok().json();
    assert!(second["coldStart"].is_boolean(), "{second}");
    run(&["reconfigure", name, r#"{"memory": 128}"#]).ok();
    run(&[
        "experiment",
        name,
        "--threads",
        "2",
        "--runs-per-thread",
        "2",
        "--experiment-name",
        "live",
    ])
    .ok();
    let rows = read_csv(&fdir.join("experiments/live/results.csv"));
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter()
            .all(|r| r["error"].is_empty() && r["memorySize"] == "128"),
        "{rows:?}"
    );

    // Clean up: delete the action (FaaSET has no delete verb yet).
    let host = config["apihost"]
        .as_str()
        .map(String::from)
        .or_else(|| wsk.get("APIHOST").cloned())
        .expect("APIHOST");
    let host = faaset::platform::openwhisk::credentials::parse_apihost(&host).unwrap();
    let namespace = config["namespace"]
        .as_str()
        .map(String::from)
        .or_else(|| wsk.get("NAMESPACE").cloned())
        .unwrap_or_else(|| "_".into());
    let (user, key) = wsk["AUTH"].split_once(':').expect("AUTH is uuid:key");
    let url = format!(
        "{}/api/v1/namespaces/{namespace}/actions/{name}",
        host.as_str().trim_end_matches('/')
    );
    let insecure = config["insecure"].as_bool() == Some(true);
    let status = tokio::runtime::Runtime::new().unwrap().block_on(async {
        faaset::platform::http_client()
            .danger_accept_invalid_certs(insecure)
            .build()
            .unwrap()
            .delete(&url)
            .basic_auth(user, Some(key))
            .send()
            .await
            .map(|r| r.status())
    });
    assert!(
        status.as_ref().is_ok_and(|s| s.is_success()),
        "deleting {url}: {status:?}"
    );
}
