"""The empirical Fisher diagonal that stands in for the Hessian in optimal brain damage."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from afm.baselines.fisher import empirical_fisher_diagonal, per_sample_gradients
from afm.models import VGG9


def test_fisher_equals_the_mean_squared_per_sample_gradient_in_a_conv_net_with_batch_norm():
    torch.manual_seed(0)
    model = VGG9(width=0.0625, forgetting=True)
    model.train()
    with torch.no_grad():  # running statistics that are not the defaults
        model(torch.randn(16, 3, 32, 32))
    x, y = torch.randn(7, 3, 32, 32), torch.randint(0, 10, (7,))
    names = ["conv.0.main.0.weight", "conv.3.main.1.weight", "hidden.0.forget.weight", "head.weight"]
    fisher = empirical_fisher_diagonal(model, [(x[:5], y[:5]), (x[5:], y[5:])], names, chunk=3)
    assert model.training  # restored
    model.eval()
    brute = {n: torch.zeros_like(p) for n, p in model.named_parameters() if n in names}
    for i in range(7):
        model.zero_grad()
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        for n, p in model.named_parameters():
            if n in brute:
                brute[n] += p.grad ** 2 / 7
    for n in names:
        torch.testing.assert_close(fisher[n], brute[n], rtol=1e-4, atol=1e-10)


def test_empirical_fisher_approaches_the_hessian_when_labels_follow_the_model():
    # logistic regression with labels drawn from the model itself: E[(y - p)² x²] = E[p(1-p) x²],
    # the Hessian diagonal of the mean cross-entropy
    gen = torch.Generator().manual_seed(0)
    w = torch.tensor([[0.8, -0.5, 0.3], [-0.8, 0.5, -0.3]])
    x = torch.randn(60000, 3, generator=gen)
    p = torch.softmax(x @ w.T, dim=1)
    y = torch.multinomial(p, 1, generator=gen)[:, 0]
    model = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(w)
    fisher = empirical_fisher_diagonal(model, [(x, y)], chunk=20000)["weight"]
    hessian = torch.stack([(p[:, c:c + 1] * (1 - p[:, c:c + 1]) * x ** 2).mean(0) for c in range(2)])
    torch.testing.assert_close(fisher, hessian, rtol=0.05, atol=0)


def test_fisher_bad_inputs():
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="no samples"):
        empirical_fisher_diagonal(model, [])
    with pytest.raises(ValueError, match="no parameters"):
        empirical_fisher_diagonal(model, [(torch.randn(2, 3), torch.zeros(2, dtype=torch.long))], ["w"])
    with pytest.raises(ValueError, match="chunk"):
        empirical_fisher_diagonal(model, [], chunk=0)
    with pytest.raises(ValueError, match="length"):
        per_sample_gradients(model, torch.randn(3, 3), torch.zeros(2, dtype=torch.long), ["weight"])
