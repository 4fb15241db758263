"""A local HTTP server standing in for PagerDuty's Events API and a Slack webhook.

PagerDuty and Slack are SaaS that cannot run here, so the tests point the Airflow connections
at this server on loopback and check exactly what would have been sent: the narrowest
boundary, the HTTP request itself. With a certificate directory it serves HTTPS (as both
services do; the pagerduty client refuses any other scheme), its CA in ``ca.crt`` there.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.harness import pki


@dataclass
class Received:
    """One request: its path and JSON (or raw text) body."""

    path: str
    body: Any


@dataclass
class StandIn:
    """The running stand-in: its base URL and every request it received, in order."""

    url: str
    requests: list[Received] = field(default_factory=list)

    def to(self, path: str) -> list[Any]:
        """The bodies received on ``path``."""
        return [r.body for r in self.requests if r.path == path]


@contextmanager
def saas_standin(tls_dir: Path | None = None) -> Iterator[StandIn]:
    """Starts the stand-in on a free loopback port; answers 202 to PagerDuty's /v2/enqueue
    with the event's dedup key (as the Events API does) and 200 "ok" to anything else (as a
    Slack webhook does). With ``tls_dir``, over HTTPS with a certificate for 127.0.0.1 from a
    new CA, written to ``tls_dir/ca.crt`` for the clients to trust."""
    received: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw
            received.append(Received(self.path, body))
            if self.path == "/v2/enqueue":
                dedup_key = body.get("dedup_key", "") if isinstance(body, dict) else ""
                reply = json.dumps(
                    {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
                ).encode()
                code = 202
            else:
                reply, code = b"ok", 200
            self.send_response(code)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls_dir is not None:
        ca = pki.new_ca("saas-standin-ca")
        cert = pki.server_cert(ca, "saas-standin", dns=["localhost"], ips=["127.0.0.1"])
        (tls_dir / "ca.crt").write_bytes(ca.cert_pem)
        (tls_dir / "server.crt").write_bytes(cert.cert_pem)
        (tls_dir / "server.key").write_bytes(cert.key_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls_dir / "server.crt", tls_dir / "server.key")
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StandIn(f"{scheme}://127.0.0.1:{server.server_address[1]}", received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
