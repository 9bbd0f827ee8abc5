"""``python -m hpcsketch`` (what the launcher starts on every rank) and the ``hpcsketch`` command."""

import sys
import traceback

from hpcsketch.signals import record_early

record_early()  # before the heavy imports: a time-limit warning during start-up is not lost

from hpcsketch.cli import main  # noqa: E402
from hpcsketch.shutdown import abort_world, finalize_and_exit  # noqa: E402


def run_and_exit() -> None:
    """Run the CLI and end the process the way ``hpcsketch.shutdown`` explains.

    An exception that escapes the command (a bug, or an error on one rank only)
    is printed and aborts every rank, as under ``python -m mpi4py``: finalizing
    one rank while the others wait in a collective would hang the job.
    """
    try:
        code = main()
    except SystemExit as e:  # argparse (--help, usage errors): the same on every rank
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - every failure must end the job, not hang it
        traceback.print_exc()
        abort_world(1)
        code = 1
    finalize_and_exit(code)


if __name__ == "__main__":
    run_and_exit()
