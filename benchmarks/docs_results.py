"""The docs' results pages, generated from the committed result JSON (never typed by hand).

MkDocs runs this file as a hook (``mkdocs.yml``: ``hooks``): at every build it adds the pages
``results/benchmarks.md``, rendered from ``benchmarks/results/*.json``, and
``results/recipes.md``, one section per recipe (``aezoo reproduce --list``) rendered from
``results/recipes/NAME.json``, each with the command that reproduces it. By hand,
``python benchmarks/docs_results.py [recipes]`` prints a page.
"""

from __future__ import annotations

import json
import pathlib
import re
import statistics
from typing import Any

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
RECIPE_RESULTS = pathlib.Path(__file__).resolve().parent.parent / "results" / "recipes"
PAGE = "results/benchmarks.md"
RECIPES_PAGE = "results/recipes.md"


def _bench_command(result: dict[str, Any]) -> str:
    """The ``aezoo bench`` command that measures these rows."""
    rows = result["rows"]

    def values(key: str, default: Any = None) -> list[str]:
        return sorted({str(r.get(key, default)) for r in rows}, key=lambda v: (len(v), v))

    from aezoo.bench.suite import ALL_MODES, EVAL_MODE

    modes = [m for m in ALL_MODES if m in values("mode")]
    batches = sorted({r["batch_size"] for r in rows if r["mode"] != EVAL_MODE})
    command = (
        f"aezoo bench --models {' '.join(values('model'))} --arch {' '.join(values('arch', 'mlp'))}"
        + (f" --batch-sizes {' '.join(map(str, batches))}" if batches else "")
        + f" --modes {' '.join(modes)}"
    )
    if EVAL_MODE in modes:
        command += f" --nll-samples {max(r['num_samples'] for r in rows if 'num_samples' in r)}"
    return command


def _bench_section(name: str, result: dict[str, Any]) -> list[str]:
    from aezoo.bench.suite import to_markdown

    return [
        f"## `{name}`",
        "",
        f"Measured with `{_bench_command(result)}` (file `benchmarks/results/{name}.json`).",
        "",
        to_markdown(result).rstrip("\n"),
        "",
    ]


def _streaming_section(name: str, result: dict[str, Any]) -> list[str]:
    resident = statistics.median(result["resident_ex_s"])
    streamed = statistics.median(result["streamed_ex_s"])
    command = (
        f"TFDS_DATA_DIR=../shared/tfds python benchmarks/streaming.py --dataset "
        f"{result['dataset']} --epochs {result['epochs']}"
    )
    return [
        f"## `{name}`",
        "",
        f"Measured with `{command}` (file `benchmarks/results/{name}.json`): the same VAE "
        f"trained with the data on the device and streamed from the host "
        f"(`--device-memory {result['device_memory']}` below the {result['train_bytes']:,} "
        "training bytes), alternating rounds, steady-state epochs.",
        "",
        "| resident examples/s (median) | streamed examples/s (median) | streamed / resident "
        "| final params bit-identical |",
        "|---|---|---|---|",
        f"| {resident:,.0f} | {streamed:,.0f} | {result['ratio']:.3f} | "
        f"{'yes' if result['bit_identical'] else 'no'} |",
        "",
    ]


def _is_nll_section(name: str, result: dict[str, Any]) -> list[str]:
    peaks = " and ".join(f"{p:.0f}" for p in result["matmul_peak_gflops_start_end"])
    first = result["rows"][0]["revision"]
    out = [
        f"## `{name}`",
        "",
        f"Measured with `{result['command']}` (file `benchmarks/results/{name}.json`) on "
        f"{result['cpu']}, fp32 matmul peak {peaks} GFLOP/s at the start and the end: the "
        f"importance-sampled NLL of the default VAE at K = {result['samples']} on 100 images "
        f"by each version of the code, each in its own process, alternating over "
        f"{result['rounds']} rounds.",
        "",
        f"| version | commit | images/s (median) | x {first} | largest estimate difference "
        "(nats) |",
        "|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        out.append(
            f"| {r['revision']} | {r['commit']} | {r['images_per_sec']:.2f} | "
            f"{r['speedup']:.2f} | {r['max_abs_diff']:.1e} |"
        )
    return [*out, ""]


def _busy_neighbour_section(name: str, result: dict[str, Any]) -> list[str]:
    info = result["device"]
    out = [
        f"## `{name}`",
        "",
        f"Measured with `{result['command']}` (file `benchmarks/results/{name}.json`) on "
        f"{info['cpu']} ({info['cpu_count']} cores), torch {result['torch']}: the "
        f"{result['arch']} VAE's training at batch {result['batch_size']}, each variant in its "
        f"own process, quiet and with another process spinning on the last core, alternating "
        f"over {result['rounds']} rounds (medians). Kept: the rate with the neighbour over the "
        "quiet rate.",
        "",
        "| variant | quiet ex/s | with the neighbour ex/s | kept | x torch eager (same cores), "
        "quiet | with the neighbour |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        ratios = [f"{r[k]:.2f}" if k in r else "-" for k in ("x_torch_quiet", "x_torch_neighbour")]
        out.append(
            f"| {r['variant']} | {r['quiet']:.0f} | {r['neighbour']:.0f} | {r['kept']:.2f} | "
            f"{' | '.join(ratios)} |"
        )
    return [*out, ""]


def _conv_layers_section(name: str, result: dict[str, Any]) -> list[str]:
    info, variants = result["device"], result["variants"]
    out = [
        f"## `{name}`",
        "",
        f"Measured with `{result['command']}` (file `benchmarks/results/{name}.json`) on "
        f"{info['cpu']} ({info['cpu_count']} cores), fp32 matmul peak "
        f"{result['matmul_peak_gflops']:.0f} GFLOP/s: each convolution of the conv and ResNet "
        f"nets at batch {result['batch_size']}, forward and backward, ms per step (median over "
        f"{result['rounds']} alternating rounds) and GFLOP/s in brackets. Uses: how often the "
        "layer runs in one step of its net; aezoo x torch eager: PyTorch's time over aezoo's.",
        "",
        f"| layer | uses | MFLOP | {' | '.join(variants)} | aezoo x torch eager |",
        "|---|---|---|" + "---|" * (len(variants) + 1),
    ]
    for r in result["rows"]:
        cells = [
            f"{r['ms'][v]:.2f} ({r['gflops'][v]:.0f})" if v in r["ms"] else "-" for v in variants
        ]
        ratio = _time_ratio(r["ms"], variants[-1], variants[0])
        out.append(
            f"| {r['layer']} | {r['uses']} | {r['flops'] / 1e6:.0f} | {' | '.join(cells)} | "
            f"{ratio} |"
        )
    for net in ("conv", "resnet"):
        rows = [r for r in result["rows"] if r["layer"].startswith(net + " ")]
        totals = {
            v: sum(r["uses"] * r["ms"][v] for r in rows)
            for v in variants
            if all(v in r["ms"] for r in rows)
        }
        cells = [f"{totals[v]:.1f}" if v in totals else "-" for v in variants]
        ratio = _time_ratio(totals, variants[-1], variants[0])
        out.append(
            f"| **all of the {net} net's convolutions** | | | {' | '.join(cells)} | {ratio} |"
        )
    return [*out, ""]


def _time_ratio(ms: dict[str, float], baseline: str, ours: str) -> str:
    """How much faster ``ours`` is than ``baseline`` (their time over ours), or ``-``."""
    return f"{ms[baseline] / ms[ours]:.2f}" if baseline in ms and ours in ms else "-"


SECTIONS = {
    "is_nll_versions": _is_nll_section,
    "busy_neighbour": _busy_neighbour_section,
    "conv_layers": _conv_layers_section,
}


def render(results_dir: pathlib.Path = RESULTS) -> str:
    """The whole page, one section per result file (sorted by name)."""
    out = [
        "# Benchmark results",
        "",
        "Generated at build time from `benchmarks/results/*.json` by "
        "`benchmarks/docs_results.py`; every table names the command that measured it. Only "
        "ratios measured in one run compare (machines here differ about 2.5x in speed).",
        "",
    ]
    for path in sorted(results_dir.glob("*.json")):
        result = json.loads(path.read_text())
        if result.get("kind") in SECTIONS:
            section = SECTIONS[result["kind"]]
        else:
            section = _bench_section if "rows" in result else _streaming_section
        out += section(path.stem, result)
    return "\n".join(out)


def render_recipes(results_dir: pathlib.Path = RECIPE_RESULTS) -> str:
    """One section per registered recipe, from its result file (or its commands alone)."""
    from aezoo.recipes import RECIPES, markdown

    out = [
        "# Reproduced results",
        "",
        "Generated at build time from `results/recipes/*.json` (written by `aezoo reproduce "
        "NAME`) by `benchmarks/docs_results.py`. Each section gives the protocol, the commands "
        "(`aezoo reproduce NAME` runs them all), the tables read from the result file, the "
        "published numbers it is compared with (quoted, not measured here) and the machine "
        "it ran on. `aezoo reproduce --list` shows every recipe with its budget.",
        "",
    ]
    for name, recipe in RECIPES.items():
        path = results_dir / f"{name}.json"
        result = json.loads(path.read_text()) if path.exists() else None
        out.append(markdown(recipe, result))
    return "\n".join(out)


HOME_PAGE = "index.md"
README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def render_home(readme: pathlib.Path = README) -> str:
    """The docs' home page: the README (quick start, model table, where to read on), its
    links to ``docs/`` made relative to the site, so the two never differ."""
    text = readme.read_text()
    return re.sub(r"\]\(docs/", "](", text)


GALLERY_PAGE = "gallery.md"
GALLERY_RECIPE = "gallery_mnist"


def _train_command(recipe, run: str) -> str | None:
    """The recipe's command that trained ``run`` (its ``--workdir`` folder name)."""
    for command in recipe.commands():
        if command.startswith("aezoo train ") and command.endswith(f"/{run}"):
            return command
    return None


def _gallery_entry(recipe, entry: dict[str, Any], folder: str) -> list[str]:
    from aezoo.models import MODELS

    spec = MODELS.get(entry["model"], None)
    lines = [f"## {entry['run']}", ""]
    if spec is not None:
        lines += [f"`{spec.name}`: {spec.description}.", ""]
    for picture in entry["pictures"]:
        lines += [f"![{picture['caption']}]({folder}/{picture['file']})", ""]
    command = _train_command(recipe, entry["run"])
    if command:
        lines += ["Trained by:", "", "```", command, "```", ""]
    return lines


def render_gallery(results_dir: pathlib.Path = RECIPE_RESULTS) -> str:
    """The gallery page: every picture ``aezoo reproduce gallery_mnist`` drew, the command
    that trained its run beside it."""
    from aezoo.recipes import RECIPES

    recipe = RECIPES[GALLERY_RECIPE]
    out = [
        "# Gallery",
        "",
        "What each model does, in pictures: ten test images (one per digit), their "
        "reconstructions, samples of the model's own sampler, samples of a Gaussian mixture "
        "fitted to its codes where it has a prior too, and the decoded straight line "
        "between two test images' codes. Generated at build time from "
        f"`results/recipes/{GALLERY_RECIPE}.json`; every picture was drawn by one command, "
        f"`aezoo reproduce {GALLERY_RECIPE}`, and the command that trained its run is "
        "beside it. " + recipe.protocol,
        "",
    ]
    path = results_dir / f"{GALLERY_RECIPE}.json"
    if not path.exists():
        return "\n".join([*out, f"Not generated yet: run `aezoo reproduce {GALLERY_RECIPE}`."])
    gallery = json.loads(path.read_text())["outputs"]["gallery"]
    folder = pathlib.PurePosixPath(gallery["out"]).relative_to("docs").as_posix()
    if gallery.get("strip"):
        out += [f"![samples of several models]({folder}/{gallery['strip']})", ""]
    for entry in gallery["entries"]:
        out += _gallery_entry(recipe, entry, folder)
    return "\n".join(out)


def on_files(files, config):  # MkDocs hook: add the generated pages to the build
    from mkdocs.structure.files import File

    files.append(File.generated(config, PAGE, content=render()))
    files.append(File.generated(config, RECIPES_PAGE, content=render_recipes()))
    files.append(File.generated(config, GALLERY_PAGE, content=render_gallery()))
    files.append(File.generated(config, HOME_PAGE, content=render_home()))
    return files


if __name__ == "__main__":
    import sys

    pages = {"recipes": render_recipes, "gallery": render_gallery, "home": render_home}
    print(pages.get(sys.argv[1] if sys.argv[1:] else "", render)())
