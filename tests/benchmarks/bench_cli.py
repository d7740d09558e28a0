"""Start-up cost of the operator CLI (prints figures; not a test).

    .venv/bin/python -m tests.benchmarks.bench_cli [--runs 10]

Runs ``hub --help`` and ``hub partners list`` (on a migrated SQLite file with a few partners)
as an operator's script would, each in a new process, and prints the median wall time of each
next to that of ``python -c pass`` measured in the same run, and their ratio to it: the ratio
is comparable across machines and loads, the seconds are this machine's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hub.persistence import migrations


def wall(command: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    try:
        url = f"sqlite+aiosqlite:///{directory / 'hub.db'}"
        migrations.upgrade(url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env["HUB_DATABASE__URL"] = url
        # `python -m hub` is the `hub` script's code, and runs the checkout in the current
        # directory even where the installed `hub` script points at another one.
        hub = [sys.executable, "-m", "hub"]
        for index in range(5):
            subprocess.run(
                [*hub, "partners", "invite", f"partner-{index}", "--party", f"US*P{index:02d}"],
                env=env,
                stdout=subprocess.DEVNULL,
                check=True,
            )
        baseline = wall([sys.executable, "-c", "pass"], env, args.runs)
        print(f"median of {args.runs} runs, wall; ratio to `python -c pass` in this run")
        print(f"{'python -c pass':<22} {baseline:7.3f} s   1.0x")
        for label, command in (
            ("hub --help", [*hub, "--help"]),
            ("hub partners list", [*hub, "partners", "list"]),
        ):
            seconds = wall(command, env, args.runs)
            print(f"{label:<22} {seconds:7.3f} s {seconds / baseline:5.1f}x")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
