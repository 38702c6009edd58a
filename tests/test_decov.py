"""DeCov (Cogswell et al. 2016): the loss against a direct covariance computation, and the
regulariser's hooks."""

import pytest
import torch

from afm import MLP, TrainConfig, train
from afm.baselines.decov import DeCov, decov_loss
from afm.lab.runs import Run


def direct_decov(h: torch.Tensor) -> torch.Tensor:
    """½ Σ_{i≠j} C_ij² with C from torch.cov (biased, 1/B), element by element."""
    cov = torch.cov(h.T, correction=0)
    n = cov.shape[0]
    return 0.5 * sum(cov[i, j] ** 2 for i in range(n) for j in range(n) if i != j)


def test_decov_matches_direct_covariance():
    h = torch.randn(32, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(decov_loss(h), direct_decov(h))
    relu = torch.relu(h)
    torch.testing.assert_close(decov_loss(relu), direct_decov(relu))


def test_decov_hand_computed_and_invariants():
    # two identical neurons, values 0 and 2: C = [[1, 1], [1, 1]], L = ½ (4 - 2) = 1
    assert decov_loss(torch.tensor([[0.0, 0.0], [2.0, 2.0]])).item() == pytest.approx(1.0)
    # uncorrelated neurons: C diagonal, L = 0, whatever the variances
    h = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]) * torch.tensor([3.0, 0.5])
    assert decov_loss(h).item() == pytest.approx(0.0)
    # a single sample has no covariance; a shift of the batch changes nothing
    assert decov_loss(torch.randn(1, 5)).item() == 0.0
    g = torch.randn(16, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(decov_loss(g + 5.0), decov_loss(g))
    # 4-D maps: per channel after spatial averaging
    maps = torch.randn(8, 3, 2, 2, dtype=torch.float64)
    torch.testing.assert_close(decov_loss(maps), decov_loss(maps.mean(dim=(2, 3))))


def test_decov_bad_input():
    with pytest.raises(ValueError, match=r"\(B, N\)"):
        decov_loss(torch.zeros(3))
    with pytest.raises(TypeError):
        decov_loss([[1.0]])
    with pytest.raises(ValueError, match=">= 0"):
        DeCov(-1.0)
    with pytest.raises(ValueError, match="unknown or no module names"):
        DeCov(1.0, names=["nope"]).attach(MLP([4, 3, 2]))


def test_regulariser_sums_hidden_layers_of_last_forward():
    torch.manual_seed(0)
    model = MLP([6, 5, 4, 3], forgetting=False)
    reg = DeCov(0.5).attach(model)
    x = torch.randn(10, 6)
    model(x)
    h1 = torch.relu(model.hidden[0].main(x))
    h2 = torch.relu(model.hidden[1].main(h1))
    torch.testing.assert_close(reg(model), 0.5 * (decov_loss(h1) + decov_loss(h2)))
    # it is differentiable with respect to the weights
    reg(model).backward()
    assert model.hidden[0].main.weight.grad.abs().sum() > 0
    # the latest forward counts
    x2 = torch.randn(4, 6)
    model(x2)
    h1 = torch.relu(model.hidden[0].main(x2))
    h2 = torch.relu(model.hidden[1].main(h1))
    torch.testing.assert_close(reg(model), 0.5 * (decov_loss(h1) + decov_loss(h2)))
    reg.detach()
    assert not reg.attached_to(model)


def test_lazy_attach_and_errors():
    model = MLP([6, 5, 3], forgetting=False)
    reg = DeCov(1.0)
    model(torch.randn(4, 6))
    assert reg(model).item() == 0.0          # first call attaches, has seen nothing yet
    assert reg.attached_to(model)
    model(torch.randn(4, 6))
    assert reg(model).item() > 0.0
    other = MLP([6, 5, 3])
    fresh = DeCov(1.0).attach(other)
    with pytest.raises(RuntimeError, match="forward pass"):
        fresh(other)
    with pytest.raises(ValueError, match="excitatory_names"):
        DeCov(1.0).attach(torch.nn.Sequential(torch.nn.Linear(2, 2)))


def test_decov_decorrelates_in_training():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 8, generator=g)
    y = (x[:, 0] > 0).long()

    def off_diagonal(strength):
        torch.manual_seed(0)
        model = MLP([8, 16, 2], forgetting=False)
        regs = [DeCov(strength)] if strength else []
        train(model, (x, y), TrainConfig(epochs=5, batch_size=64, lr=0.05), regs, progress=False,
              device=torch.device("cpu"))
        with torch.no_grad():
            return decov_loss(torch.relu(model.hidden[0].main(x))).item()

    assert off_diagonal(1.0) < off_diagonal(0.0)


def test_run_wires_decov():
    spec = Run(forgetting=False, decov=0.1)
    (reg,) = spec.regularisers()
    assert isinstance(reg, DeCov) and reg.strength == 0.1 and reg.name == "decov"
    assert Run(forgetting=False).regularisers() == []
