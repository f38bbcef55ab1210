"""Running Anvil: find the binary, start it on 127.0.0.1 and a free port, wait until it
answers `eth_chainId`, stop it cleanly (terminate, wait, kill).

`AnvilOptions` is the whole command line as a value; `start_anvil` turns it into a
running `AnvilNode`. A port that is taken is replaced by a free one.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

import structlog

from harvestd.world.errors import AnvilStartFailed, ToolingMissing
from harvestd.world.paths import ANVIL_ENV, ANVIL_RELATIVE, find_repo_root, node_install_hint
from ledger.ids import ChainId

log = structlog.get_logger(__name__)

LOCALHOST: Final = "127.0.0.1"
DEFAULT_CHAIN_ID: Final = ChainId(31337)
READY_TIMEOUT_SECONDS: Final = 30.0
STOP_TIMEOUT_SECONDS: Final = 5.0
PR_SET_PDEATHSIG: Final = 1


@dataclass(frozen=True, slots=True)
class AnvilOptions:
    """How to start one Anvil node."""

    port: int = 0
    """Port to listen on; 0 (or a taken port) means any free port."""
    chain_id: ChainId = DEFAULT_CHAIN_ID
    genesis_timestamp: int | None = None
    balance_ether: int | None = None
    load_state: Path | None = None
    fork_url: str | None = None
    fork_block_number: int | None = None
    preserve_historical_states: bool = True
    steps_tracing: bool = False
    extra_args: tuple[str, ...] = field(default_factory=tuple)


@dataclass(slots=True)
class AnvilNode:
    """A running Anvil process; `stop()` ends it. Not a value: it owns a process."""

    process: subprocess.Popen[bytes]
    port: int
    chain_id: ChainId
    command: tuple[str, ...]
    log_file: IO[bytes]

    @property
    def rpc_url(self) -> str:
        """The node's HTTP JSON-RPC address."""
        return f"http://{LOCALHOST}:{self.port}"

    def is_running(self) -> bool:
        """True while the process has not exited."""
        return self.process.poll() is None

    def stop(self) -> None:
        """Terminate, wait, then kill if needed. Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            log.info("anvil_stopped", port=self.port, pid=self.process.pid)
        with contextlib.suppress(OSError):
            self.log_file.close()

    def interrupt(self, timeout_seconds: float = 120.0) -> None:
        """Stop with SIGINT and wait, so that Anvil runs its exit work (`--dump-state`);
        falls back to `stop()` if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout_seconds)
            except subprocess.TimeoutExpired:
                log.warning("anvil_interrupt_timed_out", port=self.port)
        self.stop()

    def output(self) -> str:
        """What Anvil printed so far (its log file)."""
        with contextlib.suppress(OSError):
            return Path(self.log_file.name).read_text(errors="replace")
        return ""


def find_anvil_binary(root: Path | None = None) -> Path:
    """The Anvil executable: `HARVESTD_ANVIL`, else under the repository root, else cwd.

    Raises:
        ToolingMissing: no executable Anvil at any of those places.
    """
    override = os.environ.get(ANVIL_ENV)
    if override:
        path = Path(override)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise ToolingMissing("anvil binary", f"{ANVIL_ENV}={override}", node_install_hint())
    bases = [root or find_repo_root(), Path.cwd()]
    for base in bases:
        path = base / ANVIL_RELATIVE
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise ToolingMissing(
        "anvil binary", " and ".join(str(b / ANVIL_RELATIVE) for b in bases), node_install_hint()
    )


def is_port_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOCALHOST, port))
        except OSError:
            return False
    return True


def pick_free_port(wanted: int = 0) -> int:
    """`wanted` if it is free (and non-zero), else a port the OS says is free."""
    if wanted and is_port_free(wanted):
        return wanted
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
    return port


def build_command(binary: Path, options: AnvilOptions, port: int) -> tuple[str, ...]:
    """The Anvil command line for `options` on `port`."""
    args = [str(binary), "--host", LOCALHOST, "--port", str(port), "--silent"]
    args += ["--chain-id", str(options.chain_id)]
    if options.genesis_timestamp is not None:
        args += ["--timestamp", str(options.genesis_timestamp)]
    if options.balance_ether is not None:
        args += ["--balance", str(options.balance_ether)]
    if options.load_state is not None:
        args += ["--load-state", str(options.load_state)]
    if options.fork_url is not None:
        args += ["--fork-url", options.fork_url]
        if options.fork_block_number is not None:
            args += ["--fork-block-number", str(options.fork_block_number)]
    if options.preserve_historical_states:
        args.append("--preserve-historical-states")
    if options.steps_tracing:
        args.append("--steps-tracing")
    args += list(options.extra_args)
    return tuple(args)


def query_chain_id(rpc_url: str, timeout_seconds: float = 2.0) -> int | None:
    """`eth_chainId` of the node at `rpc_url`, or None when it does not answer."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    request = urllib.request.Request(
        rpc_url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
            reply = json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError):
        return None
    result = reply.get("result") if isinstance(reply, dict) else None
    return int(result, 16) if isinstance(result, str) else None


def start_anvil(
    options: AnvilOptions,
    *,
    binary: Path | None = None,
    ready_timeout_seconds: float = READY_TIMEOUT_SECONDS,
    attempts: int = 3,
) -> AnvilNode:
    """Start Anvil as `options` say and wait until it answers `eth_chainId`.

    A taken port is replaced by a free one (and a lost race for a port is retried).

    Raises:
        ToolingMissing: the Anvil binary is not installed.
        AnvilStartFailed: Anvil exited or did not answer within the timeout.
    """
    anvil = binary or find_anvil_binary()
    last_error: AnvilStartFailed | None = None
    wanted = options.port
    for _ in range(attempts):
        port = pick_free_port(wanted)
        wanted = 0
        node = _spawn(anvil, options, port)
        try:
            _wait_until_ready(node, options, ready_timeout_seconds)
        except AnvilStartFailed as error:
            node.stop()
            last_error = error
            if "already in use" in error.output.lower():
                continue
            raise
        except BaseException:
            node.stop()
            raise
        log.info(
            "anvil_started",
            port=port,
            pid=node.process.pid,
            chain_id=int(node.chain_id),
            forked=options.fork_url is not None,
            loaded_state=str(options.load_state) if options.load_state else None,
        )
        return node
    assert last_error is not None
    raise last_error


def _spawn(binary: Path, options: AnvilOptions, port: int) -> AnvilNode:
    command = build_command(binary, options, port)
    log_file = tempfile.NamedTemporaryFile(prefix=f"anvil-{port}-", suffix=".log")  # noqa: SIM115
    process = subprocess.Popen(
        command,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )
    return AnvilNode(
        process=process, port=port, chain_id=options.chain_id, command=command, log_file=log_file
    )


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM it when its parent dies, so a
    crashed test run or daemon never leaves an Anvil behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_until_ready(node: AnvilNode, options: AnvilOptions, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    delay = 0.02
    while time.monotonic() < deadline:
        if not node.is_running():
            raise AnvilStartFailed(" ".join(node.command), "process exited", node.output())
        chain_id = query_chain_id(node.rpc_url)
        if chain_id is not None:
            if not node.is_running():  # another process answered on a port we lost
                raise AnvilStartFailed(" ".join(node.command), "process exited", node.output())
            if chain_id != options.chain_id and options.fork_url is None:
                raise AnvilStartFailed(
                    " ".join(node.command), f"answered chain id {chain_id}", node.output()
                )
            node.chain_id = ChainId(chain_id)
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.25)
    raise AnvilStartFailed(
        " ".join(node.command), f"no eth_chainId answer in {timeout_seconds}s", node.output()
    )
