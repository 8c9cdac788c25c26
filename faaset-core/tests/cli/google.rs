//! The `google` platform end to end through the real `faaset` CLI, offline:
//!
//! - a real OCI registry on loopback (Debian's `docker-registry`, its own port and storage)
//!   receives the image FaaSET pushes with oci-client; the image is read back by independent
//!   tools (Debian's `skopeo` inspects and copies it, `umoci` unpacks it);
//! - a contract test of Google's control plane (`google_control_plane.py`, FaaSET's venv
//!   Python) serves the token endpoint (JWTs verified with google-auth against a key generated
//!   at start), the Cloud Run Admin API v2 and Artifact Registry (every request validated
//!   against the discovery documents of google-api-python-client), pulls the pinned image from
//!   that registry, unpacks it and runs its `/bootstrap` under Cloud Run's container contract;
//! - Google's own client (PyPI google-cloud-run, REST transport) sends the same create,
//!   update and get for the same service (`google_run_client.py`).
//!
//! It is not Google Cloud: scheduling, IAM, networking and the real Artifact Registry's token
//! flow are not here (docs/google.md).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{Run, TempWorkspace};

const PROJECT: &str = "contract-test";

/// FaaSET's venv Python (install.sh puts requirements-google.txt there).
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
    let ready = Command::new(&python)
        .args([
            "-c",
            "import googleapiclient, google.auth, google.cloud.run_v2, jsonschema, cryptography",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ready,
        "{} cannot import google-api-python-client, google-auth, google-cloud-run, jsonschema \
         and cryptography: run ./install.sh (it installs requirements-google.txt into FaaSET's \
         venv)",
        python.display()
    );
    python
}

/// The discovery documents google-api-python-client ships.
fn discovery(python: &Path, name: &str) -> PathBuf {
    let out = Command::new(python)
        .args([
            "-c",
            "import googleapiclient, os; print(os.path.dirname(googleapiclient.__file__))",
        ])
        .output()
        .unwrap();
    let dir = String::from_utf8(out.stdout).unwrap();
    let path = Path::new(dir.trim())
        .join("discovery_cache/documents")
        .join(name);
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

fn tool(name: &str) -> &str {
    assert!(
        Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .is_ok_and(|o| o.status.success()),
        "{name} is not installed: run ./install.sh (it installs Debian's docker-registry, \
         skopeo and umoci)"
    );
    name
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Debian's `docker-registry` (the CNCF distribution registry) on a free loopback port with
/// its own storage; stopped on drop. Its log (one line per request) tells what was pushed.
struct Registry {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let log = dir.path().join("registry.log");
        let child = Command::new(tool("docker-registry"))
            .args(["serve"])
            .arg(&config)
            .stdout(std::fs::File::create(dir.path().join("stdout.log")).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .process_group(0)
            .spawn()
            .expect("start docker-registry");
        let mut registry = Registry {
            child,
            port,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen within 20 s: {}",
                std::fs::read_to_string(&registry.log).unwrap_or_default()
            );
            if let Ok(Some(status)) = registry.child.try_wait() {
                panic!(
                    "docker-registry exited ({status}): {}",
                    std::fs::read_to_string(&registry.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        registry.port = port;
        registry
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The requests that write (blob uploads, manifest PUTs) seen so far.
    fn writes(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("response completed"))
            .filter(|l| {
                ["PUT", "POST", "PATCH"]
                    .iter()
                    .any(|m| l.contains(&format!("http.request.method={m}")))
            })
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// The contract-test control plane on a free loopback port, in a process group of its own
/// (the instances it runs are in it too); stopped by [`ControlPlane::stop`] or on drop.
struct ControlPlane {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    log: PathBuf,
    key: PathBuf,
    /// gcloud's configuration folder, holding the user credentials the plane made.
    gcloud: PathBuf,
    _dir: tempfile::TempDir,
}

impl ControlPlane {
    fn start(registry: &str) -> ControlPlane {
        let python = python();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        let key = dir.path().join("key.json");
        let gcloud = dir.path().join("gcloud");
        std::fs::create_dir_all(&gcloud).unwrap();
        let mut child = Command::new(&python)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/google_control_plane.py"))
            .arg(discovery(&python, "run.v2.json"))
            .arg(discovery(&python, "artifactregistry.v1.json"))
            .arg(&log)
            .arg(&key)
            .arg(registry)
            .arg(gcloud.join("application_default_credentials.json"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
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
        let line = receive
            .recv_timeout(Duration::from_secs(300))
            .expect("the control plane says where it listens within 300 s");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the control plane did not start: {line:?}"));
        ControlPlane {
            child,
            stdin,
            port,
            log,
            key,
            gcloud,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn entries(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Admin API and Artifact Registry requests (not the token endpoint).
    fn api_requests(&self) -> Vec<Value> {
        self.entries()
            .into_iter()
            .filter(|e| e.get("method").is_some() && e.get("token_request").is_none())
            .collect()
    }

    fn patches(&self) -> Vec<Value> {
        self.api_requests()
            .into_iter()
            .filter(|r| r["method"] == "PATCH")
            .collect()
    }

    fn started(&self) -> Vec<i32> {
        self.entries()
            .iter()
            .filter_map(|e| e["started"].as_i64())
            .map(|p| p as i32)
            .collect()
    }

    fn stop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
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
fn hello_gc(request: Value, context: Context) -> Result<Value, String> {
    if let Some(message) = request["fail"].as_str() {
        return Err(message.to_string());
    }
    let mut inspector = Inspector::new();
    inspector.inspect_container();
    inspector.inspect_platform();
    inspector.add_attribute("message", format!("Hello {}!", request["name"].as_str().unwrap_or("World")));
    inspector.add_attribute("requestId", context.request_id.clone());
    inspector.add_attribute("revision", std::env::var("K_REVISION").unwrap_or_default());
    inspector.add_attribute("port", std::env::var("PORT").unwrap_or_default());
    Ok(inspector.finish())
}
"#;

/// Environment variables for `faaset`.
type Vars = Vec<(&'static str, String)>;

/// The environment that points FaaSET at the loopback plane and registry.
fn google_env(plane: &ControlPlane, registry: &str) -> Vars {
    vec![
        (
            "GOOGLE_APPLICATION_CREDENTIALS",
            plane.key.display().to_string(),
        ),
        ("FAASET_GOOGLE_RUN_ENDPOINT", plane.url()),
        ("FAASET_GOOGLE_ARTIFACT_ENDPOINT", plane.url()),
        ("FAASET_GOOGLE_REGISTRY", format!("http://{registry}")),
        // The key file names the plane's token endpoint; the variable is left unset.
        ("FAASET_GOOGLE_TOKEN_ENDPOINT", String::new()),
        ("CLOUDSDK_CONFIG", String::new()),
    ]
}

/// `faaset ARGS` with `env`; no token, JWT or key is in what it printed.
fn run(ws: &TempWorkspace, env: &[(&str, String)], args: &[&str]) -> Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = ws.faaset_with_env(args, &env);
    for text in [run.stdout(), run.stderr()] {
        for secret in ["ya29.test-", "eyJ", "PRIVATE KEY", "1//"] {
            assert!(
                !text.contains(secret),
                "a secret ({secret}…) was shown: {text}"
            );
        }
    }
    run
}

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

fn no_violations(plane: &ControlPlane) {
    for entry in plane.entries() {
        assert!(
            entry.get("violation").is_none() && entry.get("failure").is_none(),
            "the control plane refused a request: {entry}"
        );
    }
}

#[test]
fn google_lifecycle_against_a_registry_and_a_contract_test_control_plane() {
    let registry = Registry::start();
    let mut plane = ControlPlane::start(&registry.host());
    let env = google_env(&plane, &registry.host());
    let ws = TempWorkspace::with_functions(&[]);
    ws.add_function_on("hello_gc", "google", SOURCE);
    let fdir = ws.file("functions/hello_gc");
    let project = json!({"project": PROJECT}).to_string();

    // Bad input: one line each, nothing built, sent or written.
    let before = ws.snapshot();
    let with = |extra: &[(&'static str, String)]| {
        let mut e = env.clone();
        e.extend(extra.iter().cloned());
        e
    };
    let empty_home = tempfile::tempdir().unwrap();
    let cases: Vec<(Vars, Value, &str)> = vec![
        (env.clone(), json!({}), "config key \"project\" is required"),
        (
            env.clone(),
            json!({"project": PROJECT, "region": "us-centrall"}),
            "bad value \"us-centrall\" for config key \"region\"",
        ),
        (
            env.clone(),
            json!({"project": PROJECT, "memory": 1024, "cpu": 4}),
            "cpu 4 needs at least 2048 MB of memory on Cloud Run, and memory is 1024 MB",
        ),
        (
            env.clone(),
            json!({"project": PROJECT, "memory": 4096, "cpu": 0.5}),
            "memory 4096 MB needs more CPU than cpu 0.5",
        ),
        (
            with(&[
                ("GOOGLE_APPLICATION_CREDENTIALS", String::new()),
                ("HOME", empty_home.path().display().to_string()),
            ]),
            json!({"project": PROJECT}),
            "no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS",
        ),
        (
            with(&[("FAASET_GOOGLE_RUN_ENDPOINT", "http://127.0.0.1:1".into())]),
            json!({"project": PROJECT}),
            "cannot reach Google at http://127.0.0.1:1/v2/projects/contract-test/locations/us-central1/services",
        ),
        (
            with(&[(
                "FAASET_GOOGLE_TOKEN_ENDPOINT",
                "http://127.0.0.1:1/token".into(),
            )]),
            json!({"project": PROJECT}),
            "cannot reach Google's token endpoint http://127.0.0.1:1/token",
        ),
    ];
    // A key the token endpoint does not know (same account and key id, another RSA key):
    // google-auth refuses the signature.
    let wrong_key = empty_home.path().join("wrong-key.json");
    let made = Command::new(python())
        .arg("-c")
        .arg(
            "import json, sys\n\
             from cryptography.hazmat.primitives import serialization\n\
             from cryptography.hazmat.primitives.asymmetric import rsa\n\
             key = json.load(open(sys.argv[1]))\n\
             other = rsa.generate_private_key(public_exponent=65537, key_size=2048)\n\
             key['private_key'] = other.private_bytes(serialization.Encoding.PEM, \
             serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()\n\
             json.dump(key, open(sys.argv[2], 'w'))\n",
        )
        .arg(&plane.key)
        .arg(&wrong_key)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let mut cases = cases;
    cases.push((
        with(&[(
            "GOOGLE_APPLICATION_CREDENTIALS",
            wrong_key.display().to_string(),
        )]),
        json!({"project": PROJECT}),
        "refused the credentials of $GOOGLE_APPLICATION_CREDENTIALS",
    ));
    for (env, config, expected) in &cases {
        run(
            &ws,
            env,
            &["deploy", "hello_gc", "--config", &config.to_string()],
        )
        .user_error(expected);
        assert!(
            ws.snapshot() == before,
            "a refused deploy ({expected}) wrote to the workspace"
        );
    }
    assert!(plane.patches().is_empty(), "nothing was published");
    assert_eq!(registry.writes(), 0, "nothing was pushed");

    // Deploy: build, create the repository, push the image, upsert the service.
    let started = Instant::now();
    let deployed = run(&ws, &env, &["deploy", "hello_gc", "--config", &project]).ok();
    eprintln!("deploy took {:.1} s", started.elapsed().as_secs_f64());
    let stderr = deployed.stderr();
    assert!(
        stderr.contains("Cloud Run service hello-gc in us-central1 (hello_gc with `_` as `-`)"),
        "the name mapping is shown: {stderr}"
    );
    assert!(
        stderr.contains("created the Artifact Registry repository faaset in us-central1"),
        "{stderr}"
    );
    assert!(stderr.contains("pushed image sha256:"), "{stderr}");
    no_violations(&plane);
    let patch = plane.patches().pop().unwrap();
    assert_eq!(patch["status"], 200, "{patch}");
    assert_eq!(patch["query"], json!([["allowMissing", "true"]]));
    assert_eq!(
        patch["path"],
        "/v2/projects/contract-test/locations/us-central1/services/hello-gc"
    );
    let image = patch["body"]["template"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_string();
    let prefix = format!("{}/contract-test/faaset/hello-gc@sha256:", registry.host());
    assert!(image.starts_with(&prefix), "pinned by digest: {image}");
    let limits = &patch["body"]["template"]["containers"][0]["resources"]["limits"];
    assert_eq!(
        *limits,
        json!({"memory": "512Mi", "cpu": "333m"}),
        "cpu from memory"
    );
    let ids: Vec<String> = plane
        .api_requests()
        .iter()
        .map(|r| r["method_id"].as_str().unwrap_or("?").to_string())
        .collect();
    assert_eq!(
        ids,
        [
            // preflight
            "run.projects.locations.services.list",
            // publish
            "artifactregistry.projects.locations.repositories.get",
            "artifactregistry.projects.locations.repositories.create",
            "artifactregistry.projects.locations.operations.get",
            "run.projects.locations.services.patch",
            "run.projects.locations.operations.get",
            "run.projects.locations.services.get",
        ],
        "{ids:?}"
    );

    // Independent tools read the pushed image: skopeo inspects it, copies it out, umoci
    // unpacks it; the unpacked /bootstrap is static and serves Cloud Run's contract.
    let inspect = Command::new(tool("skopeo"))
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{image}"),
        ])
        .output()
        .unwrap();
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let inspected: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(inspected["Architecture"], "amd64", "{inspected}");
    assert_eq!(inspected["Os"], "linux");
    assert_eq!(
        inspected["Layers"].as_array().unwrap().len(),
        1,
        "{inspected}"
    );
    assert_eq!(
        inspected["Digest"].as_str().unwrap(),
        image.split('@').nth(1).unwrap()
    );
    let unpack = tempfile::tempdir().unwrap();
    let layout = unpack.path().join("layout");
    let copied = Command::new("skopeo")
        .args([
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{image}"),
        ])
        .arg(format!("oci:{}:fn", layout.display()))
        .output()
        .unwrap();
    assert!(
        copied.status.success(),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    let bundle = unpack.path().join("bundle");
    let mut umoci = Command::new(tool("umoci"));
    umoci.arg("unpack");
    if unsafe { libc::geteuid() } != 0 {
        umoci.arg("--rootless");
    }
    let unpacked = umoci
        .arg("--image")
        .arg(format!("{}:fn", layout.display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        unpacked.status.success(),
        "{}",
        String::from_utf8_lossy(&unpacked.stderr)
    );
    let bootstrap = bundle.join("rootfs/bootstrap");
    assert_eq!(
        std::fs::read(&bootstrap).unwrap(),
        std::fs::read(fdir.join("google/.build/bootstrap")).unwrap(),
        "the image holds the built binary"
    );
    let bundle_config: Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(bundle_config["process"]["args"], json!(["/bootstrap"]));
    contract_run(&bundle.join("rootfs"));

    // Deploying unchanged source again (forced): the same digest, nothing pushed.
    let writes = registry.writes();
    assert!(
        writes >= 3,
        "the first deploy pushed blobs and a manifest: {writes}"
    );
    let built = std::fs::read(fdir.join("google/.build/bootstrap")).unwrap();
    let again = run(&ws, &env, &["deploy", "hello_gc", "--force"]).ok();
    assert!(
        std::fs::read(fdir.join("google/.build/bootstrap")).unwrap() == built,
        "the rebuild of unchanged source made a different binary (a build that is not \
         reproducible, not an image problem)"
    );
    assert!(
        again
            .stderr()
            .contains("is in the registry already: nothing pushed"),
        "{}",
        again.stderr()
    );
    assert_eq!(registry.writes(), writes, "nothing was pushed");
    let patch = plane.patches().pop().unwrap();
    assert_eq!(
        patch["body"]["template"]["containers"][0]["image"],
        image.as_str()
    );

    // A registry that does not answer: one line naming it, the deploy not recorded.
    let state = std::fs::read(fdir.join("FAASET.json")).unwrap();
    run(
        &ws,
        &with(&[("FAASET_GOOGLE_REGISTRY", "http://127.0.0.1:1".into())]),
        &["deploy", "hello_gc", "--force"],
    )
    .user_error("pushing the image to 127.0.0.1:1/contract-test/faaset/hello-gc failed");
    assert_eq!(std::fs::read(fdir.join("FAASET.json")).unwrap(), state);

    // Reconfigure: configuration only (a new revision), no build, no push.
    let build_log = fdir.join("google/logs/build.log");
    let log_before = std::fs::read(&build_log).unwrap();
    run(
        &ws,
        &env,
        &["reconfigure", "hello_gc", r#"{"memory": 1024}"#],
    )
    .ok();
    assert_eq!(std::fs::read(&build_log).unwrap(), log_before, "no build");
    assert_eq!(registry.writes(), writes, "no push");
    let patch = plane.patches().pop().unwrap();
    let container = &patch["body"]["template"]["containers"][0];
    assert_eq!(container["image"], image.as_str());
    assert_eq!(
        container["resources"]["limits"],
        json!({"memory": "1024Mi", "cpu": "583m"})
    );

    // A revision that does not start: Cloud Run's error in one line, the old configuration
    // still recorded (and still served).
    let state = std::fs::read(fdir.join("FAASET.json")).unwrap();
    run(
        &ws,
        &env,
        &[
            "reconfigure",
            "hello_gc",
            r#"{"env": {"CONTRACT_TEST_FAIL_START": "1"}}"#,
        ],
    )
    .user_error("failed: Revision 'hello-gc-00004-");
    assert_eq!(
        std::fs::read(fdir.join("FAASET.json")).unwrap(),
        state,
        "a failed publish records nothing"
    );

    // Invoke: with an ID token for the service URL; cold, then warm.
    let cold = run(&ws, &env, &["invoke", "hello_gc", r#"{"name": "Run"}"#])
        .ok()
        .json();
    assert_eq!(cold["message"], "Hello Run!", "{cold}");
    assert_eq!(
        cold["platform"], "Google Cloud Run",
        "SAAF names Cloud Run: {cold}"
    );
    assert_eq!(cold["functionMemory"], 1024, "{cold}");
    assert_eq!(cold["functionRegion"], "us-central1", "{cold}");
    assert_eq!(cold["coldStart"], true, "{cold}");
    assert!(
        cold["revision"]
            .as_str()
            .unwrap()
            .starts_with("hello-gc-00003-"),
        "the third revision: {cold}"
    );
    assert!(cold["roundTripTime"].as_f64().is_some(), "{cold}");
    let warm = run(&ws, &env, &["invoke", "hello_gc", "{}"]).ok().json();
    assert_eq!(warm["coldStart"], false, "{warm}");
    assert_eq!(warm["containerID"], cold["containerID"]);
    // The ID token's audience is the service's URL (google-auth checked the assertion at the
    // token endpoint; the service checks the token the plane issued).
    let service_uri = plane
        .entries()
        .into_iter()
        .rfind(|e| e["token"] == "id")
        .map(|t| t["claims"]["target_audience"].as_str().unwrap().to_string())
        .expect("an ID token was asked for");
    assert!(
        service_uri.starts_with("http://127.0.0.1:"),
        "{service_uri}"
    );
    let invokes: Vec<Value> = plane
        .entries()
        .into_iter()
        .filter(|e| e.get("invoke").is_some())
        .collect();
    assert!(
        invokes
            .iter()
            .all(|i| i["status"] == 200 && i["authorized"] == true),
        "{invokes:?}"
    );
    assert!(
        invokes
            .iter()
            .all(|i| i["trace"].as_str().unwrap().ends_with("/1;o=1")),
        "{invokes:?}"
    );

    // A function error is a failed call with the function's message.
    run(
        &ws,
        &env,
        &["invoke", "hello_gc", r#"{"fail": "no such city"}"#],
    )
    .user_error("no such city");

    // An experiment: a row per call, coldStart from SAAF.
    run(
        &ws,
        &env,
        &[
            "experiment",
            "hello_gc",
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
        assert_eq!(row["platform"], "google");
        assert_eq!(row["response.platform"], "Google Cloud Run", "{row:?}");
        assert!(
            ["true", "false"].contains(&row["coldStart"].as_str()),
            "{row:?}"
        );
    }

    // gcloud's application-default credentials (a user's refresh token) work as well: its
    // ID token is for the gcloud client, which the service takes from that user.
    let user = with(&[
        ("GOOGLE_APPLICATION_CREDENTIALS", String::new()),
        ("CLOUDSDK_CONFIG", plane.gcloud.display().to_string()),
        (
            "FAASET_GOOGLE_TOKEN_ENDPOINT",
            format!("{}/token", plane.url()),
        ),
    ]);
    let by_user = run(&ws, &user, &["invoke", "hello_gc", r#"{"name": "user"}"#])
        .ok()
        .json();
    assert_eq!(by_user["message"], "Hello user!", "{by_user}");
    let entries = plane.entries();
    assert!(
        entries.iter().any(|e| e["token"] == "refresh"),
        "the refresh grant was used"
    );
    let last = entries.iter().rfind(|e| e.get("invoke").is_some()).unwrap();
    assert_eq!(last["authorized"], true, "{last}");

    // A sweep: configuration-only PATCHes per setting, each priced with its own CPU, the
    // memory put back.
    let writes_before = registry.writes();
    let swept = run(
        &ws,
        &env,
        &[
            "sweep",
            "hello_gc",
            "--memory",
            "512,2048",
            "--threads",
            "1",
            "--runs-per-thread",
            "2",
            "--experiment-name",
            "sw",
        ],
    )
    .ok();
    assert!(
        swept
            .stdout()
            .contains("Google Cloud Run request-based list price"),
        "{}",
        swept.stdout()
    );
    assert_eq!(registry.writes(), writes_before, "a sweep pushes nothing");
    let rows = read_csv(&fdir.join("experiments/sw/results.csv"));
    let memories: Vec<&str> = rows.iter().map(|r| r["functionMemory"].as_str()).collect();
    assert_eq!(memories, ["512", "512", "2048", "2048"], "{rows:?}");
    let patches = plane.patches();
    let limits: Vec<&Value> = patches[patches.len() - 3..]
        .iter()
        .map(|p| &p["body"]["template"]["containers"][0]["resources"]["limits"])
        .collect();
    assert_eq!(
        limits,
        [
            &json!({"memory": "512Mi", "cpu": "333m"}),
            &json!({"memory": "2048Mi", "cpu": "1"}),
            &json!({"memory": "1024Mi", "cpu": "583m"}),
        ],
        "memory restored"
    );

    // Public: no ID token is sent, and the service takes the call.
    run(
        &ws,
        &env,
        &["reconfigure", "hello_gc", r#"{"public": true}"#],
    )
    .ok();
    assert_eq!(
        plane.patches().pop().unwrap()["body"]["invokerIamDisabled"],
        true
    );
    let public = run(&ws, &env, &["invoke", "hello_gc", "{}"]).ok().json();
    assert_eq!(public["message"], "Hello World!");
    let last = plane
        .entries()
        .into_iter()
        .rfind(|e| e.get("invoke").is_some())
        .unwrap();
    assert_eq!(last["authorized"], false, "{last}");
    no_violations(&plane);

    // Google's own client sends the same create, update and get for this service.
    compare_with_google_client(&plane);

    // No secret in the workspace: neither the key nor a token.
    let key: Value = serde_json::from_slice(&std::fs::read(&plane.key).unwrap()).unwrap();
    let private = key["private_key"].as_str().unwrap();
    let der_line = private.lines().nth(2).unwrap();
    assert!(plane.entries().iter().any(|e| e["token"] == "access"));
    let adc: Value = serde_json::from_slice(
        &std::fs::read(plane.gcloud.join("application_default_credentials.json")).unwrap(),
    )
    .unwrap();
    let refresh = adc["refresh_token"].as_str().unwrap();
    for (path, bytes) in ws.snapshot() {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(der_line) && !text.contains("ya29.test-") && !text.contains(refresh),
            "{} holds a secret",
            path.display()
        );
    }

    // Stopping the control plane stops every instance it started.
    let started = plane.started();
    assert!(started.len() >= 3, "{started:?}");
    plane.stop();
    std::thread::sleep(Duration::from_millis(200));
    for pid in started {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "instance {pid} outlived the control plane"
        );
    }
}

/// Runs the unpacked `/bootstrap` as Cloud Run does (`PORT`, `K_SERVICE`, `K_REVISION`,
/// `K_CONFIGURATION`; chrooted into the rootfs when root): `GET /` answers, a POST of JSON
/// gets the function's JSON with SAAF saying Cloud Run, and SIGTERM ends it with 0.
fn contract_run(rootfs: &Path) {
    let port = free_port();
    let mut command = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("chroot");
        c.arg(rootfs).arg("/bootstrap");
        c
    } else {
        Command::new(rootfs.join("bootstrap"))
    };
    let mut child = Instance(
        command
            .env_clear()
            // For `chroot` itself; /bootstrap needs nothing from it.
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("PORT", port.to_string())
            .env("K_SERVICE", "hello-gc")
            .env("K_REVISION", "hello-gc-00001-abc")
            .env("K_CONFIGURATION", "hello-gc")
            .env("FAASET_MEMORY_MB", "512")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run the unpacked bootstrap"),
    );
    let post = |body: &str| -> Option<(u16, Value)> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        write!(
            stream,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \
             {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let status = response.split(' ').nth(1)?.parse().ok()?;
        let body = response.split("\r\n\r\n").nth(1)?;
        Some((status, serde_json::from_str(body).ok()?))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        if let Some(answer) = post(r#"{"name": "contract"}"#) {
            break answer;
        }
        assert!(
            Instant::now() < deadline,
            "the bootstrap did not answer on $PORT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(answer.0, 200, "{answer:?}");
    assert_eq!(answer.1["message"], "Hello contract!", "{answer:?}");
    assert_eq!(answer.1["platform"], "Google Cloud Run", "{answer:?}");
    assert_eq!(answer.1["functionName"], "hello-gc", "{answer:?}");
    assert_eq!(answer.1["revision"], "hello-gc-00001-abc");
    assert_eq!(answer.1["newcontainer"], 1);
    unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            panic!("the bootstrap did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "SIGTERM ends it with 0: {status}");
}

/// The bootstrap `contract_run` started: killed on drop, so a failed assertion leaves no
/// process behind (chroot execs it: the pid is the bootstrap's).
struct Instance(Child);

impl Drop for Instance {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// google-cloud-run's REST transport, against its own loopback recorder, for the body of
/// FaaSET's last PATCH: its create and update carry the same Service, its update the same
/// query, its get the same path.
fn compare_with_google_client(plane: &ControlPlane) {
    let patch = plane.patches().pop().unwrap();
    let get = plane
        .api_requests()
        .into_iter()
        .rfind(|r| r["method_id"] == "run.projects.locations.services.get")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("service.json");
    std::fs::write(&body, patch["body"].to_string()).unwrap();
    let out = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/google_run_client.py"))
        .arg(&body)
        .arg(
            patch["path"]
                .as_str()
                .unwrap()
                .strip_prefix("/v2/")
                .unwrap(),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let google: Value = serde_json::from_slice(&out.stdout).unwrap();
    let requests = google["requests"].as_array().unwrap();
    let without_alt = |q: &Value| -> Value {
        Value::Array(
            q.as_array()
                .unwrap()
                .iter()
                .filter(|p| p[0] != "$alt")
                .cloned()
                .collect(),
        )
    };
    let (create, update, get_g) = (&requests[0], &requests[1], &requests[2]);
    assert_eq!(create["method"], "POST");
    assert_eq!(
        create["path"],
        "/v2/projects/contract-test/locations/us-central1/services"
    );
    assert_eq!(
        without_alt(&create["query"]),
        json!([["serviceId", "hello-gc"]])
    );
    assert_eq!(
        create["normalised"], google["faaset_normalised"],
        "create: the same Service"
    );
    assert_eq!(update["method"], patch["method"]);
    assert_eq!(update["path"], patch["path"]);
    assert_eq!(without_alt(&update["query"]), patch["query"]);
    assert_eq!(
        update["normalised"], google["faaset_normalised"],
        "update: the same Service"
    );
    assert_eq!(update["content_type"], "application/json");
    assert_eq!(get_g["method"], "GET");
    assert_eq!(get_g["path"], get["path"]);
    assert_eq!(without_alt(&get_g["query"]), get["query"]);
}

/// Against Google Cloud, only when asked for: `FAASET_GOOGLE_LIVE=1`, credentials in Google's
/// standard places, and `FAASET_GOOGLE_CONFIG` holding at least `{"project": "..."}`. Deploys,
/// calls, reconfigures memory, runs a 2×3 experiment, then deletes the service.
#[test]
fn google_live_deployment_when_asked_for() {
    if std::env::var("FAASET_GOOGLE_LIVE").as_deref() != Ok("1") {
        eprintln!(
            "skipped: set FAASET_GOOGLE_LIVE=1, GOOGLE_APPLICATION_CREDENTIALS and \
             FAASET_GOOGLE_CONFIG='{{\"project\": \"...\"}}' to test on Google Cloud"
        );
        return;
    }
    let config: Value = std::env::var("FAASET_GOOGLE_CONFIG")
        .ok()
        .map(|c| serde_json::from_str(&c).expect("FAASET_GOOGLE_CONFIG is a JSON object"))
        .expect("FAASET_GOOGLE_LIVE=1 needs FAASET_GOOGLE_CONFIG with the project");
    let ws = TempWorkspace::with_functions(&[]);
    let name = "faaset_live_test";
    ws.add_function_on(name, "google", &SOURCE.replace("hello_gc", name));
    let fdir = ws.file(&format!("functions/{name}"));
    ws.faaset(&["deploy", name, "--config", &config.to_string()])
        .ok();
    let first = ws
        .faaset(&["invoke", name, r#"{"name": "live"}"#])
        .ok()
        .json();
    assert_eq!(first["message"], "Hello live!", "{first}");
    assert_eq!(first["platform"], "Google Cloud Run", "{first}");
    ws.faaset(&["reconfigure", name, r#"{"memory": 1024}"#])
        .ok();
    let second = ws.faaset(&["invoke", name, "{}"]).ok().json();
    assert_eq!(second["functionMemory"], 1024, "{second}");
    ws.faaset(&[
        "experiment",
        name,
        "--threads",
        "2",
        "--runs-per-thread",
        "3",
        "--experiment-name",
        "live",
    ])
    .ok();
    let rows = read_csv(&fdir.join("experiments/live/results.csv"));
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| r["error"].is_empty()), "{rows:?}");

    // Clean up: delete the service (FaaSET has no delete verb yet).
    let settings =
        faaset::platform::google::settings::Settings::from_config(config.as_object().unwrap())
            .unwrap();
    let status = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let api =
            faaset::platform::google::api::Api::connect(&settings, &faaset::platform::ProcessEnv)
                .await
                .unwrap();
        let url = format!(
            "{}/v2/{}/services/faaset-live-test",
            api.endpoints.run,
            settings.parent()
        );
        api.http
            .delete(&url)
            .bearer_auth(api.access.expose())
            .send()
            .await
            .map(|r| r.status())
    });
    assert!(
        status.as_ref().is_ok_and(|s| s.is_success()),
        "deleting the service: {status:?}"
    );
}
