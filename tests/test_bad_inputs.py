"""Bad input gets a clear error: one case per way of getting an argument of afm's core or data
wrong, each asserting the exception type AND that the message names the problem.

The cases come from a hostile-user review of the package (ranges, types, NumPy arrays, empty
and non-finite data, skipped layers, damaged data files), plus our own. The data-file faults
run on copies of the real files in a temporary folder; nothing is downloaded.
"""

from __future__ import annotations

import gzip
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import afm
from afm import data as afm_data
from afm import (L1, L2, MLP, VGG9, Forgetting, ForgettingLayer, LeNet5, TrainConfig, accuracy,
                 capture_activations, evaluate, forgetting_loss, inhibition_loss,
                 lateral_inhibition_loss, neuron_importance, sparsity, train)
from afm.metrics import activation_frequency, per_class_accuracy

INF, NAN = float("inf"), float("nan")


def gates(*rows) -> list[torch.Tensor]:
    return [torch.tensor(rows, dtype=torch.float32)]


def forward(model: nn.Module, x: torch.Tensor) -> nn.Module:
    model(x)
    return model


def xy(n: int = 8, d: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=g), torch.randint(0, 2, (n,), generator=g)


def with_value(x: torch.Tensor, value: float) -> torch.Tensor:
    x = x.clone()
    x[1, 2] = value
    return x


# --------------------------------------------------------------------------- one call, one error
# (id, call, exception type, regular expression the message must match)

CASES = [
    # ForgettingLayer: construction (Eq. 3-5)
    ("layer-rho-inf", lambda: ForgettingLayer(4, rho=INF), ValueError, r"rho must be > 0 and finite.*got inf"),
    ("layer-rho-minus-inf", lambda: ForgettingLayer(4, rho=-INF), ValueError, r"rho must be > 0 and finite"),
    ("layer-rho-nan", lambda: ForgettingLayer(4, rho=NAN), ValueError, r"rho must be > 0 and finite.*nan"),
    ("layer-rho-zero", lambda: ForgettingLayer(4, rho=0.0), ValueError, r"rho must be > 0.*steepness"),
    ("layer-rho-negative", lambda: ForgettingLayer(4, rho=-2), ValueError, r"rho must be > 0.*-2"),
    ("layer-rho-string", lambda: ForgettingLayer(4, rho="1"), TypeError, r"rho must be a number.*str"),
    ("layer-rho-bool", lambda: ForgettingLayer(4, rho=True), TypeError, r"rho must be a number.*bool"),
    ("layer-shortcut-no", lambda: ForgettingLayer(4, shortcut="no"), TypeError,
     r"shortcut must be True or False.*str 'no'"),
    ("layer-shortcut-int", lambda: ForgettingLayer(4, shortcut=1), TypeError, r"shortcut must be True or False.*int"),
    ("layer-shortcut-none", lambda: ForgettingLayer(4, shortcut=None), TypeError, r"shortcut must be True or False"),
    ("layer-width-bool", lambda: ForgettingLayer(True), TypeError, r"num_features.*must be an integer, got bool"),
    ("layer-width-float", lambda: ForgettingLayer(4.0), TypeError, r"num_features.*must be an integer, got float"),
    ("layer-width-string", lambda: ForgettingLayer("4"), TypeError, r"num_features.*must be an integer, got str"),
    ("layer-width-zero", lambda: ForgettingLayer(0), ValueError, r"num_features.*positive integer, got 0"),
    ("layer-width-negative", lambda: ForgettingLayer(-3), ValueError, r"num_features.*positive integer, got -3"),
    ("layer-gate-unknown", lambda: ForgettingLayer(4, gate="sparse"), ValueError, r"unknown gate 'sparse'"),
    ("layer-gate-none", lambda: ForgettingLayer(4, gate=None), ValueError, r"unknown gate None"),
    # ForgettingLayer: forward
    ("layer-input-numpy", lambda: ForgettingLayer(4)(np.zeros((2, 4), np.float32)), TypeError,
     r"must be a torch.Tensor, got a numpy.ndarray.*torch.from_numpy"),
    ("layer-input-list", lambda: ForgettingLayer(2)([[0.0, 1.0]]), TypeError, r"must be a torch.Tensor, got list"),
    ("layer-input-int", lambda: ForgettingLayer(4)(torch.zeros(2, 4, dtype=torch.long)), TypeError,
     r"floating-point input, got torch.int64"),
    ("layer-input-3d", lambda: ForgettingLayer(4)(torch.zeros(2, 4, 3)), ValueError, r"2-D .* or 4-D .* got 3-D"),
    ("layer-input-width", lambda: ForgettingLayer(4)(torch.zeros(2, 5)), ValueError, r"num_features=4 in dim 1, got 5"),
    ("layer-feature-map-0x0", lambda: ForgettingLayer(3)(torch.zeros(2, 3, 0, 0)), ValueError,
     r"empty 0x0 feature map.*NaN"),
    ("layer-feature-map-4x0", lambda: ForgettingLayer(3)(torch.zeros(2, 3, 4, 0)), ValueError, r"empty 4x0 feature map"),
    # Eq. (6), ERS
    ("inh-sigma-above-1", lambda: inhibition_loss(gates([0.5, 1.5])), ValueError, r"σ must lie in \[0, 1\].*1\.5"),
    ("inh-sigma-below-0", lambda: inhibition_loss(gates([-0.1, 0.5])), ValueError, r"σ must lie in \[0, 1\].*-0\.1"),
    ("inh-sigma-nan", lambda: inhibition_loss(gates([NAN, 0.5])), FloatingPointError, r"σ contains NaN"),
    ("inh-sigma-inf", lambda: inhibition_loss(gates([INF, 0.5])), ValueError, r"σ must lie in \[0, 1\].*inf"),
    ("inh-empty-batch", lambda: inhibition_loss([torch.zeros(0, 3)]), ValueError, r"empty batch \(B = 0\)"),
    ("inh-zero-width", lambda: inhibition_loss([torch.zeros(2, 0)]), ValueError, r"zero-width layer \(N = 0\)"),
    ("inh-no-layers", lambda: inhibition_loss([]), ValueError, r"at least one \(B, N_l\) gate"),
    ("inh-bare-tensor", lambda: inhibition_loss(torch.full((2, 3), 0.5)), TypeError, r"wrap it in a list"),
    ("inh-numpy-gate", lambda: inhibition_loss([np.full((2, 3), 0.5)]), TypeError, r"gate 0 must be a torch.Tensor.*numpy"),
    ("inh-batch-mismatch", lambda: inhibition_loss([torch.full((2, 3), 0.5), torch.full((3, 3), 0.5)]),
     ValueError, r"gate 1: expected shape \(B=2, N_l\)"),
    # Eq. (8), IRS
    ("lat-numpy-excitation", lambda: lateral_inhibition_loss([np.ones((2, 3))], [torch.full((2, 3), 0.5)]),
     TypeError, r"excitation 0 must be a torch.Tensor.*numpy"),
    ("lat-sigma-above-1", lambda: lateral_inhibition_loss([torch.ones(1, 2)], gates([0.5, 2.0])),
     ValueError, r"σ must lie in \[0, 1\]"),
    ("lat-empty-batch", lambda: lateral_inhibition_loss([torch.ones(0, 2)], [torch.ones(0, 2)]),
     ValueError, r"empty batch"),
    ("lat-shape-mismatch", lambda: lateral_inhibition_loss([torch.ones(2, 3)], [torch.full((2, 4), 0.5)]),
     ValueError, r"must both be \(B, N_l\)"),
    ("lat-unknown-reading", lambda: lateral_inhibition_loss([torch.ones(1, 2)], gates([0.5, 0.5]), "cyclic"),
     ValueError, r"unknown reading 'cyclic'"),
    # Eq. (9): strengths, one check for forgetting_loss and the regularisers
    ("loss-lam-negative", lambda: forgetting_loss(forward(MLP([4, 3, 2]), torch.ones(2, 4)), -1.0, 0.0),
     ValueError, r"lam strength must be >= 0 and finite, got -1"),
    ("loss-lam-nan", lambda: forgetting_loss(forward(MLP([4, 3, 2]), torch.ones(2, 4)), NAN, 0.0),
     ValueError, r"lam strength must be >= 0 and finite, got nan"),
    ("loss-lam-inf", lambda: forgetting_loss(forward(MLP([4, 3, 2]), torch.ones(2, 4)), INF, 0.0),
     ValueError, r"lam strength must be >= 0 and finite, got inf"),
    ("loss-beta-negative", lambda: forgetting_loss(forward(MLP([4, 3, 2]), torch.ones(2, 4)), 1.0, -1e-4),
     ValueError, r"beta strength must be >= 0"),
    ("loss-lam-string", lambda: forgetting_loss(forward(MLP([4, 3, 2]), torch.ones(2, 4)), "1", 0.0),
     TypeError, r"lam strength must be a number"),
    ("loss-before-forward", lambda: forgetting_loss(MLP([4, 3, 2]), 1.0, 0.0), RuntimeError, r"call model\(x\) first"),
    ("loss-no-forgetting-layer", lambda: forgetting_loss(nn.Linear(2, 2), 1.0, 0.0), ValueError,
     r"has no ForgettingLayer"),
    ("reg-forgetting-lam-inf", lambda: Forgetting(lam=INF), ValueError, r"lam strength must be >= 0 and finite"),
    ("reg-forgetting-beta-nan", lambda: Forgetting(lam=1.0, beta=NAN), ValueError, r"beta strength"),
    ("reg-l1-nan", lambda: L1(NAN), ValueError, r"L1 strength must be >= 0 and finite"),
    ("reg-l2-negative", lambda: L2(-0.5), ValueError, r"L2 strength must be >= 0"),
    # Eq. (1) and accuracy
    ("sparsity-threshold-nan", lambda: sparsity(torch.ones(3, 2), threshold=NAN), ValueError,
     r"threshold must be finite.*nan"),
    ("sparsity-threshold-inf", lambda: sparsity(torch.ones(3, 2), threshold=INF), ValueError, r"threshold must be finite"),
    ("sparsity-threshold-string", lambda: sparsity(torch.ones(3, 2), threshold="0"), TypeError, r"threshold must be a finite number"),
    ("sparsity-numpy", lambda: sparsity(np.ones((3, 2))), TypeError, r"activations must be a torch.Tensor.*numpy"),
    ("sparsity-no-samples", lambda: sparsity(torch.ones(0, 3)), ValueError, r"at least one sample"),
    ("sparsity-zero-width", lambda: activation_frequency(torch.ones(5, 0)), ValueError, r"N = 0"),
    ("sparsity-nan", lambda: sparsity(with_value(torch.ones(3, 4), NAN)), ValueError, r"activations contain NaN"),
    ("sparsity-1d", lambda: sparsity(torch.ones(5)), ValueError, r"\(num_samples, N\)"),
    ("accuracy-empty", lambda: accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)), ValueError,
     r"empty batch"),
    ("accuracy-numpy", lambda: accuracy(np.zeros((2, 3)), torch.zeros(2, dtype=torch.long)), TypeError,
     r"logits must be a torch.Tensor.*numpy"),
    ("per-class-float-classes", lambda: per_class_accuracy(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), 2.5),
     TypeError, r"num_classes must be an integer"),
    # TrainConfig: rejected at construction
    ("config-epochs-float", lambda: TrainConfig(epochs=1.5), TypeError, r"TrainConfig.epochs must be an integer, got float"),
    ("config-epochs-negative", lambda: TrainConfig(epochs=-1), ValueError, r"TrainConfig.epochs must be an integer >= 0"),
    ("config-epochs-bool", lambda: TrainConfig(epochs=True), TypeError, r"TrainConfig.epochs must be an integer, got bool"),
    ("config-batch-zero", lambda: TrainConfig(batch_size=0), ValueError, r"TrainConfig.batch_size must be a positive"),
    ("config-batch-float", lambda: TrainConfig(batch_size=32.0), TypeError, r"TrainConfig.batch_size must be an integer"),
    ("config-lr-zero", lambda: TrainConfig(lr=0), ValueError, r"TrainConfig.lr must be > 0.*learning rate"),
    ("config-lr-negative", lambda: TrainConfig(lr=-0.1), ValueError, r"TrainConfig.lr must be > 0"),
    ("config-lr-nan", lambda: TrainConfig(lr=NAN), ValueError, r"TrainConfig.lr must be > 0 and finite"),
    ("config-lr-inf", lambda: TrainConfig(lr=INF), ValueError, r"TrainConfig.lr must be > 0 and finite"),
    ("config-lr-string", lambda: TrainConfig(lr="0.1"), TypeError, r"TrainConfig.lr must be a number"),
    ("config-momentum-nan", lambda: TrainConfig(momentum=NAN), ValueError, r"TrainConfig.momentum"),
    ("config-seed-float", lambda: TrainConfig(seed=1.5), TypeError, r"TrainConfig.seed must be an integer"),
    ("config-optimizer", lambda: TrainConfig(optimizer="rmsprop"), ValueError, r"unknown optimizer 'rmsprop'"),
    # train / evaluate: the data
    ("train-empty", lambda: train(MLP([4, 3, 2]), (torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)),
                                  TrainConfig(epochs=1), progress=False),
     ValueError, r"got no samples"),
    ("evaluate-empty", lambda: evaluate(MLP([4, 3, 2]), (torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))),
     ValueError, r"evaluate got no samples"),
    ("train-inf-input", lambda: train(MLP([4, 3, 2]), (with_value(xy()[0], INF), xy()[1]), TrainConfig(epochs=1),
                                      progress=False),
     ValueError, r"inputs x contain non-finite values \(0 NaN, 1 ±inf\): the data are at fault"),
    ("train-nan-input", lambda: train(MLP([4, 3, 2]), (with_value(xy()[0], NAN), xy()[1]), TrainConfig(epochs=1),
                                      progress=False),
     ValueError, r"non-finite values \(1 NaN, 0 ±inf\)"),
    ("evaluate-inf-input", lambda: evaluate(MLP([4, 3, 2]), (with_value(xy()[0], -INF), xy()[1])), ValueError,
     r"non-finite values"),
    ("train-eval-data-empty", lambda: train(MLP([4, 3, 2]), xy(), TrainConfig(epochs=1), progress=False,
                                            eval_data=(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))),
     ValueError, r"eval_data got no samples"),
    ("train-numpy-x", lambda: train(MLP([4, 3, 2]), (xy()[0].numpy(), xy()[1]), TrainConfig(epochs=1), progress=False),
     TypeError, r"the inputs x must be a torch.Tensor, got a numpy.ndarray.*torch.from_numpy"),
    ("train-dataloader", lambda: train(MLP([4, 3, 2]), DataLoader(TensorDataset(*xy())), TrainConfig(epochs=1),
                                       progress=False),
     TypeError, r"expected a TensorDataset\(x, y\) or a pair \(x, y\).*DataLoader"),
    ("train-uint8-pair", lambda: train(MLP([4, 3, 2]), (torch.zeros(8, 4, dtype=torch.uint8), xy()[1]),
                                       TrainConfig(epochs=1), progress=False),
     TypeError, r"expected float inputs"),
    ("train-float-labels", lambda: evaluate(MLP([4, 3, 2]), (xy()[0], xy()[1].float())), TypeError, r"int64 labels"),
    # Models
    ("mlp-width-float", lambda: MLP([4, 2.7, 2]), TypeError, r"widths\[1\] must be an integer, got float 2.7"),
    ("mlp-width-bool", lambda: MLP([4, True, 2]), TypeError, r"widths\[1\] must be an integer, got bool"),
    ("mlp-width-zero", lambda: MLP([4, 0, 2]), ValueError, r"widths\[1\] must be a positive integer"),
    ("mlp-widths-string", lambda: MLP("784"), TypeError, r"widths must be a list of ints"),
    ("mlp-no-hidden", lambda: MLP([4, 2]), ValueError, r"at least one hidden layer"),
    ("mlp-forgetting-flag-string", lambda: MLP([4, 3, 2], forgetting=["no"]), TypeError,
     r"forgetting\[0\] must be True or False"),
    ("mlp-forgetting-string", lambda: MLP([4, 3, 2], forgetting="yes"), TypeError,
     r"forgetting must be a bool or a list"),
    ("vgg-width-inf", lambda: VGG9(width=INF), ValueError, r"width must be > 0 and finite"),
    ("vgg-width-zero", lambda: VGG9(width=0), ValueError, r"width must be > 0"),
    ("lenet-classes-zero", lambda: LeNet5(num_classes=0), ValueError, r"num_classes must be a positive integer"),
    # capture_activations
    ("capture-unknown-name", lambda: capture_activations(MLP([4, 3, 2]), [xy()], names=["hidden.9.act"]),
     ValueError, r"unknown module names \['hidden.9.act'\]; valid names include \[.*'hidden.0.act'"),
    ("capture-names-string", lambda: capture_activations(MLP([4, 3, 2]), [xy()], names="hidden.0.act"),
     TypeError, r"names must be a list of module names.*names=\['hidden.0.act'\]"),
    ("capture-empty-data", lambda: capture_activations(MLP([4, 3, 2]), []), ValueError, r"got no batches"),
    ("capture-bare-tensor", lambda: capture_activations(MLP([4, 3, 2]), xy()[0]), TypeError, r"data is a bare Tensor"),
    # neuron_importance: the data forms
    ("importance-bare-tensor", lambda: neuron_importance(MLP([4, 3, 2]), xy()[0]), TypeError,
     r"neuron_importance: data is a bare Tensor; pass a DataLoader, a TensorDataset"),
    ("importance-numpy", lambda: neuron_importance(MLP([4, 3, 2]), xy()[0].numpy()), TypeError,
     r"data is a numpy.ndarray"),
    ("importance-dict", lambda: neuron_importance(MLP([4, 3, 2]), {"x": xy()[0]}), TypeError, r"data is a dict"),
    ("importance-list-of-tensors", lambda: neuron_importance(MLP([4, 3, 2]), [xy()[0]]), TypeError,
     r"batch 0 must be a pair \(x, y\).*got Tensor"),
    ("importance-numpy-batch", lambda: neuron_importance(MLP([4, 3, 2]), [(xy()[0].numpy(), None)]), TypeError,
     r"inputs x of batch 0 must be a torch.Tensor.*numpy"),
    ("importance-pair-lengths", lambda: neuron_importance(MLP([4, 3, 2]), (xy()[0], xy()[1][:3])), ValueError,
     r"x and y differ in length: 8 vs 3"),
    ("importance-empty", lambda: neuron_importance(MLP([4, 3, 2]), []), ValueError, r"got no batches"),
    ("importance-no-forgetting", lambda: neuron_importance(MLP([4, 3, 2], forgetting=False), [xy()]), ValueError,
     r"has no ForgettingLayer"),
    # afm.data: arguments
    ("data-unknown-name", lambda: afm_data.load_dataset("svhn"), ValueError, r"unknown dataset 'svhn'; valid names"),
    ("data-train-string", lambda: afm_data.load_dataset("mnist", train="no"), TypeError,
     r"train must be True or False.*str 'no'"),
    ("subset-float-n", lambda: afm_data.subset(TensorDataset(*xy()), 2.5), TypeError, r"n \(the number of samples"),
    ("subset-negative-n", lambda: afm_data.subset(TensorDataset(*xy()), -1), ValueError, r"n \(.*\) must be an integer >= 0"),
    ("subset-pair", lambda: afm_data.subset(xy(), 3), TypeError, r"subset needs a TensorDataset.*tuple"),
    ("split-nan", lambda: afm_data.train_val_split(TensorDataset(*xy()), NAN), ValueError, r"val_fraction must be finite"),
    ("split-string", lambda: afm_data.train_val_split(TensorDataset(*xy()), "0.1"), TypeError,
     r"val_fraction must be a finite number"),
    ("split-one", lambda: afm_data.train_val_split(TensorDataset(*xy()), 1.0), ValueError,
     r"val_fraction must lie strictly between 0 and 1"),
    ("permutation-float-task", lambda: afm_data.pixel_permutation(1.5), TypeError, r"task .* must be an integer"),
    ("permutation-negative-task", lambda: afm_data.pixel_permutation(-1), ValueError, r"task .* >= 0, got -1"),
    ("byteimages-float", lambda: afm_data.ByteImages(torch.zeros(2, 3), torch.zeros(2)), ValueError,
     r"ByteImages needs uint8 images"),
]


@pytest.mark.parametrize("call, error, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_cases_are_distinct():
    assert len({c[0] for c in CASES}) == len(CASES) >= 60


# --------------------------------------------------------------------------- stale and skipped layers


class Skipping(nn.Module):
    """Two forgetting layers; the second runs only on batches of more than ``skip_below`` samples."""

    def __init__(self, skip_below: int) -> None:
        super().__init__()
        self.linear, self.first, self.second = nn.Linear(4, 3), ForgettingLayer(3), ForgettingLayer(3)
        self.skip_below = skip_below

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.first(self.linear(x))
        return self.second(h) if x.shape[0] > self.skip_below else h


def test_importance_never_reads_a_stale_gate():
    """Batch 1 runs both layers, batch 2 skips ``second``: its σ from batch 1 must not be used."""
    with pytest.raises(RuntimeError, match=r"\['second'\] did not run on this batch"):
        neuron_importance(Skipping(skip_below=3), [(torch.randn(5, 4), None), (torch.randn(2, 4), None)])


def test_importance_names_a_layer_that_never_ran():
    with pytest.raises(RuntimeError, match=r"forgetting layer\(s\) \['second'\] did not run"):
        neuron_importance(Skipping(skip_below=100), [(torch.randn(5, 4), None)])


def test_capture_names_a_module_that_did_not_run():
    model = Skipping(skip_below=3)
    with pytest.raises(RuntimeError, match=r"\['second'\] did not run on every batch"):
        capture_activations(model, [(torch.randn(5, 4), None), (torch.randn(2, 4), None)],
                            names=["first", "second"])


# --------------------------------------------------------------------------- documented forms


@pytest.mark.parametrize("form", ["TensorDataset", "pair", "DataLoader", "list", "x-only batches"])
def test_importance_accepts_the_documented_data_forms(form):
    """Every documented form gives the same Ω as the list of (x, y) batches."""
    torch.manual_seed(0)
    model = MLP([4, 5, 3, 2])
    for p in model.parameters():
        nn.init.normal_(p)
    x, y = torch.randn(2500, 4), torch.randint(0, 2, (2500,))
    reference = neuron_importance(model, [(x[i:i + 1000], y[i:i + 1000]) for i in range(0, 2500, 1000)])
    given = {"TensorDataset": TensorDataset(x, y), "pair": (x, y),
             "DataLoader": DataLoader(TensorDataset(x, y), batch_size=1000),
             "list": [(x[:1000], y[:1000]), (x[1000:], y[1000:])],
             "x-only batches": DataLoader(TensorDataset(x), batch_size=500)}[form]
    omega = neuron_importance(model, given)
    assert omega.keys() == reference.keys()
    for name in omega:
        assert torch.allclose(omega[name], reference[name], atol=1e-6, rtol=0)
        # by hand: the mean σ of the layer over every sample
        layer = dict(model.named_modules())[name]
        model.eval()
        with torch.no_grad():
            model(x)
        assert torch.allclose(omega[name], layer.gate.double().mean(0).float(), atol=1e-6, rtol=0)


def test_evaluate_on_a_valid_set_is_unchanged():
    """The checks do not move a valid number: accuracy by hand equals evaluate's."""
    torch.manual_seed(0)
    model = MLP([4, 3, 2])
    x, y = xy(50)
    assert evaluate(model, (x, y), batch_size=7) == accuracy(model(x), y)


# --------------------------------------------------------------------------- CIFAR-10 as uint8


def byte_images(n: int = 300, seed: int = 0) -> afm_data.ByteImages:
    g = torch.Generator().manual_seed(seed)
    return afm_data.ByteImages(torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8),
                               torch.randint(0, 10, (n,), generator=g))


def test_uint8_batches_equal_the_float_tensors_exactly():
    """Per-batch conversion gives bit for bit the floats of converting the whole set first
    (what load_dataset returned before CIFAR-10 stayed uint8)."""
    from afm.train import batches
    data = byte_images()
    images, labels = data.stored_tensors
    floats = images.float().div_(255)
    assert torch.equal(data.tensors[0], floats) and data.tensors[0].dtype == torch.float32
    assert torch.equal(data[[3, 1]][0], floats[[3, 1]])
    got = list(batches(images, labels, 64, True, torch.Generator().manual_seed(5)))
    want = list(batches(floats, labels, 64, True, torch.Generator().manual_seed(5)))
    assert len(got) == len(want) == 5
    for (gx, gy), (wx, wy) in zip(got, want):
        assert gx.dtype == torch.float32 and torch.equal(gx, wx) and torch.equal(gy, wy)
    small = afm_data.subset(data, 100, seed=1)
    assert isinstance(small, afm_data.ByteImages) and small.stored_tensors[0].dtype == torch.uint8
    train_part, val_part = afm_data.train_val_split(data, 0.1)
    assert isinstance(val_part, afm_data.ByteImages) and len(val_part) == 30


def test_training_on_uint8_images_is_identical_to_training_on_floats():
    data = byte_images(200)
    as_floats = TensorDataset(*data.tensors)
    runs = []
    for dataset in (data, as_floats):
        torch.manual_seed(0)
        model = LeNet5()
        history = train(model, dataset, TrainConfig(epochs=1, batch_size=64), [Forgetting(0.5)],
                        eval_data=dataset, progress=False, device=torch.device("cpu"))
        runs.append((history, model.state_dict(), evaluate(model, dataset)))
    (h1, w1, a1), (h2, w2, a2) = runs
    assert h1.batch_loss == h2.batch_loss and h1.eval_acc == h2.eval_acc and a1 == a2
    assert all(torch.equal(w1[k], w2[k]) for k in w1)


# --------------------------------------------------------------------------- data files


@pytest.fixture
def data_copy(tmp_path, monkeypatch, real_mnist):
    """A writable copy of the MNIST test files as AFM_DATA_DIR, a fresh cache, offline."""
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy2(real_mnist / "mnist" / name, folder / name)
    monkeypatch.setenv("AFM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AFM_OFFLINE", "1")
    monkeypatch.delenv("AFM_DEBIAN_FASHION_DIR", raising=False)
    afm_data.clear_memory_cache()
    yield folder
    afm_data.clear_memory_cache()


def reload(name: str = "mnist") -> TensorDataset:
    afm_data.clear_memory_cache()  # as a new process would
    return afm_data.load_dataset(name, train=False)


def test_missing_file_is_named(data_copy):
    (data_copy / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(afm_data.DataNotFoundError, match=r"missing t10k-labels-idx1-ubyte.gz"):
        reload()


def test_corrupt_gz_same_size_is_rejected(data_copy):
    path = data_copy / "t10k-labels-idx1-ubyte.gz"
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2] ^= 0x01
    path.write_bytes(payload)
    with pytest.raises(afm_data.CorruptDataError, match=r"t10k-labels-idx1-ubyte.gz is corrupt.*MD5"):
        reload()


def test_truncated_gz_is_rejected(data_copy):
    path = data_copy / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(afm_data.CorruptDataError, match=r"corrupt or truncated.*\(100 bytes\)"):
        reload()


def test_source_replaced_with_same_size_and_time_is_caught(data_copy):
    """Verification is on the content: a same-size, same-mtime replacement after a good load
    is still rejected (the old marker was keyed on path, size and mtime)."""
    reload()
    path = data_copy / "t10k-images-idx3-ubyte.gz"
    stat = path.stat()
    payload = bytearray(path.read_bytes())
    payload[-100] ^= 0xFF
    path.write_bytes(payload)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    with pytest.raises(afm_data.CorruptDataError, match=r"t10k-images-idx3-ubyte.gz is corrupt"):
        reload()


def decompressed(tmp_path: Path, name: str) -> Path:
    return tmp_path / "cache" / "data" / "mnist" / "MNIST" / "raw" / name


@pytest.mark.parametrize("damage", ["same-size edit", "truncation", "no record"])
def test_damaged_decompressed_mnist_is_rebuilt(data_copy, tmp_path, damage):
    good = reload()
    path = decompressed(tmp_path, "t10k-images-idx3-ubyte")
    assert path.is_file() and Path(f"{path}.sha256").is_file()
    payload = bytearray(path.read_bytes())
    if damage == "same-size edit":
        payload[5000] ^= 0xFF  # one pixel of the first images
        path.write_bytes(payload)
    elif damage == "truncation":
        path.write_bytes(payload[:len(payload) // 3])
    else:
        Path(f"{path}.sha256").unlink()
    with pytest.warns(RuntimeWarning, match=r"t10k-images-idx3-ubyte .*rebuilding it from the verified source"):
        again = reload()
    assert torch.equal(again.tensors[0], good.tensors[0])
    assert torch.equal(again.tensors[1], good.tensors[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once: intact now, nothing more to say
        reload()


def test_decompressed_mnist_matches_an_independent_reader(data_copy, tmp_path):
    reload()
    path = decompressed(tmp_path, "t10k-labels-idx1-ubyte")
    with gzip.open(data_copy / "t10k-labels-idx1-ubyte.gz") as f:
        assert path.read_bytes() == f.read()


@pytest.fixture
def cifar_copy(tmp_path, monkeypatch, real_cifar):
    folder = tmp_path / "data" / "cifar10-jpeg"
    folder.mkdir(parents=True)
    shutil.copy2(real_cifar / "cifar10-jpeg" / "test.zip", folder / "test.zip")
    monkeypatch.setenv("AFM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AFM_OFFLINE", "1")
    afm_data.clear_memory_cache()
    yield tmp_path / "cache" / "data" / "cifar10-jpeg"
    afm_data.clear_memory_cache()


@pytest.mark.slow
def test_damaged_decoded_cifar_is_rebuilt(cifar_copy):
    """Truncated images, a same-size edit of the labels: each rebuilt from the verified zip."""
    good = reload("cifar10")
    assert isinstance(good, afm_data.ByteImages)
    images_npy = next(cifar_copy.glob("test-*-images.npy"))
    labels_npy = next(cifar_copy.glob("test-*-labels.npy"))
    images_npy.write_bytes(images_npy.read_bytes()[:1000])  # np.load alone would fail here
    payload = bytearray(labels_npy.read_bytes())
    payload[-8] = (payload[-8] + 1) % 10  # the last label, a valid but wrong class
    labels_npy.write_bytes(payload)
    with pytest.warns(RuntimeWarning, match=r"test-.*-images.npy does not match its recorded SHA-256"):
        again = reload("cifar10")
    assert torch.equal(again.stored_tensors[0], good.stored_tensors[0])
    assert torch.equal(again.stored_tensors[1], good.stored_tensors[1])


@pytest.mark.slow
def test_a_planted_pickle_in_the_decoded_cache_never_runs(cifar_copy, tmp_path):
    """Even with a forged digest record, decoded arrays are read with allow_pickle=False."""
    reload("cifar10")
    labels_npy = next(cifar_copy.glob("test-*-labels.npy"))
    flag = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (flag,))

    with open(labels_npy, "wb") as f:
        np.save(f, np.array([Payload()], dtype=object), allow_pickle=True)
    from afm.data.sources import _file_digest
    Path(f"{labels_npy}.sha256").write_text(f"{_file_digest(labels_npy, 'sha256')}  x\n")
    with pytest.raises(afm_data.CorruptDataError, match=r"labels.npy holds Python objects.*nothing in it ran"):
        reload("cifar10")
    assert not flag.exists()


def test_afm_public_names_still_import():
    assert afm.data.load_dataset is afm_data.load_dataset
    for name in afm_data.__all__:
        assert hasattr(afm_data, name), name


# --------------------------------------------------------------------------- the tests' data policy


@pytest.mark.parametrize("offline, outcome", [("1", "1 error"), ("", "1 skipped")])
def test_missing_real_data_fails_offline_and_skips_otherwise(tmp_path, offline, outcome):
    """With AFM_OFFLINE set (as in CI) a real-data test whose folder is missing FAILS, saying
    why; without it, it is skipped with the same reason. Never a silent skip."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "AFM_DATA_DIR": str(tmp_path / "empty"), "AFM_OFFLINE": offline,
           "AFM_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs",
         "tests/test_data.py::test_permuted_mnist"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert outcome in output, output
    assert f"AFM_DATA_DIR {tmp_path / 'empty'} has no mnist/ folder" in output
    assert (result.returncode != 0) == (offline == "1")
