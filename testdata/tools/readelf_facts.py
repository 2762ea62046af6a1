"""Facts about an ELF file as binutils `readelf` reports them.

This is the independent oracle for the test data: it shares no code with
abicheck. `make_manifest.py` records these facts in testdata/manifest.json,
and a test re-runs readelf to check that the manifest still matches.
"""

from __future__ import annotations

import re
import subprocess

# readelf's "Machine:" text -> the architecture names used by wheel tags.
MACHINES = {
    "Advanced Micro Devices X86-64": "x86_64",
    "AArch64": "aarch64",
    "RISC-V": "riscv64",
    "Intel 80386": "i686",
    "IBM S/390": "s390x",
    "MIPS R3000": "mips",
}


def _readelf(*args: str) -> str:
    done = subprocess.run(
        ["readelf", "-W", *args], capture_output=True, text=True, check=False,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    )
    return done.stdout


def facts(path: str) -> dict:
    header = _readelf("-h", path)
    fields = dict(
        (k.strip(), v.strip())
        for k, v in (line.split(":", 1) for line in header.splitlines()[1:] if ":" in line)
    )
    sectionless = "There are no sections" in _readelf("-S", path)
    dyn = ["-D"] if sectionless else []

    interp = re.search(r"\[Requesting program interpreter: (.*)\]", _readelf("-l", path))
    dynamic = _readelf("-d", path)

    def tagged(tag: str) -> list[str]:
        return re.findall(r"\(" + tag + r"\)\s+[^\[]*\[(.*)\]", dynamic)

    needs: dict[str, list[list]] = {}
    current = None
    for line in _readelf("-V", *dyn, path).splitlines():
        m = re.search(r"Version: \d+\s+File: (\S+)\s+Cnt:", line)
        if m:
            current = needs.setdefault(m.group(1), [])
            continue
        m = re.search(r"Name: (\S+)\s+Flags: (\S+)", line)
        if m and current is not None:
            current.append([m.group(1), "WEAK" in m.group(2)])
    for versions in needs.values():
        versions.sort()

    imports = set()
    for line in _readelf("--dyn-syms", *dyn, path).splitlines():
        cols = line.split()
        if len(cols) >= 8 and cols[6] == "UND" and "@" in cols[7]:
            imports.add(cols[7].replace("@@", "@"))

    return {
        "class": int(fields["Class"].removeprefix("ELF")),
        "endian": "little" if "little" in fields["Data"] else "big",
        "type": fields["Type"].split()[0],
        "arch": MACHINES[fields["Machine"]],
        "interpreter": interp.group(1) if interp else None,
        "needed": tagged("NEEDED"),
        "soname": (tagged("SONAME") or [None])[0],
        "rpath": (tagged("RPATH") or [None])[0],
        "runpath": (tagged("RUNPATH") or [None])[0],
        "version_needs": dict(sorted(needs.items())),
        "versioned_imports": sorted(imports),
        "sectionless": sectionless,
    }


def is_elf_per_readelf(path: str) -> bool:
    """True when readelf accepts the file header without an error."""
    done = subprocess.run(["readelf", "-h", path], capture_output=True, text=True, check=False)
    return done.returncode == 0 and "Error" not in done.stderr
