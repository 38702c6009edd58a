"""The per-sample-gradient engine against a brute-force reference: one sample, one backward pass at a time."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from afm import ForgettingLayer
from afm.baselines import per_sample
from afm.baselines.fisher import _true_fisher_terms, fisher_diagonal
from afm.baselines.per_sample import per_sample_gradient_sum
from afm.models import MLP, VGG9, LeNet5

#: The objectives of the two Fisher kinds, as terms (w, s) of the logits z and labels y.
OBJECTIVES = {
    "true": lambda z, y: _true_fisher_terms(z),                                   # Σ_y p_y (log p_y)'
    "empirical": lambda z, y: [(None, F.cross_entropy(z, y, reduction="none"))],  # ℓ(x_n, y_n)'
}


class Tokens(nn.Module):
    """A Linear applied to every position of a feature map: ``(B, C, H, W) -> (B, H·W, out)``."""

    def __init__(self, c: int, out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(c, out)

    def forward(self, x):
        return self.linear(x.flatten(2).transpose(1, 2))


def _convs() -> nn.Module:
    """Stride, padding (zeros, 'same', reflect, circular), dilation, groups, batch norm 1-D and
    2-D, a forgetting layer on a 4-D input, Linear on 3-D and 2-D inputs."""
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.ReLU(),                               # 9x9 -> 5x5
        nn.Conv2d(4, 4, 3, padding="same", dilation=2, groups=2, padding_mode="reflect"),
        nn.BatchNorm2d(4), ForgettingLayer(4, rho=1.5, gate="diagonal"),
        nn.Conv2d(4, 6, (2, 3), stride=(1, 2), padding=(0, 1), padding_mode="circular", bias=False),
        nn.Tanh(),                                                                       # 4x3
        nn.Conv2d(6, 6, 2, padding="same"),                                              # uneven padding
        Tokens(6, 5), nn.Flatten(), nn.Linear(60, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))


MODELS = {  # name: (model, input shape, classes)
    "mlp_forgetting": (lambda: MLP([6, 5, 4, 3], rho=2.0, gate="dense"), (6,), 3),
    "vgg9_batch_norm": (lambda: VGG9(width=0.0625, forgetting=True), (3, 32, 32), 10),
    "lenet5": (lambda: LeNet5(forgetting=True), (3, 32, 32), 10),
    "conv_stride_padding": (_convs, (2, 9, 9), 3),
}


def _model(name: str, n: int = 5):
    build, shape, classes = MODELS[name]
    torch.manual_seed(0)
    model = build().double()
    with torch.no_grad():  # gates off their zero start; running statistics not the defaults
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
        model.train()(torch.randn(16, *shape, dtype=torch.float64))
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(n, *shape, generator=gen, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=gen)
    return model.eval(), x, y


def brute_force(model, x, y, objective, power):
    """Σ_n Σ_terms w_n |∂ s_n/∂θ|^p with one forward and one backward pass per sample and term."""
    params = dict(model.named_parameters())
    out = {n: torch.zeros_like(p) for n, p in params.items()}
    for i in range(x.shape[0]):
        terms = objective(model(x[i:i + 1]), y[i:i + 1])
        for w, s in terms:
            grads = torch.autograd.grad(s.sum(), list(params.values()), retain_graph=True,
                                        allow_unused=True)
            for n, g in zip(params, grads):
                if g is not None:
                    out[n] += (1 if w is None else w.detach()[0]) * g.abs() ** power
    return out


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # the uneven padding
@pytest.mark.parametrize("power", [1, 2])
@pytest.mark.parametrize("kind", list(OBJECTIVES))
@pytest.mark.parametrize("name", list(MODELS))
def test_engine_equals_one_backward_pass_per_sample(name, kind, power):
    model, x, y = _model(name)
    objective = OBJECTIVES[kind]
    fast = per_sample_gradient_sum(model, x, lambda z: objective(z, y), power)
    slow = brute_force(model, x, y, objective, power)
    assert set(fast) == set(slow) == {n for n, _ in model.named_parameters()}
    for n in slow:
        assert slow[n].abs().sum() > 0, n  # every parameter is exercised
        torch.testing.assert_close(fast[n], slow[n], rtol=1e-9, atol=1e-12, msg=n)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_chunks_of_samples_change_nothing(monkeypatch):
    model, x, y = _model("conv_stride_padding", n=7)
    objective = lambda z: OBJECTIVES["true"](z, y)  # noqa: E731
    whole = per_sample_gradient_sum(model, x, objective)
    monkeypatch.setattr(per_sample, "_CHUNK_NUMBERS", 1)  # one sample at a time in every layer
    one_by_one = per_sample_gradient_sum(model, x, objective)
    for n in whole:
        torch.testing.assert_close(one_by_one[n], whole[n], rtol=1e-12, atol=1e-15, msg=n)


def test_both_fisher_kinds_on_vgg9_are_the_mean_of_the_brute_force_sums():
    model, x, y = _model("vgg9_batch_norm", n=6)
    model.train()  # fisher_diagonal evaluates in eval mode and restores the mode
    true = fisher_diagonal(model, x, chunk=4)
    empirical = fisher_diagonal(model, [(x[:4], y[:4]), (x[4:], y[4:])], kind="empirical", chunk=3)
    assert model.training
    model.eval()
    for kind, fisher in (("true", true), ("empirical", empirical)):
        slow = brute_force(model, x, y, OBJECTIVES[kind], 2)
        for n in slow:
            torch.testing.assert_close(fisher[n], slow[n] / 6, rtol=1e-9, atol=1e-15, msg=(kind, n))


def test_names_select_parameters_and_other_modules_may_be_anything():
    torch.manual_seed(0)
    model = nn.Sequential(nn.LayerNorm(4), nn.Linear(4, 3)).double()
    x, y = torch.randn(5, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1])
    objective = OBJECTIVES["empirical"]
    fast = per_sample_gradient_sum(model, x, lambda z: objective(z, y), names=["1.weight"])
    assert list(fast) == ["1.weight"]
    torch.testing.assert_close(fast["1.weight"], brute_force(model, x, y, objective, 2)["1.weight"])
    with pytest.raises(ValueError, match=r"'0.weight' belongs to module '0' of type LayerNorm.*"
                                         r"supports Linear, Conv2d, BatchNorm"):
        per_sample_gradient_sum(model, x, lambda z: objective(z, y))


def test_a_layer_the_forward_skips_gets_zero():
    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(3, 2), nn.Linear(3, 2)

        def forward(self, x):
            return self.used(x)

    g = per_sample_gradient_sum(Skip(), torch.randn(4, 3), lambda z: [(None, z.sum(1))])
    assert g["unused.weight"].abs().sum() == 0 and g["used.weight"].abs().sum() > 0


def test_what_has_no_per_sample_gradient_raises():
    x = torch.randn(4, 3)
    terms = lambda z: [(None, z.sum(1))]  # noqa: E731
    for model, message in [
        (nn.Sequential(nn.Embedding(3, 2)), "'0' of type Embedding"),
        (nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4).train()), "batch norm '1'.*model.eval"),
        (nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, track_running_stats=False).eval()),
         "batch norm '1'.*batch's statistics"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(inplace=True), nn.Linear(4, 2)), "changed in place"),
    ]:
        with pytest.raises(ValueError, match=message):
            per_sample_gradient_sum(model, x if not isinstance(model[0], nn.Embedding)
                                    else torch.zeros(4, dtype=torch.long), terms)
    twice = nn.Linear(3, 3)
    with pytest.raises(ValueError, match="ran twice"):
        per_sample_gradient_sum(nn.Sequential(twice, nn.Tanh(), twice), x, terms)
    with pytest.raises(ValueError, match="no parameters"):
        per_sample_gradient_sum(twice, x, terms, names=["weights"])
    with pytest.raises(ValueError, match="power"):
        per_sample_gradient_sum(twice, x, terms, power=3)
