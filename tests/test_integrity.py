"""Data integrity (issue 30), as tables: outputs never land on inputs, changed data is never
scored silently, one command per run folder, every image mode decoded right, folder
layouts, the decode cache. Each row builds its input and names the one line (or the result)
expected."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import aezoo
from aezoo import data
from aezoo._lock import LOCK_NAME
from aezoo.cli import main
from aezoo.data import _user
from tests.conftest import TINY_NET, TINY_RUN

pytestmark = pytest.mark.optax  # the rows that train run Optax's update


@pytest.fixture(autouse=True)
def fresh(fresh_data_cache):
    """Each test starts with no in-memory copy of a source and its own disk cache."""


def _folder(root: pathlib.Path, n: int = 40, top: str = "") -> pathlib.Path:
    """``n`` 8x8 digits as PNGs in class folders (below ``root/top``)."""
    x, y = data.load("digits", "train")
    for i in range(n):
        d = root / top / f"c{y[i]}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x[i, ..., 0]).save(d / f"{i:03d}.png")
    return root


def _train_on(dataset: str, workdir: pathlib.Path) -> pathlib.Path:
    argv = ["train", "vae", "--dataset", dataset, "--epochs", "1", "--batch-size", "8"]
    argv += ["--hidden-dims", "16", "--latent-dim", "2", "--workdir", str(workdir)]
    assert main([*argv, "--no-progress"]) == 0
    return workdir


def _one_line(argv: list[str], capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert err and err[-1].startswith("aezoo: error: ")
    assert not any("Traceback" in line for line in err)
    return err[-1]


# --- 1 and 3: outputs never land on inputs ---------------------------------------------------

# (argv, expected fragment). {run}: a trained run on {npz}; {tmp}: a scratch folder.
WRITER_CASES = [
    (["eval", "{run}", "--export-codes", "{run}/config.json"], "is inside the run folder"),
    (["eval", "{run}", "--export-codes", "{run}/params.msgpack"], "is inside the run folder"),
    (["eval", "{run}", "--export-codes", "{run}/checkpoints/x.npz"], "is inside the run folder"),
    (["eval", "{run}", "--export-codes", "{npz}"], "is inside the dataset"),
    (["eval", "{run}", "--export-codes", "{tmp}/mine.npz"], "mine.npz exists; pass --overwrite"),
    (["data", "folder:{tmp}/images", "--out", "{tmp}/images/p.png"], "is inside the dataset"),
    (["data", "npz:{npz}", "--out", "{npz}"], "is inside the dataset"),
    (["data", "digits", "--out", "{run}/samples.png"], "is inside the run folder"),
    (["data", "digits", "--out", "{tmp}/mine.npz"], "mine.npz exists; pass --overwrite"),
]


@pytest.fixture(scope="module")
def npz_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("npz-run")
    x, y = data.load("digits", "train")
    np.savez(root / "digits.npz", x=np.asarray(x)[:200], y=np.asarray(y)[:200])
    return _train_on(f"npz:{root / 'digits.npz'}", root / "run"), root / "digits.npz"


@pytest.mark.parametrize(("argv", "message"), WRITER_CASES)
def test_outputs_never_land_on_inputs(argv, message, npz_run, tmp_path, capsys):
    run, npz = npz_run
    _folder(tmp_path / "images", n=10)
    (tmp_path / "mine.npz").write_bytes(b"the user's own file")
    before = {p: p.read_bytes() for p in [*run.rglob("*"), npz] if p.is_file()}
    argv = [a.format(run=run, npz=npz, tmp=tmp_path) for a in argv]
    assert message in _one_line(argv, capsys)
    assert {p: p.read_bytes() for p in before} == before  # nothing touched
    assert (tmp_path / "mine.npz").read_bytes() == b"the user's own file"
    assert not (tmp_path / "images" / "p.png").exists()


def test_the_default_preview_never_lands_in_the_data(tmp_path, monkeypatch, capsys):
    images = _folder(tmp_path / "images", n=10)
    monkeypatch.chdir(images)  # `aezoo data folder:.` run inside the dataset
    assert "is inside the dataset" in _one_line(["data", "folder:."], capsys)
    assert not (images / "data-preview.png").exists()
    monkeypatch.chdir(tmp_path)
    assert main(["data", "folder:images"]) == 0  # beside the data: written
    assert main(["data", "folder:images"]) == 0  # aezoo's own preview: replaced
    (tmp_path / "data-preview.png").write_bytes(b"a user's own png")
    assert "exists; pass --overwrite" in _one_line(["data", "folder:images"], capsys)
    assert main(["data", "folder:images", "--overwrite"]) == 0


def test_export_replaces_a_file_only_with_overwrite(npz_run, tmp_path, capsys):
    run, _ = npz_run
    out = tmp_path / "codes.npz"
    out.write_bytes(b"old")
    argv = ["eval", str(run), "--export-codes", str(out), "--no-progress", "--overwrite"]
    assert main(argv) == 0
    assert sorted(np.load(out).files) == ["x_test", "x_train", "y_test", "y_train"]


# --- 2: changed data is never scored silently ----------------------------------------------


@pytest.mark.slow
def test_an_image_added_to_the_training_folder_is_refused_then_allowed(tmp_path, capsys):
    images = _folder(tmp_path / "images", n=40)
    run = _train_on(f"folder:{images}", tmp_path / "run")
    recorded = json.loads((run / "config.json").read_text())["data_fingerprint"]
    assert set(recorded) == {"train", "test"} and recorded["train"]["rows"] == 36
    first = sorted(images.rglob("*.png"))[0]
    shutil.copy(first, first.with_name("new.png"))
    data.clear_cache()
    line = _one_line(["eval", str(run), "--nll-samples", "0"], capsys)
    assert "the test split of 'folder:" in line and "changed since the run was trained" in line
    assert "--allow-changed-data" in line
    assert not (run / "eval.json").exists()
    assert "changed since the run was trained" in _one_line(
        ["task", "clustering", str(run), "--out", str(tmp_path / "t")], capsys
    )
    with pytest.raises(aezoo.DataError, match="changed since the run was trained"):
        aezoo.load(run).dataset("test[:5]")
    x_now, y_now = aezoo.load(run).dataset("test", allow_changed_data=True)
    assert len(x_now) == len(y_now) > 0
    argv = ["eval", str(run), "--nll-samples", "0", "--allow-changed-data", "--no-progress"]
    assert main(argv) == 0
    changed = json.loads((run / "eval.json").read_text())["data_changed"]
    assert "test" in changed


def test_an_npz_replaced_at_the_same_path_is_refused(tmp_path, capsys):
    x, y = data.load("digits", "train")
    np.savez(tmp_path / "d.npz", x=np.asarray(x)[:100], y=np.asarray(y)[:100])
    run = _train_on(f"npz:{tmp_path / 'd.npz'}", tmp_path / "run")
    np.savez(tmp_path / "d.npz", x=255 - np.asarray(x)[:100], y=np.asarray(y)[:100])
    data.clear_cache()
    line = _one_line(["eval", str(run), "--nll-samples", "0"], capsys)
    assert "the same 10 rows and shape, other content" in line
    np.savez(tmp_path / "d.npz", x=np.asarray(x)[:150], y=np.asarray(y)[:150])
    data.clear_cache()
    assert "10 rows when trained, 15 now" in _one_line(["eval", str(run)], capsys)


def test_the_fingerprint_of_a_split_names_what_changed():
    x = np.zeros((4, 2, 2, 1), np.uint8)
    fp = data.fingerprints.fingerprint
    same = data.fingerprints.changed(fp(x, None), fp(x.copy(), None))
    assert same is None
    assert data.fingerprints.changed(fp(x, None), fp(x[:3], None)) == "4 rows when trained, 3 now"
    labels = data.fingerprints.changed(fp(x, np.zeros(4)), fp(x, np.ones(4)))
    assert labels == "the same 4 rows and shape, other content"
    shape = data.fingerprints.changed(fp(x, None), fp(np.zeros((4, 4, 1, 1), np.uint8), None))
    assert shape.startswith("examples of shape (2, 2, 1) |u1 when trained")


# --- 4: one command per run folder ---------------------------------------------------------


def _lock(workdir: pathlib.Path, pid: int, host: str | None = None) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    holder = {"pid": pid, "host": host or socket.gethostname(), "started": "then"}
    (workdir / LOCK_NAME).write_text(json.dumps({**holder, "command": "aezoo train vae"}))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


LOCK_CASES = [
    ("a live process on this host", os.getppid, None, "is in use by `aezoo train vae` (pid"),
    ("a process on another host", os.getppid, "elsewhere", "on elsewhere, since then"),
]


@pytest.mark.parametrize(("who", "pid", "host", "message"), LOCK_CASES)
def test_a_second_process_in_a_run_folder_fails_naming_the_holder(
    who, pid, host, message, digits, vae_run_copy
):
    _lock(vae_run_copy, pid(), host)
    before = (vae_run_copy / "metrics.jsonl").read_text()
    with pytest.raises(aezoo.ConfigError, match="is in use by") as e:
        aezoo.fit(
            "vae",
            *digits,
            workdir=vae_run_copy,
            resume=True,
            epochs=3,
            **TINY_RUN,
            model_config=TINY_NET,
        )
    assert message in str(e.value)
    with pytest.raises(aezoo.ConfigError, match="is in use by"):
        aezoo.evaluate(vae_run_copy, nll_samples=0, progress=False)
    assert (vae_run_copy / "metrics.jsonl").read_text() == before
    assert (vae_run_copy / LOCK_NAME).exists()  # the holder's lock stays


def test_a_lock_left_by_a_dead_process_is_taken_over(digits, vae_run_copy, capsys):
    _lock(vae_run_copy, _dead_pid())
    result = aezoo.fit(
        "vae",
        *digits,
        workdir=vae_run_copy,
        resume=True,
        epochs=3,
        model_config=TINY_NET,
        **TINY_RUN,
    )
    assert result.history[-1]["epoch"] == 3
    assert "taking over the stale lock" in capsys.readouterr().err
    assert not (vae_run_copy / LOCK_NAME).exists()  # released at the end


# --- 5, 11, 13: every image mode decoded right ------------------------------------------------

GRADIENT = np.linspace(0, 65535, 64).astype(np.uint16).reshape(8, 8)


def _rgba(alpha: int) -> Image.Image:
    pixels = np.zeros((8, 8, 4), np.uint8)
    pixels[..., 0] = 200
    pixels[..., 3] = alpha
    return Image.fromarray(pixels, "RGBA")


def _la() -> Image.Image:
    return Image.fromarray(np.zeros((8, 8, 2), np.uint8)).convert("LA")


def _median_near_128(a: np.ndarray) -> bool:
    return a.max() == 255 and a.min() == 0 and abs(int(np.median(a)) - 128) <= 3


# (name, file, image builder, options, expected uint8 array check)
MODE_CASES = [
    (
        "16-bit PNG (I;16) scaled, not clipped",
        "x.png",
        lambda: Image.fromarray(GRADIENT),
        {},
        _median_near_128,
    ),
    (
        "32-bit TIFF (I) of 16-bit values",
        "x.tif",
        lambda: Image.fromarray(GRADIENT.astype(np.int32)),
        {},
        _median_near_128,
    ),
    (
        "1-bit",
        "x.png",
        lambda: Image.fromarray(np.eye(8, dtype=bool)),
        {},
        lambda a: set(np.unique(a)) == {0, 255} and a[0, 0, 0] == 255,
    ),
    (
        "float TIFF (F) in [0, 1]",
        "x.tif",
        lambda: Image.fromarray(np.full((8, 8), 0.5, np.float32)),
        {},
        lambda a: a.shape == (8, 8, 1) and np.all(a == 128),
    ),
    ("RGBA on black (the default)", "x.png", lambda: _rgba(0), {}, lambda a: np.all(a == 0)),
    (
        "RGBA on white",
        "x.png",
        lambda: _rgba(0),
        {"alpha_background": "white"},
        lambda a: np.all(a == 255),
    ),
    (
        "RGBA opaque",
        "x.png",
        lambda: _rgba(255),
        {},
        lambda a: np.all(a[..., 0] == 200) and a.shape[-1] == 3,
    ),
    (
        "LA on white stays grey",
        "x.png",
        _la,
        {"alpha_background": "white"},
        lambda a: a.shape == (8, 8, 1) and np.all(a == 255),
    ),
]


@pytest.mark.parametrize(
    ("name", "file", "build", "options", "ok"), MODE_CASES, ids=[c[0] for c in MODE_CASES]
)
def test_every_image_mode_is_decoded_explicitly(name, file, build, options, ok, tmp_path):
    path = tmp_path / file
    build().save(path)
    array = _user._decode(path, _user.DataOptions(**options))
    assert array.dtype == np.uint8 and array.ndim == 3
    assert ok(array), (name, array[..., 0])


def test_a_palette_image_with_transparency_is_composited(tmp_path):
    im = Image.fromarray(np.full((8, 8), 3, np.uint8), "P")
    im.putpalette([0, 0, 0, 255, 255, 255, 0, 0, 0, 50, 60, 70] + [0] * 756)
    im.info["transparency"] = 3
    im.save(tmp_path / "p.png", transparency=3)
    array = _user._decode(tmp_path / "p.png", _user.DataOptions(alpha_background="white"))
    assert np.all(array == 255)


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((4, 8, 3), np.uint8)  # wide as stored; orientation 6 turns it tall
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif.tobytes())
    assert _user._decode(tmp_path / "phone.jpg", _user.DataOptions()).shape == (8, 4, 3)


def test_one_pixel_images_are_refused_not_read_as_table_rows(tmp_path, capsys):
    for i in range(4):
        Image.fromarray(np.full((1, 1, 3), i, np.uint8)).save(tmp_path / f"{i}.png")
    line = _one_line(
        ["data", f"folder:{tmp_path}", "--out", str(tmp_path.parent / "p.png")], capsys
    )
    assert "is a 1x1 image" in line


# --- 7: folder layouts ---------------------------------------------------------------------


def test_train_and_val_folders_are_splits_not_classes(tmp_path):
    _folder(tmp_path, n=30, top="train")
    _folder(tmp_path, n=10, top="valid")
    info = data.describe_source(f"folder:{tmp_path}")
    assert all(c.startswith("c") for c in info["classes"])  # not "train" / "valid"
    assert info["num_val"] == 10 and info["num_train"] + info["num_test"] == 30
    val_x, val_y = data.load(f"folder:{tmp_path}", "val")
    assert len(val_x) == 10 and (val_y >= 0).all()
    with pytest.raises(aezoo.DataError, match="has its own validation folder"):
        data.load(f"folder:{tmp_path}", "train", options=_user.DataOptions(val_fraction=0.2))


def test_a_train_folder_alone_is_split_by_the_test_fraction(tmp_path):
    _folder(tmp_path, n=40, top="train")
    info = data.describe_source(f"folder:{tmp_path}")
    assert all(c.startswith("c") for c in info["classes"])
    assert (info["num_train"], info["num_test"]) == (36, 4)


def test_hidden_files_and_system_folders_are_skipped(tmp_path):
    _folder(tmp_path, n=20)
    for junk in (".ipynb_checkpoints", "__MACOSX", "c0/.thumbs"):
        (tmp_path / junk).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / junk / "x.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "c0" / ".hidden.png")
    info = data.describe_source(f"folder:{tmp_path}")
    assert all(c.startswith("c") for c in info["classes"])
    assert info["num_train"] + info["num_test"] == 20


def test_a_symlinked_class_folder_outside_is_read_whole_only_when_allowed(tmp_path):
    _folder(tmp_path / "data", n=20)
    moved = sorted((tmp_path / "data").iterdir())[0]
    outside = len(list(moved.iterdir()))
    shutil.move(moved, tmp_path / "elsewhere")
    moved.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere" / "loop").symlink_to(tmp_path / "data", target_is_directory=True)
    name = f"folder:{tmp_path / 'data'}"
    with pytest.warns(UserWarning, match=f"skipped 1 link.*: {moved.name}"):
        info = data.describe_source(name)
    assert info["num_train"] + info["num_test"] == 20 - outside
    assert moved.name not in info["classes"] and info["outside_links"] == [moved.name]
    info = data.describe_source(name, data.DataOptions(follow_outside_links=True))
    assert info["num_train"] + info["num_test"] == 20 and moved.name in info["classes"]


# --- 12 and 10: the decode cache -----------------------------------------------------------


def test_the_cache_follows_content_when_mtime_is_restored(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    for i in range(4):  # uncompressed BMPs: a new picture has the same size in bytes
        Image.fromarray(np.full((8, 8), 10 * i, np.uint8)).save(d / f"{i}.bmp")
    first = data.load(f"folder:{d}", "train")[0].copy()
    target = d / "0.bmp"
    st = target.stat()
    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(target)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # as `cp -p` / `rsync -a` do
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns
    data.clear_cache()
    again = data.load(f"folder:{d}", "train")[0]
    assert not np.array_equal(first, again) and (again == 200).any()


def test_a_corrupt_cache_file_is_decoded_again(tmp_path):
    _folder(tmp_path / "d", n=8)
    first = data.load(f"folder:{tmp_path / 'd'}", "train")[0].copy()
    for cached in (tmp_path / "cache").glob("folder-*.npz"):
        cached.write_bytes(cached.read_bytes()[:100])  # truncated
    data.clear_cache()
    np.testing.assert_array_equal(data.load(f"folder:{tmp_path / 'd'}", "train")[0], first)


# --- 9, 10, 14: arrays and labels read with one line, never a traceback ----------------------


def _zip_member_not_an_array(path: pathlib.Path) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", b"not an array at all")


def _truncated_npz(path: pathlib.Path) -> None:
    _npz_as(path, x=np.zeros((20, 8, 8), np.uint8))
    path.write_bytes(path.read_bytes()[:200])


def _headerless(path: pathlib.Path) -> None:
    path.write_bytes(b"\x00" * 256)


def _npz_as(path: pathlib.Path, **arrays) -> None:
    with path.open("wb") as f:
        np.savez(f, **arrays)


IMG = np.zeros((20, 8, 8), np.uint8)
# (source kind, file builder, expected fragment)
ARRAY_CASES = [
    ("npz", _truncated_npz, "cannot read"),
    ("npz", _zip_member_not_an_array, "a member is not a NumPy array"),
    ("npy", lambda p: _npz_as(p, x=IMG), "is an .npz archive; read it as npz:"),
    ("npz", lambda p: np.save(p.open("wb"), IMG), "is a single .npy array; read it as npy:"),
    ("npy", _headerless, "not a NumPy array file"),
    ("npz", lambda p: _npz_as(p, x_train=IMG, x_test=np.zeros((5, 9, 9), np.uint8)), "differ"),
    (
        "npz",
        lambda p: _npz_as(p, x_train=IMG, x_test=IMG, y_train=np.zeros(20, int)),
        "y_train without its partner",
    ),
    ("npz", lambda p: _npz_as(p, x=IMG, y=np.array(["cat"] * 20)), "got text ('cat')"),
    ("npz", lambda p: _npz_as(p, x=IMG, y=np.full(20, 4.9)), "got 4.9"),
    ("npz", lambda p: _npz_as(p, x=IMG, y=np.full(20, 2**31, np.int64)), "at most 2147483647"),
]


@pytest.mark.parametrize(("kind", "build", "message"), ARRAY_CASES)
def test_unreadable_arrays_and_labels_are_one_line(kind, build, message, tmp_path, capsys):
    path = tmp_path / "data.bin"
    build(path)
    argv = ["data", f"{kind}:{path}", "--out", str(tmp_path / "p.png")]
    assert message in _one_line(argv, capsys)


def test_uint8_tables_are_vectors(tmp_path):
    np.save(tmp_path / "t.npy", np.arange(40 * 5, dtype=np.uint8).reshape(40, 5))
    x, _ = data.load(f"npy:{tmp_path / 't.npy'}", "train")
    assert x.shape == (36, 1, 1, 5) and data.is_vectors(x.shape) and x.dtype == np.float32


FIT_CASES = [
    ("a list of images", lambda x, y: (x.tolist(), y), "got list (np.asarray(x) makes one)"),
    ("fractional labels", lambda x, y: (x, y + 0.5), "must be integer class indices; got"),
    ("text labels", lambda x, y: (x, y.astype(str)), "got text ('"),
    ("labels past int32", lambda x, y: (x, y.astype(np.int64) + 2**31), "at most 2147483647"),
]


@pytest.mark.parametrize(("what", "make", "message"), FIT_CASES, ids=[c[0] for c in FIT_CASES])
def test_fit_refuses_unusable_arrays_in_one_line(what, make, message, digits):
    x, y = (np.asarray(a) for a in digits[0])
    with pytest.raises((aezoo.DataError, aezoo.ShapeError)) as e:
        aezoo.fit("cvae", make(x[:64], y[:64]), epochs=1, progress=False, model_config=TINY_NET)
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.slow
def test_tasks_refuse_unlabelled_data_in_one_line(tmp_path, capsys):
    x, _ = data.load("digits", "train")
    np.save(tmp_path / "x.npy", np.asarray(x)[:200, ..., 0])
    run = _train_on(f"npy:{tmp_path / 'x.npy'}", tmp_path / "run")
    for task in ("clustering", "manifold", "retrieval", "semisupervised"):
        line = _one_line(["task", task, str(run), "--out", str(tmp_path / task)], capsys)
        assert "the tasks score codes against labels" in line and "are unlabelled" in line
    argv = ["task", "anomaly", "vae", "--dataset", f"npy:{tmp_path / 'x.npy'}"]
    assert "are unlabelled" in _one_line([*argv, "--out", str(tmp_path / "a")], capsys)
    assert main(["eval", str(run), "--nll-samples", "5", "--no-progress"]) == 0  # label-free
    assert "probe/knn_acc" not in json.loads((run / "eval.json").read_text())
    for split in ("test[:0]", "test[:1]"):
        line = _one_line(["eval", str(run), "--split", split], capsys)
        assert "an evaluation needs at least 2" in line


def test_bits_per_dim_are_8_bit_terms_and_absent_for_tables():
    from aezoo.eval.likelihood import reported_bits_per_dim
    from aezoo.models import get_spec

    def config(likelihood: str, shape: tuple[int, int, int]):
        return get_spec("vae").make_config(likelihood=likelihood, image_shape=shape)

    nll = 0.5 * 784 * np.log(2.0)  # half a bit per pixel
    assert reported_bits_per_dim(nll, config("bernoulli", (28, 28, 1))) == pytest.approx(0.5)
    assert reported_bits_per_dim(nll, config("gaussian", (28, 28, 1))) == pytest.approx(8.5)
    assert reported_bits_per_dim(nll, config("gaussian", (1, 1, 784))) is None


MESSAGE_CASES = [
    (["train", "vae", "--center-crop"], "center_crop crops to the aspect ratio of image_size"),
]


@pytest.mark.parametrize(("argv", "message"), MESSAGE_CASES)
def test_messages(argv, message, tmp_path, capsys):
    assert message in _one_line([*argv, "--workdir", str(tmp_path / "w")], capsys)


def test_decode_refuses_nan_codes_as_encode_does(vae_run):
    m = aezoo.load(vae_run)
    with pytest.raises(aezoo.ShapeError, match="codes must be finite"):
        m.decode(np.full((2, 2), np.nan, np.float32))


def test_output_folders_never_land_in_the_data_or_a_run(npz_run, tmp_path, capsys):
    run, _ = npz_run
    images = _folder(tmp_path / "images", n=20)
    argv = ["train", "vae", "--dataset", f"folder:{images}", "--workdir", str(images / "run")]
    assert "is inside the dataset" in _one_line(argv, capsys)
    assert not (images / "run").exists()
    argv = ["task", "clustering", str(run), "--out", str(run / "tasks")]
    assert "is inside the run folder" in _one_line(argv, capsys)
    argv = ["bench", "--quick", "--out", str(run / "bench")]
    assert "is inside the run folder" in _one_line(argv, capsys)
    argv = ["task", "anomaly", "vae", "--dataset", f"folder:{images}", "--out", str(images)]
    assert "is inside the dataset" in _one_line(argv, capsys)


def test_an_edited_config_json_is_named_not_called_corrupt(vae_run_copy):
    path = vae_run_copy / "config.json"
    record = json.loads(path.read_text())
    record["model_config"]["latent_dim"] = 3
    path.write_text(json.dumps(record))
    with pytest.raises(aezoo.CheckpointError) as e:
        aezoo.load(vae_run_copy)
    assert "says latent_dim=3, but the checkpoints were written with latent_dim=2" in str(e.value)


def test_an_input_error_is_one_line_without_the_settings_banner(tmp_path, capsys):
    argv = ["train", "vae", "--dataset", f"npz:{tmp_path / 'missing.npz'}"]
    assert main([*argv, "--workdir", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]


@pytest.mark.slow
def test_anomaly_on_tables_advises_a_flag_it_has(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    np.savez(tmp_path / "tab.npz", x=x, y=np.arange(200) % 2)
    argv = ["task", "anomaly", "vae", "--dataset", f"npz:{tmp_path / 'tab.npz'}"]
    argv += ["--epochs", "1", "--batch-size", "16", "--hidden-dims", "8", "--latent-dim", "2"]
    argv += ["--nll-samples", "2", "--no-progress", "--out"]
    line = _one_line([*argv, str(tmp_path / "a")], capsys)
    assert "--likelihood gaussian" in line
    assert main([*argv, str(tmp_path / "b"), "--likelihood", "gaussian"]) == 0


@pytest.mark.slow
def test_the_summary_of_a_val_evaluation_has_its_loss(tmp_path, capsys):
    argv = ["train", "vae", "--dataset", "digits", "--val-fraction", "0.2", "--epochs", "1"]
    argv += ["--hidden-dims", "16", "--latent-dim", "2", "--no-progress"]
    assert main([*argv, "--workdir", str(tmp_path / "w")]) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "w"), "--split", "val", "--nll-samples", "0"]) == 0
    assert "done: val/loss" in capsys.readouterr().out


@pytest.mark.slow
def test_ctrl_c_during_a_checkpoint_write_is_one_line_and_the_run_resumes(tmp_path):
    argv = [sys.executable, "-m", "aezoo.cli", "train", "vae", "--dataset", "digits"]
    argv += ["--epochs", "4", "--hidden-dims", "16", "--latent-dim", "2", "--no-progress"]
    argv += ["--workdir", str(tmp_path / "w"), "--checkpoint-seconds", "0"]
    env = {**os.environ, "AEZOO_TEST_KILL_DURING_SAVE": "2:INT"}  # SIGINT right after saving
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == "aezoo: interrupted"
    assert "Traceback" not in proc.stderr
    resumed = subprocess.run([*argv, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "w" / "metrics.jsonl").open()]
    assert epochs == [1, 2, 3, 4]
