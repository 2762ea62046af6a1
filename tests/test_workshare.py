"""The thread sharing that inflates wheel members: every job once, errors surface, no hangs."""

import threading
import time

import pytest

from abicheck.inputs.workshare import WorkShare


def test_every_job_runs_once():
    with WorkShare(lambda n: n * n, size=lambda n: n, workers=2) as share:
        share.add(range(200))
        share.close()
        results = list(share.results())
    assert sorted(results) == [n * n for n in range(200)]


def test_a_worker_holds_the_biggest_job_while_the_caller_does_the_small_ones():
    big_started, smalls_done = threading.Event(), threading.Event()
    ran_on: dict[int, str] = {}

    def work(n: int) -> int:
        ran_on[n] = threading.current_thread().name
        if n == 1000:
            big_started.set()
            assert smalls_done.wait(10)
        return n

    with WorkShare(work, size=lambda n: n, workers=1) as share:
        share.add([1000])
        assert big_started.wait(10)
        share.add([1, 2, 3])
        share.close()
        results = share.results()
        first = [next(results) for _ in range(3)]
        smalls_done.set()
        assert sorted(first) == [1, 2, 3] and list(results) == [1000]
    me = threading.current_thread().name
    assert ran_on[1000] != me and {ran_on[n] for n in (1, 2, 3)} == {me}


def test_jobs_added_before_and_after_the_workers_start_are_all_done():
    with WorkShare(lambda n: n, size=lambda n: n, workers=1) as share:
        share.add([1000])
        share.add([1, 2, 3])
        share.close()
        assert sorted(share.results()) == [1, 2, 3, 1000]


def test_an_error_in_a_worker_is_raised_in_the_caller():
    def work(n: int) -> int:
        if n == 7:
            raise RuntimeError("job 7 failed")
        return n

    with WorkShare(work, size=lambda n: n, workers=3) as share:
        share.add(range(10))
        share.close()
        with pytest.raises(RuntimeError, match="job 7 failed"):
            list(share.results())


def test_leaving_early_stops_the_workers():
    started = []

    def work(n: int) -> int:
        started.append(n)
        time.sleep(0.001)
        return n

    with WorkShare(work, size=lambda n: n, workers=2) as share:
        share.add(range(10_000))  # 5 s of work for two workers
        share.close()
        next(iter(share.results()))
    assert all(not t.is_alive() for t in share._threads)
    assert len(started) < 5_000


# The peak RSS of this process image alone: VmHWM, since ru_maxrss keeps the high-water mark of the image
# before exec, which here is a copy of pytest's (about 1 GB by the end of the suite).
PEAK_RSS = r"""
import sys
import abicheck.inputs.wheel
abicheck.inputs.wheel.MEMORY_BUDGET = 16 << 20
wheel, jobs = sys.argv[1], int(sys.argv[2])
problems = []
# the wheel's loader itself, with as many workers as asked (a check would use at most the cores)
with abicheck.inputs.wheel.WheelReader(wheel) as reader:
    count = sum(1 for loaded in reader.loaded(problems, jobs) if loaded.data is not None)
assert count == 60 and not problems, problems
print(next(int(line.split()[1]) >> 10 for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


CHECK_RSS = r"""
import sys
import abicheck
report = abicheck.check([sys.argv[1]], jobs=256)
assert report.objects_checked == 60 and not report.errors, report.errors
print(next(int(line.split()[1]) >> 10 for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def test_memory_does_not_grow_with_the_number_of_jobs(tmp_path):
    """The in-flight budget bounds what the workers hold, however many there are.

    Each of 60 members keeps 4 MB. Before, a worker kept its last result while
    it waited for the next job, and the allocator kept each thread's freed
    blocks: 24 jobs took about 100 MB more than 2.
    """
    import random
    import subprocess
    import sys
    import zipfile

    from conftest import bin_path

    block = random.Random(0).randbytes(16 << 10)  # repeated: inflates about 100x, under the zip-bomb ratio
    member = open(bin_path("x86_64/portable-glibc228.so"), "rb").read()
    member += block * ((4 << 20) // len(block))
    wheel = tmp_path / "many-1.0-py3-none-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(60):
            zf.writestr(f"many/m{i}.so", member)
    peaks = {}
    for jobs in (2, 24):
        done = subprocess.run([sys.executable, "-c", PEAK_RSS, str(wheel), str(jobs)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        peaks[jobs] = int(done.stdout)
    assert peaks[24] - peaks[2] < 40, peaks  # MB: the 16 MB budget and a little, not a member per thread
    # The whole check, as a user runs it with the most jobs accepted, and the shipped budgets
    whole = subprocess.run([sys.executable, "-c", CHECK_RSS, str(wheel)], capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    assert int(whole.stdout) < 512, whole.stdout  # MB
