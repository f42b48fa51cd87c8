"""``kill -USR1 <pid>``: write every asyncio task's stack (and every thread's) to stderr.

A debugging aid for a live daemon that seems stuck: which coroutine waits on what. It writes
code locations only (file, line, function), never local values, so no personal data leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import io
import signal
import sys


def dump_tasks(out: io.TextIOBase | None = None) -> int:
    """Print the stack of every task of the running loop; returns how many."""
    stream = out or sys.stderr
    tasks = asyncio.all_tasks()
    print(f"--- satukanal task dump: {len(tasks)} tasks ---", file=stream)
    for task in sorted(tasks, key=lambda t: t.get_name()):
        print(f"task {task.get_name()}:", file=stream)
        for frame in task.get_stack():
            code = frame.f_code
            print(f"  {code.co_filename}:{frame.f_lineno} in {code.co_name}", file=stream)
    print("--- end of task dump ---", file=stream)
    with contextlib.suppress(Exception):
        stream.flush()
    return len(tasks)


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Dump on SIGUSR1 (where the platform has it)."""
    sig = getattr(signal, "SIGUSR1", None)
    if sig is None:
        return

    def on_signal() -> None:
        faulthandler.dump_traceback(all_threads=True)
        dump_tasks()

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(sig, on_signal)
