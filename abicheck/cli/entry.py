"""The console entry point.

`abicheck check ...` is what the Nix hook, CI jobs and scripts run over and
over, so it is parsed here by a small parser without importing typer (whose
import alone costs more than a whole single-file check). Anything else, or a
`check` invocation this parser does not fully understand (help, unknown or
malformed options), goes to the typer app in abicheck.cli.app, which owns the
help text and the error messages. tests/test_entry.py keeps the two in step.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

# option -> (keyword of commands.run_check, kind); kinds: "value", "multi", "int", "flag"
CHECK_OPTIONS: dict[str, tuple[str, str]] = {
    "--policy": ("policy", "value"),
    "--manylinux": ("policy", "value"),  # kernel-builder check-abi's names for the same options
    "-m": ("policy", "value"),
    "-p": ("python_abi", "value"),
    "--target": ("target", "value"),
    "--arch": ("arch", "value"),
    "--format": ("output_format", "value"),
    "--select": ("select", "multi"),
    "--extend-select": ("extend_select", "multi"),
    "--ignore": ("ignore", "multi"),
    "--output": ("output", "value"),
    "-o": ("output", "value"),
    "--backend": ("backend", "value"),
    "--variant": ("variant", "value"),
    "--python-abi": ("python_abi", "value"),
    "--policy-file": ("policy_file", "multi"),
    "--jobs": ("jobs", "int"),
    "-j": ("jobs", "int"),
    "--allow-empty": ("allow_empty", "flag"),
    "--torch": ("torch", "multi"),
    "--strict": ("strict", "flag"),
    "--fail-on": ("fail_on", "value"),
    "--statistics": ("statistics", "flag"),
    "--torch-mismatch": ("torch_mismatch", "value"),
    "--torch-stable-abi": ("torch_stable_abi", "value"),
    "--macos": ("macos", "value"),
}


def parse_check(argv: list[str]) -> dict[str, Any] | None:
    """Keyword arguments for run_check, or None to let typer handle the command line."""
    if not argv or argv[0] != "check":
        return None
    kwargs: dict[str, Any] = {"paths": []}
    args = iter(argv[1:])
    for token in args:
        if not token.startswith("-") or token == "-":
            kwargs["paths"].append(token)
            continue
        name, eq, inline = token.partition("=")
        spec = CHECK_OPTIONS.get(name)
        if spec is None:
            return None  # --help, --, unknown options: typer explains
        if spec[1] == "flag":
            if eq:
                return None
            kwargs[spec[0]] = True
            continue
        value = inline if eq else next(args, None)
        if value is None or (not eq and value.startswith("-") and value != "-"):
            return None
        key, kind = spec
        if kind == "multi":
            kwargs.setdefault(key, []).append(value)
        elif kind == "int":
            if not value.isdigit() or int(value) < 1:
                return None
            kwargs[key] = int(value)
        else:
            kwargs[key] = value
    return kwargs if kwargs["paths"] else None


def guarded(run: Callable[[], Any]) -> None:
    """Run, turning any unexpected error into one line and exit 2, never a traceback."""
    try:
        run()
    except KeyboardInterrupt:  # 130, as shells report SIGINT; not 2, which means bad input
        from abicheck.cli.output import err

        err("abicheck: interrupted\n")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so in one line
        if os.environ.get("ABICHECK_DEBUG"):
            raise
        from abicheck.cli.output import err

        err(f"abicheck: internal error: {type(exc).__name__}: {exc} "
                         "(please report it; set ABICHECK_DEBUG=1 for details)\n")
        sys.exit(2)


def _is(exc: BaseException, name: str) -> bool:
    """Whether `exc` is click's `name` exception, from click itself or the copy typer ships (typer._click)."""
    return any(c.__name__ == name and c.__module__.endswith("click.exceptions") for c in type(exc).__mro__)


def run_app() -> None:
    """The typer app, with click's usage errors said in abicheck's one-line style (exit 2)."""
    import typer.main

    from abicheck.cli.app import app
    from abicheck.cli.output import err

    command = typer.main.get_command(app)
    try:
        code = command.main(prog_name="abicheck", standalone_mode=False)
    except Exception as exc:
        if _is(exc, "NoArgsIsHelpError"):  # `abicheck` alone: the help, as click shows it
            exc.show()  # type: ignore[attr-defined]
            sys.exit(2)
        if _is(exc, "UsageError"):
            ctx = getattr(exc, "ctx", None)
            help_of = f"; see '{ctx.command_path} -h'" if ctx is not None else ""
            message = " ".join(exc.format_message().split()).rstrip(".")  # type: ignore[attr-defined]
            err(f"abicheck: error: {message}{help_of}\n")
            sys.exit(2)
        if _is(exc, "Abort"):  # click's name for Ctrl-C at a prompt, or EOF
            raise KeyboardInterrupt from None
        raise
    sys.exit(code if isinstance(code, int) else 0)


def main() -> None:
    kwargs = parse_check(sys.argv[1:])
    if kwargs is None:
        guarded(run_app)
        return

    def fast() -> None:
        from abicheck.cli.check import run_check

        sys.exit(run_check(**kwargs))

    guarded(fast)
