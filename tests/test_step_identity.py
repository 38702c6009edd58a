"""The fast training step computes the very same bits as the step it replaced.

The forgetting layer, the fused losses of Eq. (6) and (8) and :func:`afm.train` were rewritten
to spend less time per step outside the arithmetic (``benchmarks/run.py``). The book's cached
results stay valid only if every number is unchanged, so each test compares with
``torch.equal`` (not a tolerance) against ``tests/previous_step.py``, a frozen copy of the
previous code: the layer's outputs and switches, the losses, every gradient, and the weights,
losses and switch means after whole training runs. How close both are to the equations as
written (``afm.losses.inhibition_reference``, ``lateral_reference``) is tested in test_losses.
"""

import copy
import itertools

import pytest
import torch

import previous_step
from afm import MLP, ForgettingLayer, LeNet5, TrainConfig, forgetting_loss, train
from afm import inhibition_loss, lateral_inhibition_loss
from afm.regularisers import Forgetting


def _grads(value, tensors):
    return torch.autograd.grad(value, tensors, allow_unused=True)


def _equal(a, b):
    return (a is None and b is None) or (a is not None and b is not None and torch.equal(a, b))


@pytest.mark.parametrize("gate, shortcut, unit_gain, rho, dims",
                         itertools.product(("dense", "diagonal", "static"), (True, False),
                                           (False, True), (1.0, 2.5), (2, 4)))
def test_layer_output_switches_and_gradients_are_unchanged(gate, shortcut, unit_gain, rho, dims):
    gen = torch.Generator().manual_seed(7)
    layer = ForgettingLayer(6, rho=rho, shortcut=shortcut, gate=gate, unit_gain=unit_gain)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    shape = (5, 6) if dims == 2 else (5, 6, 3, 4)
    h = torch.randn(shape, generator=gen).relu().requires_grad_(True)
    upstream = torch.randn(shape, generator=gen)
    params = [h] + list(layer.parameters())
    out = layer(h)
    gate_new, excitation_new = layer.gate, layer.excitation
    new = _grads((out * upstream).sum() + (gate_new * gate_new).sum(), params)
    out_old = previous_step.forward(layer, h)
    old = _grads((out_old * upstream).sum() + (layer.gate * layer.gate).sum(), params)
    assert torch.equal(out, out_old)
    assert torch.equal(gate_new, layer.gate) and torch.equal(excitation_new, layer.excitation)
    assert all(_equal(a, b) for a, b in zip(new, old))


def _switches(gen, batch, widths, fill):
    hs = [torch.randn(batch, n, generator=gen).relu() for n in widths]
    ss = [torch.rand(batch, n, generator=gen) for n in widths]
    if fill is not None:  # sample 0 with every switch closed or open (0/0 in Eq. 6 when open)
        for s in ss:
            s[0] = fill
    return [t.requires_grad_(True) for t in hs], [t.requires_grad_(True) for t in ss]


@pytest.mark.parametrize("fill", [None, 0.0, 1.0])
@pytest.mark.parametrize("reading", ["asymmetric", "symmetric"])
def test_losses_and_their_gradients_are_unchanged(fill, reading):
    hs, ss = _switches(torch.Generator().manual_seed(8), 9, (7, 5, 3), fill)
    inh, old_inh = inhibition_loss(ss), previous_step.Inhibition.apply(torch.cat(ss, dim=1))
    assert torch.equal(inh, old_inh)
    assert all(map(torch.equal, _grads(inh, ss), _grads(old_inh, ss)))
    lat = lateral_inhibition_loss(hs, ss, reading)
    old_lat = previous_step.lateral(hs, ss, reading)
    assert torch.equal(lat, old_lat)
    assert all(map(torch.equal, _grads(lat, hs + ss), _grads(old_lat, hs + ss)))


@pytest.mark.parametrize("lam, beta", [(1.0, 1e-4), (0.7, 0.0), (0.0, 0.3), (2.0, 1.0)])
@pytest.mark.parametrize("reading", ["asymmetric", "symmetric"])
def test_forgetting_loss_and_its_gradients_are_unchanged(lam, beta, reading):
    hs, ss = _switches(torch.Generator().manual_seed(9), 6, (4, 8), 1.0)
    model = torch.nn.Sequential(ForgettingLayer(4), torch.nn.ReLU(), ForgettingLayer(8))
    for layer, h, s in zip((model[0], model[2]), hs, ss):
        layer.gate, layer.excitation = s, h
    loss, old = forgetting_loss(model, lam, beta, reading), previous_step.forgetting_loss(model, lam, beta, reading)
    assert torch.equal(loss, old)
    assert all(map(_equal, _grads(loss, hs + ss), _grads(old, hs + ss)))


def _toy(n, shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randn(n, *shape, generator=g) + y.view(-1, *[1] * len(shape)).float()
    return x, y


@pytest.mark.parametrize("build, shape, lam, beta, reading", [
    (lambda: MLP([20, 16, 12, 3], gate="dense"), (20,), 1.0, 1e-3, "asymmetric"),
    (lambda: MLP([20, 16, 12, 3], gate="diagonal", rho=2.0), (20,), 0.5, 1e-2, "symmetric"),
    (lambda: MLP([20, 16, 12, 3], gate="static", shortcut=False), (20,), 1.0, 0.0, "asymmetric"),
    (lambda: MLP([20, 16, 12, 3], forgetting=[True, False]), (20,), 0.0, 1e-3, "asymmetric"),
    (lambda: LeNet5(num_classes=3), (3, 32, 32), 1.0, 1e-4, "asymmetric"),
])
def test_training_runs_are_unchanged(build, shape, lam, beta, reading, monkeypatch):
    """Weights, per-step losses, accuracies and mean switches of whole runs, bit for bit."""
    x, y = _toy(96, shape)
    torch.manual_seed(0)
    model = build()
    twin = copy.deepcopy(model)
    history = train(model, (x, y), TrainConfig(epochs=2, batch_size=32, lr=0.05, seed=3),
                    regularisers=[Forgetting(lam, beta, reading)], progress=False,
                    device=torch.device("cpu"))
    monkeypatch.setattr(ForgettingLayer, "forward", previous_step.forward)
    old = previous_step.train(twin, x, y, epochs=2, batch_size=32, lr=0.05, seed=3,
                              lam=lam, beta=beta, reading=reading)
    assert history.batch_loss == old["batch_loss"]
    assert history.loss == [s / 96 for s in old["loss"]]
    assert history.reg == [s / 96 for s in old["reg"]]
    assert history.train_acc == [c / 96 for c in old["correct"]]
    for e, gates in enumerate(old["gates"]):
        assert all(torch.equal(history.gates[name][e + 1], g)
                   for name, g in zip(history.gates, gates))
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        assert torch.equal(p, q), name


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_optimizer_of_train_moves_the_weights_as_the_per_parameter_loop(optimizer):
    """``make_optimizer`` updates all parameters in one call (foreach), the same floats as the
    per-parameter loop that ``torch.optim`` runs on the CPU by default."""
    from afm.train import make_optimizer

    x, y = _toy(64, (20,))
    torch.manual_seed(1)
    model = MLP([20, 16, 12, 3], gate="diagonal")
    twin = copy.deepcopy(model)
    config = TrainConfig(lr=0.01, optimizer=optimizer)
    fast = make_optimizer(model, config)
    kind = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
    extra = {"momentum": config.momentum} if optimizer == "sgd" else {}
    loop = kind(twin.parameters(), lr=config.lr, foreach=False, **extra)
    for net, opt in ((model, fast), (twin, loop)):
        for _ in range(15):
            loss = torch.nn.functional.cross_entropy(net(x), y) + forgetting_loss(net, 1.0, 1e-3)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        assert torch.equal(p, q), name
