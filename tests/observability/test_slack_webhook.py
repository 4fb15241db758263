"""A job's own Slack message (``post_slack_webhook``), to the stand-in of a Slack webhook
(tests/observability/standin.py: Slack is a SaaS that cannot run here)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from airflow_platform.notifications import post_slack_webhook
from tests.observability.standin import saas_standin

pytestmark = [pytest.mark.unit, pytest.mark.observability]
SECRET = "/services/T0/B0/very-secret"


def test_the_message_reaches_the_webhook_as_slack_expects_it() -> None:
    with saas_standin() as slack:
        assert post_slack_webhook("*run* done", slack.url + SECRET) is True
        assert slack.to(SECRET) == [{"text": "*run* done"}]


@pytest.fixture
def refusing() -> Iterator[str]:
    """A webhook that answers 404, as Slack does for a revoked URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_refused_message_returns_false_and_never_logs_the_url(
    refusing: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert post_slack_webhook("x", refusing + SECRET) is False
    assert "the webhook answered HTTP 404" in caplog.text
    assert "very-secret" not in caplog.text


def test_an_unreachable_webhook_returns_false_and_never_logs_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        assert post_slack_webhook("x", "http://127.0.0.1:9" + SECRET) is False
    assert "Slack message not sent: ConnectError" in caplog.text
    assert "very-secret" not in caplog.text
