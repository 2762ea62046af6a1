"""Error types.

Input errors are not findings: they say that an input could not be checked at
all (a missing path, a file that is not ELF, a corrupt zip). Every problem
with an input surfaces as an `InputError` carrying one human-readable line, so
callers never need to catch anything else.
"""

from __future__ import annotations


class InputError(Exception):
    """An input could not be read or understood.

    `str(error)` is a single line that names the problem; the path is kept
    apart in `path` so renderers can put it first.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ElfError(InputError):
    """A file is not ELF, or its ELF structures are malformed or truncated."""


class NothingToCheck(InputError):
    """A directory or wheel holds no ELF, Mach-O or PE objects (an error unless --allow-empty)."""


class MissingBytes(ElfError):
    """A streamed wheel member did not keep bytes the reader asked for.

    The caller then reads the whole member; users see it only if that fails.
    """

    def __init__(self, start: int, stop: int) -> None:
        super().__init__(f"malformed ELF: bytes {start}..{stop} lie outside the dynamic tables")
        self.start, self.stop = start, stop


class UsageError(Exception):
    """The options given do not make sense (an unknown policy, a bad code)."""
