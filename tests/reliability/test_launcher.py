"""The launcher parent (``hpcsketch run -n``) under real terminals, signals and kills.

A real Ctrl-C goes to the terminal's whole foreground process group; a closed
terminal sends SIGHUP; ``kill -9`` of the launcher leaves nobody to forward
anything. Each case drives the real command on 2 ranks, through a pseudo-terminal
where a terminal matters, and reads the real trace afterwards.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hpcsketch.tracing.reader import read_trace
from _procs import attrs, long_job, processes_with, wait_for_rounds, wait_gone

TIMEOUT = 120
pytestmark = pytest.mark.slow


def _hpcsketch(*args: str) -> list[str]:
    return [sys.executable, "-m", "hpcsketch", *args]


class Terminal:
    """``hpcsketch`` run as the foreground job of a pseudo-terminal, as a user's shell would run it.

    A thread reads the terminal all along, as a terminal emulator does: output nobody reads
    fills the pty's buffer and blocks the writer.
    """

    def __init__(self, argv: list[str]):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: session leader with the pty as controlling terminal
            os.execvp(argv[0], argv)
        self.output = b""
        self._closing = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closing:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.05)
                data = os.read(self.fd, 65536) if ready else b"-"
            except OSError:
                return
            if not data:
                return
            if ready:
                self.output += data

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def wait_for_text(self, text: str, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while text not in self.text():
            assert time.monotonic() < end, self.text()
            time.sleep(0.02)

    def hang_up(self) -> None:
        """Close the terminal (the kernel sends SIGHUP to its session's controlling process)."""
        self._closing = True
        self._reader.join()  # a read in progress would keep the file open past close()
        os.close(self.fd)

    def wait(self, timeout: float = TIMEOUT) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self._reader.join(timeout=2)
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"hpcsketch did not end in {timeout} s:\n{self.text()}")

    def text(self) -> str:
        return self.output.decode(errors="replace")


def _no_process_manager_noise(text: str) -> None:
    for noise in ("HYD_", "assert", "Assertion", "Traceback", "BAD TERMINATION"):
        assert noise not in text, text


def test_ctrl_c_in_a_terminal_stops_cleanly_like_sigterm(tmp_path):
    out = tmp_path / "out"
    term = Terminal(_hpcsketch("run", str(long_job(tmp_path)), "-n", "2", "--out", str(out)))
    trace = wait_for_rounds(out, 30)
    term.type(b"\x03")  # Ctrl-C: SIGINT to the terminal's foreground process group
    code = term.wait()
    text = term.text()
    assert code == 3, text
    _no_process_manager_noise(text)
    assert "Ctrl-C again" in text, text
    t = read_trace(trace)
    assert t.status == "interrupted", t.attrs["message"]
    assert f"--resume {trace} -n 2" in t.attrs["message"]
    done = int(t.attrs["rounds_done"])
    assert int(attrs(trace)["checkpoint_step"]) == done > 30
    assert int(t.metrics["step"][-1]) == done  # every round up to the stop is in the trace
    assert not processes_with(str(out))


def test_a_second_ctrl_c_aborts_and_still_marks_the_trace(tmp_path):
    out = tmp_path / "out"
    # rank 1 stalls in round 50 (a long step no signal handler can interrupt): the first Ctrl-C cannot
    # stop the ranks before the second arrives
    term = Terminal(_hpcsketch("run", str(long_job(tmp_path)), "-n", "2", "--out", str(out),
                               "--inject-fault", "rank=1,round=50,kind=stall"))
    trace = wait_for_rounds(out, 50)
    term.type(b"\x03")
    term.wait_for_text("Ctrl-C again")
    term.type(b"\x03")
    code = term.wait(30)
    text = term.text()
    assert code == 130, text
    assert "aborted" in text
    _no_process_manager_noise(text)
    assert read_trace(trace).status == "failed"
    assert "second interrupt" in attrs(trace)["message"]
    wait_gone(str(out), 10)


def test_a_closed_terminal_stops_the_run_cleanly(tmp_path):
    out = tmp_path / "out"
    term = Terminal(_hpcsketch("run", str(long_job(tmp_path)), "-n", "2", "--out", str(out)))
    trace = wait_for_rounds(out, 30)
    term.hang_up()  # without -q: the summary the ranks print goes to a terminal that is gone
    code = term.wait()
    assert code == 3
    t = read_trace(trace)
    assert t.status == "interrupted", t.attrs["message"]
    assert int(attrs(trace)["checkpoint_step"]) == int(t.attrs["rounds_done"])
    wait_gone(str(out), 10)


def test_sighup_to_ranks_under_a_users_mpiexec_stops_them(tmp_path):
    """Ranks started by the user's own mpiexec: UCX's debug handler used to swallow SIGHUP."""
    out = tmp_path / "out"
    mpiexec = str(Path(sys.executable).parent / "mpiexec")
    proc = subprocess.Popen([mpiexec, "-n", "2", *_hpcsketch("run", str(long_job(tmp_path)), "--out", str(out), "-q")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        trace = wait_for_rounds(out, 30)
        ranks = [p for p in processes_with(str(out)) if p != proc.pid and b"hydra" not in
                 Path(f"/proc/{p}/cmdline").read_bytes() and b"mpiexec" not in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(ranks) == 2, ranks
        for p in ranks:
            os.kill(p, signal.SIGHUP)
        text = proc.communicate(timeout=TIMEOUT)[0].decode(errors="replace")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 3, text
    assert read_trace(trace).status == "interrupted"


def test_kill_9_of_the_launcher_stops_the_ranks_and_a_live_trace_is_never_shared(tmp_path):
    out = tmp_path / "out"
    job = long_job(tmp_path)
    launcher = subprocess.Popen(_hpcsketch("run", str(job), "-n", "2", "--out", str(out), "-q"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        trace = wait_for_rounds(out, 30)
        before = trace.read_bytes()
        # while the run lives, its trace can be neither resumed nor replaced
        for args in (["--resume", str(trace), "-n", "2"], [str(job), "--trace", str(trace), "--force", "-n", "2"],
                     ["--resume", str(trace)], [str(job), "--trace", str(trace), "--force"]):
            res = subprocess.run(_hpcsketch("run", *args, "-q"), capture_output=True, text=True, timeout=TIMEOUT)
            assert res.returncode == 2, (args, res.stdout + res.stderr)
            lines = res.stderr.strip().splitlines()
            assert len(lines) == 1 and "still writing it" in lines[0], res.stderr
        assert processes_with(str(out))
        launcher.kill()  # SIGKILL: nothing of the launcher runs any more
        launcher.wait(timeout=10)
        gone = wait_gone(str(out), 20)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    print(f"kill -9 of the launcher: last rank gone after {gone:.2f} s")
    t = read_trace(trace)
    assert t.status == "interrupted", t.attrs["message"]
    assert int(attrs(trace)["checkpoint_step"]) == int(t.attrs["rounds_done"])
    assert len(before) > 0
    # its writer gone, the trace resumes; the resumed run is its writer now, and is protected the same way
    resumed = subprocess.Popen(_hpcsketch("run", "--resume", str(trace), "-n", "2", "-q"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for_rounds(out, int(t.attrs["rounds_done"]) + 20)
        assert attrs(trace)["status"] == "running"
        res = subprocess.run(_hpcsketch("run", "--resume", str(trace), "-q"), capture_output=True, text=True,
                             timeout=TIMEOUT)
        assert res.returncode == 2 and "still writing it" in res.stderr, res.stderr
        resumed.send_signal(signal.SIGTERM)
        assert resumed.wait(timeout=TIMEOUT) == 3, resumed.stderr.read()
    finally:
        if resumed.poll() is None:
            os.killpg(resumed.pid, signal.SIGKILL)
    assert read_trace(trace).status == "interrupted"


@pytest.mark.parametrize("ranks", ["1", "2"])
def test_a_refused_run_never_deletes_or_changes_a_file(tmp_path, ranks):
    """An existing trace, a file that is not a trace, a reused run id: refused, left byte for byte."""
    out = tmp_path / "out"
    out.mkdir()
    job = long_job(tmp_path, rounds=5)
    first = subprocess.run(_hpcsketch("run", str(job), "--out", str(out), "--run-id", "same", "-q"),
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert first.returncode == 0, first.stderr
    trace = out / "long-same.h5"
    notes = out / "notes.txt"
    notes.write_text("my notes\n")
    files = {p: p.read_bytes() for p in (trace, notes)}
    for args in (["--trace", str(trace)], ["--trace", str(notes)], ["--run-id", "same"],
                 ["--trace", str(notes), "--force"]):
        res = subprocess.run(_hpcsketch("run", str(job), "--out", str(out), "-n", ranks, "-q", *args),
                             capture_output=True, text=True, timeout=TIMEOUT)
        assert res.returncode == 2, (args, res.stdout + res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
        for p, content in files.items():
            assert p.exists() and p.read_bytes() == content, (args, p)
        assert read_trace(trace).status == "completed"
