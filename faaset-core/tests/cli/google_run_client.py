"""What Google's own client sends: PyPI google-cloud-run (REST transport) against a loopback
recorder, for the same service FaaSET sent (tests/cli/google.rs compares the two).

Usage: python google_run_client.py SERVICE_JSON NAME
SERVICE_JSON is the body of FaaSET's PATCH, NAME the service's resource name (its path). The script creates, updates (allow_missing) and
gets that service with `run_v2.ServicesClient` over `ServicesRestTransport` (url_scheme http,
anonymous credentials) against a recorder on 127.0.0.1 that answers done operations and the
service. It prints one JSON object: the recorded requests (method, path, query) and each body
normalised through the Service protobuf (enum names, camelCase, defaults dropped), plus
FaaSET's body normalised the same way, so the comparison does not depend on how either side
spells enums (the client sends integers: `$alt=json;enum-encoding=int`).
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import run_v2
from google.cloud.run_v2.services.services.transports.rest import ServicesRestTransport
from google.protobuf import json_format

with open(sys.argv[1]) as f:
    FAASET_BODY = json.load(f)
NAME = sys.argv[2]
PARENT, SERVICE_ID = NAME.rsplit("/services/", 1)
RECORDED = []


def normalised(body):
    message = run_v2.Service.pb(run_v2.Service())
    json_format.ParseDict(body, message, ignore_unknown_fields=False)
    return json_format.MessageToDict(message)


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
            "method": self.command,
            "path": url.path,
            "query": parse_qsl(url.query, keep_blank_values=True),
            "body": body,
            "content_type": self.headers.get("Content-Type"),
        })
        service = dict(FAASET_BODY, name=NAME, uri="http://127.0.0.1:1")
        if self.command == "GET":
            data = service
        else:
            data = {"name": f"{PARENT}/operations/op1", "done": True,
                    "response": dict(service, **{"@type": "type.googleapis.com/google.cloud.run.v2.Service"})}
        out = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PATCH = answer


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_address[1]}"
    transport = ServicesRestTransport(host=host, url_scheme="http", credentials=AnonymousCredentials())
    client = run_v2.ServicesClient(transport=transport, client_options=ClientOptions(api_endpoint=host))
    service = run_v2.Service.from_json(json.dumps(FAASET_BODY))
    # Create ignores `name` (composed from parent and service_id); update needs it for the path.
    client.create_service(parent=PARENT, service=service, service_id=SERVICE_ID).result(timeout=30)
    named = run_v2.Service.from_json(json.dumps(dict(FAASET_BODY, name=NAME)))
    client.update_service(
        request=run_v2.UpdateServiceRequest(service=named, allow_missing=True)
    ).result(timeout=30)
    client.get_service(name=NAME)
    server.shutdown()
    for r in RECORDED:
        r["normalised"] = normalised(r["body"]) if r["body"] is not None else None
    print(json.dumps({"requests": RECORDED, "faaset_normalised": normalised(FAASET_BODY)}))


if __name__ == "__main__":
    main()
