"""Structured concurrency that raises the indexer's own errors, not exception groups.

`asyncio.TaskGroup` wraps failures in `ExceptionGroup`; callers of the indexer catch
`RangeTooLarge`, `RpcTimeout`... directly, so `run_all` re-raises the first real failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first_leaf(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]


async def run_all(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Run the coroutines concurrently; results in their order.

    On the first failure the others are cancelled and that failure is raised as itself.

    Raises:
        BaseException: whatever the first failing coroutine raised.
    """
    pending = list(coros)
    if len(pending) == 1:
        return [await pending[0]]
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in pending]
    except BaseExceptionGroup as failed:
        raise _first_leaf(failed) from None
    return [task.result() for task in tasks]
