"""The long set run: N = 5,000 decisions under faults, worker kills and a PostgreSQL crash.

The same experiment as ``tests/faults/test_no_message_lost.py`` (see
``tests/faults/set_run.py``), bigger, printing its report. It needs PostgreSQL's server
binaries (``/usr/lib/postgresql/*/bin``): it makes a private cluster, so the shared
server is never touched. Logs of every process stay in ``--workdir``.

    .venv/bin/python bench/fault_run.py                  # N = 5,000, 2 workers
    .venv/bin/python bench/fault_run.py --n 500 --workers 1

Exit code 0 when lost = 0, stuck = 0 and every check holds; 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.set_run import DEFAULT_FAULTS, RunConfig, run


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=5000, help="decisions to submit")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--faults", type=json.loads, default=DEFAULT_FAULTS, help="the mock's faults, JSON")
    parser.add_argument("--submit-threads", type=int, default=8)
    parser.add_argument("--heal-timeout", type=float, default=600.0, help="seconds to wait after healing")
    parser.add_argument("--workdir", type=Path, default=None, help="where the processes' logs go")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gw-fault-run-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = RunConfig(
        n=args.n,
        workers=args.workers,
        seed=args.seed,
        faults=args.faults,
        submit_threads=args.submit_threads,
        heal_timeout_s=args.heal_timeout,
        submit_timeout_s=1800.0,
        kill_every_s=(2.0, 6.0),
        min_chaos_s=20.0,
        max_chaos_after_submit_s=900.0,
    )
    print(f"fault run: N={config.n}, {config.workers} workers, seed {config.seed}, logs in {workdir}")
    print(f"faults: {json.dumps(config.faults)}")
    abort = threading.Event()

    def _abort(signum: int, _frame: object) -> None:
        print(f"signal {signum}: stopping the run and cleaning up", flush=True)
        abort.set()

    signal.signal(signal.SIGINT, _abort)
    signal.signal(signal.SIGTERM, _abort)
    report = run(config, workdir, progress=True, abort=abort)
    print()
    for line in report.lines():
        print(line)
    print(f"throughput: {report.messages / report.total_s:.1f} messages/s end to end, incl. setup and faults")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
