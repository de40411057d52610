"""Local servers on 127.0.0.1 that speak the SMS providers' protocols, for the delivery tests.

``AliyunServer`` answers Alibaba Cloud's SendSms as the official SDK calls it (API 2017-05-25, RPC style:
``POST /?PhoneNumbers=…&SignName=…&TemplateCode=…&TemplateParam=…&OutId=…`` with the ``x-acs-action``
header and an ``ACS3-HMAC-SHA256`` Authorization, which it verifies with the access key secret), with the
documented JSON answer ``{"Code", "Message", "BizId", "RequestId"}``. ``GatewayServer`` answers the
generic gateway's signed JSON POST (notifications/sms_http.py). Both answer per phone number from
``answers`` (default: accepted) and record every accepted message by its id, so a test can count resends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

HOST = "127.0.0.1"


def _acs3_signature_ok(method: str, target: str, headers: Any, secret: str) -> bool:
    """Recompute the ACS3-HMAC-SHA256 signature the way Alibaba Cloud documents it."""
    algorithm, _, rest = str(headers.get("Authorization", "")).partition(" ")
    parts = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
    if algorithm != "ACS3-HMAC-SHA256" or "SignedHeaders" not in parts:
        return False
    url = urlsplit(target)

    def encode(value: str) -> str:
        return quote(value, safe="-_.~")

    query = "&".join(
        f"{encode(k)}={encode(v)}" for k, v in sorted(parse_qsl(url.query, keep_blank_values=True))
    )
    lower = {k.lower(): v for k, v in headers.items()}
    signed = parts["SignedHeaders"].split(";")
    canonical_headers = "".join(f"{name}:{lower.get(name, '').strip()}\n" for name in signed)
    canonical = "\n".join(
        [
            method,
            url.path or "/",
            query,
            canonical_headers,
            parts["SignedHeaders"],
            lower["x-acs-content-sha256"],
        ]
    )
    to_sign = f"{algorithm}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("Signature", ""))


class _Server:
    """A threaded HTTP server; ``answers`` maps a phone number to (HTTP status, error code, message)."""

    def __init__(self, port: int = 0) -> None:
        self.answers: dict[str, tuple[int, str, str]] = {}
        self.received: list[dict[str, Any]] = []  # every request, accepted or not
        self.delivered: Counter[str] = Counter()  # accepted messages by their id
        self.bad_signatures = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, payload = owner.handle(self.command, self.path, self.headers, body)
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer((HOST, port), Handler)
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError


class AliyunServer(_Server):
    def __init__(self, secret: str, port: int = 0) -> None:
        self.secret = secret
        super().__init__(port)

    def handle(self, method: str, target: str, headers: Any, _body: bytes) -> tuple[int, dict[str, Any]]:
        request_id = str(uuid.uuid4()).upper()
        query = dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))
        with self._lock:
            self.received.append({"action": headers.get("x-acs-action"), **query})
            if not _acs3_signature_ok(method, target, headers, self.secret):
                self.bad_signatures += 1
                return 400, {
                    "Code": "SignatureDoesNotMatch",
                    "Message": "signature mismatch",
                    "RequestId": request_id,
                }
            status, code, message = self.answers.get(query.get("PhoneNumbers", ""), (200, "OK", "OK"))
            if code != "OK":
                return status, {"Code": code, "Message": message, "RequestId": request_id}
            self.delivered[query["OutId"]] += 1
            biz_id = f"{len(self.received):06d}^0"
            return 200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": request_id}


class GatewayServer(_Server):
    def __init__(self, secret: str, port: int = 0) -> None:
        self.secret = secret
        super().__init__(port)

    def handle(self, _method: str, _target: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        message = json.loads(body)
        with self._lock:
            self.received.append({"idempotency_key": headers.get("Idempotency-Key"), **message})
            if not hmac.compare_digest(expected, str(headers.get("X-Shouxin-Signature", ""))):
                self.bad_signatures += 1
                return 401, {"code": "BAD_SIGNATURE", "message": "signature mismatch"}
            status, code, text = self.answers.get(message["phone"], (200, "", ""))
            if status >= 300:
                return status, {"code": code, "message": text}
            self.delivered[message["id"]] += 1
            return 200, {"message_id": f"gw-{len(self.received)}"}
