"""Handlers installed by the harness keep C-level system calls restartable: a Slurm
warning that lands while MPI (C code, which does not retry EINTR) sits in a read must
not make that read fail."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import ctypes, os, signal, threading, time
    from hpcsketch import signals
    {install}
    r, w = os.pipe()
    libc = ctypes.CDLL(None, use_errno=True)
    def later():
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGUSR1)   # lands while the main thread is in read(2)
        time.sleep(0.3)
        os.write(w, b"x")
    threading.Thread(target=later).start()
    buf = ctypes.create_string_buffer(1)
    n = libc.read(r, buf, 1)                   # C read: EINTR is not retried for it
    print(n, ctypes.get_errno(), signals.take_early())
""")


def _child(install: str) -> list[int]:
    out = subprocess.run([sys.executable, "-c", CHILD.format(install=install)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return [int(v) for v in out.stdout.split()]


def test_a_signal_does_not_interrupt_a_c_read():
    n, errno, early = _child("signals.record_early()")
    assert n == 1 and early == 10  # the read completed, and the signal was still recorded (SIGUSR1)


def test_the_check_can_fail_with_plain_signal_signal():
    # the same child with Python's default (interrupting) installation: read fails with EINTR
    n, errno, _ = _child("signal.signal(signal.SIGUSR1, lambda s, f: None)")
    assert n == -1 and errno == 4
