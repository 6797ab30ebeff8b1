"""`python -m bench`: run every `bench/*_bench.py` module's `main()`, then print one table.

Each module's own output (progress and its table) goes to stderr; the combined table to stdout.
Exit status 1 if any row with a target missed it (or a module crashed).
"""

from __future__ import annotations

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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or None))
