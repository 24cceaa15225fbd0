"""Live `shale serve` processes for the server tests.

Each server is a real subprocess (``python -m engine.server.cli serve --port 0``) on a free
127.0.0.1 port it picks itself and reports on its startup line; tests stop it by pid with
SIGTERM and check it exits cleanly.
"""

import http.client
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0


class ServerProcess:
    """One `shale serve` subprocess."""

    def __init__(self, data: Path, *args: str) -> None:
        self.data = data
        self.args = args
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.startup_line = ""
        self.output = ""

    def start(self) -> "ServerProcess":
        cmd = [sys.executable, "-m", "engine.server.cli", "serve", "--port", "0"]
        cmd += ["--data", str(self.data), "--log-level", "warning", *self.args]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                line = self.proc.stdout.readline()
                if not line:
                    break
                self.output += line
                if "listening on http://" in line:
                    self.startup_line = line.strip()
                    self.port = int(line.split("http://127.0.0.1:", 1)[1].split(" ", 1)[0])
                    return self
            elif self.proc.poll() is not None:
                break
        self.output += self.proc.stdout.read() if self.proc.poll() is not None else ""
        raise RuntimeError(f"server did not start:\n{self.output}")

    def run_to_exit(self, timeout_s: float = 20.0) -> tuple[int, str]:
        """Start a server expected to refuse to run; its exit status and output."""
        cmd = [sys.executable, "-m", "engine.server.cli", "serve", "--port", "0"]
        cmd += ["--data", str(self.data), "--log-level", "warning", *self.args]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
        return done.returncode, done.stdout + done.stderr

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        """Send ``sig`` to the server's pid and wait for it to exit; its exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise
        self.output += self.proc.stdout.read()
        self.proc.stdout.close()
        return code

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def client(self, key: str = "AKIDEXAMPLE", secret: str = "secret", **config: object):
        return boto3.client(
            "dynamodb",
            endpoint_url=self.url,
            region_name="localhost",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(retries={"max_attempts": 0}, **config),
        )


@pytest.fixture
def start_server(tmp_path):
    """``start_server(*args, data=None)`` starts a server; all are stopped at teardown."""
    started: list[ServerProcess] = []

    def start(*args: str, data: Path | None = None) -> ServerProcess:
        server = ServerProcess(data or tmp_path / "data", *args).start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc is not None and server.proc.poll() is None:
            server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One open (no credentials) server shared by a module's tests."""
    s = ServerProcess(tmp_path_factory.mktemp("server") / "data").start()
    yield s
    assert s.stop() == 0, s.output


AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/localhost/dynamodb/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-target, Signature=" + "0" * 64
)


def raw_headers(operation: str | None = "ListTables", **extra: str) -> dict:
    """Headers of a well-formed request as an SDK sends them (any signature passes an open
    server)."""
    headers = {"Content-Type": "application/x-amz-json-1.0", "Authorization": AUTH}
    if operation is not None:
        headers["X-Amz-Target"] = f"DynamoDB_20120810.{operation}"
    headers.update(extra)
    return headers
