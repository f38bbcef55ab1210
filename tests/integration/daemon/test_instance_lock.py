"""One daemon per store: the lock on SQLite (file lock) and Postgres (advisory lock)."""

from __future__ import annotations

import os

import pytest

from harvestd.instance_lock import InstanceAlreadyRunning, acquire_instance_lock


def test_second_lock_on_the_same_store_is_refused_naming_the_store_and_pid(
    store_url: str,
) -> None:
    first = acquire_instance_lock(store_url)
    try:
        with pytest.raises(InstanceAlreadyRunning) as refused:
            acquire_instance_lock(store_url)
        assert refused.value.holder_pid == os.getpid()
        message = str(refused.value)
        assert first.store in message
        assert f"pid {os.getpid()}" in message
        assert "already running" in message
    finally:
        first.release()
    again = acquire_instance_lock(store_url)
    again.release()
    again.release()  # idempotent


def test_in_memory_sqlite_needs_no_lock() -> None:
    first = acquire_instance_lock("sqlite:///:memory:")
    second = acquire_instance_lock("sqlite:///:memory:")
    first.release()
    second.release()
