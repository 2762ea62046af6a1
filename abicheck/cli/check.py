"""`abicheck check` as a plain function, shared by the typer app and the fast entry path."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from abicheck.errors import UsageError


def fail(message: str) -> int:
    from abicheck.cli.output import err

    err(f"abicheck: error: {message}\n")
    return 2


def emit(text: str, output: str | None, inputs: Sequence[str] = ()) -> int | None:
    """Write `text` to `output` (or stdout); an exit code only if writing failed."""
    from abicheck.cli.output import out, write_file

    if output is None:
        out(text)
        return None
    try:
        write_file(output, text, inputs)
    except UsageError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot write {output}: {exc.strerror or exc}")
    return None


class _Progress:
    """A progress line on stderr, shown only for scans that last more than a couple of seconds.

    Only for a terminal, and never for JSON or SARIF output.
    """

    DELAY = 2.0

    def __init__(self, enabled: bool) -> None:
        import time

        self.enabled = enabled
        self.clock = time.monotonic
        self.started = self.clock()
        self.count = 0
        self.bar = None
        self.task = None

    def __call__(self, path: str) -> None:
        self.count += 1
        if not self.enabled:
            return
        if self.bar is None:
            if self.clock() - self.started < self.DELAY:
                return
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.bar = Progress(SpinnerColumn(), TextColumn("checked {task.completed} objects"),
                                TimeElapsedColumn(), TextColumn("{task.description}"),
                                console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("", total=None)
        self.bar.update(self.task, completed=self.count, description=path[-60:])

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def run_check(
    paths: Sequence[str],
    *,
    policy: str | None = None,
    target: str | None = None,
    arch: str | None = None,
    output_format: str | None = None,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    output: str | None = None,
    backend: str | None = None,
    variant: str | None = None,
    python_abi: str | None = None,
    policy_file: Sequence[str] | None = None,
    jobs: int | None = None,
    allow_empty: bool = False,
    torch: str | None = None,
    torch_mismatch: str | None = None,
    torch_stable_abi: str | None = None,
    macos: str | None = None,
) -> int:
    """Check, print or write the report, and return the exit code (0, 1 or 2)."""
    from abicheck.cli.config import load_config
    from abicheck.pipeline import check
    from abicheck.report.render import FORMATS, render, render_text

    if not paths:
        return fail("give at least one file, directory or wheel to check")
    from abicheck.cli.output import check_output, err

    try:
        if output is not None:
            check_output(output, paths)  # before the work, not after it
        for name, value in (("--policy", policy), ("--arch", arch), ("--backend", backend), ("--variant", variant),
                            ("--python-abi", python_abi), ("--torch", torch), ("--macos", macos)):
            if value is not None and not value.strip():
                raise UsageError(f"{name} needs a value")
        # The project the (first) checked path belongs to, wherever abicheck is run from.
        first = os.path.abspath(paths[0])
        config = load_config(first if os.path.isdir(first) else os.path.dirname(first))
        fmt = output_format or config.get("format", "text")
        if fmt not in FORMATS:
            raise UsageError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        progress = _Progress(fmt in ("text", "github") and sys.stderr is not None and sys.stderr.isatty())
        try:
            report = check(
                list(paths),
                policy=policy or config.get("policy"),
                target=target or config.get("target", "wheel"),
                arch=arch or config.get("arch"),
                select=select or config.get("select"),
                ignore=ignore or config.get("ignore"),
                backend=backend or config.get("backend"),
                variant=variant or config.get("variant"),
                python_abi=python_abi or config.get("python_abi"),
                policy_files=policy_file or config.get("policy_file", ()),
                jobs=jobs,
                progress=progress,
                allow_empty=allow_empty,
                torch=torch or config.get("torch"),
                torch_mismatch=torch_mismatch or config.get("torch_mismatch", "error"),
                torch_stable_abi=torch_stable_abi or config.get("torch_stable_abi"),
                macos=macos or config.get("macos"),
            )
        finally:
            progress.close()
    except UsageError as exc:
        return fail(str(exc))
    failed = emit(render(report, fmt), output, paths)
    if failed is not None:
        return failed
    if output is not None:
        err(render_text(report).splitlines()[-1] + f" Report written to {output}.\n")
    return report.exit_code
