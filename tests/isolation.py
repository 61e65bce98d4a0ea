"""Run a call in a forked child process, so that a crash or a hang becomes a
test failure with the input named, not the end of the test run.

The child runs ``fn(*args, **kwargs)`` and sends back its result or its
exception (pickled); the parent re-raises the exception, or raises
:class:`Crash` when the child died of a signal (SIGSEGV, SIGABRT: a C++
fault, an ASan report) or :class:`Hang` when it ran past ``timeout``.
POSIX only (os.fork): lpcore's CI and targets are Linux.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time


class Crash(AssertionError):
    """The child process died of a signal."""


class Hang(AssertionError):
    """The child process ran past its time limit."""


def _child(fn, args, kwargs, fd) -> None:
    try:
        payload = (True, fn(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - every exception goes back to the parent
        payload = (False, exc)
    try:
        data = pickle.dumps(payload)
    except Exception:  # an unpicklable result or exception: send its text
        kind = "result" if payload[0] else type(payload[1]).__name__
        data = pickle.dumps((False, RuntimeError(f"unpicklable {kind}: {payload[1]!r}")))
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def isolated(fn, *args, timeout: float = 120.0, **kwargs):
    """``fn(*args, **kwargs)`` in a forked child; its result, or its exception re-raised here."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's frames
        code = 0
        try:
            os.close(read_fd)
            _child(fn, args, kwargs, write_fd)
        except BaseException:  # noqa: BLE001
            code = 70
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks, deadline = [], time.monotonic() + timeout
    with os.fdopen(read_fd, "rb") as f:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([f], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise Hang(f"{getattr(fn, '__name__', fn)} ran past {timeout:g} s")
            chunk = f.read1(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        raise Crash(f"{getattr(fn, '__name__', fn)} died of {signal.Signals(os.WTERMSIG(status)).name}")
    if not chunks:
        raise Crash(f"{getattr(fn, '__name__', fn)} exited with status {os.WEXITSTATUS(status)} and no result")
    try:
        ok, value = pickle.loads(b"".join(chunks))
    except Exception as exc:  # noqa: BLE001 - e.g. an exception class whose __init__ pickle cannot call
        raise Crash(f"{getattr(fn, '__name__', fn)} sent back what cannot be unpickled ({exc!r}): "
                    f"{b''.join(chunks)[:300]!r}") from None
    if ok:
        return value
    raise value
