"""Benchmarks. `python -m bench` runs every `bench/*_bench.py` module's `main()` and prints one table;
`python -m bench.<name>` runs one. Each `main()` returns rows: dicts with name, value, unit, target,
ok and detail."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def row(name: str, value: float, unit: str, target: str, ok: bool, detail: str = "") -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "target": target, "ok": ok, "detail": detail}


def format_table(rows: Iterable[dict[str, Any]]) -> str:
    header = ("benchmark", "value", "target", "ok", "detail")
    body = [
        (
            r["name"],
            f"{r['value']:g} {r['unit']}".strip(),
            r["target"],
            "" if not r["target"] else ("yes" if r["ok"] else "NO"),
            r.get("detail", ""),
        )
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def report(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Print a module's rows as a table and hand them on (every `main()` ends with this)."""
    print(format_table(rows))
    return rows
