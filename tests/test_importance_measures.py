"""Per-layer importance (Ω by excitatory layer), the plain network's activation measure,
and per-class accuracy (Fig. 2c, 2d)."""

import pytest
import torch
from torch import nn

from afm import MLP, LeNet5, neuron_importance
from afm.importance import activation_importance, layer_importance
from afm.metrics import per_class_accuracy


def _data(n=32, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return [(x[:20], None), (x[20:], None)]


def test_activation_importance_by_hand():
    model = MLP([2, 3, 2], forgetting=False)
    with torch.no_grad():
        model.hidden[0].main.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
        model.hidden[0].main.bias.zero_()
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    # h = relu(x W^T): [[1, 2, 0], [3, 0, 0]] -> mean (2, 1, 0) -> / 2
    a = activation_importance(model, [(x, None)])
    torch.testing.assert_close(a["hidden.0.act"], torch.tensor([1.0, 0.5, 0.0]))


def test_activation_importance_range_and_dead_layer():
    torch.manual_seed(0)
    model = MLP([5, 7, 4, 3], forgetting=False)
    a = activation_importance(model, _data())
    assert list(a) == ["hidden.0.act", "hidden.1.act"]
    for v in a.values():
        assert v.min() >= 0 and v.max() == pytest.approx(1.0)
    with torch.no_grad():
        model.hidden[1].main.bias.fill_(-1e6)  # never active
    assert torch.equal(activation_importance(model, _data())["hidden.1.act"], torch.zeros(4))


def test_activation_importance_conv_channels():
    torch.manual_seed(0)
    model = LeNet5(forgetting=False)
    a = activation_importance(model, [(torch.rand(4, 3, 32, 32), None)])
    assert [v.shape[0] for v in a.values()] == [6, 16, 120, 84]


def test_layer_importance_omega_keyed_by_excitatory_layer():
    torch.manual_seed(0)
    model = MLP([5, 7, 4, 3], forgetting=[True, False])
    with torch.no_grad():
        model.hidden[0].forget.weight.normal_()
    data = _data()
    omega = layer_importance(model, data, "omega")
    assert list(omega) == ["hidden.0.act"]  # only the layer with a forgetting layer
    torch.testing.assert_close(omega["hidden.0.act"], neuron_importance(model, data)["hidden.0.forget"])
    assert list(layer_importance(model, data, "activation")) == ["hidden.0.act", "hidden.1.act"]


def test_layer_importance_errors():
    with pytest.raises(ValueError, match="unknown importance measure"):
        layer_importance(MLP([5, 3, 2]), _data(), "gradient")
    with pytest.raises(ValueError, match="no ForgettingLayer"):
        layer_importance(MLP([5, 3, 2], forgetting=False), _data(), "omega")
    from afm import ForgettingLayer
    odd = nn.Sequential(nn.Linear(5, 3), ForgettingLayer(3))
    with pytest.raises(ValueError, match="which excitatory neurons"):
        layer_importance(odd, _data(), "omega")


def test_per_class_accuracy():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 1])
    acc = per_class_accuracy(logits, labels, 3)
    assert acc[0] == 0.5 and acc[1] == 0.0 and torch.isnan(acc[2])
    # the class-weighted mean is the overall accuracy
    counts = torch.bincount(labels, minlength=3).double()
    overall = (logits.argmax(1) == labels).double().mean()
    assert torch.nansum(acc * counts) / counts.sum() == pytest.approx(float(overall))
    with pytest.raises(ValueError, match="num_classes"):
        per_class_accuracy(logits, torch.tensor([0, 0, 1, 3]), 3)
    with pytest.raises(ValueError, match=r"\(B, C\)"):
        per_class_accuracy(logits, labels[:2], 3)
