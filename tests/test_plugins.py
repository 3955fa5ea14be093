"""Plug-ins from outside aezoo: each "Write your own" page's file is written to a folder
outside the package and driven through the CLI (``--plugin``) and Python exactly as the page
shows; entry points and ``$AEZOO_PLUGINS`` find plug-ins too; a plug-in that fails, or a run
whose plug-in is not loaded, is one line."""

from __future__ import annotations

import json
import pathlib
import re
import shlex
import subprocess
import sys
import types

import pytest

import aezoo
from aezoo import _plugins
from aezoo.cli import main

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "extend"


def _registries():
    from aezoo.data import DATASETS
    from aezoo.eval import EVALUATORS
    from aezoo.recipes import RECIPES
    from aezoo.samplers import SAMPLERS
    from aezoo.tasks import TASKS

    return (aezoo.MODELS, EVALUATORS, SAMPLERS, TASKS, RECIPES, DATASETS)


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A folder outside aezoo as the working directory and on sys.path; afterwards every
    registry, the plug-in state, the environment and sys.modules are as they were."""
    saved = [(r, dict(r._items)) for r in _registries()]
    loaded = dict(_plugins._loaded)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(_plugins.ENV, raising=False)
    yield tmp_path
    for registry, items in saved:
        registry._items.clear()
        registry._items.update(items)
    _plugins._loaded.clear()
    _plugins._loaded.update(loaded)
    for name, module in list(sys.modules.items()):  # the plug-in files the test wrote
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            sys.modules.pop(name)
    aezoo.data.clear_cache()


def _page(name: str) -> tuple[str, list[str], list[str]]:
    """A docs page's plug-in file, its ``aezoo`` command lines and its other Python blocks."""
    text = (DOCS / f"{name}.md").read_text()
    python = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    commands = [
        line
        for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)
        for line in block.splitlines()
        if line.startswith("aezoo ")
    ]
    return python[0], commands, python[1:]


def _run_page(name: str, file: str, folder: pathlib.Path, capsys) -> str:
    source, commands, snippets = _page(name)
    (folder / file).write_text(source)
    for line in commands:
        assert main(shlex.split(line)[1:]) == 0, (line, capsys.readouterr().err)
    capsys.readouterr()
    for snippet in snippets:
        exec(compile(snippet, f"{name}.md", "exec"), {"__name__": f"docs_{name}"})
    return capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.optax
def test_the_model_page_trains_evaluates_samples_and_sweeps_a_plugin_model(sandbox, capsys):
    out = _run_page("model", "laplace_vae.py", sandbox, capsys)
    assert "['density', 'encode', 'generative']" in out
    record = json.loads((sandbox / "runs/laplace/config.json").read_text())
    assert record["model"] == "laplace_vae" and record["plugins"] == {"model": "laplace_vae.py"}
    scores = json.loads((sandbox / "runs/laplace/eval.json").read_text())
    assert "test/nll_is" in scores and "kl_per_dim" not in scores  # its prior is not N(0, I)
    assert "not reported" in scores["kl_per_dim_note"]
    members = json.loads((sandbox / "runs/laplace-sweep/config.json").read_text())["members"]
    assert [m["sweep_value"] for m in members] == [0.5, 1.0]
    assert (sandbox / "laplace-samples.png").is_file()
    assert (sandbox / "runs/laplace-clustering/clustering.json").is_file()
    # Opened without its plug-in: one line naming it, nothing imported.
    aezoo.MODELS.unregister("laplace_vae")
    sys.modules.pop("laplace_vae")
    _plugins._loaded.clear()
    assert main(["eval", "runs/laplace", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "aezoo: error: the run's model 'laplace_vae' comes from plug-in 'laplace_vae.py', which "
        "is not loaded: pass --plugin laplace_vae.py (or set AEZOO_PLUGINS, or install the "
        "package that provides it)"
    ]
    assert "laplace_vae" not in sys.modules


@pytest.mark.slow
@pytest.mark.optax
def test_the_evaluator_page_runs_a_plugin_evaluator_with_its_typed_option(sandbox, capsys):
    out = _run_page("evaluator", "code_stats.py", sandbox, capsys)
    scores = json.loads((sandbox / "runs/vae/eval.json").read_text())
    assert 0 <= scores["code_dims_used"] <= 4 and scores["test/code_std_mean"] > 0
    assert scores["evaluators"] == ["code_stats"]  # evaluated after the --overwrite run
    assert out.splitlines()[-1].split()[0] == str(scores["code_dims_used"])
    assert (sandbox / "runs/vae/code_std.txt").is_file()  # written again by the Python part
    (sandbox / "runs/vae/mine.txt").write_text("a user's file")
    argv = ["train", "vae", "--epochs", "1", "--workdir", "runs/vae", "--overwrite"]
    assert main([*argv, "--no-progress", "--hidden-dims", "32", "--latent-dim", "4"]) == 0
    assert not (sandbox / "runs/vae/code_std.txt").exists()  # the evaluator's declared output
    assert (sandbox / "runs/vae/mine.txt").read_text() == "a user's file"
    argv = ["eval", "runs/vae", "--evaluators", "code_stats", "--code-threshold", "-1"]
    assert main(argv) == 2
    assert "--code-threshold must be a finite number >= 0; got -1.0" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.optax
def test_the_sampler_page_fits_saves_and_draws_a_plugin_sampler(sandbox, capsys):
    out = _run_page("sampler", "diagonal.py", sandbox, capsys)
    assert out.startswith("(8, 8, 8, 1) (4,)")
    saved = json.loads((sandbox / "runs/ae/samplers/diagonal.json").read_text())
    assert saved["options"] == {"shrink": 0.5}  # the Python call's, refitted for its options
    assert (sandbox / "ae-diagonal.png").is_file()


@pytest.mark.slow
@pytest.mark.optax
def test_the_dataset_page_trains_and_evaluates_on_a_plugin_dataset(sandbox, capsys):
    out = _run_page("dataset", "rings.py", sandbox, capsys)
    assert "(2000, 16, 16, 1) uint8 [0, 1, 2, 3]" in out
    record = json.loads((sandbox / "runs/rings/config.json").read_text())
    assert record["train"]["dataset"] == "rings" and record["plugins"] == {"dataset": "rings.py"}
    assert record["model_config"]["image_shape"] == [16, 16, 1]
    assert "test/nll_is" in json.loads((sandbox / "runs/rings/eval.json").read_text())
    assert (sandbox / "rings-preview.png").is_file()


@pytest.mark.slow
@pytest.mark.optax
def test_the_recipe_page_reproduces_a_plugin_recipe(sandbox, capsys):
    out = _run_page("recipe", "my_recipe.py", sandbox, capsys)
    result = json.loads((sandbox / "results/my_recipe.json").read_text())
    assert set(result["outputs"]) == {"z2", "z8"} and out.startswith("#")
    assert "test/nll_is" in result["outputs"]["z8"]


@pytest.mark.unit
def test_a_plugin_that_fails_to_load_is_one_line_with_status_2(sandbox, capsys):
    (sandbox / "broken.py").write_text("raise RuntimeError('no GPU here')\n")
    (sandbox / "needs.py").write_text("import not_installed_anywhere\n")
    cases = (
        ("broken.py", "plug-in 'broken.py' failed to load: RuntimeError: no GPU here"),
        ("needs.py", "plug-in 'needs.py' failed to load: No module named 'not_installed"),
        ("nosuch.module", "plug-in 'nosuch.module' is not an importable module"),
        ("missing.py", "plug-in file 'missing.py' is not a readable .py file"),
    )
    for plugin, message in cases:
        assert main(["--plugin", plugin, "list"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("aezoo: error: " + message), err
    assert "broken" not in sys.modules


@pytest.mark.unit
def test_entry_points_and_the_environment_variable_find_plugins(sandbox, monkeypatch):
    (sandbox / "env_model.py").write_text(
        "import dataclasses\nfrom aezoo.models import MODELS, get_spec\n"
        "MODELS.register(dataclasses.replace(get_spec('ae'), name='env_ae'))\n"
    )
    (sandbox / "ep_pkg.py").write_text(
        "import dataclasses\nfrom aezoo.models import MODELS, get_spec\n"
        "def setup():\n"
        "    MODELS.register(dataclasses.replace(get_spec('ae'), name='ep_ae'))\n"
    )
    entry = types.SimpleNamespace(name="mine", value="ep_pkg:setup")
    entry.load = lambda: __import__("ep_pkg").setup
    monkeypatch.setattr(_plugins.importlib.metadata, "entry_points", lambda group: [entry])
    monkeypatch.setenv(_plugins.ENV, "env_model.py")
    monkeypatch.setattr(_plugins, "_started", False)
    assert {"env_ae", "ep_ae"} <= set(aezoo.MODELS)
    assert _plugins.origin(aezoo.MODELS["env_ae"].module_cls) is None  # the zoo's own class


@pytest.mark.unit
def test_a_registered_value_is_checked_in_one_line():
    import dataclasses

    from aezoo.data import DATASETS, DatasetSpec

    spec = aezoo.MODELS["vae"]
    cases = (
        (aezoo.MODELS, dataclasses.replace(spec, name="vae"), "a model named 'vae' is registered"),
        (aezoo.MODELS, dataclasses.replace(spec, name="x", module_cls=int), "lacks the method"),
        (DATASETS, DatasetSpec("mine", "d", "tfds", loader=len), "a loader is what every kind"),
        (DATASETS, DatasetSpec("no/slash", "d", "plugin", loader=len), "dataset name must be"),
    )
    for registry, value, message in cases:
        with pytest.raises(aezoo.ConfigError, match=message):
            registry.register(value)


@pytest.mark.unit
def test_help_and_a_typo_answer_without_importing_jax():
    code = (
        "import sys\nfrom aezoo.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('jax' in sys.modules, file=sys.stderr)\n"
    )
    for argv, expected in ((["--help"], "commands:"), (["trian"], "did you mean 'train'?")):
        proc = subprocess.run(
            [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60
        )
        assert expected in proc.stdout + proc.stderr
        assert proc.stderr.strip().splitlines()[-1] == "False", proc.stderr


@pytest.mark.unit
def test_a_misspelt_flag_is_reported_by_the_commands_own_parser(capsys):
    with pytest.raises(SystemExit):
        main(["train", "vae", "--latent-dims", "3"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("aezoo train vae: error: unrecognized arguments: --latent-dims")
    assert err.endswith("did you mean '--latent-dim'?")
