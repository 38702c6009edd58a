"""The Fisher diagonal of both kinds: the true one (EWC) and the empirical one (OBD's Hessian)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from afm.baselines.fisher import fisher_diagonal
from afm.models import MLP, VGG9


def empirical_fisher_diagonal(model, data, names=None, chunk=None):
    return fisher_diagonal(model, data, kind="empirical", names=names, chunk=chunk)


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
        empirical_fisher_diagonal(model, [(torch.randn(3, 3), torch.zeros(2, dtype=torch.long))])


def _tiny_mlp():
    torch.manual_seed(7)
    model = MLP([4, 5, 3]).double()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.7)
    return model


def _brute(model, x, weight_of_label):
    """mean_n Σ_y w(n, y) (∂ log p(y|x_n)/∂θ)²: one sample and one label per backward pass."""
    out = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for i in range(x.shape[0]):
        for y in range(3):
            w = weight_of_label(i, y)
            if w == 0:
                continue
            model.zero_grad()
            F.log_softmax(model(x[i:i + 1]), 1)[0, y].backward()
            for n, p in model.named_parameters():
                out[n] += w * p.grad ** 2 / x.shape[0]
    return out


def test_both_kinds_equal_their_definitions_on_a_tiny_network():
    model = _tiny_mlp()
    x = torch.randn(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 2, 1, 0])
    p = torch.softmax(model(x), 1).detach()
    true = fisher_diagonal(model, (x, y), kind="true", chunk=4)
    empirical = fisher_diagonal(model, [(x[:4], y[:4]), (x[4:], y[4:])], kind="empirical", chunk=3)
    brute_true = _brute(model, x, lambda i, c: float(p[i, c]))       # every label, weighted by p
    brute_empirical = _brute(model, x, lambda i, c: float(c == y[i]))  # the true label alone
    assert set(true) == set(empirical) == set(brute_true)
    for n in brute_true:
        torch.testing.assert_close(true[n], brute_true[n], rtol=1e-9, atol=1e-12, msg=n)
        torch.testing.assert_close(empirical[n], brute_empirical[n], rtol=1e-9, atol=1e-12, msg=n)


def test_the_true_fisher_is_the_empirical_one_averaged_over_the_model_s_labels():
    """F_true = Σ_y p(y|x) F_emp(x, y): label every sample with each class and weight by p."""
    model = _tiny_mlp()
    x = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    p = torch.softmax(model(x), 1).detach()
    true = fisher_diagonal(model, x)
    mixed = {n: torch.zeros_like(v) for n, v in true.items()}
    for i in range(5):
        for c in range(3):
            one = fisher_diagonal(model, [(x[i:i + 1], torch.tensor([c]))], kind="empirical")
            for n in mixed:
                mixed[n] += p[i, c] * one[n] / 5
    for n in true:
        torch.testing.assert_close(true[n], mixed[n], rtol=1e-9, atol=1e-12, msg=n)
    assert not torch.allclose(true["head.weight"], fisher_diagonal(
        model, [(x, torch.zeros(5, dtype=torch.long))], kind="empirical")["head.weight"])


def test_fisher_kind_and_names():
    model = _tiny_mlp()
    x = torch.randn(3, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="unknown Fisher kind"):
        fisher_diagonal(model, x, kind="sampled")
    assert list(fisher_diagonal(model, x, names=["head.bias"])) == ["head.bias"]
    model.train()
    fisher_diagonal(model, x)
    assert model.training  # restored
