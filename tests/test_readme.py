"""The README's Python API section runs as written."""

from __future__ import annotations

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _section_code(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end >= 0 else None]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, f"no python blocks in README section {title!r}"
    return "\n".join(blocks)


@pytest.mark.slow
@pytest.mark.optax
def test_readme_python_api_section_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme"}
    exec(compile(_section_code("Python API"), str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert "test -ELBO after 20 epochs" in out and "own loop, 600 steps: IS-NLL" in out
    assert (tmp_path / "runs" / "api-vae" / "eval.json").is_file()
    print(out)
