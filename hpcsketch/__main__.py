"""``python -m hpcsketch`` (what the launcher starts on every rank) and the ``hpcsketch`` command."""

from hpcsketch.signals import record_early

record_early()  # before the heavy imports: a time-limit warning during start-up is not lost

from hpcsketch.cli import main  # noqa: E402
from hpcsketch.shutdown import finalize_and_exit  # noqa: E402


def run_and_exit() -> None:
    """Run the CLI and end the process the way ``hpcsketch.shutdown`` explains."""
    finalize_and_exit(main())


if __name__ == "__main__":
    run_and_exit()
