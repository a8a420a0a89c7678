"""A fake Salesforce for fetch tests: real HTTPS on 127.0.0.1 with a certificate made at test time.

It implements what simple-salesforce and the fetcher call: SOAP password login, the OAuth token
endpoint (client credentials, JWT bearer), SOQL query with nextRecordsUrl pagination, and the
EventLogFile LogFile download, plus injected faults (401, 429, 500, short body, slow response).
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import trustme

ORG_ID = "00D5g000004XyZaEAK"


@dataclass
class LogFile:
    id: str
    event_type: str
    log_date: str
    interval: str
    sequence: int | str  # served as given: a test may make it something other than a number
    created: str
    body: bytes


@dataclass
class FakeSalesforce:
    folder: Path
    files: list[LogFile] = field(default_factory=list)
    username: str = "integration@acme.test"
    password: str = "Pa55word-secret"
    security_token: str = "SECTOKEN123456"
    consumer_key: str = "3MVG9-consumer-key"
    consumer_secret: str = "consumer-secret-XYZ987"
    jwt_public_key: bytes | None = None
    page_size: int = 2
    faults: Counter = field(default_factory=Counter)  # name -> times to inject
    slow_seconds: float = 0.0
    requests: list[str] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    # Org-context records by object (OauthToken, ConnectedApplication, SetupAuditTrail,
    # LoginHistory), with every field a real org stores (token values included): a query gets
    # only the fields it selects, as from Salesforce.
    context: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)

    def start(self) -> FakeSalesforce:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_bundle = self.folder / "fake-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_bundle))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                outer.handle(self, "POST")

            def do_GET(self) -> None:
                outer.handle(self, "GET")

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that timed out and hung up (the slow-response fault) is expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_port
        self.url = f"https://127.0.0.1:{self.port}"
        self.domain = (
            f"127.0.0.1:{self.port}/fake"  # simple-salesforce builds https://{domain}.salesforce.com/...
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(
        self,
        event_type: str,
        log_date: str,
        body: bytes,
        interval: str = "Daily",
        sequence: int | str = 0,
        created: str | None = None,
    ) -> LogFile:
        n = len(self.files) + 1
        created = created or f"{log_date}T06:{n:02d}:00.000+0000"
        item = LogFile(
            f"0AT5g00000{n:05d}AAA",
            event_type,
            f"{log_date}T00:00:00.000+0000",
            interval,
            sequence,
            created,
            body,
        )
        self.files.append(item)
        return item

    def take(self, fault: str) -> bool:
        if self.faults[fault] > 0:
            self.faults[fault] -= 1
            return True
        return False

    # --- handling -----------------------------------------------------------------------------

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        path = request.path
        self.requests.append(f"{method} {path}")
        if method == "POST" and "/services/Soap/u/" in path:
            return self.soap_login(request, body)
        if method == "POST" and path.endswith("/services/oauth2/token"):
            return self.oauth_token(request, body)
        if not self.authorised(request):
            return self.send(
                request,
                401,
                json.dumps(
                    [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]
                ).encode(),
            )
        described = re.match(r"^/services/data/v[\d.]+/sobjects/(\w+)/describe/?$", path)
        if described:
            return self.describe(request, described.group(1))
        match = re.match(r"^/services/data/v[\d.]+/(query|sobjects/EventLogFile/([^/]+)/LogFile)(.*)$", path)
        if not match:
            return self.send(request, 404, b'[{"errorCode": "NOT_FOUND"}]')
        if match.group(1).startswith("query"):
            return self.query(request, path)
        return self.download(request, match.group(2))

    def authorised(self, request: BaseHTTPRequestHandler) -> bool:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        if self.take("expire_session"):
            self.tokens.discard(token)
        return token in self.tokens

    def issue(self) -> str:
        token = f"00D!token-{len(self.tokens) + 1}-{time.monotonic_ns()}"
        self.tokens.add(token)
        return token

    def send(
        self,
        request: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(body)

    def soap_login(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        text = body.decode()
        user = re.search(r"<n1:username>(.*?)</n1:username>", text)
        password = re.search(r"<n1:password>(.*?)</n1:password>", text)
        if (
            not user
            or not password
            or user.group(1) != self.username
            or password.group(1) != self.password + self.security_token
        ):
            fault = (
                "<?xml version='1.0'?><soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/' "
                "xmlns:sf='urn:fault.partner.soap.sforce.com'><soapenv:Body><soapenv:Fault>"
                "<faultcode>INVALID_LOGIN</faultcode><detail><sf:LoginFault><sf:exceptionCode>INVALID_LOGIN"
                "</sf:exceptionCode><sf:exceptionMessage>Invalid username, password, security token; or user "
                "locked out.</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body>"
                "</soapenv:Envelope>"
            )
            return self.send(request, 500, fault.encode(), "text/xml")
        token = self.issue()
        response = (
            f"<?xml version='1.0'?><soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'>"
            f"<soapenv:Body><loginResponse><result><serverUrl>{self.url}/services/Soap/u/62.0/{ORG_ID}"
            f"</serverUrl><sessionId>{token}</sessionId></result></loginResponse></soapenv:Body>"
            f"</soapenv:Envelope>"
        )
        self.send(request, 200, response.encode(), "text/xml")

    def oauth_token(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        form = dict(urllib.parse.parse_qsl(body.decode()))
        grant = form.get("grant_type", "")
        ok = False
        if grant == "client_credentials":
            header = request.headers.get("Authorization", "")
            if header.startswith("Basic "):
                key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
                ok = key == self.consumer_key and secret == self.consumer_secret
            ok = ok or (
                form.get("client_id") == self.consumer_key
                and form.get("client_secret") == self.consumer_secret
            )
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer" and self.jwt_public_key:
            try:
                claims = jwt.decode(
                    form.get("assertion", ""),
                    self.jwt_public_key,
                    algorithms=["RS256"],
                    options={"verify_aud": False},
                )
                ok = claims.get("iss") == self.consumer_key and claims.get("sub") == self.username
            except jwt.PyJWTError:
                ok = False
        if not ok:
            refusal = {"error": "invalid_client", "error_description": "invalid client credentials"}
            return self.send(request, 400, json.dumps(refusal).encode())
        self.send(
            request,
            200,
            json.dumps(
                {"access_token": self.issue(), "instance_url": self.url, "token_type": "Bearer"}
            ).encode(),
        )

    def query(self, request: BaseHTTPRequestHandler, path: str) -> None:
        if self.take("query_429"):
            return self.send(
                request, 429, b'[{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"}]'
            )
        if self.take("query_500"):
            return self.send(request, 500, b'[{"errorCode": "UNKNOWN_EXCEPTION", "message": "try again"}]')
        parsed = urllib.parse.urlparse(path)
        page_locator = re.search(r"/query/([^/]+)$", parsed.path)
        if page_locator:  # a nextRecordsUrl: /query/<soql-token>-<offset>
            token, offset = page_locator.group(1).rsplit("-", 1)
            soql = base64.urlsafe_b64decode(token.encode()).decode()
            start = int(offset)
        else:
            soql = urllib.parse.parse_qs(parsed.query)["q"][0]
            start = 0
        if start == 0:
            self.queries.append(soql)
        source = re.search(r"\bFROM (\w+)", soql)
        if source and source.group(1) in self.context:
            records: list[Any] = self.select_context(source.group(1), soql)
            shown = records
        else:
            records = self.select(soql)
            shown = [self.record(f) for f in records]
        page = shown[start : start + self.page_size]
        result: dict[str, Any] = {
            "totalSize": len(records),
            "done": start + self.page_size >= len(records),
            "records": page,
        }
        if not result["done"]:
            token = base64.urlsafe_b64encode(soql.encode()).decode()
            result["nextRecordsUrl"] = f"/services/data/v62.0/query/{token}-{start + self.page_size}"
        self.send(
            request, 200, json.dumps(result).encode(), headers={"Sforce-Limit-Info": "api-usage=42/15000"}
        )

    def select(self, soql: str) -> list[LogFile]:
        chosen = list(self.files)
        cursor = re.search(r"\(CreatedDate > (\S+) OR \(CreatedDate = \S+ AND Id > '([^']+)'\)\)", soql)
        if cursor:
            created, last = cursor.group(1), cursor.group(2)
            chosen = [f for f in chosen if (f.created, f.id) > (created, last)]
        types = re.search(r"EventType IN \(([^)]*)\)", soql)
        if types:
            wanted = set(re.findall(r"'([^']+)'", types.group(1)))
            chosen = [f for f in chosen if f.event_type in wanted]
        interval = re.search(r"Interval = '(\w+)'", soql)
        if interval:
            chosen = [f for f in chosen if f.interval == interval.group(1)]
        since = re.search(r"LogDate >= (\S+)", soql)
        if since:
            chosen = [f for f in chosen if f.log_date[:10] >= since.group(1)[:10]]
        return sorted(chosen, key=lambda f: (f.created, f.id))

    def describe(self, request: BaseHTTPRequestHandler, obj: str) -> None:
        if obj not in self.context:
            return self.send(request, 404, b'[{"errorCode": "NOT_FOUND"}]')
        names = {k for r in self.context[obj] for k in r}
        fields = [
            {"name": n, "relationshipName": None}
            if not isinstance(self.context[obj][0].get(n), dict)
            else None
            for n in sorted(names)
        ]
        described = [f for f in fields if f]
        for name in sorted(names):  # a nested dict is a relationship: UserId -> User
            if any(isinstance(r.get(name), dict) for r in self.context[obj]):
                described.append({"name": f"{name}Id", "relationshipName": name})
        self.send(request, 200, json.dumps({"name": obj, "fields": described}).encode())

    def select_context(self, obj: str, soql: str) -> list[dict[str, Any]]:
        selected = re.match(r"SELECT (.*?) FROM", soql)
        assert selected
        fields = [f.strip() for f in selected.group(1).split(",")]
        chosen = list(self.context[obj])
        since = re.search(r"WHERE (\w+) >= (\S+)", soql)
        if since:
            field_name, moment = since.group(1), since.group(2)

            def utc(value: str) -> str:  # the fake's records all use +0000
                return value.replace(".000+0000", "Z")

            chosen = [r for r in chosen if utc(str(r[field_name])) >= moment]
        order = re.search(r"ORDER BY (\w+)", soql)
        if order:
            chosen.sort(key=lambda r: (str(r[order.group(1)]), str(r["Id"])))
        result = []
        for record in chosen:
            shown: dict[str, Any] = {"attributes": {"type": obj}}
            for f in fields:
                top = f.split(".")[0]
                if top in record:
                    shown[top] = record[top]
            result.append(shown)
        return result

    def record(self, f: LogFile) -> dict[str, Any]:
        return {
            "attributes": {"type": "EventLogFile"},
            "Id": f.id,
            "EventType": f.event_type,
            "LogDate": f.log_date,
            "Interval": f.interval,
            "Sequence": f.sequence,
            "CreatedDate": f.created,
            "LogFileLength": float(len(f.body)),
        }

    def download(self, request: BaseHTTPRequestHandler, file_id: str) -> None:
        item = next((f for f in self.files if f.id == file_id), None)
        if item is None:
            return self.send(request, 404, b'[{"errorCode": "NOT_FOUND"}]')
        if self.take("download_500"):
            return self.send(request, 500, b'[{"errorCode": "UNKNOWN_EXCEPTION"}]')
        if self.take("download_429"):
            return self.send(request, 429, b'[{"errorCode": "REQUEST_LIMIT_EXCEEDED"}]')
        if self.take("short_body"):
            return self.send(request, 200, item.body[: len(item.body) // 2], "text/csv")
        if self.take("slow"):
            time.sleep(self.slow_seconds)
        if self.faults.get(f"hang:{file_id}"):
            time.sleep(60)
        self.send(request, 200, item.body, "text/csv", headers={"Sforce-Limit-Info": "api-usage=43/15000"})
