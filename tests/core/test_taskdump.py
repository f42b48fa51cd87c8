"""`kill -USR1`: a live daemon writes where each of its tasks waits."""

from __future__ import annotations

import asyncio
import io
import os
import signal

from aggregator import taskdump


async def _waits_for_ever(gate: asyncio.Event) -> None:
    await gate.wait()


async def test_the_dump_names_each_task_and_where_it_waits() -> None:
    gate = asyncio.Event()
    task = asyncio.create_task(_waits_for_ever(gate), name="stuck-job")
    await asyncio.sleep(0)
    out = io.StringIO()
    try:
        assert taskdump.dump_tasks(out) >= 2
    finally:
        gate.set()
        await task
    text = out.getvalue()
    assert "task stuck-job:" in text
    assert "test_taskdump.py" in text and "in _waits_for_ever" in text
    assert "locks.py" in text  # the whole chain, down to what it awaits


async def test_sigusr1_dumps_to_stderr(capfd) -> None:
    loop = asyncio.get_running_loop()
    taskdump.install(loop)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.sleep(0.2)
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)
    err = capfd.readouterr().err
    assert "--- satukanal task dump:" in err and "--- end of task dump ---" in err
