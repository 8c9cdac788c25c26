"""A loopback Azure control plane for FaaSET's contract test (tests/cli/azure.rs).

Not an emulator of Azure: a test double of the parts FaaSET uses, written from Azure's REST
documentation, the api-versions of Microsoft's own SDKs (read from the installed
azure-mgmt-resource, azure-mgmt-storage and azure-mgmt-web) and the custom handler contract,
that runs the *real* function binary from the uploaded package:

- Entra ID's token endpoint (`POST /{tenant}/oauth2/v2.0/token`): the client-credentials grant
  of the service principal this process made up at start (written to CREDENTIALS for the
  test), scope `https://management.azure.com/.default`; answers a bearer token;
- ARM: every request must carry such a token and the api-version of the SDK that owns the
  resource type; the resource group, storage account (its PUT answers 202 with a `Location`
  to poll), its keys, the blob container, the FC1 plan, the function app (its PUT answers 201
  with `Azure-AsyncOperation` to poll), its app settings, host keys and function list;
  anything else is a 400 "contract violation" and logged;
- the app's SCM site (OneDeploy): `POST /api/publish?RemoteBuild=false` with the zip (bearer
  token, `application/zip`); the deployment is polled at `/api/deployments/{id}` (status 1,
  then 4). The package is read with Python's zipfile: `host.json` must name a custom handler
  with proxying, each function folder's `function.json` an HTTP trigger;
- the app's host (`/api/<fn>` with `x-functions-key` = the host's default function key): a call
  goes to an instance of the current package, started as the Functions host starts a custom
  handler (`DefaultHttpWorkerService`): the package extracted with its Unix modes (a zip entry
  without the executable bit is not executable, and the worker does not start), a random
  `FUNCTIONS_CUSTOMHANDLER_PORT`, the app settings and `WEBSITE_SITE_NAME`, `REGION_NAME`,
  `WEBSITE_INSTANCE_ID` in the environment, cwd = the app root, readiness by polling `GET /`;
  the caller's request proxied to `/api/<fn>` with `X-Azure-Functions-InvocationId`,
  `X-Azure-Functions-HostVersion` and the host's `User-Agent`. One request at a time per
  instance unless `perInstanceConcurrency` says more; new instances under load up to
  `maximumInstanceCount`; a new package, a scale change or new app settings retire the
  instances (SIGTERM).

Usage: python azure_control_plane.py LOG CREDENTIALS
Prints `listening PORT` once ready; stops (every instance, then itself) when stdin closes. The
log gets one JSON line per request and one per started instance.
"""

import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.web import WebSiteManagementClient

LOG_PATH, CREDENTIALS_PATH = sys.argv[1:3]
LOG_LOCK = threading.Lock()
WORK = tempfile.mkdtemp(prefix="faaset-azure-plane-")
ARM_SCOPE = "https://management.azure.com/.default"
HOST_VERSION = "4.1040.300.0"
REGION_NAMES = {"eastus": "East US", "westeurope": "West Europe", "northeurope": "North Europe"}


def sdk_api_version(client_class):
    """The api-version a management client sends by default."""
    return client_class(credential=object(), subscription_id="0")._config.api_version


API = {
    "resources": sdk_api_version(ResourceManagementClient),
    "storage": sdk_api_version(StorageManagementClient),
    "web": sdk_api_version(WebSiteManagementClient),
}

TENANT = str(uuid.uuid4())
CLIENT_ID = str(uuid.uuid4())
CLIENT_SECRET = "azsecret~" + secrets.token_urlsafe(24)
SUBSCRIPTION = str(uuid.uuid4())
STORAGE_KEY = secrets.token_urlsafe(48) + "=="
TOKENS = set()


def log(entry):
    with LOG_LOCK, open(LOG_PATH, "a") as f:
        f.write(json.dumps(entry) + "\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Violation(Exception):
    pass


# ---------------------------------------------------------------------------------------
# State

LOCK = threading.Lock()
GROUPS = {}  # name (lowercase) → resource group
ACCOUNTS = {}  # account name → storage account
CONTAINERS = set()
PLANS = {}
APPS = {}  # app name → App
OPERATIONS = {}  # id → {"polls": n, "done": callable or None}
INSTANCES = []


class Instance:
    """One worker: the package's custom handler under the host's contract."""

    def __init__(self, app, root):
        self.busy = 0
        self.port = free_port()
        self.invocations = 0
        host = json.load(open(os.path.join(root, "host.json")))
        executable = host["customHandler"]["description"]["defaultExecutablePath"]
        env = {name: value for name, value in app.settings.items()}
        env.update({
            "FUNCTIONS_CUSTOMHANDLER_PORT": str(self.port),
            "WEBSITE_SITE_NAME": app.name,
            "REGION_NAME": REGION_NAMES.get(app.location, app.location),
            "WEBSITE_INSTANCE_ID": secrets.token_hex(32),
            "PATH": "/usr/bin:/bin",
        })
        try:
            self.process = subprocess.Popen(
                [os.path.join(root, executable)], cwd=root, env=env, stdin=subprocess.DEVNULL,
            )
        except OSError as e:  # not executable: the worker never starts
            log({"worker_failed": app.name, "why": repr(e)})
            raise RuntimeError(f"the custom handler could not be started: {e}")
        INSTANCES.append(self)
        log({"started": self.process.pid, "app": app.name, "port": self.port})
        # The host's readiness check: any HTTP answer to GET / (30 s, its InitializationTimeout).
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1).read()
                return
            except urllib.error.HTTPError:
                return
            except Exception:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the custom handler exited with {self.process.returncode}")
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the custom handler did not answer GET / within 30 s")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        log({"stopped": self.process.pid, "code": self.process.returncode})


class App:
    def __init__(self, name, body):
        self.name = name
        self.lock = threading.Lock()
        self.instances = []
        self.package = None  # the extracted root of the deployed zip
        self.functions = []
        self.deployments = {}
        self.site_server = start_listener(site_handler(name))
        self.scm_server = start_listener(scm_handler(name))
        self.host = f"127.0.0.1:{self.site_server.server_address[1]}"
        self.scm = f"127.0.0.1:{self.scm_server.server_address[1]}"
        self.function_key = secrets.token_urlsafe(40)
        self.update(body)

    def update(self, body):
        self.body = body
        self.location = body["location"]
        properties = body.get("properties", {})
        settings = properties.get("siteConfig", {}).get("appSettings", [])
        self.settings = {s["name"]: s["value"] for s in settings}
        self.scale = properties["functionAppConfig"]["scaleAndConcurrency"]
        self.retire()

    def resource(self, path):
        properties = dict(self.body["properties"])
        properties.pop("siteConfig", None)  # ARM does not return app settings with the site
        properties.update({
            "state": "Running",
            "defaultHostName": self.host,
            "hostNameSslStates": [
                {"name": self.host, "hostType": "Standard", "sslState": "Disabled"},
                {"name": self.scm, "hostType": "Repository", "sslState": "Disabled"},
            ],
            "provisioningState": "Succeeded",
        })
        return dict(self.body, id=path, name=self.name, type="Microsoft.Web/sites",
                    properties=properties)

    def retire(self):
        with self.lock:
            instances, self.instances = self.instances, []
        for instance in instances:
            instance.stop()

    def acquire(self):
        per = self.scale.get("triggers", {}).get("http", {}).get("perInstanceConcurrency", 1)
        limit = self.scale.get("maximumInstanceCount", 100)
        with self.lock:
            for instance in self.instances:
                if instance.busy < per and instance.process.poll() is None:
                    instance.busy += 1
                    return instance, False
            if len(self.instances) >= limit:
                return None, False
            root = self.package
        if root is None:
            raise RuntimeError("no package deployed")
        instance = Instance(self, root)
        with self.lock:
            instance.busy = 1
            self.instances.append(instance)
        return instance, True

    def release(self, instance):
        with self.lock:
            instance.busy -= 1


def start_listener(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ---------------------------------------------------------------------------------------
# The package


def read_package(data):
    """Checks the zip as the host reads it and extracts it with its Unix modes; the root and
    the functions it defines. A package the host cannot load raises Violation."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    if "host.json" not in names:
        raise Violation(f"the package has no host.json at its root: {names}")
    host = json.loads(archive.read("host.json"))
    handler = host.get("customHandler", {})
    executable = handler.get("description", {}).get("defaultExecutablePath")
    if host.get("version") != "2.0" or not executable:
        raise Violation(f"host.json is not a version 2.0 custom handler: {host}")
    if not (handler.get("enableProxyingHttpRequest") or handler.get("enableForwardingHttpRequest")):
        raise Violation("host.json does not proxy HTTP requests to the handler")
    functions = []
    for name in names:
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_-]*)/function\.json", name)
        if not m:
            continue
        bindings = json.loads(archive.read(name)).get("bindings", [])
        trigger = [b for b in bindings if b.get("type") == "httpTrigger"]
        if not trigger or trigger[0].get("authLevel") != "function":
            raise Violation(f"{name} has no httpTrigger with authLevel function: {bindings}")
        if not any(b.get("type") == "http" and b.get("direction") == "out" for b in bindings):
            raise Violation(f"{name} has no http output binding")
        functions.append(m.group(1))
    root = tempfile.mkdtemp(prefix="app-", dir=WORK)
    for info in archive.infolist():
        path = os.path.join(root, info.filename)
        if not os.path.realpath(path).startswith(root + os.sep):
            raise Violation(f"the zip entry {info.filename} leaves the app root")
        if info.is_dir():
            os.makedirs(path, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(archive.read(info))
        # As on Linux hosts: the mode stored in the entry, none when the zip has none.
        mode = (info.external_attr >> 16) & 0o777 if info.create_system == 3 else 0o644
        os.chmod(path, mode)
    return root, functions, executable


# ---------------------------------------------------------------------------------------
# ARM


def arm_error(status, code, message):
    return status, {"error": {"code": code, "message": message}}, {}


def expect_version(query, kind):
    got = dict(query).get("api-version")
    if got != API[kind]:
        raise Violation(f"api-version {got!r}, not {API[kind]!r} (the {kind} SDK's)")


def arm(method, path, query, body, base):
    parts = path.strip("/").split("/")
    if len(parts) < 4 or parts[0] != "subscriptions" or parts[1] != SUBSCRIPTION:
        if len(parts) >= 2 and parts[0] == "subscriptions":
            return arm_error(404, "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found.")
        raise Violation(f"not an ARM path: {path}")
    if parts[2] == "resourcegroups" and len(parts) == 4:
        expect_version(query, "resources")
        name = parts[3].lower()
        if method == "GET":
            group = GROUPS.get(name)
            if group is None:
                return arm_error(404, "ResourceGroupNotFound", f"Resource group '{parts[3]}' could not be found.")
            return 200, group, {}
        if method == "PUT":
            if set(body) - {"location", "tags"} or "location" not in body:
                raise Violation(f"resource group body {body}")
            GROUPS[name] = dict(body, id=path, name=parts[3], properties={"provisioningState": "Succeeded"})
            return 201, GROUPS[name], {}
        raise Violation(f"{method} {path}")
    if parts[2] != "resourceGroups" or len(parts) < 8 or parts[4] != "providers":
        raise Violation(f"not an ARM resource path (resourceGroups/…/providers/…): {path}")
    if parts[3].lower() not in GROUPS:
        return arm_error(404, "ResourceGroupNotFound", f"Resource group '{parts[3]}' could not be found.")
    provider, kind, name, rest = parts[5], parts[6], parts[7], parts[8:]
    if provider == "Microsoft.Storage" and kind == "storageAccounts":
        expect_version(query, "storage")
        return storage(method, path, query, body, name, rest, base)
    if provider == "Microsoft.Web" and kind == "serverfarms" and not rest:
        expect_version(query, "web")
        if method != "PUT":
            raise Violation(f"{method} {path}")
        if body.get("sku") != {"name": "FC1", "tier": "FlexConsumption"} or body.get("properties", {}).get("reserved") is not True:
            raise Violation(f"not a Linux FC1 plan: {body}")
        PLANS[path.lower()] = dict(body, id=path, name=name, type="Microsoft.Web/serverfarms")
        return 200, dict(PLANS[path.lower()], properties=dict(body["properties"], provisioningState="Succeeded")), {}
    if provider == "Microsoft.Web" and kind == "sites":
        expect_version(query, "web")
        return sites(method, path, body, name, rest, base)
    raise Violation(f"{provider}/{kind} is not served by the contract test")


def storage(method, path, query, body, name, rest, base):
    account_path = "/".join(path.split("/")[:9])
    if not rest:
        if method == "GET":
            account = ACCOUNTS.get(name)
            if account is None:
                return arm_error(404, "ResourceNotFound", f"The Resource 'Microsoft.Storage/storageAccounts/{name}' was not found.")
            return 200, account, {}
        if method == "PUT":
            if not re.fullmatch(r"[a-z0-9]{3,24}", name):
                return arm_error(400, "AccountNameInvalid", f"{name} is not a valid storage account name.")
            if body.get("kind") != "StorageV2" or "sku" not in body or "location" not in body:
                raise Violation(f"storage account body {body}")
            op = secrets.token_hex(8)

            def done():
                ACCOUNTS[name] = dict(body, id=account_path, name=name, type="Microsoft.Storage/storageAccounts",
                                      properties=dict(body.get("properties", {}), provisioningState="Succeeded"))
                return ACCOUNTS[name]

            OPERATIONS[op] = {"polls": 0, "done": done}
            location = f"{base}/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Storage/locations/{body['location']}/asyncoperations/{op}?monitor=true&api-version={API['storage']}"
            return 202, None, {"Location": location, "Retry-After": "0"}
    if rest == ["listKeys"] and method == "POST":
        if name not in ACCOUNTS:
            return arm_error(404, "ResourceNotFound", "no such account")
        return 200, {"keys": [{"keyName": "key1", "value": STORAGE_KEY, "permissions": "FULL"},
                              {"keyName": "key2", "value": secrets.token_urlsafe(48) + "==", "permissions": "FULL"}]}, {}
    if len(rest) == 4 and rest[:3] == ["blobServices", "default", "containers"] and method == "PUT":
        if name not in ACCOUNTS:
            return arm_error(404, "ResourceNotFound", "no such account")
        if not re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]", rest[3]):
            return arm_error(400, "ContainerNameInvalid", f"{rest[3]} is not a valid container name")
        if body != {}:
            raise Violation(f"container body {body}")
        created = path not in CONTAINERS
        CONTAINERS.add(path)
        return (201 if created else 200), {"id": path, "name": rest[3], "properties": {}}, {}
    raise Violation(f"{method} storage …/{'/'.join(rest)}")


def sites(method, path, body, name, rest, base):
    site_path = "/".join(path.split("/")[:9])
    app = APPS.get(name)
    if not rest:
        if method == "GET":
            if app is None:
                return arm_error(404, "ResourceNotFound", f"The Resource 'Microsoft.Web/sites/{name}' was not found.")
            return 200, app.resource(site_path), {}
        if method == "PUT":
            check_site(body, site_path)
            if app is None:
                with LOCK:
                    app = APPS[name] = App(name, body)
            else:
                app.update(body)
            op = secrets.token_hex(8)
            OPERATIONS[op] = {"polls": 0, "done": None}
            status_url = f"{base}/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Web/locations/{body['location']}/operationResults/{op}?api-version={API['web']}"
            return 201, app.resource(site_path), {"Azure-AsyncOperation": status_url}
        raise Violation(f"{method} {path}")
    if app is None:
        return arm_error(404, "ResourceNotFound", f"The Resource 'Microsoft.Web/sites/{name}' was not found.")
    if rest == ["config", "appsettings", "list"] and method == "POST":
        return 200, {"id": path, "name": "appsettings", "properties": app.settings}, {}
    if rest == ["config", "appsettings"] and method == "PUT":
        properties = body.get("properties")
        if set(body) != {"properties"} or not all(isinstance(v, str) for v in properties.values()):
            raise Violation(f"app settings body {body}")
        check_settings(properties)
        app.settings = dict(properties)
        app.retire()  # new app settings restart the app
        return 200, {"id": path, "name": "appsettings", "properties": app.settings}, {}
    if rest == ["host", "default", "listkeys"] and method == "POST":
        return 200, {"masterKey": secrets.token_urlsafe(40), "functionKeys": {"default": app.function_key}, "systemKeys": {}}, {}
    if rest == ["functions"] and method == "GET":
        return 200, {"value": [
            {"id": f"{site_path}/functions/{f}", "name": f"{name}/{f}", "type": "Microsoft.Web/sites/functions",
             "properties": {"name": f, "invoke_url_template": f"https://{app.host}/api/{f}", "isDisabled": False}}
            for f in app.functions
        ]}, {}
    raise Violation(f"{method} site …/{'/'.join(rest)}")


def check_site(body, site_path):
    properties = body.get("properties", {})
    if body.get("kind") != "functionapp,linux" or "location" not in body:
        raise Violation(f"not a Linux function app: kind {body.get('kind')!r}")
    plan = properties.get("serverFarmId", "")
    if plan.lower() not in PLANS:
        raise Violation(f"serverFarmId {plan!r} is not a plan of this test")
    config = properties.get("functionAppConfig", {})
    if config.get("runtime", {}).get("name") != "custom":
        raise Violation(f"functionAppConfig.runtime {config.get('runtime')}")
    memory = config.get("scaleAndConcurrency", {}).get("instanceMemoryMB")
    if memory not in (512, 2048, 4096):
        return_error = f"instanceMemoryMB {memory} is not 512, 2048 or 4096"
        raise Violation(return_error)
    storage = config.get("deployment", {}).get("storage", {})
    m = re.fullmatch(r"https://([a-z0-9]+)\.blob\.core\.windows\.net/([a-z0-9-]+)", storage.get("value", ""))
    if storage.get("type") != "blobContainer" or not m or m.group(1) not in ACCOUNTS:
        raise Violation(f"deployment storage {storage}")
    settings = {s["name"]: s["value"] for s in properties.get("siteConfig", {}).get("appSettings", [])}
    check_settings(settings)
    name = storage["authentication"]["storageAccountConnectionStringName"]
    if name not in settings:
        raise Violation(f"the deployment connection string setting {name} is not an app setting")


def check_settings(settings):
    for banned in ("FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"):
        if banned in settings:
            raise Violation(f"Flex Consumption refuses the app setting {banned}")
    expected = (f"DefaultEndpointsProtocol=https;AccountName=", f";AccountKey={STORAGE_KEY};EndpointSuffix=core.windows.net")
    storage = settings.get("AzureWebJobsStorage", "")
    if not (storage.startswith(expected[0]) and storage.endswith(expected[1])):
        raise Violation("AzureWebJobsStorage is not the account's connection string")


def operation(path):
    m = re.search(r"/(?:asyncoperations|operationResults)/([0-9a-f]+)$", path)
    op = OPERATIONS.get(m.group(1)) if m else None
    if op is None:
        return arm_error(404, "NotFound", "no such operation")
    op["polls"] += 1
    if op["polls"] < 2:
        if op["done"] is not None:
            return 202, None, {"Location": "", "Retry-After": "0"}
        return 200, {"status": "InProgress"}, {}
    if op["done"] is not None:
        return 200, op["done"](), {}
    return 200, {"status": "Succeeded"}, {}


def token_endpoint(tenant, form):
    if tenant != TENANT:
        return 400, {"error": "invalid_request", "error_description": f"AADSTS90002: Tenant '{tenant}' not found."}
    if form.get("grant_type") != "client_credentials":
        return 400, {"error": "unsupported_grant_type"}
    if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
        return 401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"}
    if form.get("scope") != ARM_SCOPE:
        return 400, {"error": "invalid_scope", "error_description": f"scope {form.get('scope')!r}"}
    token = "azure-test-token-" + secrets.token_urlsafe(32)
    TOKENS.add(token)
    return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}


def authorized(headers):
    return (headers.get("Authorization") or "").removeprefix("Bearer ") in TOKENS


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
        extra = {}
        try:
            media = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            token = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", url.path)
            if token and method == "POST":
                if media != "application/x-www-form-urlencoded":
                    raise Violation(f"token request with Content-Type {media!r}")
                entry["token_request"] = True
                status, answer = token_endpoint(token.group(1), dict(parse_qsl(raw.decode())))
            else:
                if raw and media != "application/json":
                    raise Violation(f"a body with Content-Type {media!r}, not application/json")
                body = json.loads(raw) if raw else None
                entry["body"] = body
                if not authorized(self.headers):
                    status, answer, extra = arm_error(401, "AuthenticationFailed", "Authentication failed.")
                elif "/asyncoperations/" in url.path or "/operationResults/" in url.path:
                    entry["operation"] = True
                    status, answer, extra = operation(url.path)
                else:
                    base = f"http://127.0.0.1:{PORT}"
                    status, answer, extra = arm(method, url.path, query, body, base)
        except Violation as v:
            status, answer = 400, {"error": {"code": "ContractViolation", "message": f"contract violation: {v}"}}
            entry["violation"] = str(v)
        except Exception as e:  # the plane's own failure: shown, never hidden
            status, answer = 500, {"error": {"code": "PlaneFailed", "message": f"contract plane failed: {e!r}"}}
            entry["failure"] = repr(e)
        entry["status"] = status
        log(entry)
        data = json.dumps(answer).encode() if answer is not None else b""
        self.send_response(status)
        for k, v in extra.items():
            if v:
                self.send_header(k, v)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.handle_any("GET")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_POST(self):
        self.handle_any("POST")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")


def reply(handler, status, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def scm_handler(name):
    class Scm(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            entry = {"scm": name, "method": "POST", "path": url.path, "query": parse_qsl(url.query)}
            app = APPS[name]
            try:
                if url.path != "/api/publish":
                    raise Violation(f"SCM POST {url.path}")
                if not authorized(self.headers):
                    entry["status"] = 401
                    log(entry)
                    return reply(self, 401, {"Message": "Unauthorized"})
                if dict(entry["query"]).get("RemoteBuild") != "false":
                    raise Violation("OneDeploy without RemoteBuild=false (a custom handler has nothing to build)")
                media = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                if media not in ("application/zip", "application/octet-stream"):
                    raise Violation(f"OneDeploy with Content-Type {media!r}")
                root, functions, executable = read_package(raw)
                mode = stat.S_IMODE(os.stat(os.path.join(root, executable)).st_mode)
                entry.update(functions=functions, bytes=len(raw), executable_mode=oct(mode))
                deployment = str(uuid.uuid4())
                app.deployments[deployment] = {"polls": 0, "root": root, "functions": functions}
                entry["status"] = 202
                log(entry)
                return reply(self, 202, json.dumps(deployment).encode())
            except Violation as v:
                entry.update(status=400, violation=str(v))
                log(entry)
                return reply(self, 400, {"Message": f"contract violation: {v}"})

        def do_GET(self):
            url = urlsplit(self.path)
            app = APPS[name]
            m = re.fullmatch(r"/api/deployments/([0-9a-f-]+)", url.path)
            if not m or not authorized(self.headers):
                log({"scm": name, "method": "GET", "path": url.path, "status": 404 if m is None else 401})
                return reply(self, 404 if m is None else 401, {"Message": "no"})
            deployment = app.deployments.get(m.group(1))
            if deployment is None:
                return reply(self, 404, {"Message": "no such deployment"})
            deployment["polls"] += 1
            if deployment["polls"] < 2:
                status = 1  # building/pending
            else:
                status = 4
                if app.package != deployment["root"]:
                    app.package, app.functions = deployment["root"], deployment["functions"]
                    app.retire()
            log({"scm": name, "method": "GET", "path": url.path, "status": 200, "deployment_status": status})
            return reply(self, 200, {"id": m.group(1), "status": status, "status_text": "", "complete": status == 4})

    return Scm


def site_handler(name):
    class Site(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def call(self, method):
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            app = APPS[name]
            m = re.fullmatch(r"/api/([A-Za-z0-9_-]+)", url.path)
            if not m or m.group(1) not in app.functions:
                return reply(self, 404, b"", "text/plain")
            key = self.headers.get("x-functions-key") or dict(parse_qsl(url.query)).get("code")
            if key != app.function_key:
                log({"invoke": name, "function": m.group(1), "status": 401})
                return reply(self, 401, b"", "text/plain")
            try:
                instance, cold = app.acquire()
            except Exception as e:
                log({"invoke": name, "function": m.group(1), "status": 500, "start_failed": str(e)})
                return reply(self, 500, b"", "text/plain")
            if instance is None:
                return reply(self, 429, b"", "text/plain")
            invocation = str(uuid.uuid4())
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{instance.port}{url.path}", data=body if method == "POST" else None,
                    method=method,
                    headers={
                        "Content-Type": self.headers.get("Content-Type", ""),
                        "X-Azure-Functions-InvocationId": invocation,
                        "X-Azure-Functions-HostVersion": HOST_VERSION,
                        "User-Agent": f"Azure-Functions-Host/{HOST_VERSION}",
                    },
                )
                try:
                    with urllib.request.urlopen(request, timeout=600) as r:
                        status, answer = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, answer = e.code, e.read()
            finally:
                app.release(instance)
            log({"invoke": name, "function": m.group(1), "method": method, "status": status, "cold": cold,
                 "invocation": invocation, "instance": instance.process.pid})
            reply(self, status, answer)

        def do_GET(self):
            self.call("GET")

        def do_POST(self):
            self.call("POST")

    return Site


def main():
    global PORT
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    PORT = server.server_address[1]
    with open(CREDENTIALS_PATH, "w") as f:
        json.dump({"tenant": TENANT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                   "subscription": SUBSCRIPTION, "storage_key": STORAGE_KEY, "api_versions": API}, f)
    os.chmod(CREDENTIALS_PATH, 0o600)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"listening {PORT}", flush=True)
    sys.stdin.read()  # until the test closes stdin
    for instance in INSTANCES:
        instance.stop()
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
