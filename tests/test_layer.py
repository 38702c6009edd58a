"""ForgettingLayer, Eq. (3)-(5): gate modes, shapes, the starting state, bad input."""

import pytest
import torch

from afm import ForgettingLayer, forgetting_layers, MLP


@pytest.mark.parametrize("gate", ["dense", "diagonal", "static"])
def test_switches_start_half_open(gate):
    layer = ForgettingLayer(5, gate=gate)
    h = torch.randn(3, 5)
    out = layer(h)
    assert torch.equal(layer.gate, torch.full((3, 5), 0.5))
    torch.testing.assert_close(out, 1.5 * h)  # h + h * 0.5
    assert torch.equal(layer.excitation, h)


def test_dense_gate_matches_hand_computation():
    layer = ForgettingLayer(2, rho=2.0, shortcut=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))
        layer.bias.copy_(torch.tensor([0.1, -0.2]))
    h = torch.tensor([[1.0, 3.0]])
    z = torch.tensor([[1.0 * 1.0 + 3.0 * 0.5 + 0.1, 1.0 * -1.0 + 3.0 * 2.0 - 0.2]])
    sigma = 1 / (1 + torch.exp(-2.0 * z))
    out = layer(h)
    torch.testing.assert_close(layer.gate, sigma)
    torch.testing.assert_close(out, h * sigma)  # Eq. (3), no shortcut


def test_diagonal_and_static_gates():
    diag = ForgettingLayer(3, gate="diagonal", rho=0.5)
    static = ForgettingLayer(3, gate="static", rho=3.0)
    with torch.no_grad():
        diag.weight.copy_(torch.tensor([1.0, 2.0, -1.0]))
        diag.bias.copy_(torch.tensor([0.0, 1.0, 0.0]))
        static.weight.copy_(torch.tensor([1.0, 0.0, -1.0]))
    h = torch.tensor([[2.0, -1.0, 4.0], [0.0, 0.0, 0.0]])
    diag(h)
    torch.testing.assert_close(diag.gate, torch.sigmoid(0.5 * (h * diag.weight + diag.bias)))
    static(h)
    expected = torch.sigmoid(3.0 * torch.tensor([1.0, 0.0, -1.0])).expand(2, 3)
    torch.testing.assert_close(static.gate, expected)
    assert static.bias is None


def test_shortcut_is_eq5():
    layer = ForgettingLayer(4, gate="diagonal")
    with torch.no_grad():
        layer.weight.normal_()
    h = torch.randn(6, 4)
    out = layer(h)
    torch.testing.assert_close(out, h + h * layer.gate)


def test_4d_gate_is_per_channel_from_spatial_mean():
    layer = ForgettingLayer(3, shortcut=False)
    with torch.no_grad():
        layer.weight.normal_()
    h = torch.randn(2, 3, 4, 5)
    out = layer(h)
    pooled = h.mean(dim=(2, 3))
    sigma = torch.sigmoid(pooled @ layer.weight + layer.bias)
    torch.testing.assert_close(layer.excitation, pooled)
    torch.testing.assert_close(layer.gate, sigma)
    torch.testing.assert_close(out, h * sigma[:, :, None, None])
    assert out.shape == h.shape


def test_gradients_flow_to_gate_parameters():
    layer = ForgettingLayer(3)
    layer(torch.randn(4, 3)).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_features=4, rho=0.0), "rho must be > 0"),
    (dict(num_features=4, rho=-1.0), "rho must be > 0"),
    (dict(num_features=4, rho=float("nan")), "rho must be > 0"),
    (dict(num_features=4, gate="sparse"), "expected one of 'dense', 'diagonal', 'static'"),
    (dict(num_features=0), "positive int"),
])
def test_bad_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ForgettingLayer(**kwargs)


def test_bad_inputs_name_the_expected_value():
    layer = ForgettingLayer(4)
    with pytest.raises(ValueError, match="num_features=4 in dim 1, got 5"):
        layer(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="2-D .* or 4-D .* got 3-D"):
        layer(torch.zeros(2, 4, 3))
    with pytest.raises(ValueError, match="num_features=4 in dim 1, got 3"):
        layer(torch.zeros(2, 3, 8, 8))


def test_forgetting_layers_are_found_in_order():
    model = MLP([10, 8, 6, 3], forgetting=[True, False])
    names = [n for n, _ in forgetting_layers(model)]
    assert names == ["hidden.0.forget"]


def test_a_deep_copy_drops_the_state_of_the_last_forward_and_nothing_else():
    import copy

    from afm import MLP

    torch.manual_seed(0)
    model = MLP([5, 4, 3, 2])
    loss = model(torch.randn(6, 5)).sum()  # the layers now hold graph-attached σ and h
    twin = copy.deepcopy(model)
    assert all(layer.gate is None and layer.excitation is None for _, layer in forgetting_layers(twin))
    assert all(layer.gate is not None for _, layer in forgetting_layers(model))  # the original keeps its
    for (n, p), (m, q) in zip(model.named_parameters(), twin.named_parameters()):
        assert n == m and torch.equal(p, q) and p is not q
    x = torch.randn(3, 5)
    assert torch.equal(model(x), twin(x))
    loss.backward()  # the original's graph is intact
    layer = model.hidden[0].forget
    layer.clear_state()
    assert layer.gate is None and layer.excitation is None


def test_excitatory_of_maps_every_forgetting_layer_of_the_models_to_its_relu():
    from afm import VGG9, LeNet5, MLP
    from afm.models import excitatory_of

    for model in (MLP([5, 4, 3, 2]), LeNet5(), VGG9(width=0.0625)):
        forget = [name for name, _ in forgetting_layers(model)]
        assert [excitatory_of(n) for n in forget] == model.excitatory_names()
    with pytest.raises(ValueError, match="X.forget"):
        excitatory_of("hidden.0.act")
