"""Starting Anvil: a taken port yields another one; a missing binary gives an error that
says how to install it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harvestd.world.anvil import AnvilOptions, find_anvil_binary, query_chain_id, start_anvil
from harvestd.world.errors import ToolingMissing
from harvestd.world.paths import ANVIL_ENV, ROOT_ENV

pytestmark = pytest.mark.chain


def test_taken_port_yields_another_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        taken = squatter.getsockname()[1]
        node = start_anvil(AnvilOptions(port=taken))
        try:
            assert node.port != taken
            assert query_chain_id(node.rpc_url) == 31337
        finally:
            node.stop()
    assert not node.is_running()


def test_port_of_a_running_anvil_yields_another_port() -> None:
    first = start_anvil(AnvilOptions())
    try:
        second = start_anvil(AnvilOptions(port=first.port))
        try:
            assert second.port != first.port
            assert query_chain_id(second.rpc_url) == 31337
        finally:
            second.stop()
    finally:
        first.stop()


def test_missing_binary_from_env_says_run_make_deps(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ANVIL_ENV, str(tmp_path / "no-anvil"))
    with pytest.raises(ToolingMissing) as caught:
        start_anvil(AnvilOptions())
    message = str(caught.value)
    assert "anvil" in message
    assert "make deps" in message
    assert "npm ci" in message


def test_missing_node_modules_says_run_make_deps(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(ANVIL_ENV, raising=False)
    monkeypatch.setenv(ROOT_ENV, str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ToolingMissing) as caught:
        find_anvil_binary()
    assert str(tmp_path / "node_modules") in caught.value.looked_at
    assert "make deps" in str(caught.value)


def test_missing_npm_says_how_to_install_node(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ANVIL_ENV, str(tmp_path / "no-anvil"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolingMissing) as caught:
        find_anvil_binary()
    assert "install Node.js" in str(caught.value)
