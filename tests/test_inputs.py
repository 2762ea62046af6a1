"""Directories: recursion, symlinks, non-ELF files, empty trees."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from conftest import bin_path

import abicheck


def test_directory_is_searched_recursively_by_magic(tmp_path):
    deep = tmp_path / "build" / "torch28-cxx11-cu128-x86_64-linux" / "relu"
    deep.mkdir(parents=True)
    shutil.copy(bin_path("x86_64/newglibc.so"), deep / "_relu_cuda_ab12.abi3.so")
    shutil.copy(bin_path("x86_64/portable-glibc228.so"), deep / "no-extension")
    (deep / "__init__.py").write_text("")
    (deep / "metadata.json").write_text("{}")
    report = abicheck.check([str(tmp_path / "build")])
    assert report.objects_checked == 2
    assert {os.path.basename(f.path) for f in report.findings} == {"_relu_cuda_ab12.abi3.so"}


def test_a_file_link_out_of_the_root_is_checked_a_folder_link_is_not_entered(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(bin_path("x86_64/newglibc.so"), outside / "bad.so")
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(bin_path("x86_64/portable-glibc228.so"), root / "good.so")
    os.symlink(outside / "bad.so", root / "link.so")
    os.symlink(outside, root / "linkdir")
    report = abicheck.check([str(root)])
    # link.so is checked under its own path (it was lost before: a false clean); linkdir is not entered
    assert report.exit_code == 1 and report.objects_checked == 2
    assert {f.path for f in report.findings} == {str(root / "link.so")}


def test_non_elf_files_in_a_directory_are_skipped_and_counted(tmp_path):
    shutil.copy(bin_path("x86_64/newglibc.so"), tmp_path / "a.so")
    shutil.copy(bin_path("bad/linker-script.so"), tmp_path / "libc.so")
    (tmp_path / "libsycl.so.9.0.0-gdb.py").write_text("import gdb\n")  # intel-sycl-rt ships one
    (tmp_path / "notes.txt").write_text("hello")
    report = abicheck.check([str(tmp_path)])
    assert report.errors == [] and report.objects_checked == 1
    assert report.skipped == 3 and report.to_dict()["summary"]["skipped_non_elf"] == 3


def test_a_non_elf_file_named_directly_is_still_an_input_error():
    report = abicheck.check([bin_path("bad/linker-script.so")])
    assert report.exit_code == 2 and "linker script" in report.errors[0].message


def test_git_lfs_pointers_are_named_as_such(tmp_path):
    shutil.copy(bin_path("x86_64/portable-glibc228.so"), tmp_path / "a.so")
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 123456\n"
    (tmp_path / "_ops.abi3.so").write_text(pointer)
    report = abicheck.check([str(tmp_path)])
    assert [(os.path.basename(e.path), e.message) for e in report.errors] == [
        ("_ops.abi3.so", "a Git LFS pointer, not the object itself: run git lfs pull")]
    assert report.exit_code == 2  # never a false clean: the object was not there to check
    direct = abicheck.check([str(tmp_path / "_ops.abi3.so")])
    assert "git lfs pull" in direct.errors[0].message


def test_empty_directory_is_an_input_error(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing to see")
    report = abicheck.check([str(tmp_path)])
    assert report.exit_code == 2 and "no ELF, Mach-O or PE objects found" in report.errors[0].message


def test_missing_path(tmp_path):
    report = abicheck.check([str(tmp_path / "missing.so")])
    assert report.exit_code == 2 and report.errors[0].message == "no such file or directory"


def test_a_shipped_copy_of_glibc_does_not_hide_glibc_findings(tmp_path):
    """A tree holding libc.so.6 (a sysroot, a stray copy) still uses the system's."""
    shutil.copy(bin_path("x86_64/newglibc.so"), tmp_path / "k.so")
    shutil.copy(bin_path("x86_64/portable-glibc228.so"), tmp_path / "libc.so.6")
    report = abicheck.check([str(tmp_path)])
    assert "pthread_join" in {f.symbol for f in report.findings}


def test_allow_empty_accepts_a_tree_without_objects(tmp_path):
    (tmp_path / "share").mkdir()
    (tmp_path / "share" / "doc.txt").write_text("docs only")
    assert abicheck.check([str(tmp_path)]).exit_code == 2
    assert abicheck.check([str(tmp_path)], allow_empty=True).exit_code == 0
    # but a broken object is still an error
    shutil.copy(bin_path("bad/truncated-tables.so"), tmp_path / "libx.so")
    assert abicheck.check([str(tmp_path)], allow_empty=True).exit_code == 2


def test_fifos_sockets_and_device_links_in_a_tree_are_skipped_quickly(tmp_path):
    import socket
    import time

    shutil.copy(bin_path("x86_64/newglibc.so"), tmp_path / "a.so")
    os.mkfifo(tmp_path / "ninja.fifo")
    os.mkfifo(tmp_path / "notes.txt")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "agent.sock"))
    os.symlink("/dev/zero", tmp_path / "zero.so")
    start = time.monotonic()
    report = abicheck.check([str(tmp_path)])
    assert time.monotonic() - start < 10
    server.close()
    assert report.objects_checked == 1 and report.errors == [] and report.exit_code == 1
    assert report.skipped == 4  # the FIFOs, the socket, and the device the link out of the tree names


def test_a_fifo_or_device_named_directly_is_an_input_error(tmp_path):
    os.mkfifo(tmp_path / "x.whl")
    os.symlink("/dev/zero", tmp_path / "zero.whl")
    report = abicheck.check([str(tmp_path / "x.whl"), str(tmp_path / "zero.whl")])
    assert [e.message for e in report.errors] == ["not a regular file", "not a regular file"]
    assert report.exit_code == 2


def _check_as_nobody(path: str) -> list[tuple[str, str]]:
    """(file name, message) of each input error of a check run, as an unprivileged user when we are root.

    The check runs once as ourselves first so that every module it imports is
    loaded; a forked child then drops to `nobody` and checks again.
    """
    abicheck.check([path])
    if os.geteuid() != 0:
        return [(os.path.basename(e.path), e.message) for e in abicheck.check([path]).errors]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.setgid(65534)
            os.setuid(65534)
            errors = [(os.path.basename(e.path), e.message) for e in abicheck.check([path]).errors]
            os.write(write, json.dumps(errors).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        data = f.read()
    os.waitpid(pid, 0)
    return [tuple(e) for e in json.loads(data)]


def test_an_unreadable_directory_is_an_input_error_not_a_silent_skip():
    root = tempfile.mkdtemp(prefix="abicheck-unreadable-")  # under /tmp, reachable by an unprivileged user
    try:
        os.chmod(root, 0o755)
        shutil.copy(bin_path("x86_64/portable-glibc228.so"), os.path.join(root, "a.so"))
        os.mkdir(os.path.join(root, "sub"))
        shutil.copy(bin_path("x86_64/newglibc.so"), os.path.join(root, "sub", "b.so"))
        os.chmod(os.path.join(root, "sub"), 0)
        errors = _check_as_nobody(root)
    finally:
        os.chmod(os.path.join(root, "sub"), 0o755)
        shutil.rmtree(root)
    assert errors == [("sub", "cannot read directory: Permission denied")]
