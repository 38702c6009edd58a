"""The AFM_* settings: one strict parser for on/off flags; AFM_DEVICE and AFM_JOBS checked."""

import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from afm import env
from afm.device import default_device
from afm.lab import book
from afm.lab.sweep import default_jobs, run_many
from afm.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text, value", [
    ("1", True), ("true", True), ("TRUE", True), ("Yes", True), ("on", True), (" on\n", True),
    ("0", False), ("false", False), ("No", False), ("OFF", False), (" 0 ", False),
])
def test_every_accepted_spelling(monkeypatch, text, value):
    for name, reader in (("AFM_OFFLINE", env.offline), ("AFM_RECOMPUTE", env.recompute),
                         ("AFM_PROGRESS", env.progress)):
        monkeypatch.setenv(name, text)
        assert reader() is value


@pytest.mark.parametrize("name, reader, default", [
    ("AFM_OFFLINE", env.offline, False), ("AFM_RECOMPUTE", env.recompute, False),
    ("AFM_PROGRESS", env.progress, True)])
def test_unset_or_empty_means_the_default(monkeypatch, name, reader, default):
    monkeypatch.delenv(name, raising=False)
    assert reader() is default
    monkeypatch.setenv(name, "  ")
    assert reader() is default


@pytest.mark.parametrize("text", ["y", "n", "maybe", "2", "-1", "enable", "tru", "1.0", "yes!"])
@pytest.mark.parametrize("name, reader", [("AFM_OFFLINE", env.offline),
                                          ("AFM_RECOMPUTE", env.recompute),
                                          ("AFM_PROGRESS", env.progress)])
def test_anything_else_is_an_error_naming_the_variable(monkeypatch, text, name, reader):
    monkeypatch.setenv(name, text)
    with pytest.raises(ValueError, match=f"^{name}={text!r} is not an on/off value: use 1/0, "
                                         f"true/false, yes/no or on/off"):
        reader()


def test_the_data_loader_reads_afm_offline_strictly(monkeypatch):
    from afm import data
    import afm.data.sources

    monkeypatch.setenv("AFM_OFFLINE", "maybe")  # used to mean "online"
    with pytest.raises(ValueError, match="AFM_OFFLINE='maybe'"):
        data.sources._offline()


def test_afm_progress_off_silences_training_and_sweep_bars(monkeypatch, capsys):
    x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    from afm import MLP

    for setting, shown in (("0", False), ("off", False), ("1", True)):
        monkeypatch.setenv("AFM_PROGRESS", setting)
        run_many(pow, [(2, 3), (3, 2), (4, 1)], jobs=1, desc="sweep-bar")
        train(MLP([4, 3, 2]), (x, y), TrainConfig(epochs=1, batch_size=8), desc="train-bar")
        err = capsys.readouterr().err
        assert ("sweep-bar" in err) is shown and ("train-bar" in err) is shown, (setting, err)


@pytest.mark.parametrize("text", ["cpu", "CPU", " cpu "])
def test_afm_device_cpu(monkeypatch, text):
    monkeypatch.setenv("AFM_DEVICE", text)
    assert default_device() == torch.device("cpu")


@pytest.mark.parametrize("text", ["meta", "mps", "gpu", "cuda:", "cuda:x", "cpu:0", "cuda0", "xla"])
def test_afm_device_other_names_are_errors(monkeypatch, text):
    monkeypatch.setenv("AFM_DEVICE", text)
    with pytest.raises(ValueError, match=f"AFM_DEVICE={text!r} is not a device the book runs on: "
                                         "use 'cpu', 'cuda' or 'cuda:<i>'"):
        default_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("text", ["cuda", "cuda:0", "CUDA:1"])
def test_afm_device_cuda_without_a_gpu(monkeypatch, text):
    monkeypatch.setenv("AFM_DEVICE", text)
    with pytest.raises(ValueError, match="but CUDA is not available here: unset AFM_DEVICE or "
                                         "set it to 'cpu'"):
        default_device()


@pytest.mark.parametrize("text, jobs", [("3", 3), (" 1 ", 1), ("-1", -1)])
def test_afm_jobs_accepted(monkeypatch, text, jobs):
    monkeypatch.setenv("AFM_JOBS", text)
    assert default_jobs() == jobs


@pytest.mark.parametrize("text, message", [
    ("0", "AFM_JOBS must be >= 1 (or -1 for every core), got 0"),
    ("-4", "AFM_JOBS must be >= 1 (or -1 for every core), got -4"),
    ("two", "AFM_JOBS must be a whole number of parallel jobs"),
    ("1.5", "AFM_JOBS must be a whole number of parallel jobs"),
])
def test_afm_jobs_errors(monkeypatch, text, message):
    monkeypatch.setenv("AFM_JOBS", text)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        default_jobs()


@pytest.mark.parametrize("jobs", [0, -2, 1.5, True])
def test_run_many_refuses_bad_jobs(jobs):
    with pytest.raises(ValueError, match="jobs must be"):
        run_many(pow, [(2, 3), (3, 2)], jobs=jobs, progress=False)


# --------------------------------------------------------------------------- notebooks, Makefile

def test_notebooks_command_deletes_only_what_it_wrote(tmp_path):
    chapter = book.notebook_chapters()[0]
    mine = tmp_path / "my-own-work.ipynb"
    mine.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    stale = tmp_path / "99_removed_chapter.ipynb"
    written = book.write_notebooks(tmp_path, [chapter])
    assert written == [tmp_path / f"{chapter.stem}.ipynb"] and written[0].exists()
    stale.write_text(written[0].read_text())  # a notebook it wrote for a chapter now gone
    book.write_notebooks(tmp_path, [chapter])
    assert mine.exists() and not stale.exists() and written[0].exists()


def test_notebooks_command_refuses_to_overwrite_a_users_notebook(tmp_path):
    chapter = book.notebook_chapters()[0]
    theirs = tmp_path / f"{chapter.stem}.ipynb"
    theirs.write_text("my notes")
    with pytest.raises(FileExistsError, match=f"{theirs} exists and was not written by this "
                                              "command"):
        book.write_notebooks(tmp_path, [chapter])
    assert theirs.read_text() == "my notes"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("profile", ["fast", "../../elsewhere", "smoke ../x", "", "/tmp"])
def test_makefile_refuses_unknown_profiles(profile):
    out = subprocess.run(["make", "-n", "-C", str(ROOT), "notebooks", f"PROFILE={profile}"],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert f"PROFILE='{profile}' is not a profile: use one of smoke book paper" in out.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_makefile_builds_known_profiles_under_build():
    for profile in ("smoke", "book", "paper"):
        out = subprocess.run(["make", "-n", "-C", str(ROOT), "notebooks", f"PROFILE={profile}"],
                             capture_output=True, text=True)
        assert out.returncode == 0 and f"_build/{profile}/notebooks" in out.stdout
