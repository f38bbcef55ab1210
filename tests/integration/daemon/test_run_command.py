"""`harvestd run` as a real process: SIGTERM exits 0 quickly; a second daemon is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from harvestd.commands.run import EXIT_ALREADY_RUNNING
from harvestd.world.anvil import AnvilNode, pick_free_port

pytestmark = pytest.mark.slow

READY_TIMEOUT_SECONDS = 60.0


def health(port: int) -> tuple[int, dict[str, Any]] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return None


def wait_for(
    port: int, process: subprocess.Popen[bytes], ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"daemon exited early: {process.returncode}")
        answer = health(port)
        if answer is not None and ready(answer[1]):
            return answer[1]
        time.sleep(0.2)
    raise AssertionError("daemon did not become ready")


@contextmanager
def daemon_process(config: Path, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "harvestd", "run", "--config", str(config)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning:harvestd"},
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_sigterm_exits_zero_within_ten_seconds(
    anvil: AnvilNode, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    port = pick_free_port(0)
    config = write_config(f"sqlite:///{tmp_path / 'run.db'}", rpc_url=anvil.rpc_url, port=port)
    with daemon_process(config, tmp_path / "daemon.log") as process:
        body = wait_for(
            port,
            process,
            lambda body: (
                body["chains"][0]["head_block"] is not None
                # The scan is on cron (its first run follows the first index step, not
                # start-up); every job that runs at start must have succeeded once.
                and all(job["last_success_at"] for job in body["jobs"] if job["kind"] != "scan")
            ),
        )
        assert body["healthy"] is True
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=15)
        took = time.monotonic() - started
    print(f"SIGTERM to exit: {took:.2f} s")
    log = (tmp_path / "daemon.log").read_text()
    assert returncode == 0, log
    assert took < 10, f"stopped in {took:.1f} s"
    events = [json.loads(line)["event"] for line in log.splitlines() if line.startswith("{")]
    for expected in (
        "daemon_started",
        "daemon_stop_requested",
        "server_stopped",
        "daemon_stopped",
        "instance_lock_released",
    ):
        assert expected in events
    assert not (tmp_path / "run.db.daemon.pid").exists()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_second_daemon_on_the_same_store_exits_with_a_clear_message(
    backend: str, request: pytest.FixtureRequest, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    url = (
        request.getfixturevalue("pg_url")
        if backend == "postgres"
        else f"sqlite:///{tmp_path / 'one.db'}"
    )
    port = pick_free_port(0)
    first_config = write_config(url, port=port, name="first.yaml")
    second_config = write_config(url, name="second.yaml")
    with daemon_process(first_config, tmp_path / "first.log") as first:
        wait_for(port, first, lambda body: True)
        second = subprocess.run(
            [sys.executable, "-m", "harvestd", "run", "--config", str(second_config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert first.poll() is None
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=15) == 0
    assert second.returncode == EXIT_ALREADY_RUNNING, second.stderr
    message = second.stderr.strip().splitlines()[-1]
    assert "another harvestd daemon is already running on the store" in message
    store_name = url.rsplit("/", 1)[-1]
    assert store_name in message
    assert f"pid {first.pid}" in message
