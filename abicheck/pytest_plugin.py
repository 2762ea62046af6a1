"""pytest plugin: every built ELF object becomes a test item.

Switch it on with `pytest --abicheck` or `abicheck = true` under
`[tool.pytest.ini_options]`. It finds the ELF objects under `abicheck_paths`
(default `build result`), one item each, with ids such as
`abicheck::build/torch28-cxx11-cu128-x86_64-linux/relu/_relu_cuda_ab12.abi3.so`,
so `-k`, `--lf`, `-x` and JUnit XML work as for any test. Collection only
finds the objects; the check itself runs once, at the first item, over all of
them (so kernel variants and wheels are understood as a whole).

The `abicheck_check` fixture runs a check by hand and returns the Report.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from abicheck.errors import InputError, UsageError

if TYPE_CHECKING:
    from abicheck.options import CheckOptions

ITEM_PREFIX = "abicheck::"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("abicheck", "ELF/manylinux checks of built objects (abicheck)")
    group.addoption("--abicheck", action="store_true", default=None,
                    help="check every ELF object under abicheck_paths, one test item each")
    group.addoption("--abicheck-paths", action="append", default=None,
                    help="space- or comma-separated folders, files or wheels to check (default: build result); "
                         "repeatable")
    group.addoption("--abicheck-policy", default=None, help="policy, e.g. manylinux_2_28 (default: abicheck's)")
    group.addoption("--abicheck-target", default=None, help="wheel (default) or nix")
    group.addoption("--abicheck-select", default=None, help="rule codes or prefixes to check, comma-separated")
    group.addoption("--abicheck-ignore", default=None, help="rule codes or prefixes to skip, comma-separated")
    group.addoption("--abicheck-policy-file", action="append", default=None,
                    help="extra backend policy data (JSON), as abicheck check --policy-file; repeatable")
    group.addoption("--abicheck-torch", action="append", default=None,
                    help="a torch kernels will meet besides the installed one: an installed torch folder, a torch "
                         "wheel, or a release of abicheck's index (2.9); repeatable")
    group.addoption("--abicheck-strict", action="store_true", default=None,
                    help="fail, instead of skip, when there are no build outputs or something could not be checked")
    parser.addini("abicheck", type="bool", default=False, help="run abicheck on build outputs (like --abicheck)")
    parser.addini("abicheck_paths", type="args", default=["build", "result"],
                  help="folders, files or wheels to check, relative to the rootdir")
    parser.addini("abicheck_policy", default="", help="policy to check against")
    parser.addini("abicheck_target", default="", help="wheel or nix")
    parser.addini("abicheck_select", type="args", default=[], help="rule codes or prefixes to check")
    parser.addini("abicheck_ignore", type="args", default=[], help="rule codes or prefixes to skip")
    parser.addini("abicheck_torch", type="args", default=[], help="torches kernels will meet (as --abicheck-torch)")
    parser.addini("abicheck_strict", type="bool", default=False,
                  help="fail, instead of skip, when there are no build outputs or something could not be checked")


def _split(value: str | None) -> list[str]:
    return [v for v in (value or "").replace(",", " ").split() if v]


class _Settings:
    """The plugin's options: the project's [tool.abicheck] (as the command line reads it), then the ini
    options, then pytest's command line, combined as abicheck.options says."""

    def __init__(self, config: pytest.Config) -> None:
        opt = config.getoption
        self.enabled = bool(opt("--abicheck") or config.getini("abicheck"))
        self.root = Path(str(config.rootpath))
        project: dict[str, Any] = {}
        self.error: str | None = None
        if self.enabled:
            from abicheck.cli.config import load_config  # the plugin loads abicheck only when it is enabled

            try:
                project = load_config(self.root)
            except UsageError as exc:
                self.error = str(exc)
        project.pop("format", None)
        self.paths = [p for given in opt("--abicheck-paths") or () for p in _split(given)] or list(
            config.getini("abicheck_paths"))
        self.default_paths = not opt("--abicheck-paths") and self.paths == ["build", "result"]
        ini = {"policy": config.getini("abicheck_policy") or None, "target": config.getini("abicheck_target") or None,
               "select": list(config.getini("abicheck_select")), "ignore": list(config.getini("abicheck_ignore")),
               "torch": list(config.getini("abicheck_torch")) or None}
        given = {"policy": opt("--abicheck-policy"), "target": opt("--abicheck-target"),
                 "select": _split(opt("--abicheck-select")), "ignore": _split(opt("--abicheck-ignore")),
                 "policy_files": opt("--abicheck-policy-file") or (), "torch": opt("--abicheck-torch")}
        # Kernels' torch imports are checked against their variant's release: a torch given or installed here
        # (found without importing it, see options()) of that release, else abicheck's index; a variant of a
        # release neither has is reported as not checked.
        self.layers: tuple[dict[str, Any], ...] = (project, ini, given, {"torch_mismatch": "skip"})
        self.strict = bool(opt("--abicheck-strict") or config.getini("abicheck_strict") or project.get("strict"))
        self._report: Any = None
        self.targets: set[str] = set()  # the objects collected as items

    def options(self) -> CheckOptions:
        """Raises UsageError for an option that makes no sense."""
        from abicheck.analysis.torch import installed_torch
        from abicheck.options import CheckOptions

        # The torch installed here comes after those the project names (a variant takes the first of its release).
        options = CheckOptions.from_layers(*self.layers)
        installed = installed_torch()
        if installed is not None and installed not in options.torch:
            options = CheckOptions.from_layers(*self.layers, {"torch": [*options.torch, installed]})
        return options

    def existing_paths(self) -> list[str]:
        """The configured paths that exist; of kernel-builder's output folders, only the one the CLI checks.

        `abicheck check .` takes the variants under result/, else build/; when both
        are configured and both hold variants, only that one is collected.
        """
        from abicheck.inputs.kernel_tree import OUTPUT_FOLDERS, find_nested_variant_dirs, find_variant_dirs

        existing = [p for p in self.paths if (self.root / p).exists()]
        if not existing and self.default_paths:
            # A monorepo of kernels (<kernel>/build/<variant>/): each kernel's output folder.
            nested = find_nested_variant_dirs(str(self.root))
            return sorted({os.path.dirname(v) for v in nested})
        outputs = [p for p in existing if p.strip("/") in OUTPUT_FOLDERS]
        if len(outputs) > 1:
            chosen = find_variant_dirs(str(self.root)) or []
            used = {os.path.basename(os.path.dirname(v)) for v in chosen}
            existing = [p for p in existing if p not in outputs or p.strip("/") in used] or existing
        return [str(self.root / p) for p in existing]

    def report(self) -> Any:
        """The one check over every path, run at the first item that needs it.

        Kernels' torch imports are checked against the torch installed here
        (found without importing it) for the variants of its release; other
        variants' are reported as not checked at the end of the run.
        """
        if self._report is None:
            from abicheck.pipeline import check

            self._report = check(self.existing_paths(), options=self.options())
        return self._report


_SETTINGS = pytest.StashKey[_Settings]()


def pytest_configure(config: pytest.Config) -> None:
    settings = _Settings(config)
    config.stash[_SETTINGS] = settings
    config.addinivalue_line("markers", "abicheck: an abicheck check of one built ELF object")
    if settings.enabled and settings.error is not None:
        raise pytest.UsageError(f"abicheck: {settings.error}")
    if settings.enabled:
        from abicheck.options import CheckOptions

        try:
            CheckOptions.from_layers(*settings.layers)
        except UsageError as exc:
            raise pytest.UsageError(f"abicheck: {exc}") from None


def _discover(settings: _Settings) -> list[str]:
    """Every ELF, Mach-O or PE object (or wheel member) under the configured paths, as display paths."""
    from abicheck.inputs.paths import kind_of, walk_directory

    found: list[str] = []
    for path in settings.existing_paths():
        try:
            kind = kind_of(path)
        except InputError:
            continue
        if kind == "dir":
            files, _shipped = walk_directory(path, [])
            found.extend(f.display for f in files if not f.relocatable)
        elif kind == "wheel":
            from abicheck.inputs.wheel import WheelReader

            try:
                with WheelReader(path) as wheel:
                    found.extend(wheel.display(m) for m in wheel.elf_members([]))
                    found.extend(wheel.display(m) for m, _format in wheel.foreign_members)
            except InputError:
                found.append(path)
        else:
            found.append(path)
    return found


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add the abicheck items before -k, --lf and friends select among all items."""
    settings = config.stash[_SETTINGS]
    if not settings.enabled or not _whole_project(config):
        return
    objects = _discover(settings)
    if not objects:
        where = ", ".join(f"{p.rstrip('/')}/" for p in settings.paths)
        pure = _pure_variants(settings)
        reason = (f"only pure-Python variants under {where} ({', '.join(pure)}): no compiled objects to check"
                  if pure else f"no build outputs under {where}: build the kernel first")
        items.append(AbicheckEmpty.from_parent(session, name="no-build-outputs",
                                               nodeid=f"{ITEM_PREFIX}no-build-outputs", reason=reason))
        _report_collected(session, items[-1:])
        return
    for display in objects:
        rel = _relative(display, settings.root)
        items.append(AbicheckItem.from_parent(session, name=rel, nodeid=f"{ITEM_PREFIX}{rel}", target=display))
    settings.targets = set(objects)
    for path in settings.existing_paths():
        rel = _relative(path, settings.root).rstrip("/") + "/"
        items.append(AbicheckFolder.from_parent(session, name=rel, nodeid=f"{ITEM_PREFIX}{rel}", target=path))
    _report_collected(session, items[-(len(objects) + len(settings.existing_paths())):])


def _report_collected(session: pytest.Session, added: list[pytest.Item]) -> None:
    """Items added here were in no collect report: report them, or `pytest --co` says "no tests collected"."""
    report = pytest.CollectReport(session.nodeid, "passed", None, list(added))
    session.config.hook.pytest_collectreport(report=report)


def _pure_variants(settings: _Settings) -> list[str]:
    """The variant folders (`torch-cuda`) under the configured paths that hold no compiled objects."""
    from abicheck.inputs.kernel_tree import find_variant_dirs
    from abicheck.inputs.variants import looks_like_variant, parse_variant

    names = []
    for path in settings.existing_paths():
        for folder in find_variant_dirs(path) or []:
            name = os.path.basename(os.path.normpath(folder))
            try:
                if looks_like_variant(name) and not parse_variant(name).has_binaries:
                    names.append(name)
            except InputError:
                continue
    return sorted(names)


def _whole_project(config: pytest.Config) -> bool:
    """Whether the run targets the project (no arguments, or a folder), not chosen files or test IDs."""
    source = getattr(config, "args_source", None)
    if source is not None and source != pytest.Config.ArgsSource.ARGS:
        return True  # pytest chose the arguments itself: testpaths or the invocation directory
    for arg in config.args:
        if "::" not in arg and Path(config.invocation_params.dir, arg).is_dir():
            return True
    return not config.args


def _relative(path: str, root: Path) -> str:
    head, sep, member = path.partition("!")
    try:
        rel = os.path.relpath(head, root)
    except ValueError:
        rel = head
    return rel + sep + member


class AbicheckWarning(UserWarning):
    """A finding of warning severity (an absolute RUNPATH entry): reported, failing only with fail-on warning."""


class AbicheckFailure(Exception):
    """Raised by an item whose object has findings or could not be read."""


class AbicheckItem(pytest.Item):
    """One ELF object (or wheel member) under the configured paths."""

    def __init__(self, *, target: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target
        self.add_marker("abicheck")

    def runtest(self) -> None:
        settings = self.config.stash[_SETTINGS]
        report = settings.report()
        lines: list[str] = []
        for artifact in report.artifacts:
            if artifact.path == self.target or _covers(artifact, self.target):
                lines.extend(_format(f) for f in artifact.findings if report.fails(f))
                for f in artifact.findings:
                    if not report.fails(f):  # a warning (--fail-on error): shown in pytest's warnings summary
                        warnings.warn(AbicheckWarning(f"{self.name}: {_format(f)}"), stacklevel=1)
        # An error about a folder above the object (an unknown variant name, a
        # malformed metadata.json) fails every object in it.
        lines.extend(f"error: {e.path}: {e.message}" if e.path != self.target else f"error: {e.message}"
                     for e in report.errors if _concerns(e.path, self.target))
        if lines:
            raise AbicheckFailure("\n".join(lines))
        unchecked = [why for artifact in report.artifacts if artifact.path == self.target
                     for why in _not_checked(artifact)]
        if unchecked:
            reason = "passed what was checked; not checked: " + "; ".join(unchecked)
            if settings.strict:
                raise AbicheckFailure(f"{reason} (--abicheck-strict)")
            pytest.skip(reason)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, AbicheckFailure):
            return f"{self.name}\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return self.target.partition("!")[0], None, f"abicheck: {self.name}"


# The command line's options, as pytest spells them, for messages shown inside pytest.
_PYTEST_SPELLING = ((re.compile(r"--torch-mismatch\b"), "torch-mismatch in [tool.abicheck]"),
                    (re.compile(r"--torch(?![-\w])"), "--abicheck-torch"),
                    (re.compile(r"--strict\b"), "--abicheck-strict"),
                    (re.compile(r"--variant\b"), "variant in [tool.abicheck]"))


def in_pytest_terms(text: str) -> str:
    for cli, plugin in _PYTEST_SPELLING:
        text = cli.sub(plugin, text)
    return text


def _not_checked(artifact: Any) -> list[str]:
    """Why parts of one object's check could not be done: its torch symbols, imports, libraries."""
    out = []
    why = (artifact.symbols or {}).get("not_checked")
    if why:
        out.append(f"torch symbols ({in_pytest_terms(why)})")
    for library, reason in (artifact.imports or {}).get("unknown_libraries", {}).items():
        out.append(f"imports only {library} could define ({in_pytest_terms(reason)})")
    if artifact.unverified:
        out.append(f"{artifact.unverified} librar{'y' if artifact.unverified == 1 else 'ies'} not verified "
                   "(no data on what torch installs for this backend)")
    return out


def _covers(artifact: Any, target: str) -> bool:
    """Wheel-level (AB402) and variant-level (AB305) findings fail every object they cover."""
    if artifact.kind == "wheel":
        return target.startswith(artifact.path + "!")
    if artifact.kind == "metadata":
        return _inside(target, os.path.dirname(artifact.path))
    return False


def _concerns(error_path: str, target: str) -> bool:
    """An input error about the object itself, or about a folder (or its metadata.json) that holds it."""
    if error_path == target or _inside(target, error_path):
        return True
    return os.path.basename(error_path) == "metadata.json" and _inside(target, os.path.dirname(error_path))


class AbicheckFolder(AbicheckItem):
    """One configured path (`build/`): fails with the input errors no object's item reports.

    An unknown variant name over a folder without objects, an unreadable
    folder, a metadata.json of a variant without objects: the command line
    fails on them, so pytest must too.
    """

    def runtest(self) -> None:
        settings = self.config.stash[_SETTINGS]
        report = settings.report()
        targets = settings.targets
        lines = [f"error: {e.path}: {e.message}" for e in report.errors
                 if (e.path == self.target or _inside(e.path, self.target))
                 and not any(_concerns(e.path, t) for t in targets)]
        if lines:
            raise AbicheckFailure("\n".join(lines))


def _inside(target: str, folder: str) -> bool:
    return bool(folder) and target.startswith(folder.rstrip(os.sep) + os.sep)


def _format(finding: Any) -> str:
    """As the command line prints it: the message names the symbol@version or library."""
    return f"{finding.code} [{finding.name}] {finding.message}\n    hint: {finding.hint}"


class AbicheckEmpty(pytest.Item):
    """Stands in when there is nothing to check: skipped, or failed with --abicheck-strict."""

    def __init__(self, *, reason: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reason = reason

    def runtest(self) -> None:
        if self.config.stash[_SETTINGS].strict:
            raise AbicheckFailure(f"{self.reason} (--abicheck-strict)")
        pytest.skip(self.reason)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[str, int | None, str]:
        return "abicheck", None, "abicheck: no build outputs"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say which objects' torch symbols and imports were not checked, and why: never a silent pass."""
    settings = config.stash.get(_SETTINGS, None)
    if settings is None or settings._report is None:
        return
    reasons: dict[str, int] = {}
    for artifact in settings._report.artifacts:
        why = (artifact.symbols or {}).get("not_checked")
        if why:
            reasons[why] = reasons.get(why, 0) + 1
    for why, count in sorted(reasons.items()):
        terminalreporter.write_line(f"abicheck: torch symbols not checked for {count} object"
                                    f"{'s' if count != 1 else ''}: {in_pytest_terms(why)}")
    for line in settings._report.unchecked_imports():
        terminalreporter.write_line(f"abicheck: {in_pytest_terms(line.strip())}")


@pytest.fixture
def abicheck_check() -> Callable[..., Any]:
    """Check a path by hand: `report = abicheck_check("build", policy="manylinux_2_28")`.

    Returns the Report; `report.assert_clean()` fails with every finding listed.
    """
    from abicheck.pipeline import check

    def run(path: str | os.PathLike[str], **options: Any) -> Any:
        return check([os.fspath(path)], **options)

    return run
