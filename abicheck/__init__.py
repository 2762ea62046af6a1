"""abicheck: will this ELF object load on the user's system?

The library API comes first; the command line, the pytest plugin and the Nix
hook are thin callers of it::

    import abicheck
    report = abicheck.check(["dist/pkg-1.0-cp311-abi3-manylinux_2_28_x86_64.whl"])
    for finding in report.findings:
        print(finding.path, finding.code, finding.message)
    report.exit_code  # 0 clean, 1 findings, 2 input errors only

Imports are lazy, so `import abicheck` costs almost nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Finding",
    "InputError",
    "InputProblem",
    "Report",
    "UsageError",
    "__version__",
    "check",
    "load_policy",
]

if TYPE_CHECKING:
    from abicheck.errors import InputError, UsageError
    from abicheck.pipeline import check
    from abicheck.policy.manylinux import load_policy
    from abicheck.report.model import Finding, InputProblem, Report

_LAZY = {
    "check": "abicheck.pipeline",
    "Report": "abicheck.report.model",
    "Finding": "abicheck.report.model",
    "InputProblem": "abicheck.report.model",
    "InputError": "abicheck.errors",
    "UsageError": "abicheck.errors",
    "load_policy": "abicheck.policy.manylinux",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'abicheck' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
