"""A loopback OpenWhisk control plane for FaaSET's contract test (tests/cli/openwhisk.rs).

Not an emulator of OpenWhisk: a test double of the parts of its REST API FaaSET uses, written
from the API's Swagger file and the action protocols, that runs the *real* action:

- every request is checked against the Swagger 2.0 file (path template, method, query
  parameters and their enums, the JSON body against the operation's schema with jsonschema,
  plus no property the schema does not declare); a violation is answered 400 and logged;
- HTTP Basic auth is checked against the one key the test gave (`OW_CONTRACT_AUTH`);
- `PUT .../actions/{name}` stores the zip, checks that it holds a top-level `exec` stored
  with mode 0755, unpacks it; a PUT without `exec` keeps the stored code (as the controller's
  update does) and fails for an action that does not exist;
- `POST .../actions/{name}?blocking=true` runs the unpacked `exec`: kind `blackbox` as
  dockerskeleton's proxy does (a process per call, params in argv[1] and on stdin, the last
  stdout line is the result), any other kind as the ActionLoop proxy does (one long-lived
  process per container, ack on fd 3, one JSON line per call on stdin, one result line on
  fd 3), one call at a time per container, new containers under concurrent load; a new
  action version retires the old containers. The answer is an activation record (checked
  against the Swagger `Activation` schema) with `initTime` on cold starts and `waitTime`;
  a call longer than the blocking window gets 202 and its record later from
  `GET .../activations/{id}`.

Usage: python openwhisk_control_plane.py SWAGGER LOG [BLOCKING_WINDOW_MS]; with
`OW_CONTRACT_TLS=1` it serves https with a self-signed certificate made at start (as a local
deployment does), for the `insecure` key. Prints
`listening PORT` once ready; stops (killing every process it started) when stdin closes or on
SIGTERM. The log gets one JSON line per request and one per started process.
"""

import base64
import hashlib
import io
import json
import os
import queue
import re
import signal
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

import jsonschema

SWAGGER_PATH, LOG_PATH = sys.argv[1], sys.argv[2]
BLOCKING_WINDOW_S = (int(sys.argv[3]) if len(sys.argv) > 3 else 60000) / 1000
AUTH = os.environ["OW_CONTRACT_AUTH"]
NAMESPACE = "guest"  # the namespace of the key, what `_` stands for
MB = 1024 * 1024
INFO = {
    "description": "FaaSET contract-test control plane",
    "api_paths": ["/api/v1"],
    "limits": {
        "min_action_memory": 128 * MB,
        "max_action_memory": 512 * MB,
        "min_action_duration": 100,
        "max_action_duration": 300000,
        "min_action_concurrency": 1,
        "max_action_concurrency": 1,
        "concurrent_actions": 30,
        "actions_per_minute": 600,
    },
    "runtimes": {
        "rust": [{"kind": "rust:1.34", "default": True}],
        "go": [{"kind": "go:1.20", "default": True}],
        "blackboxes": [{"prefix": "openwhisk", "name": "dockerskeleton", "tag": "latest"}],
    },
}
# Properties the controller accepts although the Swagger file does not declare them:
# `init` marks a parameter as part of the `/init` environment (newer than the Swagger file).
UNDECLARED_BUT_ACCEPTED = {("KeyValue", "init")}

with open(SWAGGER_PATH) as f:
    SWAGGER = json.load(f)
BASE = SWAGGER["basePath"]
ROUTES = []
for template, operations in SWAGGER["paths"].items():
    pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "$"
    ROUTES.append((template.count("{"), re.compile(pattern), template, operations))
ROUTES.sort(key=lambda r: r[0])  # the most specific template first

log_lock = threading.Lock()


def log(entry):
    with log_lock, open(LOG_PATH, "a") as f:
        f.write(json.dumps(entry) + "\n")


def schema_of(definition):
    return {"$ref": f"#/definitions/{definition}", "definitions": SWAGGER["definitions"]}


def undeclared(value, schema, where, found):
    """Properties of `value` that `schema` (resolved through $refs) does not declare."""
    name = None
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = SWAGGER["definitions"][name]
    if isinstance(value, dict) and "properties" in schema:
        for key, inner in value.items():
            if key in schema["properties"]:
                undeclared(inner, schema["properties"][key], f"{where}.{key}", found)
            elif (name, key) not in UNDECLARED_BUT_ACCEPTED:
                found.append(f"{where}.{key} is not declared by {name or 'the schema'}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            undeclared(item, schema["items"], f"{where}[{i}]", found)


def check_request(method, path, query, body):
    """Violations of the Swagger file by one request."""
    if not path.startswith(BASE + "/"):
        return [f"{path} is not under {BASE}"]
    rest = path[len(BASE):]
    for _, pattern, template, operations in ROUTES:
        match = pattern.match(rest)
        if not match:
            continue
        operation = operations.get(method.lower())
        if operation is None:
            return [f"{method} is not an operation of {template}"]
        params = operations.get("parameters", []) + operation.get("parameters", [])
        problems = []
        for value in match.groups():
            if not unquote(value):
                problems.append(f"an empty path segment in {path}")
        declared = {p["name"]: p for p in params if p["in"] == "query"}
        for key, value in query:
            spec = declared.get(key)
            if spec is None:
                problems.append(f"query parameter {key} is not declared for {method} {template}")
            elif "enum" in spec and value not in spec["enum"]:
                problems.append(f"query {key}={value} is not one of {spec['enum']}")
            elif spec.get("type") == "boolean" and value not in ("true", "false"):
                problems.append(f"query {key}={value} is not a boolean")
            elif spec.get("type") == "integer" and not value.isdigit():
                problems.append(f"query {key}={value} is not an integer")
        body_spec = next((p for p in params if p["in"] == "body"), None)
        if body is not None and body_spec is None:
            problems.append(f"{method} {template} takes no body")
        if body_spec is not None:
            if body is None and body_spec.get("required"):
                problems.append(f"{method} {template} needs a body")
            elif body is not None:
                schema = dict(body_spec["schema"], definitions=SWAGGER["definitions"])
                for error in jsonschema.Draft4Validator(schema).iter_errors(body):
                    problems.append(f"body: {error.message} at {list(error.path)}")
                undeclared(body, body_spec["schema"], "body", problems)
        return problems
    return [f"{path} matches no path of the Swagger file"]


def check_response(definition, value):
    errors = [e.message for e in jsonschema.Draft4Validator(schema_of(definition)).iter_errors(value)]
    if errors:
        raise AssertionError(f"the control plane answered a non-{definition}: {errors}")
    return value


class Container:
    """One ActionLoop process (`exec` with stdin and fd 3 as pipes), one call at a time."""

    def __init__(self, action):
        self.action = action
        self.busy = True
        self.started = time.time()
        stdin_r, self.stdin = os.pipe()
        self.fd3, fd3_w = os.pipe()
        env = {"PATH": "/usr/bin:/bin", "__OW_WAIT_FOR_ACK": "1"}
        env.update(action["init_env"])
        # posix_spawn rather than fork + preexec: thread-safe in this threaded server.
        self.pid = os.posix_spawn(
            action["exec"],
            [action["exec"]],
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, stdin_r, 0),
                (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, fd3_w, 3),
            ],
        )
        os.close(stdin_r)
        os.close(fd3_w)
        log({"started": self.pid, "protocol": "actionloop", "action": action["name"]})
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        ack = self.lines.get(timeout=30)
        if json.loads(ack) != {"ok": True}:
            raise RuntimeError(f"the action's first fd 3 line is not the ack: {ack}")

    def _read(self):
        with os.fdopen(self.fd3, "rb") as lines:
            for line in lines:
                self.lines.put(line.decode())
        self.lines.put(None)

    def run(self, message, timeout_s):
        os.write(self.stdin, (json.dumps(message) + "\n").encode())
        try:
            line = self.lines.get(timeout=timeout_s)
        except queue.Empty:
            self.stop()
            return None, True
        if line is None:
            self.stop()
            return {"error": "The action did not produce a valid response and exited unexpectedly."}, False
        return json.loads(line), False

    def stop(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        try:
            os.close(self.stdin)
        except OSError:
            pass


def run_dockerskeleton(action, message, timeout_s):
    """One call as dockerskeleton's actionproxy.py makes it: a process, params in argv[1] and
    stdin, the activation in __OW_*, the last stdout line the result."""
    import subprocess

    params = json.dumps(message["value"])
    env = {"PATH": "/usr/bin:/bin"}
    for key in ("action_name", "activation_id", "api_host", "namespace", "deadline", "transaction_id"):
        env["__OW_" + key.upper()] = str(message[key])
    child = subprocess.Popen(
        [action["exec"], params], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    log({"started": child.pid, "protocol": "dockerskeleton", "action": action["name"]})
    try:
        out, _ = child.communicate(params.encode(), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        return None, True
    lines = [l for l in out.decode().splitlines() if l.strip()]
    if not lines:
        return {"error": "The action did not return a dictionary."}, False
    return json.loads(lines[-1]), False


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.actions = {}
        self.containers = []
        self.activations = {}
        self.folder = tempfile.mkdtemp(prefix="faaset-ow-contract-")

    def stop_all(self):
        with self.lock:
            containers, self.containers = self.containers, []
        for c in containers:
            c.stop()

    def container(self, action):
        """An idle warm container of this action version, or None."""
        with self.lock:
            for c in self.containers:
                if c.action is action and not c.busy:
                    c.busy = True
                    return c
        return None


STATE = State()


def activate(action, params, received, activation_id):
    """Runs one activation; returns the record (blocks until done)."""
    limits = action["limits"]
    timeout_s = limits["timeout"] / 1000
    message = {
        "value": params,
        "namespace": NAMESPACE,
        "action_name": f"/{NAMESPACE}/{action['name']}",
        "api_host": f"http://127.0.0.1:{PORT}",
        "activation_id": activation_id,
        "transaction_id": uuid.uuid4().hex,
        "deadline": str(int((time.time() + timeout_s) * 1000)),
    }
    init_time = None
    start = time.time()
    wait_time = start - received
    if action["kind"] == "blackbox":
        # dockerskeleton keeps its proxy warm, but runs the binary anew per call.
        result, timed_out = run_dockerskeleton(action, message, timeout_s)
    else:
        container = STATE.container(action)
        if container is None:
            container = Container(action)
            init_time = time.time() - start
            with STATE.lock:
                STATE.containers.append(container)
        result, timed_out = container.run(message, timeout_s)
        container.busy = False
        with STATE.lock:
            current = STATE.actions.get(action["name"]) is action
        if not current and container in STATE.containers:
            with STATE.lock:
                STATE.containers.remove(container)
            container.stop()
    end = time.time()
    if timed_out:
        result = {"error": f"The action exceeded its time limits of {limits['timeout']} milliseconds."}
        status, code = "action developer error", 2
    elif isinstance(result, dict) and "error" in result:
        status, code = "application error", 1
    else:
        status, code = "success", 0
    annotations = [
        {"key": "path", "value": f"{NAMESPACE}/{action['name']}"},
        {"key": "waitTime", "value": int(wait_time * 1000)},
        {"key": "kind", "value": action["kind"]},
        {"key": "timeout", "value": timed_out},
        {"key": "limits", "value": limits},
    ]
    if init_time is not None:
        annotations.append({"key": "initTime", "value": int(init_time * 1000)})
    record = {
        "namespace": NAMESPACE,
        "name": action["name"],
        "version": action["version"],
        "subject": NAMESPACE,
        "publish": False,
        "activationId": activation_id,
        "start": int(start * 1000),
        "end": int(end * 1000),
        "duration": int((end - start) * 1000),
        "statusCode": code,
        "response": {"status": status, "statusCode": code, "success": code == 0, "result": result},
        "logs": [],
        "annotations": annotations,
    }
    return check_response("Activation", record)


def action_view(action, code):
    exec_view = {"kind": action["kind"], "binary": True}
    if action["kind"] == "blackbox":
        exec_view["image"] = action["image"]
    if code:
        exec_view["code"] = action["code"]
    return check_response(
        "Action",
        {
            "namespace": NAMESPACE,
            "name": action["name"],
            "version": action["version"],
            "publish": False,
            "exec": exec_view,
            "limits": action["limits"],
            "parameters": action["parameters"],
            "annotations": [{"key": "exec", "value": action["kind"]}],
            "updated": int(time.time() * 1000),
        },
    )


def put_action(name, query, body):
    current = STATE.actions.get(name)
    if current is not None and query.get("overwrite") != "true":
        return 409, {"error": "resource already exists"}
    exec_ = body.get("exec")
    if exec_ is None and current is None:
        return 400, {"error": "exec undefined"}
    limits = dict(current["limits"] if current else {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1})
    limits.update(body.get("limits", {}))
    lim = INFO["limits"]
    if not lim["min_action_memory"] <= limits["memory"] * MB <= lim["max_action_memory"]:
        return 400, {"error": f"memory {limits['memory']} MB exceeds allowed threshold"}
    if not lim["min_action_duration"] <= limits["timeout"] <= lim["max_action_duration"]:
        return 400, {"error": f"timeout {limits['timeout']} ms exceeds allowed threshold"}
    version = "0.0.1"
    if current is not None:
        major, minor, patch = current["version"].split(".")
        version = f"{major}.{minor}.{int(patch) + 1}"
    action = {
        "name": name,
        "version": version,
        "limits": limits,
        "parameters": body.get("parameters", current["parameters"] if current else []),
    }
    if exec_ is not None:
        if "code" not in exec_:
            return 400, {"error": "a native action needs its zip as code"}
        if exec_["kind"] == "blackbox" and exec_.get("image") != "openwhisk/dockerskeleton":
            return 400, {"error": "this control plane has only the openwhisk/dockerskeleton image"}
        if exec_["kind"] != "blackbox" and not any(
            r["kind"] == exec_["kind"] for rs in INFO["runtimes"].values() for r in rs if "kind" in r
        ):
            return 400, {"error": f"kind {exec_['kind']} is not supported"}
        # As the controller does, the code is binary when it is base64 (`binary` is ignored).
        try:
            raw = base64.b64decode(exec_["code"], validate=True)
        except ValueError:
            return 400, {"error": "the code of a native action must be a base64 zip"}
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = archive.namelist()
            if "exec" not in names:
                return 400, {"error": f"the zip has no top-level exec (it has {names})"}
            mode = (archive.getinfo("exec").external_attr >> 16) & 0o777
            if mode != 0o755:
                return 400, {"error": f"exec is stored with mode {oct(mode)}, not 0o755"}
            folder = os.path.join(STATE.folder, f"{name}-{version}")
            os.makedirs(folder)
            path = archive.extract("exec", folder)
            os.chmod(path, mode)
        action.update(kind=exec_["kind"], image=exec_.get("image"), exec=path, code=exec_["code"],
                      code_sha256=hashlib.sha256(raw).hexdigest())
    else:
        for key in ("kind", "image", "exec", "code", "code_sha256"):
            action[key] = current[key]
    action["init_env"] = {
        p["key"]: str(p["value"]) for p in action["parameters"] if p.get("init")
    }
    with STATE.lock:
        STATE.actions[name] = action
        # A new version: idle containers of the old one go now, busy ones when they finish.
        retired = [c for c in STATE.containers if c.action is not action and not c.busy]
        STATE.containers = [c for c in STATE.containers if c not in retired]
    for c in retired:
        c.stop()
    return 200, action_view(action, code=False)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, value, entry):
        data = json.dumps(value).encode()
        entry["status"] = status
        log(entry)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self, method):
        received = time.time()
        url = urlsplit(self.path)
        query_list = parse_qsl(url.query, keep_blank_values=True)
        query = dict(query_list)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        entry = {"method": method, "path": url.path, "query": query_list,
                 "content_type": self.headers.get("Content-Type")}
        if method == "GET" and url.path in ("", "/"):
            return self.answer(200, INFO, entry)
        header = self.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(AUTH.encode()).decode()
        entry["auth_ok"] = header == expected
        if header != expected:
            return self.answer(401, {"error": "The supplied authentication is invalid"}, entry)
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return self.answer(400, {"error": "the body is not JSON"}, entry)
            if method == "PUT" and isinstance(body, dict) and isinstance(body.get("exec"), dict) and "code" in body["exec"]:
                logged = json.loads(raw)
                logged["exec"]["code"] = f"<{len(body['exec']['code'])} base64 characters>"
                entry["body"] = logged
            else:
                entry["body"] = body
        violations = check_request(method, url.path, query_list, body)
        if body is not None and raw and self.headers.get("Content-Type", "").split(";")[0] != "application/json":
            violations.append("a JSON body without Content-Type: application/json")
        if violations:
            entry["violations"] = violations
            return self.answer(400, {"error": "swagger: " + "; ".join(violations)}, entry)
        if method == "GET" and url.path == BASE + "/namespaces":
            return self.answer(200, [NAMESPACE], entry)
        parts = [unquote(p) for p in url.path[len(BASE) + 1:].split("/")]
        # namespaces/{ns}/{collection}/{name}
        if len(parts) != 4 or parts[0] != "namespaces" or parts[1] not in ("_", NAMESPACE):
            return self.answer(404, {"error": "The requested resource does not exist."}, entry)
        collection, name = parts[2], parts[3]
        if collection == "actions" and method == "PUT":
            status, value = put_action(name, query, body or {})
            return self.answer(status, value, entry)
        if collection == "actions" and method == "GET":
            action = STATE.actions.get(name)
            if action is None:
                return self.answer(404, {"error": "The requested resource does not exist."}, entry)
            return self.answer(200, action_view(action, code=query.get("code") == "true"), entry)
        if collection == "actions" and method == "POST":
            action = STATE.actions.get(name)
            if action is None:
                return self.answer(404, {"error": "The requested resource does not exist."}, entry)
            params = body if body is not None else {}
            activation_id = uuid.uuid4().hex
            done = threading.Event()

            def work():
                STATE.activations[activation_id] = activate(action, params, received, activation_id)
                done.set()

            threading.Thread(target=work, daemon=True).start()
            entry["activationId"] = activation_id
            if query.get("blocking") == "true" and done.wait(BLOCKING_WINDOW_S):
                record = STATE.activations[activation_id]
                status = 200 if record["response"]["success"] else 502
                return self.answer(status, record, entry)
            # Not done within the blocking window (or not blocking): the id now, the record
            # from GET .../activations/{id} once the activation ends.
            return self.answer(202, {"activationId": activation_id}, entry)
        if collection == "actions" and method == "DELETE":
            with STATE.lock:
                action = STATE.actions.pop(name, None)
            if action is None:
                return self.answer(404, {"error": "The requested resource does not exist."}, entry)
            return self.answer(200, action_view(action, code=False), entry)
        if collection == "activations" and method == "GET":
            record = STATE.activations.get(name)
            if record is None:
                return self.answer(404, {"error": "The requested resource does not exist."}, entry)
            return self.answer(200, record, entry)
        return self.answer(404, {"error": "The requested resource does not exist."}, entry)

    def do_GET(self):
        self.handle_any("GET")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
PORT = server.server_address[1]


def self_signed_tls(folder):
    """A certificate for 127.0.0.1 signed by its own key, and an SSL context serving it."""
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


if os.environ.get("OW_CONTRACT_TLS") == "1":
    server.socket = self_signed_tls(STATE.folder).wrap_socket(server.socket, server_side=True)


def shutdown(*_):
    STATE.stop_all()
    os._exit(0)


signal.signal(signal.SIGTERM, shutdown)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"listening {PORT}", flush=True)
sys.stdin.read()
shutdown()
