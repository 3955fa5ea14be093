"""An evaluation of a vmapped run (``seeds`` x ``sweep`` members): every member's metrics,
then the mean and sample std over the seeds of each swept value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from aezoo.rundir.record import MemberRecord


def groups(
    records: Sequence[MemberRecord],
    scores: Mapping[str, Mapping[str, Any]],
    sweep_name: str | None,
) -> list[dict[str, Any]]:
    """Mean and std over the seeds of each swept value (all members when nothing is swept),
    of every number the members' results share."""
    by_value: dict[Any, list[Mapping[str, Any]]] = {}
    for r in records:
        by_value.setdefault(r.sweep_value, []).append(scores[r.name])
    out = []
    for value, members in by_value.items():
        keys = [
            k
            for k, v in members[0].items()
            if isinstance(v, int | float) and not isinstance(v, bool) and k != "epoch"
        ]
        keys = [k for k in keys if all(k in m for m in members)]
        table = {k: np.array([m[k] for m in members], float) for k in keys}
        std = {k: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for k, v in table.items()}
        label = f"{sweep_name}={value:g}" if sweep_name else "all"
        mean = {k: float(v.mean()) for k, v in table.items()}
        out.append({"group": label, "seeds": len(members), "mean": mean, "std": std})
    return out


def markdown(title: str, result: Mapping[str, Any]) -> str:
    """The members' evaluation as Markdown: one row per metric, one column per group
    (mean +/- std over its seeds), then one column per member."""
    spread = result["groups"]
    members = result["members"]
    keys = [k for k in spread[0]["mean"] if k not in ("num_examples", "seconds")]
    head = [f"{g['group']} ({g['seeds']} seeds)" for g in spread] + list(members)
    lines = [
        f"# {title}",
        "",
        f"Evaluators: {', '.join(result['evaluators'])}; mean +/- sample std over the seeds of "
        "each group, then every member (its own eval.json and report.md are in "
        "members/NAME/).",
        "",
        "| metric | " + " | ".join(head) + " |",
        "|---|" + "---|" * len(head),
    ]
    for k in keys:
        cells = [f"{g['mean'][k]:.4g} +/- {g['std'][k]:.2g}" for g in spread if k in g["mean"]]
        cells += [_cell(m.get(k)) for m in members.values()]
        lines.append(f"| `{k}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else "-"


__all__ = ["groups", "markdown"]
