"""The front page and the docs: short README that lists every model, Python blocks that
run as written, and a documentation site that builds with ``mkdocs build --strict``."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import shutil
import subprocess

import pytest

import aezoo

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def _python_blocks(path: pathlib.Path) -> str:
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)
    assert blocks, f"no python blocks in {path.name}"
    return "\n".join(blocks)


def _run_blocks(path: pathlib.Path, tmp_path, monkeypatch, capsys) -> str:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": path.stem}
    exec(compile(_python_blocks(path), str(path), "exec"), namespace)
    return capsys.readouterr().out


def test_readme_is_a_front_page_of_at_most_250_lines():
    assert len(README.read_text().splitlines()) <= 250


def test_readme_model_table_lists_every_registered_model_and_what_it_can_do():
    rows = re.findall(r"^\| `([a-z0-9_]+)` \|.*\| ([a-z_, -]+) \|$", README.read_text(), flags=re.M)
    assert sorted(name for name, _ in rows) == sorted(aezoo.MODELS)
    for name, can in rows:
        declared = aezoo.MODELS[name].capabilities - {"encode"}
        assert set(can.split(", ")) - {"-"} == declared, name


def _generated_pages() -> set[str]:
    """The pages the docs hook generates (``benchmarks/docs_results.py``)."""
    spec = importlib.util.spec_from_file_location(
        "docs_results", ROOT / "benchmarks" / "docs_results.py"
    )
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    return {f"docs/{page}" for page in (hook.PAGE, hook.RECIPES_PAGE, hook.GALLERY_PAGE)}


def test_readme_links_point_at_docs_pages_that_exist():
    generated = _generated_pages()
    for target in re.findall(r"\]\((docs/[^)#]+)", README.read_text()):
        assert (ROOT / target).is_file() or target in generated, target


@pytest.mark.optax
def test_readme_python_quick_start_runs_as_written(tmp_path, monkeypatch, capsys):
    out = _run_blocks(README, tmp_path, monkeypatch, capsys)
    assert "['density', 'encode', 'generative', 'normal_prior']" in out
    assert (tmp_path / "runs" / "quickstart" / "config.json").is_file()


@pytest.mark.slow
@pytest.mark.optax
def test_python_api_page_runs_as_written(tmp_path, monkeypatch, capsys):
    out = _run_blocks(DOCS / "python-api.md", tmp_path, monkeypatch, capsys)
    assert "test -ELBO after 20 epochs" in out and "own loop, 600 steps: IS-NLL" in out
    assert (tmp_path / "runs" / "api-vae" / "eval.json").is_file()


@pytest.mark.slow
def test_docs_build_strictly(tmp_path):
    mkdocs = shutil.which("mkdocs")
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[dev]')")
    proc = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pages = sorted((tmp_path / "site").rglob("index.html"))
    assert len(pages) > 20
    for path in pages:
        html = path.read_text()
        assert "\\|" not in html, f"{path}: a literal \\| (a pipe escaped inside a code span)"
        assert "<h1" in html, f"{path}: a page without a heading"
    home = (tmp_path / "site" / "index.html").read_text()
    assert "the JAX model zoo for autoencoders" in home and "<table>" in home  # the README
    page = (tmp_path / "site" / "results" / "benchmarks" / "index.html").read_text()
    assert "Measured with <code>aezoo bench" in page  # generated from the result JSON
