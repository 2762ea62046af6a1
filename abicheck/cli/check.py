"""`abicheck check` as a plain function, shared by the typer app and the fast entry path."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from abicheck.cli.config import load_config
from abicheck.cli.output import check_output, err, out, write_file
from abicheck.errors import UsageError
from abicheck.options import CheckOptions
from abicheck.pipeline import check
from abicheck.report.render import FORMATS, render, render_text
from abicheck.report.render import statistics as render_statistics

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


def fail(message: str) -> int:
    err(f"abicheck: error: {message}\n")
    return 2


def emit(text: str, output: str | None, inputs: Sequence[str] = ()) -> int | None:
    """Write `text` to `output` (or stdout); an exit code only if writing failed."""
    if output is None:
        failed = out(text)
        if failed is not None:  # the report is lost: say so, never exit as if it had been read
            return fail(f"cannot write the report to standard output: {failed}")
        return None
    try:
        write_file(output, text, inputs)
    except UsageError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot write {output}: {exc.strerror or exc}")
    return None


def shorten(path: str, width: int) -> str:
    """`path` in at most `width` characters, leading folders dropped whole: `…/pkg/_ops.abi3.so`."""
    if len(path) <= width:
        return path
    cut = len(path) - (width - 2)  # room for "…/": the first separator from there on
    found = [at for at in (path.find("/", cut), path.find("!", cut)) if at >= 0]
    if found:
        return "…/" + path[min(found) + 1:]
    return "…" + path[-(width - 1):]  # one name longer than the line: its end


class _Progress:
    """A progress line on stderr, shown only for scans that last more than a couple of seconds.

    Only for a terminal, and never for JSON or SARIF output.
    """

    DELAY = 2.0

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.clock = time.monotonic
        self.started = self.clock()
        self.count = 0
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.width = 80
        self.total: int | None = 0  # the objects the wheels hold, once known; None once an input's count is not

    def expect(self, count: int | None) -> None:
        """An input holds `count` objects (None: a file or folder, whose count the walk finds as it goes)."""
        self.total = None if count is None or self.total is None else self.total + count

    def __call__(self, path: str) -> None:
        self.count += 1
        if not self.enabled:
            return
        if self.bar is None:
            if self.clock() - self.started < self.DELAY:
                return
            # rich costs ~30 ms at import: only for a progress line that is shown
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            console = Console(stderr=True)
            self.bar = Progress(SpinnerColumn(), TimeElapsedColumn(), TextColumn("checked {task.fields[done]}"),
                                TextColumn("{task.description}"), console=console, transient=True)
            self.width = max(20, console.width - 45)  # the spinner, the timer and "checked N of M objects" first
            self.bar.start()
            self.task = self.bar.add_task("", total=None, done="")
        if self.task is not None:
            done = f"{self.count} of {self.total} objects" if self.total else f"{self.count} objects"
            self.bar.update(self.task, completed=self.count, done=done, description=shorten(path, self.width))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def run_check(
    paths: Sequence[str],
    *,
    output_format: str | None = None,
    output: str | None = None,
    policy_file: Sequence[str] | None = None,
    statistics: bool = False,
    **values: Any,
) -> int:
    """Check, print or write the report, and return the exit code (0, 1 or 2).

    `values` are the command line's options, by the keywords `abicheck.check`
    takes; they are a layer over the project's `[tool.abicheck]`
    (abicheck.options says how layers combine).
    """
    if not paths:
        return fail("give at least one file, directory or wheel to check")
    try:
        if output is not None:
            check_output(output, paths)  # before the work, not after it
        # The project the (first) checked path belongs to, wherever abicheck is run from.
        first = os.path.abspath(paths[0])
        config = load_config(first if os.path.isdir(first) else os.path.dirname(first))
        configured = config.pop("format", "text")
        fmt = output_format or configured
        if fmt not in FORMATS:
            raise UsageError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        options = CheckOptions.from_layers(config, {**values, "policy_files": policy_file})
        if statistics and fmt not in ("text", "concise"):
            raise UsageError(f"--statistics goes with the text or concise format, not {fmt}")
        progress = _Progress(fmt in ("text", "concise", "github") and sys.stderr is not None and sys.stderr.isatty())
        try:
            report = check(list(paths), options=options, progress=progress)
        finally:
            progress.close()
    except UsageError as exc:
        return fail(str(exc))
    text = render(report, fmt)
    if statistics:
        counts = render_statistics(report)
        text = (counts + "\n" if counts else "") + text
    failed = emit(text, output, paths)
    if failed is not None:
        return failed
    if output is not None:
        err(render_text(report).splitlines()[-1] + f" Report written to {output}.\n")
    return report.exit_code
