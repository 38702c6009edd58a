"""Eq. (6), (8), (9): hand-computed values, a brute-force pairwise reference, the ends of [0, 1]."""

import itertools

import pytest
import torch

from afm import MLP, ForgettingLayer, forgetting_loss, inhibition_loss, lateral_inhibition_loss
from afm.losses import inhibition_reference, lateral_reference


def loop_lateral(hs, sigmas, reading="asymmetric"):
    """Eq. (8) as scalar Python loops over i != j, per sample, then the batch mean."""
    batch = hs[0].shape[0]
    per_sample = []
    for b in range(batch):
        total = 0.0
        for h, s in zip(hs, sigmas):
            n = h.shape[1]
            for i, j in itertools.product(range(n), range(n)):
                if i == j:
                    continue
                hi, hj, si, sj = (float(v) for v in (h[b, i], h[b, j], s[b, i], s[b, j]))
                factor = (1 - si) * sj if reading == "asymmetric" else 1 - si * sj
                total += hi * hj * factor
        per_sample.append(total)
    return sum(per_sample) / batch


def test_inhibition_hand_computed():
    # sample 1: σ = (0.2, 0.6), layer 2: (0.5,) -> num = .16+.24+.25 = .65, den = .8+.4+.5 = 1.7
    # sample 2: σ = (0, 0), (1,)             -> num = 0,             den = 2
    g1 = torch.tensor([[0.2, 0.6], [0.0, 0.0]])
    g2 = torch.tensor([[0.5], [1.0]])
    expected = (0.65 / 1.7 + 0.0) / 2
    assert inhibition_loss([g1, g2]).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("value, expected", [(0.0, 0.0), (1.0, 1.0), (0.5, 0.5)])
def test_inhibition_is_finite_at_the_ends(value, expected):
    g = torch.full((3, 4), value, requires_grad=True)
    loss = inhibition_loss([g])
    loss.backward()
    assert loss.item() == pytest.approx(expected)
    assert torch.isfinite(g.grad).all()


def test_inhibition_is_a_weighted_mean_in_unit_interval():
    g = torch.rand(16, 7)
    value = inhibition_loss([g]).item()
    assert 0.0 <= value <= 1.0
    w = 1 - g
    assert value == pytest.approx(((w * g).sum(1) / w.sum(1)).mean().item(), rel=1e-6)


@pytest.mark.parametrize("reading", ["asymmetric", "symmetric"])
def test_lateral_equals_pairwise_definition(reading):
    torch.manual_seed(0)
    hs = [torch.rand(3, 5), torch.randn(3, 4)]
    ss = [torch.rand(3, 5), torch.rand(3, 4)]
    fast = lateral_inhibition_loss(hs, ss, reading=reading).item()
    assert fast == pytest.approx(loop_lateral(hs, ss, reading), rel=1e-5, abs=1e-6)
    reference = lateral_reference(hs, ss, reading=reading).item()
    assert reference == pytest.approx(loop_lateral(hs, ss, reading), rel=1e-5, abs=1e-6)


def test_lateral_hand_computed_two_neurons():
    h = torch.tensor([[1.0, 2.0]])
    s = torch.tensor([[0.25, 0.5]])
    # i=0,j=1: 1*2*(1-.25)*.5 = .75 ; i=1,j=0: 2*1*(1-.5)*.25 = .25
    assert lateral_inhibition_loss([h], [s]).item() == pytest.approx(1.0)


def test_lateral_is_asymmetric_as_eq8_says():
    """An essential neuron (large σ) inhibits others more and is inhibited less."""
    h = torch.tensor([[1.0, 1.0]])
    s = torch.tensor([[0.9, 0.1]])
    a = h * (1 - s)
    received = (a[0, 0] * h[0, 1] * s[0, 1], a[0, 1] * h[0, 0] * s[0, 0])
    assert received[0] < received[1]


def test_bad_loss_inputs():
    with pytest.raises(ValueError, match="at least one"):
        inhibition_loss([])
    with pytest.raises(ValueError, match="one excitation tensor per gate"):
        lateral_inhibition_loss([torch.rand(2, 3)], [torch.rand(2, 3), torch.rand(2, 3)])
    with pytest.raises(ValueError, match="must both be"):
        lateral_inhibition_loss([torch.rand(2, 3)], [torch.rand(2, 4)])
    with pytest.raises(ValueError, match="unknown reading"):
        lateral_inhibition_loss([torch.rand(2, 3)], [torch.rand(2, 3)], reading="sym")


def test_forgetting_loss_collects_every_layer():
    torch.manual_seed(1)
    model = MLP([6, 5, 4, 3])
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.normal_()
    model(torch.randn(8, 6))
    layers = [model.hidden[0].forget, model.hidden[1].forget]
    gates = [l.gate for l in layers]
    hs = [l.excitation for l in layers]
    expected = 0.7 * inhibition_loss(gates) + 0.01 * lateral_inhibition_loss(hs, gates)
    torch.testing.assert_close(forgetting_loss(model, 0.7, 0.01), expected)


def test_forgetting_loss_errors():
    with pytest.raises(ValueError, match="has no ForgettingLayer"):
        forgetting_loss(torch.nn.Linear(3, 3), 1.0, 0.0)
    with pytest.raises(RuntimeError, match="call model"):
        forgetting_loss(torch.nn.Sequential(ForgettingLayer(3)), 1.0, 0.0)


@pytest.mark.parametrize("reading", ["asymmetric", "symmetric"])
def test_gradients_match_finite_differences(reading):
    torch.manual_seed(2)
    h = torch.rand(3, 5, dtype=torch.float64, requires_grad=True)
    s = (0.05 + 0.9 * torch.rand(3, 5, dtype=torch.float64)).requires_grad_(True)
    s2 = (0.05 + 0.9 * torch.rand(3, 2, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s, s2: inhibition_loss([s, s2]), (s, s2))
    assert torch.autograd.gradcheck(
        lambda h, s: lateral_inhibition_loss([h], [s], reading=reading), (h, s))


def test_gradients_equal_plain_autograd_of_the_formulas():
    torch.manual_seed(3)
    h = torch.rand(4, 6, requires_grad=True)
    s = torch.rand(4, 6, requires_grad=True)
    (lateral_inhibition_loss([h], [s]) + inhibition_loss([s])).backward()
    fast_h, fast_s = h.grad.clone(), s.grad.clone()
    h.grad = s.grad = None
    a, b = h * (1 - s), h * s
    lat = (a.sum(1) * b.sum(1) - (a * b).sum(1)).mean()
    inh = (((1 - s) * s).sum(1) / (1 - s).sum(1)).mean()
    (lat + inh).backward()
    torch.testing.assert_close(fast_h, h.grad)
    torch.testing.assert_close(fast_s, s.grad)


def _values_and_grads(fn, *tensors):
    tensors = [t.detach().clone().requires_grad_(True) for t in tensors]
    value = fn(*tensors)
    grads = torch.autograd.grad(value, tensors)
    return value.detach(), grads


@pytest.mark.parametrize("fill", [None, 0.0, 1.0])
def test_fused_inhibition_equals_the_reference_in_value_and_gradient(fill):
    """The fused Eq. (6) and the plain one agree, also where every switch is closed or open."""
    gen = torch.Generator().manual_seed(4)
    s1 = torch.rand(5, 7, generator=gen, dtype=torch.float64)
    s2 = torch.rand(5, 3, generator=gen, dtype=torch.float64)
    if fill is not None:  # sample 0 fully closed or fully open (0/0 in Eq. 6 when open)
        s1[0], s2[0] = fill, fill
    fused = _values_and_grads(lambda a, b: inhibition_loss([a, b]), s1, s2)
    plain = _values_and_grads(lambda a, b: inhibition_reference([a, b]), s1, s2)
    torch.testing.assert_close(fused[0], plain[0])
    for g_fused, g_plain in zip(fused[1], plain[1]):
        assert torch.isfinite(g_fused).all()
        torch.testing.assert_close(g_fused, g_plain)


def test_inhibition_reference_takes_the_limit_where_every_switch_is_open():
    assert inhibition_reference([torch.ones(2, 3)]).item() == 1.0
    assert inhibition_reference([torch.zeros(2, 3)]).item() == 0.0


@pytest.mark.parametrize("reading", ["asymmetric", "symmetric"])
def test_fused_lateral_equals_the_double_sum_in_value_and_gradient(reading):
    gen = torch.Generator().manual_seed(5)
    h1, s1 = torch.rand(4, 6, generator=gen, dtype=torch.float64), torch.rand(4, 6, generator=gen, dtype=torch.float64)
    h2, s2 = torch.randn(4, 3, generator=gen, dtype=torch.float64), torch.rand(4, 3, generator=gen, dtype=torch.float64)
    fused = _values_and_grads(lambda *t: lateral_inhibition_loss(t[:2], t[2:], reading), h1, h2, s1, s2)
    plain = _values_and_grads(lambda *t: lateral_reference(t[:2], t[2:], reading), h1, h2, s1, s2)
    torch.testing.assert_close(fused[0], plain[0])
    for g_fused, g_plain in zip(fused[1], plain[1]):
        torch.testing.assert_close(g_fused, g_plain)


def test_references_reject_what_the_losses_reject():
    with pytest.raises(ValueError, match="at least one"):
        inhibition_reference([])
    with pytest.raises(ValueError, match="must both be"):
        lateral_reference([torch.rand(2, 3)], [torch.rand(2, 4)])
    with pytest.raises(ValueError, match="unknown reading"):
        lateral_reference([torch.rand(2, 3)], [torch.rand(2, 3)], reading="sym")
