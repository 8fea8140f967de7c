"""Run every benchmark module (bench_*.py), or those named: python -m benchmarks [names…] [--quick]."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--fuzz", action="store_true", help="also run the long API fuzzing run")
    parser.add_argument("--pg-url", default=None, help="PostgreSQL URL (default: JIESU_BENCH_PG_URL)")
    args = parser.parse_args(argv)
    folder = Path(__file__).parent
    available = sorted(m.name for m in pkgutil.iter_modules([str(folder)]) if m.name.startswith("bench_"))
    chosen = [n for n in available if not args.names or n.removeprefix("bench_") in args.names]
    if not chosen:
        print(f"no benchmark named {args.names}; available: {available}", file=sys.stderr)
        return 2
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"benchmarks.{name}").run(args)
        print(f"--- {name}: {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
