"""Pruning (Fig. 3b): exact-fraction masks, masks that hold during fine-tuning, OBD, Eq. (2)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import afm
from afm.models import MLP, VGG9
from afm.baselines.pruning import (apply_masks, count_kept, fine_tune, keep_top, kept_fraction, masked,
                         obd_saliency, obd_scores, per_layer_kept, prunable_weights, random_scores,
                         keep_top_per_layer, recalibrate_batch_norm, weight_importance)
from afm.train import TrainConfig


def _scores(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {"a": torch.rand(7, 5, generator=gen), "b": torch.rand(3, 4, 3, 3, generator=gen),
            "c": torch.rand(11, generator=gen)}


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.2, 1 / 3, 0.5, 0.77, 1.0])
def test_keep_top_keeps_exactly_the_fraction_and_the_highest_scores(fraction):
    scores = _scores()
    masks = keep_top(scores, fraction)
    n = sum(s.numel() for s in scores.values())
    assert sum(int(m.sum()) for m in masks.values()) == round(fraction * n)
    assert all(m.shape == scores[k].shape and m.dtype == torch.bool for k, m in masks.items())
    kept = torch.cat([scores[k][m] for k, m in masks.items()])
    removed = torch.cat([scores[k][~m] for k, m in masks.items()])
    if kept.numel() and removed.numel():
        assert kept.min() >= removed.max()  # one global threshold over all tensors
    assert kept_fraction(masks) == pytest.approx(round(fraction * n) / n)


def test_keep_top_is_exact_with_ties():
    scores = {"w": torch.ones(10, 10), "v": torch.ones(7)}
    for fraction in (0.1, 0.25, 0.5, 0.9):
        masks = keep_top(scores, fraction)
        assert sum(int(m.sum()) for m in masks.values()) == round(fraction * 107)


def test_keep_top_iterative_only_removes():
    scores = _scores(1)
    first = keep_top(scores, 0.6)
    # new scores that would prefer some of the removed weights: they stay removed
    second = keep_top({k: -v for k, v in scores.items()}, 0.3, current=first)
    assert all(bool((second[k] <= first[k]).all()) for k in scores)
    n = sum(v.numel() for v in scores.values())
    assert kept_fraction(second) == pytest.approx(round(0.3 * n) / n)
    with pytest.raises(ValueError, match="only removes"):
        keep_top(scores, 0.8, current=first)


def test_keep_top_bad_inputs():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        keep_top(_scores(), 1.5)
    with pytest.raises(ValueError, match="NaN"):
        keep_top({"w": torch.tensor([1.0, float("nan")])}, 0.5)
    with pytest.raises(ValueError, match="at least one"):
        keep_top({}, 0.5)
    assert count_kept([3, 7], 0.25) == 2  # round(2.5) = 2 (banker's rounding)


def test_prunable_weights_of_vgg9_are_its_conv_and_linear_weights():
    model = VGG9(width=0.125, forgetting=True)
    names = list(prunable_weights(model))
    assert names[0] == "conv.0.main.0.weight" and names[-1] == "head.weight"
    assert len(names) == 9  # 6 convolutions + 2 hidden layers + the output layer
    assert not any("forget" in n or "bias" in n for n in names)
    with pytest.raises(ValueError, match="no Linear or Conv"):
        prunable_weights(nn.ReLU())


def test_random_pruning_is_exact_and_seeded():
    model = MLP([20, 16, 8, 4])
    weights = prunable_weights(model)
    m1 = keep_top(random_scores(weights, seed=3), 0.3)
    m2 = keep_top(random_scores(weights, seed=3), 0.3)
    assert all(torch.equal(m1[k], m2[k]) for k in m1)
    assert kept_fraction(m1) == pytest.approx(round(0.3 * 480) / 480)


def test_apply_masks_zeroes_exactly_the_removed_weights():
    torch.manual_seed(0)
    model = MLP([6, 5, 3])
    weights = prunable_weights(model)
    masks = keep_top({k: w.abs() for k, w in weights.items()}, 0.4)
    apply_masks(model, masks)
    nonzero = sum(int((w != 0).sum()) for w in prunable_weights(model).values())
    assert nonzero == sum(int(m.sum()) for m in masks.values())
    with pytest.raises(ValueError, match="shape"):
        apply_masks(model, {"head.weight": torch.ones(2, 2, dtype=torch.bool)})
    with pytest.raises(ValueError, match="no parameter"):
        apply_masks(model, {"nope.weight": torch.ones(1, dtype=torch.bool)})


def test_masks_hold_during_fine_tuning_with_momentum_and_l2():
    torch.manual_seed(0)
    model = MLP([10, 8, 3])
    before = {k: w.detach().clone() for k, w in prunable_weights(model).items()}
    masks = keep_top(random_scores(before, seed=0), 0.5)
    apply_masks(model, masks)
    x, y = torch.randn(64, 10), torch.randint(0, 3, (64,))
    fine_tune(model, (x, y), masks, TrainConfig(epochs=3, batch_size=16, lr=0.1),
              [afm.L2(0.1), afm.Forgetting(1.0, 1e-3)], progress=False)
    after = prunable_weights(model)
    for k, m in masks.items():
        assert bool((after[k][~m] == 0).all())           # removed weights stay exactly zero
        assert not torch.equal(after[k][m], before[k][m])  # kept ones trained
    # the model is an ordinary model again: no weight_orig / weight_mask left behind
    assert all("orig" not in k and "mask" not in k for k in model.state_dict())


def test_masked_context_restores_plain_parameters_on_error():
    model = MLP([4, 3, 2])
    masks = keep_top(random_scores(prunable_weights(model)), 0.5)
    with pytest.raises(RuntimeError):
        with masked(model, masks):
            raise RuntimeError("boom")
    assert set(dict(model.named_parameters())) == {"hidden.0.main.weight", "hidden.0.main.bias",
                                                   "hidden.0.forget.weight", "hidden.0.forget.bias",
                                                   "head.weight", "head.bias"}


def test_obd_saliency_hand_value_and_bad_shapes():
    torch.testing.assert_close(obd_saliency(torch.tensor([2.0, -1.0, 0.0]), torch.tensor([1.0, 4.0, 9.0])),
                               torch.tensor([2.0, 2.0, 0.0]))
    with pytest.raises(ValueError, match="shape"):
        obd_saliency(torch.ones(2), torch.ones(3))


def test_obd_saliency_equals_brute_force_loss_change_on_a_quadratic_at_its_minimum():
    # least squares: L(w) = mean((Xw - y)^2) is quadratic, so at the minimum (gradient 0) the
    # loss change of w_q -> 0 is exactly ½ H_qq w_q², H = 2 XᵀX / n.
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(200, 5, generator=gen, dtype=torch.float64)
    y = X @ torch.tensor([1.5, -0.3, 0.0, 2.0, 0.7], dtype=torch.float64) + 0.1 * torch.randn(200, generator=gen, dtype=torch.float64)
    w = torch.linalg.lstsq(X, y[:, None]).solution[:, 0]
    loss = lambda v: ((X @ v - y) ** 2).mean()
    h = 2 * (X * X).mean(0)
    brute = torch.stack([loss(w - w[q] * torch.eye(5, dtype=torch.float64)[q]) - loss(w) for q in range(5)])
    torch.testing.assert_close(obd_saliency(w, h), brute)


def test_obd_with_the_fisher_ranks_weights_like_the_brute_force_loss_change():
    # a tiny softmax network trained to its minimum: OBD with the empirical Fisher must rank
    # the weights by the loss their removal costs (brute force) nearly as the truth does
    from scipy.stats import spearmanr

    torch.manual_seed(0)
    x = torch.randn(400, 6)
    y = (x[:, 0] + 0.5 * x[:, 1] - x[:, 2] > 0).long() + (x[:, 3] > 1).long()
    model = nn.Sequential(nn.Linear(6, 3))
    opt = torch.optim.LBFGS(model.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y) + 1e-3 * (model[0].weight ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    scores = obd_scores(model, [(x, y)])["0.weight"].flatten()
    w = model[0].weight.detach().clone()
    base = F.cross_entropy(model(x), y).item()
    brute = []
    for q in range(w.numel()):
        with torch.no_grad():
            model[0].weight.view(-1)[q] = 0.0
            brute.append(F.cross_entropy(model(x), y).item() - base)
            model[0].weight.copy_(w)
    assert spearmanr(scores.numpy(), brute).statistic > 0.9


def test_weight_importance_is_eq2_on_an_mlp():
    model = MLP([4, 3, 2, 2])
    omega = {"hidden.0.forget": torch.tensor([0.1, 0.5, 0.9]), "hidden.1.forget": torch.tensor([0.2, 0.0])}
    theta = weight_importance(model, omega)
    # first layer: the inputs have no forgetting layer, Ω = 0: θ_ij = Ω_i
    torch.testing.assert_close(theta["hidden.0.main.weight"], torch.tensor([0.1, 0.5, 0.9])[:, None].expand(3, 4))
    # second layer: θ_ij = 1 - (1 - Ω_i)(1 - Ω_j), by hand for (i=0, j=2): 1 - 0.8·0.1 = 0.92
    assert theta["hidden.1.main.weight"][0, 2].item() == pytest.approx(0.92)
    torch.testing.assert_close(theta["hidden.1.main.weight"],
                               1 - (1 - omega["hidden.1.forget"])[:, None] * (1 - omega["hidden.0.forget"])[None, :])
    # the output logits have no forgetting layer: θ_ij = Ω_j of the last hidden layer
    torch.testing.assert_close(theta["head.weight"], torch.tensor([[0.2, 0.0], [0.2, 0.0]]))
    with pytest.raises(ValueError, match="lacks"):
        weight_importance(model, {"hidden.0.forget": torch.zeros(3)})


def test_weight_importance_on_vgg9_broadcasts_over_kernels_and_flattened_maps():
    model = VGG9(width=0.125, forgetting=True)
    gen = torch.Generator().manual_seed(0)
    omega = {name: torch.rand(layer.num_features, generator=gen)
             for name, layer in afm.forgetting_layers(model)}
    theta = weight_importance(model, omega)
    weights = prunable_weights(model)
    assert {k: v.shape for k, v in theta.items()} == {k: v.shape for k, v in weights.items()}
    t = theta["conv.1.main.0.weight"]  # (8, 8, 3, 3): one value per (out, in) channel pair
    assert bool((t == t[:, :, :1, :1]).all())
    assert t[3, 5, 0, 0].item() == pytest.approx(
        1 - (1 - omega["conv.1.forget"][3].item()) * (1 - omega["conv.0.forget"][5].item()))
    fc = theta["hidden.0.main.weight"]  # (64, 32·4·4): input j is channel j // 16 of conv.5
    j = 16 * 7 + 3
    assert fc[2, j].item() == pytest.approx(
        1 - (1 - omega["hidden.0.forget"][2].item()) * (1 - omega["conv.5.forget"][7].item()))
    torch.testing.assert_close(theta["conv.0.main.0.weight"][:, :, 0, 0],
                               omega["conv.0.forget"][:, None].expand(8, 3))
    assert per_layer_kept(keep_top(theta, 0.5))["head.weight"] >= 0.0


def test_weight_importance_outside_reading():
    model = MLP([4, 3, 2])
    omega = {"hidden.0.forget": torch.tensor([0.1, 0.5, 0.9])}
    theta = weight_importance(model, omega, outside=1.0)
    # a neuron no switch can close counts as Ω = 1: every weight touching it gets θ = 1
    assert bool((theta["hidden.0.main.weight"] == 1).all()) and bool((theta["head.weight"] == 1).all())
    theta = weight_importance(model, omega, outside=0.5)
    assert theta["head.weight"][0, 0].item() == pytest.approx(1 - 0.5 * 0.9)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        weight_importance(model, omega, outside=2.0)


def test_recalibrate_batch_norm_sets_the_statistics_of_the_data():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    model[1].momentum = 0.3
    model.eval()
    x = 2.0 + 3.0 * torch.randn(40, 3, 8, 8)
    recalibrate_batch_norm(model, [(x[:20], None), (x[20:], None)])
    z = model[0](x).detach()  # what batch norm sees
    torch.testing.assert_close(model[1].running_mean, z.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    per_batch_var = torch.stack([z[:20].var((0, 2, 3)), z[20:].var((0, 2, 3))]).mean(0)
    torch.testing.assert_close(model[1].running_var, per_batch_var, rtol=1e-3, atol=1e-4)
    assert not model.training and model[1].momentum == 0.3  # restored
    with pytest.raises(ValueError, match="empty"):
        recalibrate_batch_norm(model, [])
    assert recalibrate_batch_norm(MLP([4, 3, 2]), []) is not None  # no batch norm: nothing to do


def test_keep_top_per_layer_keeps_the_same_share_of_every_tensor():
    scores = _scores(2)
    for fraction in (0.0, 0.3, 0.5, 1.0):
        masks = keep_top_per_layer(scores, fraction)
        for k, m in masks.items():
            assert int(m.sum()) == round(fraction * scores[k].numel())
            if 0 < int(m.sum()) < m.numel():
                assert scores[k][m].min() >= scores[k][~m].max()
