"""Every expected failure of `afm` ends in one line `afm: error: ...` and a non-zero status.

Exit status 2: a bad argument or AFM_* setting; 1: data, files, the network.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from afm.env import offline
from afm.lab import cache as cache_mod
from afm.lab import figures
from afm.lab.cli import main

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
UNWRITABLE = Path("/proc/afm-test-unwritable")  # cannot be created, even by root
needs_proc = pytest.mark.skipif(not Path("/proc/self").is_dir(),
                                reason="uses /proc as a folder nobody can create")


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AFM_OFFLINE", "1")
    monkeypatch.setenv("AFM_PROGRESS", "0")
    for name in ("AFM_RECOMPUTE", "AFM_RECOMPUTE_SINCE", "AFM_DEVICE", "AFM_JOBS", "AFM_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(cache_mod, "_warned", set())
    monkeypatch.setattr(cache_mod, "_unsaved", {})


@pytest.fixture
def real_data() -> Path:
    path = Path(os.environ.get("AFM_DATA_DIR") or SHARED_DATA)
    if not (path / "mnist").is_dir():
        if offline():
            pytest.fail(f"AFM_OFFLINE=1 but MNIST is not in {path}/mnist: set AFM_DATA_DIR")
        pytest.skip(f"needs MNIST in AFM_DATA_DIR ({path})")
    return path


def fails(capsys, *argv: str) -> tuple[int, str]:
    """Run ``afm argv`` expecting a failure: (exit status, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return info.value.code, err


@pytest.mark.parametrize("argv, status, message", [
    (["run", "9z"], 2, "afm: error: unknown figure '9z': the book regenerates 1a, 1b"),
    (["list", "--profile", "fast"], 2, "afm: error: unknown profile 'fast': valid profiles are "
                                       "smoke, book, paper"),
    (["run", "1a", "--profile", "../x"], 2, "unknown profile '../x'"),
    (["run", "1a", "--jobs", "0"], 2, "afm: error: --jobs must be >= 1 (or -1 for every core), "
                                      "got 0"),
    (["run", "1a", "--jobs", "-2"], 2, "--jobs must be >= 1 (or -1 for every core), got -2"),
    (["run", "1a", "--seeds", "0"], 2, "afm: error: --seeds must be >= 1, got 0"),
    (["run", "1b", "--scheduler", "localhost:8786"], 2,
     "afm: error: --scheduler must be an address like tcp://10.0.0.5:8786, got 'localhost:8786'"),
])
def test_bad_arguments(capsys, argv, status, message):
    code, err = fails(capsys, *argv)
    assert code == status and message in err


@pytest.mark.parametrize("argv, message", [
    (["run", "1a", "--format", "bmp"], "argument --format: invalid choice: 'bmp'"),
    (["run", "1a", "--jobs", "two"], "argument --jobs: invalid int value: 'two'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_malformed_command_lines_get_argparse_usage_errors(capsys, argv, message):
    code, err = fails(capsys, *argv)
    assert code == 2 and message in err


@pytest.mark.parametrize("name, value, message", [
    ("AFM_OFFLINE", "maybe", "AFM_OFFLINE='maybe' is not an on/off value: use 1/0, true/false, "
                             "yes/no or on/off"),
    ("AFM_OFFLINE", "y", "AFM_OFFLINE='y' is not an on/off value"),
    ("AFM_RECOMPUTE", "2", "AFM_RECOMPUTE='2' is not an on/off value"),
    ("AFM_PROGRESS", "nope", "AFM_PROGRESS='nope' is not an on/off value"),
    ("AFM_DEVICE", "meta", "AFM_DEVICE='meta' is not a device the book runs on: use 'cpu', "
                           "'cuda' or 'cuda:<i>'"),
    ("AFM_DEVICE", "gpu", "AFM_DEVICE='gpu' is not a device the book runs on"),
    ("AFM_JOBS", "0", "AFM_JOBS must be >= 1 (or -1 for every core), got 0"),
    ("AFM_JOBS", "two", "AFM_JOBS must be a whole number of parallel jobs"),
    ("AFM_PROFILE", "fast", "unknown profile 'fast'"),
])
def test_bad_settings_fail_before_any_work(capsys, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    code, err = fails(capsys, "list")
    assert code == 2 and err.startswith("afm: error: ") and message in err


def test_cuda_asked_for_where_there_is_none(capsys, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.setenv("AFM_DEVICE", "cuda")
    code, err = fails(capsys, "list")
    assert code == 2 and "AFM_DEVICE='cuda' but CUDA is not available here" in err


def test_missing_dataset(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_DATA_DIR", str(tmp_path / "empty"))
    code, err = fails(capsys, "run", "1b", "--profile", "smoke", "--out", str(tmp_path / "out"))
    assert code == 1 and err.startswith("afm: error: No copy of the MNIST training set was found")


def test_corrupt_dataset(capsys, tmp_path, monkeypatch, real_data):
    data = tmp_path / "data"
    shutil.copytree(real_data / "mnist", data / "mnist")
    images = data / "mnist" / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:-100])  # truncated
    monkeypatch.setenv("AFM_DATA_DIR", str(data))
    code, err = fails(capsys, "run", "1b", "--profile", "smoke", "--out", str(tmp_path / "out"))
    assert code == 1 and err.startswith("afm: error: ") and "train-images-idx3-ubyte.gz" in err


@needs_proc
def test_unwritable_out_folder_fails_before_computing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_DATA_DIR", str(tmp_path / "empty"))  # computing would fail otherwise
    code, err = fails(capsys, "run", "1b", "--profile", "smoke", "--out", str(UNWRITABLE))
    assert code == 1 and f"afm: error: the --out folder {UNWRITABLE} is not writable" in err
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    code, err = fails(capsys, "run", "1a", "--out", str(a_file))
    assert code == 1 and f"the --out folder {a_file} is not writable" in err


@needs_proc
def test_unwritable_cache_fails_before_computing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_CACHE_DIR", str(UNWRITABLE))
    monkeypatch.setenv("AFM_DATA_DIR", str(tmp_path / "empty"))  # computing would fail otherwise
    code, err = fails(capsys, "run", "1b", "--profile", "smoke", "--out", str(tmp_path / "out"))
    assert code == 1 and (f"afm: error: the result cache (AFM_CACHE_DIR={UNWRITABLE}) "
                          f"{UNWRITABLE}/results is not writable") in err
    # a figure drawn from code needs no cache, and listing an empty read-only cache only reads
    assert main(["run", "1a", "--out", str(tmp_path / "out")]) == 0
    assert main(["list", "--profile", "smoke"]) == 0
    assert "0/1 seeds cached" in capsys.readouterr().out
    assert not UNWRITABLE.exists()


def test_unreachable_scheduler(capsys, tmp_path, monkeypatch):
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code, err = fails(capsys, "run", "1b", "--profile", "smoke", "--out", str(tmp_path),
                          "--scheduler", "tcp://127.0.0.1:9")
    assert code == 1 and "afm: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err


@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("pdf", b"%PDF"), ("png", b"\x89PNG")])
def test_run_writes_the_format_asked_for(tmp_path, fmt, magic):
    assert main(["run", "1a", "--format", fmt, "--out", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == [f"fig-1a.{fmt}"]
    assert (tmp_path / f"fig-1a.{fmt}").read_bytes().startswith(magic)


def test_run_computed_figure_as_svg_with_results(tmp_path, real_data, monkeypatch):
    monkeypatch.setenv("AFM_DATA_DIR", str(real_data))
    monkeypatch.setenv("AFM_JOBS", "1")
    out = tmp_path / "out"
    assert main(["run", "1b", "--profile", "smoke", "--format", "svg", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fig-1b.json", "fig-1b.svg"]
    assert b"<svg" in (out / "fig-1b.svg").read_bytes()
    assert figures.missing_seeds("1b", "smoke") == []


def test_as_a_program_errors_are_one_line_and_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AFM_DATA_DIR": str(tmp_path / "empty"),
           "AFM_CACHE_DIR": str(tmp_path / "cache"), "AFM_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "afm", "run", "1b", "--profile", "smoke",
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env)
    assert out.returncode == 1
    assert out.stderr.startswith("afm: error: No copy of the MNIST training set was found")
    assert "Traceback" not in out.stderr
    env["AFM_OFFLINE"] = "perhaps"
    out = subprocess.run([sys.executable, "-m", "afm", "list"], capture_output=True, text=True,
                         env=env)
    assert out.returncode == 2 and out.stderr.startswith("afm: error: AFM_OFFLINE='perhaps'")
    assert "Traceback" not in out.stderr


def test_a_closed_pipe_is_not_an_error(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AFM_CACHE_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "afm", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # like `afm list | head -0`
    err = proc.stderr.read().decode()
    assert proc.wait() == 0 and err == ""
