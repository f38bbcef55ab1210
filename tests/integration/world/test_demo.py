"""`harvestd demo`: starts the world, says where it is, serves it until SIGINT/SIGTERM,
then stops Anvil."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harvestd.world.anvil import query_chain_id
from harvestd.world.manifest import load_manifest

pytestmark = pytest.mark.chain

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_demo_serves_the_world_until_a_signal(signum: int) -> None:
    env = dict(os.environ, HARVESTD_LOG_FORMAT="json")
    process = subprocess.Popen(
        [sys.executable, "-m", "harvestd", "demo", "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: dict[str, str] = {}
        deadline = time.monotonic() + 180
        assert process.stdout is not None
        while len(lines) < 3 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if line.startswith("world "):
                key, value = line.removeprefix("world ").split(": ", 1)
                lines[key] = value.strip()
        assert set(lines) == {"rpc_url", "manifest", "history"}, lines
        rpc_url = lines["rpc_url"]
        assert query_chain_id(rpc_url) == 31337
        manifest = load_manifest(Path(lines["manifest"]))
        assert manifest.rpc_url == rpc_url
        assert Path(lines["history"]).is_file()

        process.send_signal(signum)
        assert process.wait(timeout=30) == 0
        assert query_chain_id(rpc_url, timeout_seconds=0.5) is None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
