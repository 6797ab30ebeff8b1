"""`python -m bench [ml] [bot] [retrain]`: run the `bench/*_bench.py` modules' `main()` (all of
them by default), then print one table.

Each module's own output (progress and its table) goes to stderr; the combined table to stdout.
Exit status 1 if any row with a target missed it (or a module crashed).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil
import sys
import traceback
from pathlib import Path
from typing import Any

from bench import format_table, row


def modules() -> list[str]:
    here = str(Path(__file__).resolve().parent)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if m.name.endswith("_bench"))


def main(names: list[str] | None = None) -> int:
    rows: list[dict[str, Any]] = []
    for name in names or modules():
        print(f"== bench.{name}", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            with contextlib.redirect_stdout(sys.stderr):
                produced = module.main()
            rows += [{**r, "name": f"{name.removesuffix('_bench')}: {r['name']}"} for r in produced or []]
        except Exception as exc:
            traceback.print_exc()
            rows.append(row(f"{name}: crashed", 0, "", "runs", False, f"{type(exc).__name__}: {exc}"))
    print(format_table(rows))
    return 0 if all(r["ok"] or not r["target"] for r in rows) else 1


def parse(argv: list[str]) -> list[str] | None:
    available = modules()
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run benchmarks; print one table.")
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"which to run (default: all): {', '.join(n.removesuffix('_bench') for n in available)}",
    )
    names = [n if n.endswith("_bench") else f"{n}_bench" for n in parser.parse_args(argv).names]
    unknown = [n for n in names if n not in available]
    if unknown:
        parser.error(f"no benchmark named {', '.join(n.removesuffix('_bench') for n in unknown)}")
    return names or None


if __name__ == "__main__":
    sys.exit(main(parse(sys.argv[1:])))
