"""The nginx shipped in docker-compose.yml (deploy/nginx.conf), run for real in front of the
app: slow clients are cut off at its header and body timeouts while uvicorn alone would keep
them, and streams still arrive token by token through it.

Needs Debian's nginx (``apt-get install nginx-light``); skipped without it.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from django.conf import settings

from billing.models import Generation

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CONFIG = Path(settings.BASE_DIR) / "deploy" / "nginx.conf"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not Path(NGINX).exists(), reason="nginx is not installed (apt-get install nginx-light)"
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _timeout(directive: str) -> int:
    return int(re.search(rf"^\s*{directive} (\d+)s;", CONFIG.read_text(), re.M).group(1))


def _local_config(tmp_path: Path, upstream: str, port: int | None = None) -> Path:
    """The shipped file with the compose names swapped for this machine's (nothing else)."""
    text = CONFIG.read_text().replace("server app:8000;", f"server {upstream};")
    if port is not None:
        text = text.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    text = text.replace(
        "http {\n",
        f"http {{\n    client_body_temp_path {tmp_path}/body;\n    proxy_temp_path {tmp_path}/proxy;\n",
        1,
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    return conf


def _nginx(conf: Path, tmp_path: Path, *args: str) -> list[str]:
    return [NGINX, "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), *args]


def test_the_shipped_config_parses(tmp_path):
    # As shipped it names the compose service "app", which nginx resolves at start.
    conf = _local_config(tmp_path, "127.0.0.1:9")
    result = subprocess.run(
        _nginx(conf, tmp_path, "-t", "-g", f"pid {tmp_path}/nginx.pid;"), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def proxy(live_server_url: str, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    conf = _local_config(tmp_path, live_server_url.removeprefix("http://"), port)
    process = subprocess.Popen(
        _nginx(conf, tmp_path, "-g", f"daemon off; pid {tmp_path}/nginx.pid;"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "error.log").read_text()
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _held_open_for(url: str, first_bytes: bytes, seconds: float) -> float:
    """Send ``first_bytes`` and then nothing: how long until the server closes (at most ``seconds``)."""
    host, port = url.removeprefix("http://").split(":")
    start = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=seconds) as sock:
        sock.sendall(first_bytes)
        try:
            while sock.recv(4096):
                pass  # nginx may answer 408 before it closes
        except TimeoutError:
            pass
        except ConnectionResetError:
            pass
    return time.monotonic() - start


SLOW_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
SLOW_BODY = (
    b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 1000\r\n\r\n{"model": '
)


@pytest.mark.parametrize(
    ("first_bytes", "directive"),
    [(SLOW_HEADERS, "client_header_timeout"), (SLOW_BODY, "client_body_timeout")],
)
def test_a_slow_client_is_cut_off_by_the_proxy_but_not_by_uvicorn_alone(
    proxy, live_server_url, first_bytes, directive
):
    limit = _timeout(directive)
    wait = limit + 3
    results: dict[str, float] = {}
    threads = [
        threading.Thread(target=lambda k=k, u=u: results.__setitem__(k, _held_open_for(u, first_bytes, wait)))
        for k, u in (("proxy", proxy), ("direct", live_server_url))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limit - 1 <= results["proxy"] < limit + 2, results
    assert results["direct"] >= wait - 0.5, f"uvicorn closed the slow client itself: {results}"


def test_streams_pass_through_unbuffered_and_are_charged_once(proxy, make_customer, make_mock_model):
    make_mock_model()
    customer = make_customer()
    client = openai.OpenAI(base_url=f"{proxy}/api/v1", api_key=customer.secret, max_retries=0, timeout=20)
    arrivals: list[float] = []
    text = ""
    start = time.monotonic()
    stream = client.chat.completions.create(
        model="mock/echo",
        messages=[{"role": "user", "content": "one two three four five six seven eight nine ten"}],
        stream=True,
        extra_body={"mock_delay_ms": 150},
    )
    for chunk in stream:
        arrivals.append(time.monotonic() - start)
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    assert "one two three" in text
    # Chunks arrive spread over the stream, not all at its end (proxy_buffering off).
    assert arrivals[-1] - arrivals[1] > 0.3, arrivals
    assert Generation.objects.filter(api_key=customer.key).count() == 1
