"""Benchmarks run by scripts/bench. Each bench_*.py module has ``def run(args) -> None`` printing figures."""
