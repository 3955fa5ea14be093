"""Recipes: every registered one is well formed, and one on digits runs end to end into a
result JSON that renders as a docs section with the measured numbers."""

from __future__ import annotations

import json
import shlex

import pytest

from aezoo.cli import main, parse
from aezoo.errors import ConfigError
from aezoo.recipes import RECIPES, Quote, Recipe, Table, markdown, run_recipe
from tests.conftest import TINY_NET, net_flags

NET = " ".join(net_flags(TINY_NET))
TINY = Recipe(
    name="tiny_digits",
    title="A VAE and a task on digits",
    protocol="two epochs on digits",
    steps=(
        f"train vae --dataset digits --epochs 2 {NET} --no-progress --workdir {{runs}}/vae",
        "eval {runs}/vae --nll-samples 8 --probe-train 200 --no-progress",
        "task clustering {runs}/vae --clusters 10 --no-progress --out {runs}/clustering",
    ),
    tables=(
        Table("Test set", rows=(("`vae`", "vae"),), columns=(("IS NLL", "test/nll_is"),)),
        Table("Clustering", task="clustering"),
    ),
    quoted=(Quote("nothing real", 1.5, "a test"),),
    headline=(("vae", "test/nll_is"), ("vae", "epoch")),
)


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_step_is_a_command_aezoo_parses(name):
    recipe = RECIPES[name]
    assert recipe.name == name and recipe.protocol and recipe.budget
    assert recipe.tables or any(step.startswith("gallery ") for step in recipe.steps)
    outputs = set()
    for step in recipe.steps:
        argv = shlex.split(step.format(runs="runs/x"))
        args = parse(argv)  # an unknown flag or model exits here
        if argv[0] == "train":
            outputs.add(argv[argv.index("--workdir") + 1].split("/")[-1])
        if argv[0] == "task":
            outputs.add(f"task-{argv[argv.index('--out') + 1].split('/')[-1]}")
            assert args.task in argv
    for table in recipe.tables:
        assert {n for _, n in table.rows} <= outputs
        assert table.task is None or f"task-{table.output or table.task}" in outputs
    assert {output for output, _ in recipe.headline} <= outputs


@pytest.mark.slow
@pytest.mark.optax
def test_a_recipe_runs_into_its_result_json_and_renders(tmp_path):
    result = run_recipe(TINY, runs=tmp_path / "runs", results=tmp_path / "results")
    saved = json.loads((tmp_path / "results" / "tiny_digits.json").read_text())
    assert saved == result
    assert saved["epoch"] == 2 and saved["test/nll_is"] > 0
    assert saved["machine"]["matmul_gflops"] > 0 and len(saved["steps"]) == 3
    assert saved["train_seconds"] <= saved["seconds"]
    assert saved["outputs"]["vae"]["last/epoch"] == 2
    page = markdown(TINY, saved)
    assert f"| `vae` | {saved['test/nll_is']:.3f} |" in page
    k10 = next(r for r in saved["outputs"]["task-clustering"]["rows"] if r["clusters"] == 10)
    assert f"{k10['nmi']:.3f}" in page
    assert "Quoted from the literature, not measured here" in page
    with pytest.raises(ConfigError, match="holds an earlier reproduction; pass --resume"):
        run_recipe(TINY, runs=tmp_path / "runs", results=tmp_path / "results")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x")
    with pytest.raises(ConfigError, match="was not made by aezoo reproduce"):
        run_recipe(TINY, runs=tmp_path / "mine", results=tmp_path, overwrite=True)
    assert (tmp_path / "mine" / "thesis.tex").exists()


@pytest.mark.unit
def test_a_recipe_not_reproduced_yet_renders_its_commands():
    page = markdown(TINY, None)
    assert "Not reproduced yet" in page and "aezoo train vae --dataset digits" in page


def test_reproduce_cli_lists_and_refuses_unknown_names(capsys):
    assert main(["reproduce", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in RECIPES)
    assert main(["reproduce", "vae_mnst"]) == 2
    err = capsys.readouterr().err
    assert "unknown recipe 'vae_mnst'; did you mean 'vae_mnist'? available: " in err
    assert main(["reproduce", "vae_mnist", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("aezoo train vae --dataset mnist --epochs 100")


@pytest.mark.unit
def test_a_multi_seed_run_renders_one_row_per_group_with_its_spread():
    from aezoo.recipes._render import _table

    group = {"group": "beta=4", "seeds": 3, "mean": {"mig": 0.25}, "std": {"mig": 0.05}}
    table = Table("t", rows=(("`b`", "b"),), columns=(("MIG", "mig"),))
    lines = _table(table, {"b": {"groups": [group]}})
    assert lines[-1] == "| `b`: beta=4 (3 seeds) | 0.250 +/- 0.050 |"
