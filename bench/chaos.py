"""The crash test at larger sizes: a backfill of a few thousand records through
``handoff sandbox serve`` while workers are SIGKILLed and the vendors fail, then the figures.

    .venv/bin/python bench/chaos.py --records 2000 --kills 200 [--seed N] [--database-url URL]

Prints kills, records, lost, doubled, unfinished, dead, alerted and wall time; exits 1 when a
promise was broken. Without ``--database-url`` the store is a SQLite file in a temporary
directory (kept with ``--keep``, with every worker's log).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sync_core.store.db import upgrade
from tests.chaos.harness import ChaosConfig, run_chaos


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--no-faults", action="store_true", help="kills only")
    parser.add_argument("--settle", type=float, default=0.0, help="seconds after the last kill")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument(
        "--clean-timeout",
        type=float,
        default=None,
        help="seconds each command of the clean end run may take (default: scaled to --records)",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="handoff-chaos-"))
    url = args.database_url or f"sqlite:///{workdir / 'handoff.db'}"
    upgrade(url)
    config = ChaosConfig(workdir=workdir, database_url=url, records=args.records, kills=args.kills)
    config.faults = not args.no_faults
    config.settle = args.settle
    # the clean run delivers what the chaos left under the vendors' rate limits
    config.clean_timeout = args.clean_timeout or max(240.0, args.records * 0.9)
    if args.seed is not None:
        config.seed = args.seed
    result = run_chaos(config)
    broken = result.failures()
    for promise, evidence in broken.items():
        print(f"broken: {promise}: {evidence}")
    print(f"working directory: {workdir}" if args.keep else "")
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
