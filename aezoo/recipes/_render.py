"""A recipe's result JSON as a Markdown section: protocol, commands, tables, quoted numbers,
the machine and the time. Every number comes from the JSON; nothing is typed by hand."""

from __future__ import annotations

import importlib
from typing import Any

from aezoo.recipes._recipe import Recipe, Table


def markdown(recipe: Recipe, result: dict[str, Any] | None) -> str:
    """The section of ``recipe`` (``result`` None: not reproduced yet, its commands only)."""
    lines = [f"## {recipe.title}", "", recipe.protocol, "", "```"]
    lines += [f"aezoo reproduce {recipe.name}   # runs:", *recipe.commands(), "```", ""]
    if result is None:
        lines += [f"Not reproduced yet: no `results/recipes/{recipe.name}.json`.", ""]
        return "\n".join(lines)
    for table in recipe.tables:
        lines += [f"**{table.title}**", "", *_table(table, result["outputs"]), ""]
    if recipe.quoted:
        lines += ["Quoted from the literature, not measured here:", ""]
        lines += [f"- {q.what}: {q.value:g}; {q.source}" for q in recipe.quoted]
        lines.append("")
    if recipe.notes:
        lines += [recipe.notes, ""]
    machine = result["machine"]
    lines += [
        f"Measured {result['date'][:10]} at commit `{result['commit'][:12]}` on "
        f"{machine['cpu']} ({machine['cpu_count']} cores, fp32 matmul "
        f"{machine['matmul_gflops']:.0f} GFLOP/s, {machine['platform']}): "
        f"{result['seconds'] / 60:.1f} minutes in all"
        + (
            f", {result['train_seconds'] / 60:.1f} of them in `aezoo train`"
            if result["train_seconds"]
            else ""
        )
        + f" (file `results/recipes/{recipe.name}.json`).",
        "",
    ]
    return "\n".join(lines)


def _table(table: Table, outputs: dict[str, Any]) -> list[str]:
    if table.task is None:
        columns = (("run", "_label"), *table.columns)
        rows = [row for label, name in table.rows for row in _run_rows(label, outputs[name])]
    else:
        found = outputs[f"task-{table.output or table.task}"]
        columns = table.columns or _task_columns(table.task)
        rows = list(found["rows"])
        if "mean" in found:
            rows.append({columns[0][1]: "**mean**", **found["mean"]})
    head = "| " + " | ".join(h for h, _ in columns) + " |"
    lines = [head, "|" + "---|" * len(columns)]
    for row in rows:
        cells = [_cell(row.get(key), table.digits) for _, key in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _run_rows(label: str, output: dict[str, Any]) -> list[dict[str, Any]]:
    """One row of a run; of a multi-member run, one per group (mean +/- std over its seeds,
    or the one seed's numbers)."""
    if "groups" not in output:
        return [{"_label": label, **output}]
    rows = []
    for g in output["groups"]:
        if g["seeds"] == 1:  # a swept value with one seed: its numbers, no spread
            rows.append({**g["mean"], "_label": f"{label}: {g['group']}"})
            continue
        row = {k: Spread(v, g["std"][k]) for k, v in g["mean"].items()}
        rows.append({**row, "_label": f"{label}: {g['group']} ({g['seeds']} seeds)"})
    return rows


class Spread(float):
    """A mean that prints with its standard deviation."""

    def __new__(cls, mean: float, std: float) -> Spread:
        value = super().__new__(cls, mean)
        value.std = std
        return value


def _task_columns(task: str) -> tuple[tuple[str, str], ...]:
    return tuple(importlib.import_module(f"aezoo.tasks.{task}").COLUMNS)


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Spread):
        return f"{value:.{digits}f} +/- {value.std:.{digits}f}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


__all__ = ["markdown"]
