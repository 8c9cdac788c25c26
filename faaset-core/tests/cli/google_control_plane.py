"""A loopback Google control plane for FaaSET's contract test (tests/cli/google.rs).

Not an emulator of Google Cloud: a test double of the parts FaaSET uses, written from the
discovery documents shipped in PyPI google-api-python-client (`run.v2.json`,
`artifactregistry.v1.json`) and Cloud Run's container contract, that runs the *real* image:

- the OAuth2 token endpoint (`POST /token`): the JWT assertion is verified with google-auth
  against the service-account key this process generated (written to KEY_FILE for FaaSET);
  `scope` assertions get an access token, `target_audience` ones an ID token (a JWT this
  plane signs with its own key, checked again on every call of a private service);
- every Admin API and Artifact Registry request is matched to a discovery method (HTTP
  method, path template, path-parameter pattern, query parameters the method declares) and
  its body is validated with jsonschema against the method's request schema, converted from
  the discovery schema with no undeclared property and no output-only (`readOnly`) field; a
  violation is answered 400 and logged. Every answer is validated against its response
  schema too;
- `PATCH services/{s}?allowMissing=true` needs the image pinned by digest in the test's
  registry; it is pulled with skopeo and unpacked with umoci, and a new revision replaces the
  old one (its instances get SIGTERM). Operations are `done: false` on their first poll;
- each service has its own loopback URL (`uri`); a POST there goes to an instance of the
  current revision: the unpacked `/bootstrap` run (chrooted into the rootfs when root) with
  `PORT`, `K_SERVICE`, `K_REVISION`, `K_CONFIGURATION` and the container's env, one request at
  a time per instance (`maxInstanceRequestConcurrency` 1), new instances under load up to
  `maxInstanceCount`.

Usage: python google_control_plane.py RUN_JSON ARTIFACT_JSON LOG KEY_FILE REGISTRY [ADC_FILE]
ADC_FILE, if given, gets gcloud application-default credentials of a user (`authorized_user`:
client id and secret, a refresh token) that the token endpoint also honours.
Prints `listening PORT` once ready; stops (SIGTERM to every instance, then SIGKILL) when stdin
closes. The log gets one JSON line per request and one per started instance.
"""

import base64
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import jsonschema
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt

RUN_DOC, ARTIFACT_DOC, LOG_PATH, KEY_FILE, REGISTRY = sys.argv[1:6]
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
CLIENT_EMAIL = "faaset-test@contract-test.iam.gserviceaccount.com"
LOG_LOCK = threading.Lock()
WORK = tempfile.mkdtemp(prefix="faaset-google-plane-")
# Found before instances get Cloud Run's environment (whose PATH is the image's).
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"


def log(entry):
    with LOG_LOCK, open(LOG_PATH, "a") as f:
        f.write(json.dumps(entry) + "\n")


def pem_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, public


# The test's service-account key (made now, never stored anywhere but KEY_FILE) and the
# plane's own key, which signs the ID tokens it issues.
SA_KEY_ID = secrets.token_hex(20)
SA_PRIVATE, SA_PUBLIC = pem_pair()
PLANE_KEY_ID = secrets.token_hex(20)
PLANE_PRIVATE, PLANE_PUBLIC = pem_pair()
PLANE_SIGNER = crypt.RSASigner.from_string(PLANE_PRIVATE, PLANE_KEY_ID)
ACCESS_TOKENS = set()
ADC_FILE = sys.argv[6] if len(sys.argv) > 6 else None
USER_EMAIL = "researcher@example.org"
USER = {
    "client_id": "764086051850-" + secrets.token_hex(8) + ".apps.googleusercontent.com",
    "client_secret": "d-" + secrets.token_urlsafe(18),
    "refresh_token": "1//" + secrets.token_urlsafe(48),
}


# ---------------------------------------------------------------------------------------
# Discovery documents → routes and JSON schemas


def load_api(path, prefix):
    with open(path) as f:
        doc = json.load(f)
    routes = []

    def walk(resource):
        for method in resource.get("methods", {}).values():
            pattern = re.sub(r"\\{[^}]+\\}", "([^/]+)", re.escape(method["flatPath"]))
            routes.append(
                {
                    "id": method["id"],
                    "http": method["httpMethod"],
                    "regex": re.compile("^/" + pattern + "$"),
                    "params": method.get("parameters", {}),
                    "path": method["path"],
                    "path_regex": re.compile(
                        "^/" + re.sub(r"\\\{(?:\\\+)?([A-Za-z_]+)\\\}", r"(?P<\1>.+)", re.escape(method["path"])) + "$"
                    ),
                    "request": method.get("request", {}).get("$ref"),
                    "response": method.get("response", {}).get("$ref"),
                }
            )
        for child in resource.get("resources", {}).values():
            walk(child)

    walk(doc)
    return {"doc": doc, "routes": routes, "prefix": prefix, "global": set(doc.get("parameters", {}))}


def to_json_schema(schema, request):
    """A discovery schema as JSON Schema: `$ref`s into definitions, no undeclared properties,
    and for requests no output-only field."""
    if "$ref" in schema:
        return {"$ref": "#/definitions/" + schema["$ref"]}
    kind = schema.get("type")
    if kind == "any":
        return {}
    out = {}
    if kind:
        out["type"] = kind
    if "enum" in schema:
        out["enum"] = schema["enum"]
    if schema.get("format") == "google-duration":
        out["pattern"] = r"^-?[0-9]+(\.[0-9]{1,9})?s$"
    if schema.get("format") in ("int64", "uint64"):
        # JSON carries 64-bit integers as strings; numbers are accepted too.
        out["type"] = ["string", "integer"]
    if "properties" in schema:
        props = {}
        for name, sub in schema["properties"].items():
            props[name] = False if (request and sub.get("readOnly")) else to_json_schema(sub, request)
        out["properties"] = props
        out["additionalProperties"] = False
    if "additionalProperties" in schema:
        out["additionalProperties"] = to_json_schema(schema["additionalProperties"], request)
    if "items" in schema:
        out["items"] = to_json_schema(schema["items"], request)
    return out


def validator(api, ref, request):
    definitions = {
        name: to_json_schema(s, request) for name, s in api["doc"]["schemas"].items()
    }
    return jsonschema.Draft7Validator({"$ref": "#/definitions/" + ref, "definitions": definitions})


RUN = load_api(RUN_DOC, "/v2/")
ARTIFACT = load_api(ARTIFACT_DOC, "/v1/")


class Violation(Exception):
    pass


def match(api, method, path, query, body):
    """The discovery method of a request, after checking it; raises Violation."""
    for route in api["routes"]:
        m = route["regex"].match(path)
        if not m or route["http"] != method:
            continue
        for name, value in query:
            spec = route["params"].get(name)
            if name in api["global"]:
                continue
            if spec is None or spec.get("location") != "query":
                raise Violation(f"{route['id']}: query parameter {name!r} is not declared")
            if spec.get("type") == "boolean" and value not in ("true", "false"):
                raise Violation(f"{route['id']}: {name}={value!r} is not a boolean")
            if spec.get("type") == "integer" and not value.isdigit():
                raise Violation(f"{route['id']}: {name}={value!r} is not an integer")
        # Path parameters (the `{+name}` parts of the method's path) against their patterns.
        values = route["path_regex"].match(path)
        if not values:
            raise Violation(f"{route['id']}: {path} does not fit {route['path']}")
        for name, value in values.groupdict().items():
            pattern = route["params"].get(name, {}).get("pattern")
            if pattern and not re.match(pattern, value):
                raise Violation(f"{route['id']}: {name}={value!r} does not match {pattern}")
        if route["request"]:
            if body is None:
                raise Violation(f"{route['id']}: no JSON body")
            errors = sorted(validator(api, route["request"], True).iter_errors(body), key=str)
            if errors:
                e = errors[0]
                hint = " (an output-only field)" if "False schema" in e.message else ""
                raise Violation(f"{route['id']}: body invalid at {e.json_path}: {e.message}{hint}")
        elif body is not None:
            raise Violation(f"{route['id']}: a body where the method takes none")
        return route
    raise Violation(f"no discovery method for {method} {path}")


def check_response(api, route, answer):
    if route["response"]:
        errors = list(validator(api, route["response"], False).iter_errors(answer))
        if errors:
            raise AssertionError(f"the plane's own answer to {route['id']} is invalid: {errors[0].message}")


# ---------------------------------------------------------------------------------------
# State: repositories, services, revisions, instances

LOCK = threading.Lock()
REPOSITORIES = {}
SERVICES = {}  # name → {"service": dict, "revision": Revision, "server": ..., "generation": n}
OPERATIONS = {}  # name → {"polls": n, "response": dict, "api": "run"|"artifact"}
INSTANCES = []  # every Instance ever started


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def new_operation(parent, response, kind, error=None):
    name = f"{parent}/operations/{secrets.token_hex(8)}"
    OPERATIONS[name] = {"polls": 0, "response": response, "kind": kind, "error": error}
    return {"name": name, "done": False, "metadata": {"@type": kind}}


def operation_state(name):
    op = OPERATIONS.get(name)
    if op is None:
        return None
    op["polls"] += 1
    done = op["polls"] >= 1
    answer = {"name": name, "done": done, "metadata": {"@type": op["kind"]}}
    if done and op["error"]:
        answer["error"] = op["error"]
    elif done:
        answer["response"] = dict(op["response"], **{"@type": op["kind"]})
    return answer


def pull_and_unpack(image):
    """skopeo copy from the test registry into an OCI layout, umoci unpack into a bundle;
    the rootfs path."""
    prefix = REGISTRY + "/"
    if not image.startswith(prefix) or "@sha256:" not in image:
        raise Violation(f"image {image!r} is not pinned by digest in the test registry {REGISTRY}")
    digest = image.split("@", 1)[1]
    target = os.path.join(WORK, digest.replace(":", "-"))
    rootfs = os.path.join(target, "bundle", "rootfs")
    if os.path.isdir(rootfs):
        return rootfs
    layout = os.path.join(target, "layout")
    os.makedirs(target, exist_ok=True)
    subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", "docker://" + image, f"oci:{layout}:run"],
        check=True, capture_output=True, timeout=120,
    )
    unpack = ["umoci", "unpack", "--image", f"{layout}:run", os.path.join(target, "bundle")]
    if os.geteuid() != 0:
        unpack.insert(2, "--rootless")
    subprocess.run(unpack, check=True, capture_output=True, timeout=120)
    log({"unpacked": image, "rootfs": rootfs})
    return rootfs


class Instance:
    """One container: the unpacked /bootstrap serving HTTP on its own PORT."""

    def __init__(self, service_id, revision, rootfs, container):
        self.busy = True
        self.port = free_port()
        env = {
            "PORT": str(self.port),
            "K_SERVICE": service_id,
            "K_REVISION": revision,
            "K_CONFIGURATION": service_id,
            "PATH": "/",
        }
        for var in container.get("env", []):
            env[var["name"]] = var.get("value", "")
        if os.geteuid() == 0:
            command = [CHROOT, rootfs, "/bootstrap"]
        else:
            command = [os.path.join(rootfs, "bootstrap")]
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
        INSTANCES.append(self)
        log({"started": self.process.pid, "revision": revision, "port": self.port})
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1).read()
                return
            except Exception:
                if self.process.poll() is not None:
                    raise RuntimeError(f"/bootstrap exited with {self.process.returncode}")
                time.sleep(0.05)
        raise RuntimeError("/bootstrap did not answer GET / within 20 s")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        log({"stopped": self.process.pid, "code": self.process.returncode})


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Revision:
    def __init__(self, service_id, name, service):
        self.service_id = service_id
        self.name = name
        self.template = service["template"]
        self.container = self.template["containers"][0]
        self.rootfs = pull_and_unpack(self.container["image"])
        self.instances = []
        self.lock = threading.Lock()
        self.max = self.template.get("scaling", {}).get("maxInstanceCount", 100)

    def acquire(self):
        with self.lock:
            for instance in self.instances:
                if not instance.busy and instance.process.poll() is None:
                    instance.busy = True
                    return instance, False
            if len(self.instances) >= self.max:
                return None, False
        instance = Instance(self.service_id, self.name, self.rootfs, self.container)
        with self.lock:
            self.instances.append(instance)
        return instance, True

    def release(self, instance):
        with self.lock:
            instance.busy = False

    def retire(self):
        with self.lock:
            instances, self.instances = self.instances, []
        for instance in instances:
            instance.stop()


# ---------------------------------------------------------------------------------------
# The service URLs: one loopback listener per service


def service_handler(name):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            entry = SERVICES[name]
            service = entry["service"]
            status, answer = 200, b""
            if not service.get("invokerIamDisabled"):
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                try:
                    # A service account's token is for the service URL; a user's (gcloud) for
                    # the gcloud client, which Cloud Run accepts from a user with run.invoker.
                    claims = jwt.decode(
                        token, certs={PLANE_KEY_ID: PLANE_PUBLIC},
                        audience=[service["uri"], USER["client_id"]],
                    )
                    expected = {service["uri"]: CLIENT_EMAIL, USER["client_id"]: USER_EMAIL}
                    if claims.get("email") != expected.get(claims.get("aud")):
                        raise ValueError("not the test's account for that audience")
                except Exception as e:
                    log({"invoke": name, "status": 401, "why": str(e)})
                    return self.reply(401, json.dumps({"error": "no valid ID token"}).encode())
            revision = entry["revision"]
            try:
                instance, cold = revision.acquire()
            except Exception as e:
                log({"invoke": name, "status": 500, "failure": repr(e)})
                return self.reply(500, json.dumps({"error": f"the instance did not start: {e!r}"}).encode())
            if instance is None:
                return self.reply(429, b'{"error": "no instance available"}')
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{instance.port}/", data=body, method="POST",
                    headers={
                        "Content-Type": self.headers.get("Content-Type", ""),
                        "X-Cloud-Trace-Context": self.headers.get("X-Cloud-Trace-Context", ""),
                    },
                )
                try:
                    with urllib.request.urlopen(request, timeout=600) as r:
                        status, answer = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, answer = e.code, e.read()
            finally:
                revision.release(instance)
            log({"invoke": name, "status": status, "revision": revision.name, "cold": cold,
                 "trace": self.headers.get("X-Cloud-Trace-Context"),
                 "authorized": "Authorization" in self.headers})
            self.reply(status, answer)

        def reply(self, status, body):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def start_service_listener(name):
    server = ThreadingHTTPServer(("127.0.0.1", 0), service_handler(name))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ---------------------------------------------------------------------------------------
# The control plane


def google_error(code, status, message):
    return code, {"error": {"code": code, "message": message, "status": status}}


def run_api(method, path, query, body, route):
    rid = route["id"]
    parts = path[len("/v2/"):].split("/")
    if rid == "run.projects.locations.services.list":
        parent = "/".join(parts[:4])
        items = [e["service"] for n, e in SERVICES.items() if n.startswith(parent + "/")]
        return 200, {"services": items[:1]} if items else {}
    if rid == "run.projects.locations.services.get":
        name = "/".join(parts)
        entry = SERVICES.get(name)
        if entry is None:
            return google_error(404, "NOT_FOUND", f"Resource '{parts[-1]}' of kind 'SERVICE' in region '{parts[3]}' in project '{parts[1]}' does not exist.")
        return 200, entry["service"]
    if rid == "run.projects.locations.services.patch":
        name = "/".join(parts)
        q = dict(query)
        if body.get("name") not in (None, name):
            raise Violation(f"body name {body.get('name')!r} differs from the path {name}")
        with LOCK:
            entry = SERVICES.get(name)
            if entry is None and q.get("allowMissing") != "true":
                return google_error(404, "NOT_FOUND", f"service {name} does not exist")
            if entry is None:
                server = start_service_listener(name)
                entry = {"server": server, "generation": 0, "revision": None, "uid": secrets.token_hex(16),
                         "create": now_rfc3339()}
                SERVICES[name] = entry
            entry["generation"] += 1
            service_id = parts[-1]
            revision_name = f"{service_id}-{entry['generation']:05d}-{secrets.token_hex(2)[:3]}"
            parent = "/".join(parts[:4])
            container = body["template"]["containers"][0]
            if any(v["name"] == "CONTRACT_TEST_FAIL_START" for v in container.get("env", [])):
                # A revision whose container does not start: Cloud Run fails the operation and
                # keeps serving the last ready revision.
                message = (f"Revision '{revision_name}' is not ready and cannot serve traffic. The "
                           "user-provided container failed to start and listen on the port defined "
                           "provided by the PORT=8080 environment variable.")
                entry["service"] = dict(entry.get("service") or body,
                                        latestCreatedRevision=f"{name}/revisions/{revision_name}")
                return 200, new_operation(parent, entry["service"], "type.googleapis.com/google.cloud.run.v2.Service",
                                          error={"code": 9, "message": message})
            revision = Revision(service_id, revision_name, body)
            old, entry["revision"] = entry["revision"], revision
            uri = f"http://127.0.0.1:{entry['server'].server_address[1]}"
            entry["service"] = dict(
                body,
                name=name,
                uid=entry["uid"],
                generation=str(entry["generation"]),
                observedGeneration=str(entry["generation"]),
                createTime=entry["create"],
                updateTime=now_rfc3339(),
                uri=uri,
                urls=[uri],
                latestReadyRevision=f"{name}/revisions/{revision_name}",
                latestCreatedRevision=f"{name}/revisions/{revision_name}",
                terminalCondition={"type": "Ready", "state": "CONDITION_SUCCEEDED",
                                   "lastTransitionTime": now_rfc3339()},
                reconciling=False,
            )
        if old is not None:
            old.retire()
        return 200, new_operation(parent, entry["service"], "type.googleapis.com/google.cloud.run.v2.Service")
    if rid == "run.projects.locations.operations.get":
        state = operation_state("/".join(parts))
        if state is None:
            return google_error(404, "NOT_FOUND", "no such operation")
        return 200, state
    raise Violation(f"{rid} is not served by the contract test")


def artifact_api(method, path, query, body, route):
    rid = route["id"]
    parts = path[len("/v1/"):].split("/")
    if rid == "artifactregistry.projects.locations.repositories.get":
        repo = REPOSITORIES.get("/".join(parts))
        if repo is None:
            return google_error(404, "NOT_FOUND", f"Requested entity was not found.")
        return 200, repo
    if rid == "artifactregistry.projects.locations.repositories.create":
        parent = "/".join(parts[:4])
        repo_id = dict(query).get("repositoryId", "")
        if not re.match(r"^[a-z]([a-z0-9-]*[a-z0-9])?$", repo_id):
            return google_error(400, "INVALID_ARGUMENT", f"invalid repositoryId {repo_id!r}")
        name = f"{parent}/repositories/{repo_id}"
        if name in REPOSITORIES:
            return google_error(409, "ALREADY_EXISTS", "the repository already exists")
        REPOSITORIES[name] = dict(body, name=name, createTime=now_rfc3339(), updateTime=now_rfc3339(),
                                  registryUri=f"{parts[3]}-docker.pkg.dev/{parts[1]}/{repo_id}")
        return 200, new_operation(parent, REPOSITORIES[name], "type.googleapis.com/google.devtools.artifactregistry.v1.Repository")
    if rid == "artifactregistry.projects.locations.operations.get":
        state = operation_state("/".join(parts))
        if state is None:
            return google_error(404, "NOT_FOUND", "no such operation")
        return 200, state
    raise Violation(f"{rid} is not served by the contract test")


def refresh_grant(form):
    """gcloud's user credentials: the refresh token for an access token and an ID token whose
    audience is the gcloud client (as Google's endpoint answers a refresh with `openid`)."""
    if any(form.get(k) != v for k, v in USER.items()):
        return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
    now = int(time.time())
    id_token = jwt.encode(PLANE_SIGNER, {
        "iss": "https://accounts.google.com", "aud": USER["client_id"], "azp": USER["client_id"],
        "email": USER_EMAIL, "email_verified": True, "sub": "2" * 21, "iat": now, "exp": now + 3600,
    }).decode()
    token = "ya29.test-" + secrets.token_urlsafe(32)
    ACCESS_TOKENS.add(token)
    log({"token": "refresh"})
    return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer",
                 "id_token": id_token, "scope": f"openid {SCOPE}"}


def token_endpoint(form):
    grant = form.get("grant_type")
    if grant == "refresh_token":
        return refresh_grant(form)
    if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
        return 400, {"error": "unsupported_grant_type"}
    token_uri = f"http://127.0.0.1:{PORT}/token"
    try:
        claims = jwt.decode(form.get("assertion", ""), certs={SA_KEY_ID: SA_PUBLIC}, audience=token_uri)
    except Exception as e:
        return 400, {"error": "invalid_grant", "error_description": f"Invalid JWT: {e}"}
    header = json.loads(base64.urlsafe_b64decode(form["assertion"].split(".")[0] + "=="))
    if header != {"alg": "RS256", "typ": "JWT", "kid": SA_KEY_ID} or claims.get("iss") != CLIENT_EMAIL:
        return 400, {"error": "invalid_grant", "error_description": f"bad header or issuer: {header} {claims}"}
    if claims["exp"] - claims["iat"] > 3600:
        return 400, {"error": "invalid_grant", "error_description": "exp more than an hour after iat"}
    log({"token": "id" if "target_audience" in claims else "access", "claims": claims})
    if "target_audience" in claims:
        now = int(time.time())
        id_token = jwt.encode(PLANE_SIGNER, {
            "iss": "https://accounts.google.com", "aud": claims["target_audience"], "azp": CLIENT_EMAIL,
            "email": CLIENT_EMAIL, "email_verified": True, "sub": "1" * 21, "iat": now, "exp": now + 3600,
        }).decode()
        return 200, {"id_token": id_token}
    if claims.get("scope") != SCOPE:
        return 400, {"error": "invalid_scope", "error_description": f"scope {claims.get('scope')!r}"}
    token = "ya29.test-" + secrets.token_urlsafe(32)
    ACCESS_TOKENS.add(token)
    return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self, method):
        url = urlsplit(self.path)
        query = parse_qsl(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        entry = {"method": method, "path": url.path, "query": query}
        try:
            media = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if url.path == "/token" and method == "POST":
                if media != "application/x-www-form-urlencoded":
                    raise Violation(f"token request with Content-Type {media!r}")
                form = dict(parse_qsl(raw.decode()))
                status, answer = token_endpoint(form)
                entry["token_request"] = True
            else:
                if raw and media != "application/json":
                    raise Violation(f"a body with Content-Type {media!r}, not application/json")
                body = json.loads(raw) if raw else None
                entry["body"] = body
                api = RUN if url.path.startswith("/v2/") else ARTIFACT if url.path.startswith("/v1/") else None
                if api is None:
                    raise Violation(f"unknown path {url.path}")
                auth = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if auth not in ACCESS_TOKENS:
                    status, answer = google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
                else:
                    route = match(api, method, url.path, query, body)
                    entry["method_id"] = route["id"]
                    status, answer = (run_api if api is RUN else artifact_api)(method, url.path, query, body, route)
                    if status == 200:
                        check_response(api, route, answer)
        except Violation as v:
            status, answer = 400, {"error": {"code": 400, "message": f"contract violation: {v}", "status": "INVALID_ARGUMENT"}}
            entry["violation"] = str(v)
        except Exception as e:  # the plane's own failure: shown, never hidden
            status, answer = 500, {"error": {"code": 500, "message": f"contract plane failed: {e!r}", "status": "INTERNAL"}}
            entry["failure"] = repr(e)
        entry["status"] = status
        log(entry)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main():
    global PORT
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    PORT = server.server_address[1]
    key = {
        "type": "service_account", "project_id": "contract-test", "private_key_id": SA_KEY_ID,
        "private_key": SA_PRIVATE, "client_email": CLIENT_EMAIL, "client_id": "1" * 21,
        "token_uri": f"http://127.0.0.1:{PORT}/token",
    }
    with open(KEY_FILE, "w") as f:
        json.dump(key, f)
    os.chmod(KEY_FILE, 0o600)
    if ADC_FILE:
        with open(ADC_FILE, "w") as f:
            json.dump(dict(USER, type="authorized_user", quota_project_id="contract-test"), f)
        os.chmod(ADC_FILE, 0o600)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"listening {PORT}", flush=True)
    sys.stdin.read()  # until the test closes stdin
    for instance in INSTANCES:
        instance.stop()
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
