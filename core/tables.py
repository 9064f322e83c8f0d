"""Markdown tables of metric rows, the one format every printed and saved table uses."""

from __future__ import annotations


def format_cell(v) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list | tuple):
        return "/".join(format_cell(x) for x in v)
    return "" if v is None else str(v)


def format_table(rows: list[dict], keys: list[str]) -> str:
    """A Markdown table of ``keys`` over ``rows`` (missing values blank)."""
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(format_cell(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)
