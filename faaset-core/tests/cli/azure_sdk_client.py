"""What Microsoft's own SDKs send: azure-mgmt-resource, azure-mgmt-storage and azure-mgmt-web
against a loopback recorder, for the operations FaaSET makes (tests/cli/azure.rs compares the
two, request by request).

Usage: python azure_sdk_client.py SPEC_JSON
SPEC_JSON holds the inputs of one deployment: subscription, resource_group, location,
storage_account, container, app, memory, max_instances, concurrency, runtime_version,
container_url, app_settings (the app's, as name/value pairs: the values FaaSET chose, which this test
does not second-guess; their shape, `siteConfig.appSettings` as NameValuePair, is the SDK's)
and app_settings_update (the same for the app settings PUT).
Each resource is built from these inputs with the SDK's models and sent with the SDK's
operation (its default api-version, its path spelling, its serialisation) to a recorder on
127.0.0.1 that answers finished resources. Prints one JSON object: {"requests": [...]}, each
with the operation's name, method, path, query and body.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources import models as rm
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.storage import models as sm
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web import models as wm

with open(sys.argv[1]) as f:
    SPEC = json.load(f)
RECORDED = []
CURRENT = {"op": None}


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self):
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        RECORDED.append({
            "op": CURRENT["op"],
            "method": self.command,
            "path": url.path,
            "query": parse_qsl(url.query, keep_blank_values=True),
            "body": body,
            "content_type": self.headers.get("Content-Type"),
        })
        # A finished resource (a copy: the recorded body stays as sent).
        answer = json.loads(raw) if raw else {}
        if isinstance(answer, dict):
            properties = answer.get("properties")
            answer["properties"] = dict(properties) if isinstance(properties, dict) else {}
            answer["properties"]["provisioningState"] = "Succeeded"
            answer.update(id=url.path, name=url.path.rsplit("/", 1)[-1])
            answer.setdefault("keys", [])
            answer.setdefault("value", [])
        out = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_PUT = do_POST = do_PATCH = answer


class Credential:
    """Never asked: the bearer header comes from the policy below (azure-core refuses bearer
    tokens over plain http, and the recorder is plain http)."""

    def get_token(self, *args, **kwargs):
        raise AssertionError("no token is needed against the recorder")


class Bearer(SansIOHTTPPolicy):
    def on_request(self, request):
        request.http_request.headers["Authorization"] = "Bearer recorder"


def run(op, call):
    CURRENT["op"] = op
    result = call()
    if hasattr(result, "result"):
        result.result()
    elif hasattr(result, "__iter__") and not isinstance(result, (dict, str)):
        list(result)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = dict(base_url=f"http://127.0.0.1:{server.server_address[1]}",
                   authentication_policy=Bearer(), polling_interval=0)
    s = SPEC
    sub, rg, location, app = s["subscription"], s["resource_group"], s["location"], s["app"]
    tags = {"managed-by": "faaset"}
    resources = ResourceManagementClient(Credential(), sub, **options)
    storage = StorageManagementClient(Credential(), sub, **options)
    web = WebSiteManagementClient(Credential(), sub, **options)

    run("resource_groups.get", lambda: resources.resource_groups.get(rg))
    run("resource_groups.create_or_update", lambda: resources.resource_groups.create_or_update(
        rg, rm.ResourceGroup(location=location, tags=tags)))
    run("storage_accounts.get_properties", lambda: storage.storage_accounts.get_properties(rg, s["storage_account"]))
    run("storage_accounts.begin_create", lambda: storage.storage_accounts.begin_create(
        rg, s["storage_account"], sm.StorageAccountCreateParameters(
            sku=sm.Sku(name="Standard_LRS"), kind="StorageV2", location=location, tags=tags,
            allow_blob_public_access=False, minimum_tls_version="TLS1_2")))
    run("storage_accounts.list_keys", lambda: storage.storage_accounts.list_keys(rg, s["storage_account"]))
    run("blob_containers.create", lambda: storage.blob_containers.create(
        rg, s["storage_account"], s["container"], sm.BlobContainer()))
    run("app_service_plans.begin_create_or_update", lambda: web.app_service_plans.begin_create_or_update(
        rg, app, wm.AppServicePlan(location=location, kind="functionapp", tags=tags, reserved=True,
                                   sku=wm.SkuDescription(name="FC1", tier="FlexConsumption"))))
    plan_id = (f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Web/serverfarms/{app}")
    site = wm.Site(
        location=location, kind="functionapp,linux", tags=tags, server_farm_id=plan_id, https_only=True,
        function_app_config=wm.FunctionAppConfig(
            runtime=wm.FunctionsRuntime(name="custom", version=s["runtime_version"]),
            scale_and_concurrency=wm.FunctionsScaleAndConcurrency(
                instance_memory_mb=s["memory"], maximum_instance_count=s["max_instances"],
                triggers=wm.FunctionsScaleAndConcurrencyTriggers(
                    http=wm.FunctionsScaleAndConcurrencyTriggersHttp(per_instance_concurrency=s["concurrency"]))),
            deployment=wm.FunctionsDeployment(storage=wm.FunctionsDeploymentStorage(
                type="blobContainer", value=s["container_url"],
                authentication=wm.FunctionsDeploymentStorageAuthentication(
                    type="StorageAccountConnectionString",
                    storage_account_connection_string_name="DEPLOYMENT_STORAGE_CONNECTION_STRING")))),
        site_config=wm.SiteConfig(app_settings=[wm.NameValuePair(name=n, value=v) for n, v in s["app_settings"]]),
    )
    run("web_apps.begin_create_or_update", lambda: web.web_apps.begin_create_or_update(rg, app, site))
    run("web_apps.get", lambda: web.web_apps.get(rg, app))
    run("web_apps.list_functions", lambda: web.web_apps.list_functions(rg, app))
    run("web_apps.list_host_keys", lambda: web.web_apps.list_host_keys(rg, app))
    run("web_apps.list_application_settings", lambda: web.web_apps.list_application_settings(rg, app))
    run("web_apps.update_application_settings", lambda: web.web_apps.update_application_settings(
        rg, app, wm.StringDictionary(properties=dict(s["app_settings_update"]))))
    server.shutdown()
    print(json.dumps({"requests": RECORDED}))


if __name__ == "__main__":
    main()
