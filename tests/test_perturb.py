"""Perturbed neurons (Fig. 4b): exactly the chosen neurons' incoming weights change."""

import numpy as np
import pytest
import torch

from afm import MLP, LeNet5, evaluate
from afm.analysis.perturb import choose_neurons, neuron_layers, perturb_neurons, perturbation_curve


def model():
    torch.manual_seed(0)
    return MLP([12, 20, 16, 4])


def test_neuron_layers():
    assert neuron_layers(model()) == ["hidden.0.main", "hidden.1.main", "head"]


def test_only_chosen_rows_change():
    net = model()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    copy, neurons = perturb_neurons(net, "hidden.1.main", 0.25, 1.0, torch.Generator().manual_seed(3))
    assert len(neurons) == 4 and len(set(neurons.tolist())) == 4       # round(0.25 · 16)
    for k, v in net.state_dict().items():                              # the original is untouched
        assert torch.equal(v, before[k])
    after = copy.state_dict()
    for k, v in before.items():
        if k != "hidden.1.main.weight":
            assert torch.equal(after[k], v), k                         # bias, gates, other layers
    w, w0 = after["hidden.1.main.weight"], before["hidden.1.main.weight"]
    changed = (w != w0).all(dim=1)                                    # every incoming weight moved
    assert changed.nonzero().flatten().tolist() == neurons.tolist()   # exactly the chosen rows
    unchanged = [i for i in range(16) if i not in neurons.tolist()]
    assert torch.equal(w[unchanged], w0[unchanged])                   # the others bit-identical


def test_noise_scale_is_relative_to_layer_std():
    torch.manual_seed(0)
    net = MLP([400, 300, 2], forgetting=False)
    w = net.hidden[0].main.weight.detach().clone()
    copy, neurons = perturb_neurons(net, "hidden.0", 1.0, 2.0, torch.Generator().manual_seed(0))
    noise = copy.hidden[0].main.weight.detach() - w
    assert len(neurons) == 300
    assert noise.std().item() == pytest.approx(2.0 * w.std(correction=0).item(), rel=0.02)
    assert abs(noise.mean().item()) < 0.01 * w.std().item() * 2


def test_fraction_ends_and_zero_std():
    net = model()
    same, none = perturb_neurons(net, "head", 0.0, 1.0, torch.Generator().manual_seed(0))
    assert len(none) == 0 and torch.equal(same.head.weight, net.head.weight)
    _, every = perturb_neurons(net, "head", 1.0, 1.0, torch.Generator().manual_seed(0))
    assert every.tolist() == [0, 1, 2, 3]
    still, _ = perturb_neurons(net, "head", 1.0, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(still.head.weight, net.head.weight)


def test_same_seed_same_neurons():
    a = choose_neurons(64, 0.3, torch.Generator().manual_seed(5))
    b = choose_neurons(64, 0.3, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and len(a) == 19


def test_conv_channels():
    torch.manual_seed(0)
    net = LeNet5(forgetting=False)
    copy, neurons = perturb_neurons(net, "conv.1.main", 0.5, 1.0, torch.Generator().manual_seed(0))
    changed = (copy.conv[1].main.weight != net.conv[1].main.weight).flatten(1).any(1)
    assert changed.nonzero().flatten().tolist() == neurons.tolist() and len(neurons) == 8


def test_bad_inputs():
    net = model()
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        perturb_neurons(net, "head", 1.5, 1.0, g)
    with pytest.raises(ValueError, match="std_rel"):
        perturb_neurons(net, "head", 0.5, -1.0, g)
    with pytest.raises(ValueError, match="unknown layer 'hidden.0.forget'"):
        perturb_neurons(net, "hidden.0.forget", 0.5, 1.0, g)
    with pytest.raises(ValueError, match="repeats"):
        perturbation_curve(net, "head", [0.0], 0, 1.0, (torch.zeros(2, 12), torch.zeros(2).long()))


def test_perturbation_curve():
    net = model()
    x = torch.randn(64, 12, generator=torch.Generator().manual_seed(1))
    y = net(x).argmax(1).detach()                     # the clean network is 100 % right
    curve = perturbation_curve(net, "hidden.0.main", [0.0, 0.5, 1.0], 3, 5.0, (x, y), seed=0)
    assert curve.shape == (3, 3)
    np.testing.assert_array_equal(curve[0], [1.0, 1.0, 1.0])
    assert curve[2].mean() < 1.0
    again = perturbation_curve(net, "hidden.0.main", [0.0, 0.5, 1.0], 3, 5.0, (x, y), seed=0)
    np.testing.assert_array_equal(curve, again)
    assert evaluate(net, (x, y)) == 1.0               # the network itself was not changed


@pytest.mark.parametrize("forgetting", [True, False])
@pytest.mark.parametrize("layer", ["hidden.0.main", "hidden.1", "head"])
def test_fast_mlp_curve_equals_whole_network_evaluation(layer, forgetting, monkeypatch):
    import afm.analysis.perturb as perturb_mod

    torch.manual_seed(1)
    net = MLP([12, 20, 16, 4], forgetting=forgetting)
    x = torch.randn(300, 12, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = net(x).argmax(1)                          # the clean network is 100 % right
    fast = perturbation_curve(net, layer, [0.0, 0.3, 1.0], 2, 10.0, (x, y), seed=4)
    monkeypatch.setattr(perturb_mod, "_mlp_split", lambda *args: None)   # whole-network path
    slow = perturbation_curve(net, layer, [0.0, 0.3, 1.0], 2, 10.0, (x, y), seed=4)
    np.testing.assert_array_equal(fast, slow)
    assert (fast[0] == 1.0).all() and fast[2].mean() < 1.0


def test_copy_drops_the_gates_of_a_past_forward():
    net = model()
    net(torch.randn(5, 12))                            # gates with a graph, not leaves
    copy, _ = perturb_neurons(net, "head", 0.5, 1.0, torch.Generator().manual_seed(0))
    assert net.hidden[0].forget.gate is not None
    assert copy.hidden[0].forget.gate is None and copy.hidden[0].forget.excitation is None
    assert copy(torch.randn(3, 12)).shape == (3, 4)
