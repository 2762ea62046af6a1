"""Benchmark abicheck against its peers, whole process against whole process.

    python bench/run.py [--runs N] [--quick] [--against REV] [--output bench/RESULTS.md]

Everything runs from a bench-only virtual environment (bench/.venv, made and
refreshed by this script): abicheck installed from this checkout (not
editable, so its bytecode is compiled as in a user's install), `auditwheel
show` (auditwheel from PyPI) and kernel-abi-check (PyPI `kernel-abi-check`,
`ObjectFile(path).check_manylinux(...)` on every ELF file), all under the same
interpreter and environment.

Inputs (made under bench/.cache, never committed):
  torch-wheel   the torch 2.13.0 CPU wheel (pip download torch==2.13.0 --no-deps)
  torch-lib     that wheel's torch/lib/ extracted to a folder
  150k-symbols  a generated .so with 150,000 exported functions that needs one
                too-new symbol (pthread_join@GLIBC_2.34), also as a one-file wheel
  kernel-tree   a build/ tree of 200 small kernel objects in variant folders
  single-so     one small .so
and the "limit": inflating every ELF member of the torch wheel with the
fastest inflater available, doing nothing else. A second table gives each
tool's findings on the same testdata objects (stripped, section-less, kernel
linkage, RPATH), so that speed is never bought with missed problems.

Each command runs --runs times, and the runs of the tools compared on one
input are interleaved round by round, so that the machine's drift in speed
hits them alike. The table gives the median wall time, the peak RSS of the
process, and each peer's time as a multiple of abicheck's.
With --against REV, abicheck as it was at git revision REV (installed in its
own environment under bench/.cache) runs beside it on every input, interleaved
like the peers: "before and after in one run".
Wall times are never asserted by the tests: this script is the place for them.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
VENV = HERE / ".venv"
TORCH = "torch==2.13.0"


def sh(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def run_once(cmd: list[str], env: dict) -> tuple[float, int, int]:
    """Wall time, peak RSS (KiB) and exit code of `cmd` as a whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _pid, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def measure_side_by_side(cmds: list[tuple[list[str], int]], env: dict | None = None) -> list[dict]:
    """Time each (command, runs) pair, their runs interleaved round by round.

    This machine's speed drifts by tens of percent over minutes; interleaving
    makes the drift hit every tool alike, so the ratios stay fair. Each command
    gets one untimed warm-up run first.
    """
    env = env or clean_env()
    for cmd, _runs in cmds:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    samples: list[list[tuple[float, int, int]]] = [[] for _ in cmds]
    rounds = max(runs for _cmd, runs in cmds)
    for round_ in range(rounds):
        for sample, (cmd, runs) in zip(samples, cmds, strict=True):
            first = (rounds - runs) // 2  # a command with fewer runs takes the middle rounds
            if first <= round_ < first + runs:
                sample.append(run_once(cmd, env))
    results = []
    for sample in samples:
        times = [t for t, _rss, _code in sample]
        results.append({"median": statistics.median(times), "min": min(times), "max": max(times),
                        "rss_mb": max(rss for _t, rss, _code in sample) / 1024,
                        "exit": sorted({code for _t, _rss, code in sample}), "runs": len(sample)})
    return results


# --- peers ---------------------------------------------------------------------

def bench_python() -> str:
    python = VENV / "bin" / "python"
    if not python.exists():
        sh(sys.executable, "-m", "venv", str(VENV))
        sh(str(python), "-m", "pip", "install", "-q", "auditwheel", "kernel-abi-check")
    sh(str(python), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(ROOT))
    sh(str(python), "-m", "pip", "install", "-q", str(ROOT))  # its dependencies
    return str(python)


def abicheck_at(rev: str) -> tuple[str, str]:
    """abicheck as it was at git revision `rev`, in its own virtual environment: (its command, short hash)."""
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", f"{rev}^{{commit}}"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        sys.exit(f"bench: --against {rev}: not a revision of this repository")
    short = found.stdout.strip()
    home = CACHE / f"against-{short}"
    python = home / "venv" / "bin" / "python"
    if not python.exists():
        shutil.rmtree(home, ignore_errors=True)
        (home / "src").mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", short], capture_output=True, check=True).stdout
        sh("tar", "-x", "-C", str(home / "src"), input=archive)
        sh(sys.executable, "-m", "venv", str(home / "venv"))
        sh(str(python), "-m", "pip", "install", "-q", str(home / "src"))
    return str(python.parent / "abicheck"), short


def clean_env() -> dict[str, str]:
    """The environment for measured processes: bytecode caching on, as for users."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


KAC_SCRIPT = r"""
import os, sys
from kernel_abi_check import ObjectFile
policy, paths = sys.argv[1], sys.argv[2:]
found = 0
def check(path):
    global found
    with open(path, "rb") as f:
        if f.read(4) != b"\x7fELF":
            return
    found += len(ObjectFile(path).check_manylinux(policy))
for root in paths:
    if os.path.isfile(root):
        check(root)
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                check(path)
print(found)
"""

LIMIT_SCRIPT = r"""
import sys, zipfile
try:
    from isal import isal_zlib as inflate
except ImportError:
    import zlib as inflate
path = sys.argv[1]
with zipfile.ZipFile(path) as zf, open(path, "rb") as f:
    for info in zf.infolist():
        with zf.open(info) as member:        # only to find where the data starts
            if member.read(4) != b"\x7fELF":
                continue
        f.seek(info.header_offset + 26)
        n, m = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
        f.seek(info.header_offset + 30 + n + m)
        d = inflate.decompressobj(-15)
        left = info.compress_size
        while left > 0:
            chunk = f.read(min(1 << 20, left))
            left -= len(chunk)
            d.decompress(chunk)
"""


# --- verdicts: what each tool says about the same testdata objects ---------------

VARIANT = ["--variant", "torch28-cxx11-cu128-x86_64-linux"]
VERDICT_CASES = [
    ("x86_64/newglibc.so", "host gcc: pthread_join@GLIBC_2.34, arc4random@GLIBC_2.36, ...", []),
    ("x86_64/newglibc.stripped.so", "the same, stripped", []),
    ("x86_64/newglibc.nosections.so", "the same, without section headers", []),
    ("x86_64/newcxx.so", "host g++: GLIBCXX_3.4.29 and newer", []),
    ("x86_64/newcxx.stripped.so", "the same, stripped", []),
    ("x86_64/runpath-nix.so", "RUNPATH into /nix/store", []),
    ("x86_64/kernels/cuda-driver.abi3.so", "a cu128 kernel linking libcuda.so.1 directly", VARIANT),
    ("x86_64/kernels/cuda-cudart13.abi3.so", "a cu128 kernel linking libcudart.so.13", VARIANT),
    ("x86_64/kernels/pyapi-private.abi3.so", "an abi3 kernel calling _PyLong_AsByteArray", VARIANT),
    ("x86_64/portable-glibc228.so", "zig cc for glibc 2.28: conformant", []),
]


KAC_VERDICT_SCRIPT = r"""
import sys
from kernel_abi_check import ObjectFile
obj = ObjectFile(sys.argv[1])
found = len(obj.check_manylinux("manylinux_2_28"))
if sys.argv[1].endswith(".abi3.so"):
    found += len(obj.check_python_abi("3.9"))
print(found)
"""


def has_symtab(path: str) -> bool:
    """Whether the object keeps its static symbol table (the one kernel-abi-check reads)."""
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        return ELFFile(f).get_section_by_name(".symtab") is not None


def verdicts(abicheck: str, python: str) -> list[str]:
    """Findings per tool on the same objects: the speed table's other half."""
    import json

    rows = ["", "## Verdicts on the same objects", "",
            "Findings each tool reports for objects from `testdata/bin/` (policy manylinux_2_28; "
            "kernel objects checked as the variant torch28-cxx11-cu128-x86_64-linux, which "
            "kernel-abi-check has no notion of; it runs `check_manylinux`, and `check_python_abi(\"3.9\")` "
            "on `.abi3.so` files).", "",
            "| object | what it is | `.symtab` | abicheck | kernel-abi-check |", "|---|---|---|---|---|"]
    for rel, what, extra in VERDICT_CASES:
        path = str(ROOT / "testdata" / "bin" / rel)
        done = subprocess.run([abicheck, "check", "--format", "json", *extra, path],
                              capture_output=True, text=True, env=clean_env(), check=False)
        findings = json.loads(done.stdout)["artifacts"][0]["findings"]
        codes = sorted({f["code"] for f in findings})
        ours = f"{len(findings)} ({', '.join(codes)})" if findings else "0"
        peer = subprocess.run([python, "-c", KAC_VERDICT_SCRIPT, path], capture_output=True, text=True,
                              env=clean_env(), check=False)
        theirs = peer.stdout.strip() or f"error (exit {peer.returncode})"
        rows.append(f"| `{rel}` | {what} | {'yes' if has_symtab(path) else 'no'} | {ours} | {theirs} |")
    return rows


# --- inputs --------------------------------------------------------------------

def torch_wheel() -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    found = sorted(CACHE.glob("torch-2.13.0*.whl"))
    if not found:
        sh(sys.executable, "-m", "pip", "download", "-q", TORCH, "--no-deps", "-d", str(CACHE))
        found = sorted(CACHE.glob("torch-2.13.0*.whl"))
    return found[0]


def torch_lib(wheel: Path) -> Path:
    target = CACHE / "torch-lib"
    if not target.exists():
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                if name.startswith("torch/lib/") and not name.endswith("/"):
                    zf.extract(name, CACHE / "torch-extract")
        (CACHE / "torch-extract" / "torch" / "lib").rename(target)
        shutil.rmtree(CACHE / "torch-extract")
    return target


def torch_kernel(wheel: Path, py: str, count: int = 2000) -> tuple[Path, Path]:
    """(an installed-torch folder from the wheel, a kernel importing `count` of libtorch_cpu's C++ functions)."""
    installed = CACHE / "torch-installed" / "torch"
    kernel = CACHE / f"torch-kernel-{count}.so"
    if not kernel.exists():
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                if (name.startswith("torch/lib/") and ".so" in name) or name == "torch/version.py":
                    zf.extract(name, installed.parent)
        pick = (
            "import sys\n"
            "from abicheck.binary.elf import open_elf\n"
            "from abicheck.analysis.torch import is_torch_symbol\n"
            "with open_elf(sys.argv[1]) as r:\n"
            "    names = sorted({s.name for s in r.exports() if s.kind == 'func' and not s.hidden\n"
            "                    and is_torch_symbol(s.name)})[:int(sys.argv[2])]\n"
            "for i, n in enumerate(names):\n"
            "    print(f'extern void s{i}(void) __asm__(\"{n}\");')\n"
            "print('void *table[] = {' + ','.join(f'(void*)s{i}' for i in range(len(names))) + '};')\n"
        )
        source = CACHE / "torch-kernel.c"
        with open(source, "w") as f:
            sh(py, "-c", pick, str(installed / "lib" / "libtorch_cpu.so"), str(count), stdout=f)
        sh("gcc", "-shared", "-fPIC", "-o", str(kernel), str(source), f"-L{installed / 'lib'}",
           "-Wl,--no-as-needed", "-l:libtorch_cpu.so", "-l:libc10.so")
    return installed, kernel


def many_symbols(count: int = 150_000) -> tuple[Path, Path]:
    so = CACHE / "many-symbols.so"
    wheel = CACHE / "many-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    if not so.exists():
        asm = CACHE / "many.s"
        with open(asm, "w") as f:
            f.write("\t.text\n")
            for i in range(count):
                f.write(f"\t.globl fn_{i}\n\t.type fn_{i}, @function\nfn_{i}:\n\tret\n")
        c = CACHE / "join.c"
        c.write_text("#include <pthread.h>\nint join(pthread_t t) { return pthread_join(t, 0); }\n")
        sh("gcc", "-shared", "-fPIC", "-O1", "-o", str(so), str(c), str(asm))
        asm.unlink()
    if not wheel.exists():
        members = {
            "many/_many.so": so.read_bytes(),
            "many-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: many\nVersion: 1.0\n",
            "many-1.0.dist-info/WHEEL":
                b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-manylinux_2_28_x86_64\n",
        }
        # auditwheel finds a wheel's files through RECORD, so it must list them
        # all; with an empty RECORD it sees no ELF and stops at once.
        record = "".join(f"{name},sha256={record_digest(data)},{len(data)}\n" for name, data in members.items())
        record += "many-1.0.dist-info/RECORD,,\n"
        with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
            zf.writestr("many-1.0.dist-info/RECORD", record)
    return so, wheel


def record_digest(data: bytes) -> str:
    """A RECORD hash: urlsafe base64 of the sha256, without padding (PEP 376/427)."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def kernel_tree(count: int = 200) -> Path:
    root = CACHE / "kernel-repo"
    if not root.exists():
        kernels = sorted((ROOT / "testdata" / "bin" / "x86_64" / "kernels").glob("cuda-good.abi3.so"))
        source = kernels[0]
        for i in range(count):
            variant = ["torch28-cxx11-cu128-x86_64-linux", "torch29-cxx11-cu129-x86_64-linux"][i % 2]
            folder = root / "build" / variant / f"op{i // 2}"
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, folder / f"_op{i // 2}_cuda_{i:04x}.abi3.so")
    return root


# --- the run ---------------------------------------------------------------------

REPO_VARIANTS = ("torch29-cxx11-cu128-x86_64-linux", "torch211-cxx11-cu130-x86_64-linux",
                 "torch212-cxx11-cu130-x86_64-linux", "torch213-cxx11-cpu-x86_64-linux",
                 "torch215-cxx11-cu130-x86_64-linux")


def kernel_repo(kernel: Path, indexed: bool) -> Path:
    """A kernel repo of 5 variants, each holding `kernel` (2,000 torch imports).

    With `indexed`, the variants name releases abicheck's torch index has, so
    every variant's torch symbols are checked against it; without, the same
    objects lie in variant folders of torch 2.2 to 2.6, which the index lacks:
    the same check but the torch symbol stage, whose cost is the difference.
    """
    root = CACHE / ("kernel-repo-indexed" if indexed else "kernel-repo-unindexed")
    if not root.exists():
        for n, variant in enumerate(REPO_VARIANTS):
            name = variant if indexed else f"torch2{n + 2}" + variant[variant.index("-"):]
            folder = root / "build" / name / "k"
            folder.mkdir(parents=True)
            shutil.copy(kernel, folder / "_k_ab12.abi3.so")
    return root


def fmt_row(name: str, tool: str, r: dict | None, base: float | None, note: str = "") -> str:
    if r is None:
        return f"| {name} | {tool} | n/a | | | | {note} |"
    ratio = f"{r['median'] / base:.1f}x" if base else ""
    return (f"| {name} | {tool} | {r['median']:.2f} s | {r['min']:.2f}-{r['max']:.2f} s | {r['rss_mb']:.0f} MB "
            f"| {ratio} | exit {','.join(map(str, r['exit']))} {note} |")


STAGE_SCRIPT = """
import sys, time
import abicheck.analysis.load as load
from abicheck.analysis.objects import TableBudget
from abicheck.options import CheckOptions
from abicheck.pipeline import Run
from abicheck.rules import run_rules
options = CheckOptions.parse()
codes = set(options.codes) - {"AB312"}
kept, looked = [0.0], [0.0]

def timed(function, total):
    def run(*args):
        t = time.perf_counter()
        try:
            return function(*args)
        finally:
            total[0] += time.perf_counter() - t
    return run

TableBudget.keep = timed(TableBudget.keep, kept)
load.symbol_scope = timed(load.symbol_scope, looked)
load.resolve_object_imports = timed(load.resolve_object_imports, looked)
start = time.perf_counter()
with Run(options) as run:
    run.objects(sys.argv[1:], lambda ctx: list(run_rules(ctx, codes)))
    scanned = time.perf_counter()
    loads = list(run.load_contexts())
    for ctx in loads:
        list(run_rules(ctx, codes))
    for ctx in loads:
        list(run_rules(ctx, {"AB312"}))
    done = time.perf_counter()
print(f"{scanned - start - kept[0]:.4f} {done - scanned - looked[0]:.4f} {kept[0] + looked[0]:.4f}")
"""


def stage_costs(py: str, inputs: list[tuple[str, Path]], runs: int) -> list[str]:
    """In-process time of each stage: what the resolution stages add to a check."""
    rows = ["", "## Stage costs (in process)", "",
            "Each stage timed inside one process (no interpreter start-up or imports), median of the runs: "
            "scanning with the per-object rules; the resolution stage (where every NEEDED library comes "
            "from, and the rules that read it); the symbol resolution stage (AB312: keeping each object's "
            "imports and export tables while it is open, then looking every import up in its load scope).", "",
            "| input | scan + object rules | library resolution | symbol resolution | share of the two |",
            "|---|---|---|---|---|"]
    for name, path in inputs:
        samples = []
        for _ in range(runs):
            # cwd outside the checkout: `-c` puts it first on sys.path, and this must be the installed abicheck
            out = subprocess.run([py, "-c", STAGE_SCRIPT, str(path)], capture_output=True, text=True, check=True,
                                 cwd=CACHE)
            samples.append(tuple(float(x) for x in out.stdout.split()))
        scan_s, resolve_s, symbols_s = (statistics.median(s[i] for s in samples) for i in range(3))
        total = scan_s + resolve_s + symbols_s
        rows.append(f"| {name} | {scan_s * 1000:.1f} ms | {resolve_s * 1000:.1f} ms | {symbols_s * 1000:.1f} ms | "
                    f"{100 * resolve_s / total:.1f}% + {100 * symbols_s / total:.1f}% |")
        print(rows[-1], flush=True)
    return rows


def determinism(abicheck: str, inputs: list[tuple[str, Path]]) -> list[str]:
    """The JSON report of each input at -j1 and at the most jobs, byte for byte: the same, or not."""
    lines = ["", "## The same report whatever `--jobs`", "",
             "The JSON report of each input with `-j1` and with `-j256` (as many threads as the cores allow), "
             "compared byte for byte.", "", "| input | -j1 and -j256 |", "|---|---|"]
    for name, path in inputs:
        one, many = (subprocess.run([abicheck, "check", "--format", "json", "-j", jobs, str(path)],
                                    capture_output=True).stdout for jobs in ("1", "256"))
        lines.append(f"| {name} | {'identical' if one == many and one else 'DIFFERENT'} ({len(one)} bytes) |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slow-runs", type=int, default=None,
                        help="runs for auditwheel on the torch wheel (default: --runs)")
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--quick", action="store_true",
                        help="skip auditwheel on the torch wheel (one to two minutes a run)")
    parser.add_argument("--against", metavar="REV",
                        help="also time abicheck as it was at this git revision, on every input")
    args = parser.parse_args()
    before, before_rev = abicheck_at(args.against) if args.against else (None, "")

    py = bench_python()
    abicheck = str(Path(py).parent / "abicheck")
    auditwheel = str(Path(py).parent / "auditwheel")
    kac = [py, "-c", KAC_SCRIPT, "manylinux_2_28"]

    wheel = torch_wheel()
    lib = torch_lib(wheel)
    so, many_wheel = many_symbols()
    tree = kernel_tree()
    single = ROOT / "testdata" / "bin" / "x86_64" / "portable-glibc228.so"
    runs, slow = args.runs, args.slow_runs or args.runs

    rows: list[str] = []

    def compare(name: str, ours: list[str], peers: list[tuple[str, list[str] | None, int, str]],
                limit: list[str] | None = None) -> None:
        """abicheck and its peers on one input, measured side by side."""
        if before is not None:
            peers = [(f"abicheck at {before_rev} (--against)", [before, *ours[1:]], runs, ""), *peers]
        timed = [(cmd, n) for _tool, cmd, n, _note in peers if cmd]
        results = measure_side_by_side([(ours, runs), *timed, *([(limit, runs)] if limit else [])])
        mine, rest = results[0], iter(results[1:])
        rows.append(fmt_row(name, "abicheck check", mine, None))
        for tool, cmd, _n, note in peers:
            rows.append(fmt_row(name, tool, next(rest) if cmd else None, mine["median"], note))
        if limit:
            rows.append(fmt_row(name, "limit: inflate every ELF member", next(rest), mine["median"],
                                "(ratio = limit / abicheck)"))
        print("\n".join(rows[-1 - len(peers) - bool(limit):]), flush=True)

    compare("torch-wheel (torch 2.13.0 CPU, 606 MB of ELF)", [abicheck, "check", str(wheel)], [
        ("auditwheel show", None if args.quick else [auditwheel, "show", str(wheel)], slow, ""),
        ("kernel-abi-check", None, 0, "cannot read wheels"),
    ], limit=[py, "-c", LIMIT_SCRIPT, str(wheel)])
    compare("torch-lib (torch/lib/ on disk)", [abicheck, "check", str(lib)], [
        ("kernel-abi-check", [*kac, str(lib)], runs, ""),
        ("auditwheel show", None, 0, "reads wheels only"),
    ])
    compare("150k-symbols (.so, one too-new symbol)", [abicheck, "check", str(so)], [
        ("kernel-abi-check", [*kac, str(so)], runs, ""),
    ])
    compare("150k-symbols (as a one-file wheel)", [abicheck, "check", str(many_wheel)], [
        ("auditwheel show", [auditwheel, "show", str(many_wheel)], runs, ""),
    ])
    compare("kernel-tree (200 kernel objects)", [abicheck, "check", str(tree)], [
        ("kernel-abi-check", [*kac, str(tree)], runs, ""),
    ])
    installed, imports = torch_kernel(wheel, py)
    compare("kernel with 2000 torch imports (AB308 alone)", [abicheck, "check", "--select", "AB308", str(imports)], [
        ("abicheck check --torch (ratio: the cost of the symbol stage)",
         [abicheck, "check", "--select", "AB308", "--torch", str(installed), str(imports)], runs, ""),
    ])
    indexed, unindexed = kernel_repo(imports, True), kernel_repo(imports, False)
    compare("kernel repo: 5 variants, each checked against its release in abicheck's torch index",
            [abicheck, "check", str(indexed)], [
                ("the same objects in variants of a release the index lacks (ratio: the index stage's cost)",
                 [abicheck, "check", str(unindexed)], runs, "torch symbols not checked"),
                ("the indexed repo with --torch WHEEL (the index's own wheel: not inflated)",
                 [abicheck, "check", "--torch", str(wheel), str(indexed)], runs, ""),
                ("the indexed repo with --torch of the installed folder (torch 2.13's libraries read)",
                 [abicheck, "check", "--torch", str(installed), str(indexed)], runs, ""),
            ])
    compare("single-so", [abicheck, "check", str(single)], [
        ("kernel-abi-check", [*kac, str(single)], runs, ""),
        ("python -c pass (interpreter start-up)", [py, "-c", "pass"], runs, ""),
    ])

    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    inflater = subprocess.run([py, "-c", "import isal"], capture_output=True).returncode == 0
    header = [
        "# Benchmark results",
        "",
        f"Run on {datetime.date.today().isoformat()} by `python bench/run.py --runs {runs}"
        + (f" --slow-runs {args.slow_runs}" if args.slow_runs else "")
        + (" --quick" if args.quick else "") + (f" --against {args.against}" if args.against else "") + "`.",
        f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; inflater for abicheck and the limit: "
        f"{'isal' if inflater else 'zlib'}.",
        "",
        "Whole-process wall time, median of the runs (range), and the peak RSS of the process. "
        "The ratio column is the peer's median over abicheck's (higher is better for abicheck). "
        "The tools compared on one input run interleaved, round by round, because this shared "
        "machine's speed drifts by 2-3x over minutes; compare ratios, and read absolute times "
        "against the `python -c pass` row of the same run.",
        "",
        "| input | tool | median | range | peak RSS | vs abicheck | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    stages = stage_costs(py, [("torch-wheel", wheel), ("torch-lib", lib), ("kernel-tree", tree),
                              ("single-so", single)], runs)
    same = determinism(abicheck, [("torch-wheel", wheel), ("150k-symbols wheel", many_wheel),
                                  ("kernel-tree", tree)])
    Path(args.output).write_text("\n".join(header + rows + stages + same + verdicts(abicheck, py)) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
