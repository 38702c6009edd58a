"""The one run protocol: Run, fit, fit_all, best_on_validation, spread."""

import json
import os
import math
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from afm.lab import runs
from afm.lab.runs import ARCHITECTURES, Run, best_on_validation, choose, fit, fit_all, spread, trained
from afm.models import MLP, VGG9, LeNet5
from afm.train import TrainConfig

SHARED_DATA = Path(os.environ.get("AFM_DATA_DIR") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
needs_mnist = pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(),
                                 reason=f"needs the offline MNIST in {SHARED_DATA}")


# --------------------------------------------------------------------------- spread


def test_spread_is_the_sample_mean_and_std():
    # hand-computed: mean 5, squared deviations 9 + 1 + 1 + 9 = 20, / (n - 1) = 20 / 3
    mean, std = spread([2.0, 4.0, 6.0, 8.0])
    assert mean == 5.0 and std == pytest.approx(math.sqrt(20 / 3))
    assert spread([0.25]) == (0.25, 0.0)
    assert spread(np.array([[1.0, 3.0]])) == (2.0, pytest.approx(math.sqrt(2)))
    with pytest.raises(ValueError, match="at least one"):
        spread([])


# --------------------------------------------------------------------------- best_on_validation


def test_best_on_validation_ties_go_to_the_earlier_one():
    results = [{"val_acc": 0.8, "test_acc": 0.99}, {"val_acc": 0.9, "test_acc": 0.1},
               {"val_acc": 0.9, "test_acc": 0.5}]
    assert best_on_validation(results) == 1          # test accuracy plays no part
    assert best_on_validation(results[::-1]) == 0   # the earlier of the two 0.9
    assert best_on_validation([{"val_acc": 0.3}]) == 0
    with pytest.raises(ValueError, match="at least one"):
        best_on_validation([])


# --------------------------------------------------------------------------- Run


def test_run_is_a_json_cache_key_and_round_trips():
    run = Run(arch="vgg9", options=(("width", 0.125),), forgetting=(True,) * 8, lam=1.0,
              reading=(("gate", "dense"),), train=TrainConfig(epochs=2, optimizer="adam"), seed=3)
    assert run.train.seed == 3                      # the run's seed is the optimiser's
    assert replace(run, seed=5).train.seed == 5
    config = json.loads(json.dumps(asdict(run)))    # what a JSON cache stores: lists, not tuples
    back = Run.from_dict(config)
    assert back == run and hash(back) == hash(run)
    assert run.option("width") == 0.125 and run.option("absent", 7) == 7


def test_run_rejects_unknown_settings():
    with pytest.raises(ValueError, match="unknown architecture 'alexnet'"):
        Run(arch="alexnet")
    with pytest.raises(ValueError, match="epoch_eval"):
        Run(epoch_eval="train")


def test_every_architecture_builds_the_same_weights_for_the_same_seed():
    cases = {"mlp": (Run(widths=(784, 16, 10)), MLP),
             "lenet5": (Run(arch="lenet5", forgetting=(True, True, False, False)), LeNet5),
             "vgg9": (Run(arch="vgg9", options=(("width", 0.125),)), VGG9),
             "multihead_mlp": (Run(arch="multihead_mlp", widths=(784, 16), options=(("n_tasks", 2),),
                                   forgetting=False), torch.nn.Module),
             **{arch: (Run(arch=arch, options=(("variant", "unit"),)), torch.nn.Module)
                for arch in ("resnet", "transformer", "cnn")}}
    assert set(cases) == set(ARCHITECTURES)
    for run, cls in cases.values():
        a, b = run.build(), run.build()
        assert isinstance(a, cls)
        for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items()):
            assert na == nb and torch.equal(pa, pb)
        other = replace(run, seed=1).build()
        assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), other.parameters()))


def test_regularisers_follow_the_strengths():
    names = lambda run: [type(r).__name__ for r in run.regularisers()]  # noqa: E731
    assert names(Run()) == []
    assert names(Run(lam=1.0)) == ["Forgetting"]
    assert names(Run(forgetting=False, lam=1.0)) == []  # no layer, no forgetting loss
    assert names(Run(forgetting=False, l1=1e-5, l2=1e-3, decov=0.1)) == ["L1", "L2", "DeCov"]
    assert Run(beta=1e-4, lateral="symmetric").regularisers()[0].reading == "symmetric"


# --------------------------------------------------------------------------- fit, fit_all


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_DATA_DIR", str(SHARED_DATA))
    monkeypatch.setenv("AFM_OFFLINE", "1")
    monkeypatch.setenv("AFM_PROGRESS", "0")
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path))
    return tmp_path


def _tiny(**kw) -> Run:
    return Run(widths=(784, 16, 10), lam=1.0, beta=1e-4, train_size=300,
               train=TrainConfig(epochs=1, batch_size=64), **kw)


@needs_mnist
def test_fit_twice_gives_identical_numbers_and_the_cache_changes_nothing(cache, monkeypatch):
    run = _tiny()
    first = fit(run)
    monkeypatch.setenv("AFM_RECOMPUTE", "1")       # really trained again
    again = fit(run)
    assert again["history"]["batch_loss"] == first["history"]["batch_loss"]
    assert again["val_acc"] == first["val_acc"] and again["test_acc"] == first["test_acc"]
    for k, v in first["state_dict"].items():
        assert torch.equal(v, again["state_dict"][k])
    monkeypatch.delenv("AFM_RECOMPUTE")
    loaded = fit(run)                               # from the cache
    assert loaded["test_acc"] == first["test_acc"]
    # the result is plain data, and the stored weights are the trained network
    assert set(first) == {"state_dict", "history", "val_acc", "test_acc", "train_acc", "train_size"}
    assert first["train_size"] == 300 and len(first["history"]["eval_acc"]) == 1
    model = trained(run)
    _, val, _ = run.splits()
    from afm.train import evaluate
    assert evaluate(model, val) == first["val_acc"]
    assert first["history"]["eval_acc"][-1] == pytest.approx(first["val_acc"])


@needs_mnist
def test_epoch_eval_on_the_test_set_is_a_different_run(cache):
    val_curve = fit(_tiny())
    test_curve = fit(_tiny(epoch_eval="test", epoch_eval_size=500))
    # the same training (same seed, data, batches): the same weights, another curve
    assert test_curve["history"]["batch_loss"] == val_curve["history"]["batch_loss"]
    assert test_curve["history"]["eval_acc"] != val_curve["history"]["eval_acc"]


@needs_mnist
def test_fit_all_keeps_order_trains_duplicates_once_and_choose_uses_validation(cache, monkeypatch):
    runs_ = [_tiny(seed=1), _tiny(), _tiny(seed=1)]
    calls = []
    real = runs._fit
    monkeypatch.setattr(runs, "_fit", lambda run: calls.append(run) or real(run))
    results = fit_all(runs_, jobs=1)
    assert len(calls) == 2                           # the repeated run is trained once
    assert results[0]["test_acc"] == results[2]["test_acc"] == fit(_tiny(seed=1))["test_acc"]
    assert results[1]["test_acc"] == fit(_tiny())["test_acc"]
    best, chosen_results = choose(runs_[:2])
    assert best == runs_[best_on_validation(chosen_results)]
    assert len(calls) == 2                           # choosing loads from the cache


@needs_mnist
def test_outcome_records_a_diverged_run_once_and_never_prefers_it(cache, monkeypatch):
    """A learning rate of 1e10 makes the loss non-finite within the first steps: ``outcome``
    returns where and why, caches it (not trained again), and the run that trained wins the
    choice on validation even though it comes second."""
    from afm.lab.runs import diverged, outcome, outcomes

    blown = replace(_tiny(), train=TrainConfig(epochs=1, batch_size=64, lr=1e10))
    with pytest.raises(FloatingPointError):          # fit itself still raises
        fit(blown)
    calls = []
    real = runs._fit
    monkeypatch.setattr(runs, "_fit", lambda run: calls.append(run) or real(run))
    record = outcome(blown)
    assert diverged(record) and "the loss became" in record["diverged"]
    assert record["val_acc"] == float("-inf") and len(calls) == 1
    first, second = outcomes([blown, _tiny()], jobs=1)
    assert first == record and len(calls) == 2       # the diverged run is not trained again
    assert not diverged(second) and second["test_acc"] == fit(_tiny())["test_acc"]
    assert best_on_validation([first, second]) == 1
