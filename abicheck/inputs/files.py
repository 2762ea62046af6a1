"""The one way abicheck reads a whole file that is not an object: configuration, policy data, dumps.

Every such file (`metadata.json`, `--policy-file`, `pyproject.toml`, a torch
folder's `version.py`, a `--torch` or `abi diff` dump) is read through
`read_file`: a FIFO, socket or device is refused before it is opened (reading
one could block forever), and a file over the cap for its kind is refused
before it is read, both as a one-line InputError naming the file and the cap.
"""

from __future__ import annotations

import os
import stat

from abicheck.errors import InputError

# The most bytes each kind of file may have; the real ones are far smaller.
CAPS = {
    "metadata.json": 1 << 20,
    "policy file": 16 << 20,
    "pyproject.toml": 4 << 20,
    "version.py": 1 << 16,
    "ABI dump": 512 << 20,
}


def read_file(path: str, kind: str) -> bytes:
    """The bytes of a regular file of `kind` (a key of CAPS); InputError for anything else or anything bigger."""
    cap = CAPS[kind]
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(f"cannot read {kind}: {exc.strerror or exc}", path) from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{kind} is not a regular file (a FIFO, socket, device or folder cannot be read safely)",
                         path)
    if info.st_size > cap:
        raise InputError(f"{kind} is {info.st_size} bytes, over the {_size(cap)} abicheck reads", path)
    try:
        with open(path, "rb") as f:
            data = f.read(cap + 1)
    except OSError as exc:
        raise InputError(f"cannot read {kind}: {exc.strerror or exc}", path) from None
    if len(data) > cap:  # it grew while being read
        raise InputError(f"{kind} is over the {_size(cap)} abicheck reads", path)
    return data


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"
