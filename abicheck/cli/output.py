"""Where the commands write: standard streams that may be closed or broken, and `-o` files.

* Text goes out UTF-8 with anything unencodable (a file name that is not
  UTF-8, decoded with surrogate escapes) shown as a backslash escape, so a
  report is never lost to an encoding error.
* A closed stream (`>&-`) or a broken pipe (`| head -0`) ends the output
  quietly; the command still exits with the code its results deserve.
* A report on stdout is written whole or not at all: Ctrl-C while it is
  written (to a slow reader) takes effect once it is out, exit 130; a second
  Ctrl-C stops at once.
* `-o FILE` is written to a temporary file in the same directory and renamed
  into place, so a failed write leaves no half-written report and an input
  given as the output is refused before anything is written. An existing
  non-regular output (`/dev/null`, a FIFO) is written in place, never
  replaced, and its mode is never touched.
"""

from __future__ import annotations

import os
import select
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TextIO

from abicheck.errors import UsageError


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "backslashreplace")


def write_stream(text: str, stream: TextIO | None) -> str | None:
    """Write to stdout or stderr; a closed or broken stream is not an error. Returns why the write failed
    otherwise (a full disk: /dev/full), for the caller to say."""
    if stream is None:
        return None
    try:
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            stream.flush()
            buffer.flush()
            _write_all(stream.fileno(), _encode(text))
        else:  # a stream without bytes underneath (a test's StringIO): it takes str as it is
            stream.write(text)
    except BrokenPipeError:
        _silence(stream)
    except ValueError:  # closed meanwhile
        pass
    except OSError as exc:
        _silence(stream)
        return exc.strerror or str(exc)
    return None


def _write_all(fd: int, data: bytes) -> None:
    """Every byte of `data` to `fd`. (A buffered write that a signal interrupts returns having written only
    part, without an error: 135 KB of a 600 KB report, with Ctrl-C held back.)"""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:  # a descriptor left non-blocking by whatever started us: wait for room
            select.select([], [fd], [])


def _silence(stream: TextIO) -> None:
    """Point the broken stream's descriptor at /dev/null so the interpreter's exit does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


@contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """SIGINT held back while the body runs (main thread, Python's own handler only), then raised."""
    if threading.current_thread() is not threading.main_thread() or (
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    pending: list[int] = []

    def later(signum: int, frame: FrameType | None) -> None:
        if pending:  # a second Ctrl-C: the user will not wait for a slow reader
            raise KeyboardInterrupt
        pending.append(signum)

    signal.signal(signal.SIGINT, later)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if pending:
        raise KeyboardInterrupt


def out(text: str) -> str | None:
    """Write to stdout, whole (see the module's docstring); why it failed, when it did for a reason other than
    a reader that went away."""
    with _interrupt_deferred():
        return write_stream(text, sys.stdout)


def err(text: str) -> None:
    write_stream(text, sys.stderr)


def _container_of(path: str) -> str:
    """`dist/x.whl!pkg/_x.so` -> `dist/x.whl`: the file a display path lies in."""
    return path.split("!", 1)[0]


def check_output(output: str, inputs: Iterable[str]) -> None:
    """UsageError when `output` is empty, a FIFO or socket (writing could block forever), the same file as one
    of the inputs, or an existing file inside an input directory (one the check reads, or would on a rerun)."""
    if not output:
        raise UsageError("-o/--output needs a file name")
    try:
        target = os.stat(output)
    except OSError:
        return  # it does not exist yet: it cannot be an input
    if stat.S_ISFIFO(target.st_mode) or stat.S_ISSOCK(target.st_mode):
        raise UsageError(f"-o {output} is a FIFO or socket; give a file (or /dev/stdout)")
    real = os.path.realpath(output)
    for path in inputs:
        folder = os.path.realpath(path)
        if os.path.isdir(folder) and stat.S_ISREG(target.st_mode) and real.startswith(folder.rstrip(os.sep) + os.sep):
            raise UsageError(f"-o {output} is inside the checked folder {path}; refusing to overwrite a file there")
    for path in inputs:
        try:
            if os.path.samefile(_container_of(path), output) and stat.S_ISREG(target.st_mode):
                raise UsageError(f"-o {output} is one of the inputs; refusing to overwrite it")
        except OSError:
            continue


def write_file(output: str, data: bytes | str, inputs: Iterable[str] = (), mode: int | None = None) -> None:
    """Write `data` to `output` atomically (see the module notes); raises UsageError or OSError."""
    check_output(output, inputs)
    raw = _encode(data) if isinstance(data, str) else data
    try:
        existing = os.stat(output)
    except OSError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        with open(output, "wb") as f:  # /dev/null, a FIFO: write through, never replace or chmod
            f.write(raw)
        return
    folder = os.path.dirname(os.path.abspath(output))
    fd, temporary = tempfile.mkstemp(prefix=".abicheck-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            if mode is not None:
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(f.fileno(), mode & ~umask)
            elif existing is not None:
                os.fchmod(f.fileno(), stat.S_IMODE(existing.st_mode))
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(f.fileno(), 0o666 & ~umask)
        os.replace(temporary, output)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
