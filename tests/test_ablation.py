"""Ablation by masking (Fig. 2a-2c): masked units are exactly zero and nothing else changes."""

import numpy as np
import pytest
import torch

from afm import MLP, LeNet5, capture_activations, evaluate
from afm.analysis.ablation import ablate, ablation_curve, area_under, removal_order, units_to_remove


def _mlp(forgetting=True, seed=0):
    torch.manual_seed(seed)
    model = MLP([6, 5, 4, 3], forgetting=forgetting).eval()
    with torch.no_grad():  # non-trivial switches
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def _batches(n=16, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(n, d, generator=g), torch.zeros(n, dtype=torch.long))]


@pytest.mark.parametrize("forgetting", [False, True])
def test_masked_units_are_zero_and_the_rest_of_the_layer_unchanged(forgetting):
    model, data = _mlp(forgetting), _batches()
    before = capture_activations(model, data)
    with ablate(model, {"hidden.0.act": [1, 3]}):
        during = capture_activations(model, data)
    after = capture_activations(model, data)
    h = during["hidden.0.act"]
    assert torch.count_nonzero(h[:, [1, 3]]) == 0
    keep = [0, 2, 4]
    assert torch.equal(h[:, keep], before["hidden.0.act"][:, keep])
    # the hooks are gone after the block
    for name in before:
        assert torch.equal(after[name], before[name])
    # the ablation reaches the next layer (the network's output changes)
    x = data[0][0]
    with ablate(model, {"hidden.0.act": [1, 3]}):
        changed = model(x)
    assert not torch.equal(changed, model(x))


def test_masked_unit_leaves_the_forgetting_layer_as_zero():
    model, data = _mlp(True), _batches()
    out = {}
    hook = model.hidden[0].forget.register_forward_hook(lambda m, i, o: out.setdefault("o", o))
    with ablate(model, {"hidden.0.act": [2]}):
        model(data[0][0])
    hook.remove()
    assert torch.count_nonzero(out["o"][:, 2]) == 0
    assert torch.count_nonzero(out["o"][:, [0, 1, 3, 4]]) > 0


def test_equivalent_to_zeroing_the_weights_by_hand():
    model, data = _mlp(False), _batches()
    x = data[0][0]
    with ablate(model, {"hidden.1.act": [0, 2]}):
        masked = model(x)
    ref = MLP([6, 5, 4, 3], forgetting=False).eval()
    ref.load_state_dict(model.state_dict())
    with torch.no_grad():  # a ReLU output is 0 when its pre-activation is very negative
        ref.hidden[1].main.weight[[0, 2]] = 0.0
        ref.hidden[1].main.bias[[0, 2]] = -1.0
    torch.testing.assert_close(masked, ref(x))


def test_conv_channels_and_boolean_masks():
    torch.manual_seed(0)
    model = LeNet5(forgetting=[True, True, False, False]).eval()
    x = torch.rand(2, 3, 32, 32)
    mask = torch.zeros(16, dtype=torch.bool)
    mask[[3, 7]] = True
    grabbed = {}  # what the forgetting layer receives
    hook = model.conv[1].forget.register_forward_pre_hook(lambda m, i: grabbed.setdefault("h", i[0]))
    with ablate(model, {"conv.1.act": mask, "conv.0.act": []}):
        model(x)
    hook.remove()
    h = grabbed["h"]
    assert h.shape == (2, 16, 10, 10)
    assert torch.count_nonzero(h[:, [3, 7]]) == 0
    assert torch.count_nonzero(h[:, [0, 1, 2]]) > 0


def test_bad_masks():
    model, data = _mlp(), _batches()
    with pytest.raises(ValueError, match="unknown module names"):
        with ablate(model, {"hidden.9.act": [0]}):
            pass
    with pytest.raises(ValueError, match="does not exist"):
        with ablate(model, {"hidden.0.act": [5]}):
            model(data[0][0])
    with pytest.raises(ValueError, match="boolean mask"):
        with ablate(model, {"hidden.0.act": torch.ones(3, dtype=torch.bool)}):
            model(data[0][0])
    with pytest.raises(ValueError, match=">= 0"):
        with ablate(model, {"hidden.0.act": [-1]}):
            pass
    with pytest.raises(ValueError, match="integer indices"):
        with ablate(model, {"hidden.0.act": [0.5]}):
            pass
    # hooks are removed even when the forward pass raised
    model(data[0][0])


def test_removal_orders():
    scores = {"a": torch.tensor([0.9, 0.1, 0.5]), "b": np.array([0.3, 0.7])}
    assert removal_order(scores, "positive") == [("a", 1), ("b", 0), ("a", 2), ("b", 1), ("a", 0)]
    assert removal_order(scores, "inverse") == [("a", 0), ("b", 1), ("a", 2), ("b", 0), ("a", 1)]
    r1, r2 = removal_order(scores, "random", seed=1), removal_order(scores, "random", seed=1)
    assert r1 == r2 and sorted(r1) == sorted(removal_order(scores, "positive"))
    assert removal_order({"a": [0.5, 0.5, 0.1]}, "inverse") == [("a", 0), ("a", 1), ("a", 2)]
    with pytest.raises(ValueError, match="unknown order"):
        removal_order(scores, "backwards")
    with pytest.raises(ValueError, match="1-D"):
        removal_order({"a": [[0.1]]}, "positive")
    with pytest.raises(ValueError, match="NaN"):
        removal_order({"a": [float("nan"), 0.1]}, "positive")


def test_units_to_remove_global_and_per_layer():
    scores = {"a": [0.9, 0.1, 0.5, 0.2], "b": [0.3, 0.8]}
    assert units_to_remove(scores, 0.0, "positive") == {"a": [], "b": []}
    assert units_to_remove(scores, 0.5, "positive") == {"a": [1, 3], "b": [0]}
    assert units_to_remove(scores, 1.0, "inverse") == {"a": [0, 1, 2, 3], "b": [0, 1]}
    assert units_to_remove(scores, 0.5, "inverse", scope="per_layer") == {"a": [0, 2], "b": [1]}
    rand = units_to_remove(scores, 0.5, "random", seed=3)
    assert sum(len(v) for v in rand.values()) == 3
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            units_to_remove(scores, bad, "positive")
    with pytest.raises(ValueError, match="unknown scope"):
        units_to_remove(scores, 0.5, "positive", scope="everywhere")


def test_ablation_curve_ends_and_brute_force():
    torch.manual_seed(0)
    model = MLP([6, 8, 3], forgetting=False).eval()
    x = torch.randn(64, 6)
    y = model(x).argmax(1)  # the model is right everywhere before ablation
    scores = {"hidden.0.act": torch.arange(8.0)}
    accs = ablation_curve(model, (x, y), scores, [0.0, 0.25, 1.0], "positive")
    assert accs[0] == 1.0
    # all hidden units removed: the output is the head's bias, one class for every input
    assert accs[-1] == pytest.approx(float((y == model.head.bias.argmax()).double().mean()))
    with ablate(model, {"hidden.0.act": [0, 1]}):
        assert accs[1] == evaluate(model, (x, y))


def test_area_under():
    assert area_under([0, 0.5, 1], [1, 1, 1]) == pytest.approx(1.0)
    assert area_under([0, 1], [0, 1]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="increasing"):
        area_under([0, 0], [1, 1])
