"""The command line (`afm list`, `afm run`) and the figure registry."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from afm.lab import figures
from afm.lab.claims import Claim, record_claim
from afm.lab.cli import main

from conftest import REAL_DATA as SHARED_DATA


def test_list_shows_every_figure(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path))
    assert main(["list", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    for fig_id in figures.FIGURES:
        assert f"\n{fig_id} " in out
    assert "0/1 seeds cached" in out and "drawn from code" in out


def test_unknown_figure_and_profile_are_clear_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "9z"])
    assert exit_info.value.code == 2
    assert "unknown figure '9z'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["list", "--profile", "fast"])
    assert exit_info.value.code == 2
    assert "valid profiles are smoke, book, paper" in capsys.readouterr().err


def test_every_panel_of_the_paper_is_registered_and_resolves():
    paper = [f"{n}{c}" for n, cs in [(1, "abcdef"), (2, "abcd"), (3, "abc"), (4, "abc"),
                                      (5, "abc")] for c in cs]
    assert [f for f in figures.FIGURES if f[0].isdigit()] == paper
    for spec in figures.FIGURES.values():
        assert callable(spec.plot)
        for ref in (spec.compute, spec.seeds, spec.prepare):
            assert ref is None or callable(ref), f"Fig. {spec.id}: {ref!r} is not a function"
        if spec.compute:
            assert spec.default_seeds("smoke") and spec.default_seeds("book")
            # the compute function lives in the experiment module of the figure's chapter
            assert spec.compute.__module__.startswith("afm.experiments.")


def test_figures_drawn_from_one_computation_share_one_cache_entry():
    key = lambda fid: figures._seed_config(figures.get(fid), "smoke", 0)  # noqa: E731
    assert key("2a") == key("2b") and key("1d") == key("1e")
    assert key("2a") != key("2c") and key("1b") != key("1c")


def test_no_module_of_afm_imports_by_name_string():
    package = Path(figures.__file__).resolve().parents[1]
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert "importlib" not in text and "import_module" not in text, path


def test_figure_ids_are_forgiving():
    assert figures.get("Fig. 1b").id == figures.get("fig1b").id == "1b"


def test_run_draws_the_schematic(tmp_path):
    assert main(["run", "1a", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "fig-1a.png").stat().st_size > 10_000


def test_help_runs_as_a_module():
    out = subprocess.run([sys.executable, "-m", "afm", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "afm run 1b" in out.stdout


@pytest.mark.usefixtures("real_mnist")
def test_run_computes_into_the_shared_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AFM_DATA_DIR", str(SHARED_DATA))
    monkeypatch.setenv("AFM_OFFLINE", "1")
    monkeypatch.setenv("AFM_PROGRESS", "0")
    assert figures.status("1b", "smoke") == "0/1 seeds cached"
    claim = Claim("fig1b-shortcut-gradients", "1b", "01_forgetting_layer", "the shortcut helps",
                  "gradient ratio", 2.0, 0.0, 1, "smoke", "reproduced")
    record_claim(claim)  # as the chapter does; the results file carries the figure's claims
    assert main(["run", "1b", "--profile", "smoke", "--out", str(tmp_path / "out")]) == 0
    saved = json.loads((tmp_path / "out" / "fig-1b.json").read_text())
    assert saved["figure"] == "1b" and list(saved["results"]) == ["0"]
    assert saved["claims"] == [{"id": claim.id, "statement": claim.statement, "value": 2.0,
                                "spread": 0.0, "n_seeds": 1, "verdict": "reproduced", "readings": []}]
    assert (tmp_path / "out" / "fig-1b.png").exists()
    # what the chapter calls now loads the same results instead of recomputing them
    assert figures.status("1b", "smoke") == "1/1 seeds cached"
    again = figures.results("1b", "smoke")
    assert again[0]["runs"][True]["test_acc"] == saved["results"]["0"]["runs"]["True"]["test_acc"]


@pytest.mark.usefixtures("real_mnist")
def test_run_4c_writes_cluster_metrics_of_three_spaces(tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AFM_DATA_DIR", str(SHARED_DATA))
    monkeypatch.setenv("AFM_OFFLINE", "1")
    monkeypatch.setenv("AFM_PROGRESS", "0")
    assert main(["run", "4c", "--profile", "smoke", "--out", str(tmp_path / "out")]) == 0
    saved = json.loads((tmp_path / "out" / "fig-4c.json").read_text())["results"]["0"]
    assert set(saved["silhouette"]) == set(saved["ratio"]) == {"pixels", "sgd", "lateral_inhibition"}
    assert all(-1 <= v <= 1 for v in saved["silhouette"].values())
    assert all(v > 0 for v in saved["ratio"].values())
    assert figures.status("4c", "smoke") == "1/1 seeds cached"
