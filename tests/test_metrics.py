"""Eq. (1) sparsity by hand, accuracy, and neuron importance Ω."""

import pytest
import torch

from afm import MLP, accuracy, neuron_importance, sparsity
from afm.metrics import activation_frequency


def test_sparsity_hand_computed():
    # r = (1, 0.5, 0, 0.5): mean r = 0.5, mean r² = (1 + .25 + 0 + .25)/4 = .375
    # S = (1 - .25/.375) / (1 - 1/4) = (1/3) / (3/4) = 4/9
    acts = torch.tensor([[1.0, 2.0, 0.0, 0.0],
                         [3.0, 0.0, -1.0, 5.0]])
    torch.testing.assert_close(activation_frequency(acts), torch.tensor([1.0, 0.5, 0.0, 0.5],
                                                                         dtype=torch.float64))
    assert sparsity(acts) == pytest.approx(4 / 9)


def test_sparsity_ends():
    assert sparsity(torch.ones(10, 5)) == 0.0
    one_hot = torch.zeros(10, 5)
    one_hot[:, 2] = 1.0
    assert sparsity(one_hot) == pytest.approx(1.0)
    assert sparsity(torch.zeros(4, 3)) == 1.0


def test_sparsity_threshold():
    acts = torch.tensor([[0.5, 2.0], [0.5, 2.0]])
    assert sparsity(acts, threshold=0.0) == 0.0
    assert sparsity(acts, threshold=1.0) == pytest.approx(1.0)


def test_sparsity_bad_input():
    with pytest.raises(ValueError, match=r"\(num_samples, N\)"):
        sparsity(torch.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        sparsity(torch.tensor([[float("nan"), 1.0]]))
    with pytest.raises(ValueError, match="N >= 2"):
        sparsity(torch.ones(3, 1))


def test_accuracy():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        accuracy(logits, torch.tensor([0, 1]))


def test_neuron_importance_is_mean_gate_over_all_samples():
    torch.manual_seed(0)
    model = MLP([4, 3, 2])
    with torch.no_grad():
        model.hidden[0].forget.weight.normal_()
    x = torch.randn(10, 4)
    batches = [(x[:7], None), (x[7:], None)]  # unequal batches: a true per-sample mean
    omega = neuron_importance(model, batches)["hidden.0.forget"]
    layer = model.hidden[0].forget
    model(x)
    torch.testing.assert_close(omega, layer.gate.mean(0))
    assert omega.shape == (3,)


def test_neuron_importance_needs_forgetting_layers():
    with pytest.raises(ValueError, match="no ForgettingLayer"):
        neuron_importance(MLP([4, 3, 2], forgetting=False), [(torch.zeros(1, 4), None)])


def test_parameter_importance_eq2_by_hand():
    from afm.importance import parameter_importance
    theta = parameter_importance(torch.tensor([0.2, 0.9]), torch.tensor([0.5, 0.0, 1.0]))
    # 1 - (1 - .2)(1 - .5) = .6 ; 1 - .8 * 1 = .2 ; 1 - .8 * 0 = 1 ; row 2: 1 - .1*(.5, 1, 0)
    expected = torch.tensor([[0.6, 0.2, 1.0], [0.95, 0.9, 1.0]])
    torch.testing.assert_close(theta, expected)
    torch.testing.assert_close(parameter_importance(torch.tensor([0.3]), None), torch.tensor([[0.3]]))
    with pytest.raises(ValueError, match="1-D"):
        parameter_importance(torch.zeros(2, 2), None)
