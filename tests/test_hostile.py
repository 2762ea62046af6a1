"""Odd and hostile surroundings: outputs that are inputs, closed or broken streams, odd names, caps."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest
from conftest import SCRIPTS, bin_path, make_wheel, run_cli

import abicheck
from abicheck.binary import elf as elf_module
from abicheck.binary.elf import open_elf
from abicheck.errors import ElfError, UsageError

HOST = bin_path("x86_64/newglibc.so")
GOOD = bin_path("x86_64/portable-glibc228.so")


def test_an_output_that_is_an_input_is_refused_and_the_input_kept(tmp_path):
    victim = tmp_path / "v.so"
    shutil.copy(HOST, victim)
    before = victim.read_bytes()
    for args in (["check", str(victim), "-o", str(victim)],
                 ["abi", "dump", str(victim), "-o", str(victim)],
                 ["abi", "stub", str(victim), "-o", str(victim)]):
        done = run_cli(*args)
        assert done.returncode == 2 and "is one of the inputs" in done.stderr, args
        assert victim.read_bytes() == before, args
    link = tmp_path / "link.so"
    os.symlink(victim, link)  # the same file under another name
    assert run_cli("check", str(victim), "-o", str(link)).returncode == 2
    assert victim.read_bytes() == before


def test_outputs_are_written_whole_and_stubs_chmod_only_their_own_file(tmp_path):
    report = tmp_path / "report.json"
    assert run_cli("check", HOST, "--format", "json", "-o", str(report)).returncode == 1
    assert json.loads(report.read_text())["summary"]["findings"] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left behind
    stub = tmp_path / "libshape.so"
    assert run_cli("abi", "stub", bin_path("x86_64/abi/libshape-v1.so"), "-o", str(stub)).returncode == 0
    assert stat.S_IMODE(stub.stat().st_mode) & 0o111
    before = os.stat("/dev/null")
    assert run_cli("abi", "stub", bin_path("x86_64/abi/libshape-v1.so"), "-o", "/dev/null").returncode == 0
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_mode == before.st_mode


def test_empty_values_are_usage_errors_not_ignored():
    for args in (["check", GOOD, "-o", ""], ["check", GOOD, "--policy", ""], ["check", GOOD, "--torch", ""]):
        done = run_cli(*args)
        assert done.returncode == 2 and done.stderr.startswith("abicheck: error:"), args


def _shell(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True)


def test_broken_and_closed_streams_give_the_results_exit_code():
    for path, code in ((HOST, 1), (GOOD, 0)):
        piped = _shell(f"abicheck check {path} | head -c 0; exit ${{PIPESTATUS[0]}}")
        assert piped.returncode == code and "Traceback" not in piped.stderr and "error" not in piped.stderr
        closed = _shell(f"abicheck check {path} >&- 2>&-")
        assert closed.returncode == code
    same = _shell(f"abicheck abi diff {GOOD} {GOOD} | head -c 0; exit ${{PIPESTATUS[0]}}")
    assert same.returncode == 0  # not 1, which would mean "breaking"


def test_sigint_exits_130_as_shells_expect(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text("import time, abicheck.cli.entry as e\n"
                      "e.guarded(lambda: time.sleep(30))\n")
    child = subprocess.Popen([sys.executable, str(script)], stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=20)
    assert child.returncode == 130 and "interrupted" in err


def test_names_that_are_not_utf8_are_escaped_in_every_format(tmp_path):
    folder = tmp_path / "objects"
    folder.mkdir()
    shutil.copy(HOST, os.fsencode(folder) + b"/\xff\xfe.so")
    for fmt in ("text", "json", "sarif", "github"):
        out = tmp_path / f"report.{fmt}"
        done = run_cli("check", str(folder), "--format", fmt, "-o", str(out))
        assert done.returncode == 1, (fmt, done.stderr)
        text = out.read_text(encoding="utf-8")
        assert "AB101" in text
        if fmt == "sarif":
            assert "%FF%FE.so" in text
        elif fmt == "json":
            assert json.loads(text)["summary"]["findings"] > 0
        else:
            assert "\\udcff\\udcfe.so" in text


def test_a_newline_in_a_name_does_not_split_the_line(tmp_path):
    odd = tmp_path / "a\nAB999 fake.so"
    shutil.copy(HOST, odd)
    done = run_cli("check", str(odd))
    assert done.returncode == 1
    assert all(line.startswith((str(tmp_path), "  hint:", "Checked")) or not line
               for line in done.stdout.splitlines())
    assert "a\\nAB999 fake.so" in done.stdout


def test_absurd_job_counts_are_usage_errors():
    with pytest.raises(UsageError, match="more than 256"):
        abicheck.check([GOOD], jobs=30000)
    done = run_cli("check", GOOD, "-j", "99999999999999999999")
    assert done.returncode == 2 and "more than 256" in done.stderr


def test_the_version_need_cap_covers_all_levels_together(monkeypatch):
    with open_elf(HOST) as reader:
        total = len(reader.facts.version_needs)
        per_library = max(sum(1 for n in reader.facts.version_needs if n.library == lib)
                           for lib in {n.library for n in reader.facts.version_needs})
    assert total > per_library  # needs from more than one library: a per-level cap would not see the total
    monkeypatch.setattr(elf_module, "MAX_VERSION_ENTRIES", total - 1)
    with pytest.raises(ElfError, match=f"exceed {total - 1} entries"), open_elf(HOST):
        pass


def test_malformed_config_and_data_files_are_one_line_errors(tmp_path):
    shutil.copy(GOOD, tmp_path / "k.so")  # the configuration is read from the checked file's project
    (tmp_path / "pyproject.toml").write_text('[tool]\nabicheck = "not a table"\n')
    done = run_cli("check", "k.so", cwd=tmp_path)
    assert done.returncode == 2 and "[tool.abicheck] must be a table" in done.stderr
    (tmp_path / "pyproject.toml").write_text("[tool.abicheck]\npolicy = " + "[" * 100_000 + "\n")
    done = run_cli("check", "k.so", cwd=tmp_path)
    assert done.returncode == 2 and "cannot read [tool.abicheck]" in done.stderr and "Traceback" not in done.stderr
    os.remove(tmp_path / "pyproject.toml")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    done = run_cli("check", GOOD, "--policy-file", str(deep))
    assert done.returncode == 2 and "not valid JSON" in done.stderr
    done = run_cli("abi", "diff", str(deep), GOOD)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    shape = tmp_path / "shape.json"
    shape.write_text('{"soname": 5, "symbols": "x"}')
    done = run_cli("abi", "diff", str(shape), GOOD)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def _patch_central(data: bytearray, index: int, offset: int, value: int, size: int = 4) -> None:
    """Overwrite a field of the index-th central directory entry."""
    at = -1
    for _ in range(index + 1):
        at = data.find(b"PK\x01\x02", at + 1)
    data[at + offset:at + offset + size] = value.to_bytes(size, "little")


def test_central_entries_sharing_one_local_header_are_refused_at_once(tmp_path):
    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                       {"demo/a.so": HOST, "demo/b.so": GOOD})
    data = bytearray(open(wheel, "rb").read())
    _patch_central(data, 1, 42, 0)  # demo/b.so's central entry now points at demo/a.so's local header
    open(wheel, "wb").write(bytes(data))
    start = time.monotonic()
    report = abicheck.check([wheel])
    assert time.monotonic() - start < 5
    assert report.exit_code == 2 and "members overlap" in report.errors[0].message


def test_a_local_header_naming_another_member_is_refused(tmp_path):
    from conftest import make_wheel

    from abicheck.inputs.stream import MemberStream

    wheel = make_wheel(tmp_path, "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", {"demo/a.so": HOST})
    import zipfile

    info = zipfile.ZipFile(wheel).getinfo("demo/a.so")
    info.orig_filename = "demo/b.so"  # what the central directory would say
    with pytest.raises(Exception, match="local header names another member"):
        MemberStream(wheel, info, "x").read_sparse()


def test_a_member_lying_about_its_compressed_size_is_still_stopped(tmp_path):
    """Declaring the compressed size equal to the full size hid a 1000:1 expansion from the header check."""
    import zipfile

    wheel = tmp_path / "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("demo/a.so", b"\x7fELF" + bytes(64 << 20))
    data = bytearray(wheel.read_bytes())
    size = 4 + (64 << 20)
    _patch_central(data, 0, 20, size)  # compressed size := uncompressed size
    data[18:22] = size.to_bytes(4, "little")  # and in the local header
    wheel.write_bytes(bytes(data))
    start = time.monotonic()
    report = abicheck.check([str(wheel)])
    assert time.monotonic() - start < 10
    assert report.exit_code == 2
    assert "expands more than 1000x" in report.errors[0].message or "overlap" in report.errors[0].message


def _stored_zip(path, members: list[tuple[str, bytes]]) -> None:
    """A zip written field by field, so that it may hold what zipfile refuses to write (an empty name)."""
    import struct
    import zlib

    body, central = bytearray(), bytearray()
    for name, data in members:
        raw, crc = name.encode(), zlib.crc32(data)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, crc, len(data), len(data),
                               len(raw), 0, 0, 0, 0, 0, len(body)) + raw
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, crc, len(data), len(data), len(raw), 0)
        body += raw + data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(body), 0)
    path.write_bytes(bytes(body + central + end))


def test_an_empty_member_name_is_an_input_error_in_every_command(tmp_path):
    wheel = tmp_path / "demo-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    _stored_zip(wheel, [("", b"x"), ("demo/a.so", open(HOST, "rb").read()),
                        ("demo-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n")])
    report = abicheck.check([str(wheel), HOST])
    assert report.exit_code == 1 and len(report.findings) == 7  # the neighbour's findings are kept (and win)
    assert [e.message for e in report.errors] == ["not a readable wheel: a member has an empty or absolute name"]
    for command in (["check"], ["show"], ["abi", "dump"]):
        done = run_cli(*command, str(wheel))
        assert done.returncode == 2 and "empty or absolute name" in done.stderr + done.stdout, command
        assert "internal error" not in done.stderr, command


def test_finished_results_waiting_for_the_caller_are_bounded():
    import threading

    from abicheck.inputs.workshare import WorkShare

    lock = threading.Lock()
    alive = [0, 0]  # results held now, the most ever held

    def work(n: int) -> int:
        with lock:
            alive[0] += 1
            alive[1] = max(alive[1], alive[0])
        return n

    with WorkShare(work, lambda n: n, workers=3) as share:
        share.add(range(60))
        share.close()
        for _result in share.results():
            time.sleep(0.005)  # a slow consumer
            with lock:
                alive[0] -= 1
    assert alive[1] <= 2 * 3 + 1


def test_a_file_that_shrinks_while_it_is_read_is_an_error_not_a_crash(tmp_path):
    from abicheck.binary.file_buffer import BLOCK, FileBuffer

    path = tmp_path / "big.so"
    path.write_bytes(open(HOST, "rb").read() + bytes(8 * BLOCK))
    with open(path, "rb") as f:
        buffer = FileBuffer(f.fileno(), os.path.getsize(path), str(path))
        assert buffer[0:4] == b"\x7fELF"
        os.truncate(path, 100)
        with pytest.raises(ElfError, match="changed while it was checked"):
            buffer[4 * BLOCK:4 * BLOCK + 16]


def test_checking_a_tree_that_another_process_rewrites_never_dies_of_a_signal(tmp_path):
    """A parallel build relinking objects during a check: mapped files used to kill it with SIGBUS."""
    import threading

    body = open(HOST, "rb").read() + bytes(6 << 20)  # big enough to be read block by block
    files = [tmp_path / f"lib{n}.so" for n in range(12)]
    for f in files:
        f.write_bytes(body)
    stop = threading.Event()

    def rewrite() -> None:
        while not stop.is_set():
            for f in files:
                with open(f, "r+b") as out:
                    out.truncate(64)
                    out.seek(0)
                    out.write(body)

    writer = threading.Thread(target=rewrite, daemon=True)
    writer.start()
    try:
        codes = [subprocess.run(["abicheck", "check", "--select", "AB1,AB5", str(tmp_path)], capture_output=True,
                                text=True).returncode for _ in range(5)]
    finally:
        stop.set()
        writer.join()
    assert all(code in (0, 1, 2) for code in codes), codes  # a signal gives a negative code


def test_an_x32_object_is_not_passed_silently(tmp_path):
    x32 = tmp_path / "x32.so"
    data = bytearray(open(bin_path("i686/portable-glibc228.so"), "rb").read())
    data[18:20] = (62).to_bytes(2, "little")  # e_machine x86-64 in a 32-bit object: the x32 ABI
    x32.write_bytes(bytes(data))
    report = abicheck.check([str(x32)])
    assert [f.code for f in report.findings] == ["AB401"]
    assert "x86-64, 32-bit little-endian" in report.findings[0].message


@pytest.mark.parametrize("content", ['{"backends": 5}', '{"runtime_majors": {"cuda": {"12": "x"}}}',
                                     '{"backends": {"cuda": {"runtime": 5}}}', '{"runtime_majors": []}', "[1, 2]"])
def test_policy_files_of_the_wrong_shape_are_usage_errors(tmp_path, content):
    policy = tmp_path / "policy.json"
    policy.write_text(content)
    done = run_cli("check", GOOD, "--policy-file", str(policy))
    assert done.returncode == 2 and done.stderr.startswith(f"abicheck: error: --policy-file {policy}")


def test_show_reports_an_object_whose_symbols_fail_late_and_keeps_the_others(tmp_path):
    from abicheck.binary.elf_model import DT_VERSYM

    with open_elf(HOST) as reader:
        dynamic = reader._dynamic[0]
    data = bytearray(open(HOST, "rb").read())
    for at in range(dynamic, dynamic + 16 * 64, 16):  # point DT_VERSYM at an address no segment holds
        if int.from_bytes(data[at:at + 8], "little") == DT_VERSYM:
            data[at + 8:at + 16] = (0x7FFF0000).to_bytes(8, "little")
    bad = tmp_path / "late.so"
    bad.write_bytes(bytes(data))
    done = run_cli("show", str(bad), GOOD)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{bad}: error: malformed ELF" in done.stdout
    assert GOOD in done.stdout and "most compatible" in done.stdout


def test_a_path_longer_than_path_max_is_reported_not_skipped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for _ in range(22):  # 22 levels of 200 characters, made relative: past Linux's 4096-byte PATH_MAX
        os.mkdir("d" * 200)
        os.chdir("d" * 200)
    shutil.copy(GOOD, "x.so")
    monkeypatch.chdir(tmp_path)
    report = abicheck.check([str(tmp_path)])
    assert report.exit_code == 2 and report.errors  # never an exit 0 that skipped the object


def test_a_gnu_hash_chain_past_the_cap_is_an_input_error(monkeypatch):
    from abicheck.binary import elf as elf_symbols

    monkeypatch.setattr(elf_symbols, "MAX_CHAIN", 0)  # every chain is "too long" now
    with open_elf(HOST) as reader, pytest.raises(ElfError, match="GNU hash chain longer than 0"):
        reader.symbol_count  # noqa: B018 - the count walks the last chain


def test_abi_commands_on_fifos_and_unreadable_names_are_one_line_errors(tmp_path):
    os.mkfifo(tmp_path / "pipe.so")
    for args in (["abi", "dump", str(tmp_path / "pipe.so")], ["abi", "dump", str(tmp_path / "missing.so")],
                 ["abi", "stub", str(tmp_path / "pipe.so"), "-o", str(tmp_path / "s.so")]):
        done = run_cli(*args)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, args
    odd = tmp_path / "odd"
    odd.mkdir()
    shutil.copy(HOST, os.fsencode(odd) + b"/\xff.so")
    out = tmp_path / "hash.txt"
    done = run_cli("abi", "dump", "--hash", os.fsdecode(os.fsencode(odd) + b"/\xff.so"), "-o", str(out))
    assert done.returncode == 0 and len(out.read_text().split()[0]) == 64


def test_a_wheel_of_too_many_entries_is_refused_before_zipfile_reads_them(tmp_path, monkeypatch):
    """A million empty entries took zipfile 570 MB: the end record's count is read first."""
    import zipfile

    from abicheck.inputs import wheel as wheel_module

    many = tmp_path / "many-1.0-py3-none-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(70_000):  # more than 65,535: the count is in the zip64 end record
            zf.writestr(f"many/f{i}", b"")
    assert wheel_module._entry_count(str(many)) == 70_000
    monkeypatch.setattr(wheel_module, "MAX_ENTRIES", 65_536)
    report = abicheck.check([str(many), HOST])
    assert report.exit_code == 1 and len(report.findings) == 7  # the neighbour is still checked
    assert [e.message for e in report.errors] == [
        "a wheel of 70000 entries, over the 65536 abicheck reads (the biggest real wheels hold about 16,000)"]


def test_ctrl_c_while_the_report_is_written_leaves_it_whole_and_exits_130(tmp_path):
    """The reader is slow: the JSON fills the pipe and the write blocks when SIGINT comes."""
    import select

    for i in range(300):
        shutil.copy(HOST, tmp_path / f"lib{i}.so")
    child = subprocess.Popen([str(SCRIPTS / "abicheck"), "check", "--format", "json", str(tmp_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None
    first = child.stdout.read(4096)  # the report has started and the pipe is full behind it
    select.select([], [], [], 0.5)
    child.send_signal(signal.SIGINT)
    rest = child.stdout.read()
    child.wait(timeout=60)
    assert child.returncode == 130 and b"interrupted" in child.stderr.read()
    report = json.loads(first + rest)  # whole: every artifact, and the summary at the end
    assert report["summary"]["objects"] == 300


def test_a_non_blocking_standard_output_still_gets_the_whole_report(tmp_path):
    """Some CI runners leave stdout non-blocking: a full pipe must mean waiting, not a lost report."""
    import fcntl

    for i in range(300):
        shutil.copy(HOST, tmp_path / f"lib{i}.so")
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETFL, fcntl.fcntl(write_end, fcntl.F_GETFL) | os.O_NONBLOCK)
    child = subprocess.Popen([str(SCRIPTS / "abicheck"), "check", "--format", "json", str(tmp_path)],
                             stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    time.sleep(1)  # let the report fill the pipe before anything is read
    data = b""
    while chunk := os.read(read_end, 1 << 16):
        data += chunk
    os.close(read_end)
    assert child.wait(timeout=60) == 1
    assert json.loads(data)["summary"]["objects"] == 300


def _as_unprivileged(command: list[str]) -> list[str]:
    """`command` run without the power to read what its mode forbids: as root, in a user namespace of its own."""
    if os.geteuid() != 0:
        return command
    if subprocess.run(["unshare", "--user", "true"], capture_output=True).returncode != 0:
        pytest.skip("running as root, and unshare --user is not allowed here: a folder of mode 000 stays readable")
    return ["unshare", "--user", *command]


def test_an_unreadable_build_folder_is_an_error_not_nothing_built(tmp_path):
    kernel = tmp_path / "kernel"
    variant = kernel / "build" / "torch29-cxx11-cpu-x86_64-linux"
    variant.mkdir(parents=True)
    shutil.copy(GOOD, variant / "_ops.abi3.so")
    (kernel / "build.toml").write_text("[general]\nname = \"relu\"\n")
    os.chmod(kernel / "build", 0)
    try:
        done = subprocess.run(_as_unprivileged([sys.executable, "-m", "abicheck", "check", "."]), cwd=kernel,
                              capture_output=True, text=True)
    finally:
        os.chmod(kernel / "build", 0o755)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "build: error: cannot list the kernel's build outputs: Permission denied" in done.stdout
    assert "build the kernel first" not in done.stdout + done.stderr


@pytest.mark.parametrize("target", ["/", "..", "../..", "."])
def test_a_variant_folder_linking_to_a_folder_above_it_is_refused_not_walked(tmp_path, target):
    """`build/<variant> -> /` once made a check walk the whole machine (it read every wheel under /opt)."""
    kernel = tmp_path / "kernel"
    (kernel / "build").mkdir(parents=True)
    os.symlink(target, kernel / "build" / "torch29-cxx11-cpu-x86_64-linux")
    done = run_cli("check", str(kernel), timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "torch29-cxx11-cpu-x86_64-linux: error: a variant folder that links to " in done.stdout
    assert "a folder holding it: not followed" in done.stdout


def test_a_variant_folder_linking_out_of_the_tree_is_checked_as_a_nix_bundle_has_it(tmp_path):
    """`nix build` leaves result/<variant> as links to store paths: they are followed."""
    store = tmp_path / "store" / "abc-relu-torch29-cxx11-cpu-x86_64-linux"
    store.mkdir(parents=True)
    shutil.copy(HOST, store / "_ops.abi3.so")
    kernel = tmp_path / "kernel"
    (kernel / "result").mkdir(parents=True)
    os.symlink(store, kernel / "result" / "torch29-cxx11-cpu-x86_64-linux")
    done = run_cli("check", str(kernel), "--format", "json")
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["errors"] == []
    [artifact] = report["artifacts"]
    assert artifact["path"].endswith("result/torch29-cxx11-cpu-x86_64-linux/_ops.abi3.so")
    assert any(f["code"] == "AB101" for f in artifact["findings"])
