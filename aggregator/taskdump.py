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
        for line in _chain(task.get_coro()):
            print(f"  {line}", file=stream)
    print("--- end of task dump ---", file=stream)
    with contextlib.suppress(Exception):
        stream.flush()
    return len(tasks)


def _chain(coro: object) -> list[str]:
    """Where a task waits, outermost first: its coroutine and each one it awaits in turn
    (``Task.get_stack`` gives only the outermost frame of a suspended coroutine)."""
    lines: list[str] = []
    seen = 0
    while coro is not None and seen < 100:
        seen += 1
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            if not hasattr(coro, "cr_await") and not hasattr(coro, "gi_yieldfrom"):
                lines.append(f"awaits {type(coro).__name__}")
            break
        code = frame.f_code
        lines.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return lines


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Dump on SIGUSR1 (where the platform has it)."""
    sig = getattr(signal, "SIGUSR1", None)
    if sig is None:
        return

    def on_signal() -> None:
        faulthandler.dump_traceback(all_threads=True)
        dump_tasks()

    # NotImplementedError: a loop without signal support (Windows' proactor); RuntimeError:
    # a loop run outside the main thread (tests). The dump is a debugging aid, not a duty.
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(sig, on_signal)
