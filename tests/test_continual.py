"""The continual-learning strategies of Fig. 5: multi-head model, importances, penalties, sequences."""


import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

import afm
from afm.baselines import continual as cl
from afm.baselines import fisher
from afm.train import TrainConfig

from conftest import REAL_DATA as SHARED_DATA


def tiny(forgetting=True, gate="dense", n_tasks=3, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    model = cl.MultiHeadMLP((6, 5, 4), n_tasks=n_tasks, n_classes=3, forgetting=forgetting,
                            gate=gate).to(dtype)
    with torch.no_grad():  # move the gates off their zero start, so every term is exercised
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def tagged(n=7, task=0, seed=1, dtype=torch.float64, d=6):
    g = torch.Generator().manual_seed(seed)
    return cl.tag(torch.rand(n, d, generator=g, dtype=dtype), task)


def brute_force(model, x, per_sample_terms, power):
    """Σ_n Σ_terms w |∂s/∂θ|^p with one backward pass per sample and term."""
    out = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for i in range(x.shape[0]):
        logits = model(x[i:i + 1])
        for w, s in per_sample_terms(logits):
            grads = torch.autograd.grad(s.sum(), list(model.parameters()), retain_graph=True,
                                        allow_unused=True)
            for (n, p), g in zip(model.named_parameters(), grads):
                if g is not None:
                    out[n] += (1.0 if w is None else float(w.detach())) * g.abs() ** power
    return out


# --------------------------------------------------------------------------- the model


def test_tag_and_shapes():
    x = cl.tag(torch.ones(2, 1, 2, 2), 4)
    assert x.shape == (2, 5) and x[:, -1].tolist() == [4.0, 4.0]
    model = cl.MultiHeadMLP((784, 512, 256), n_tasks=10)
    assert model(cl.tag(torch.zeros(3, 1, 28, 28), 9)).shape == (3, 10)
    assert model.excitatory_names() == ["hidden.0.act", "hidden.1.act"]
    assert not any(n.startswith("heads") for n in model.shared_parameters())
    with pytest.raises(ValueError, match="tagged inputs"):
        model(torch.zeros(3, 784))
    with pytest.raises(ValueError, match=r"task ids must lie in \[0, 10\)"):
        model(cl.tag(torch.zeros(1, 784), 10))
    with pytest.raises(ValueError, match="non-negative integer"):
        cl.tag(torch.zeros(1, 3), -1)
    with pytest.raises(ValueError, match="at least one hidden layer"):
        cl.MultiHeadMLP((784,))


def test_task_heads_are_independent():
    model = tiny()
    x0, x1 = tagged(task=0), tagged(task=1, seed=2)
    # a mixed batch is answered as if each task came alone
    both = model(torch.cat([x0, x1]))
    torch.testing.assert_close(both, torch.cat([model(x0), model(x1)]))
    # task 0's loss sends no gradient to any other head
    F.cross_entropy(model(x0), torch.zeros(len(x0), dtype=torch.long)).backward()
    assert model.heads[0].weight.grad.abs().sum() > 0
    for head in model.heads[1:]:
        assert head.weight.grad is None or head.weight.grad.abs().sum() == 0
    # changing head 2 changes nothing for task 0
    before = model(x0).detach()
    with torch.no_grad():
        model.heads[2].weight.add_(1.0)
    torch.testing.assert_close(model(x0), before)


# --------------------------------------------------------------------------- importances


@pytest.mark.parametrize("gate", ["dense", "diagonal", "static"])
@pytest.mark.parametrize("forgetting", [False, True])
def test_per_sample_sums_match_brute_force(gate, forgetting):
    model = tiny(forgetting=forgetting, gate=gate)
    x = torch.cat([tagged(task=0), tagged(n=5, task=2, seed=3)])
    fisher_terms = fisher._true_fisher_terms
    mas_terms = lambda z: [(None, (z * z).sum(1))]  # noqa: E731
    for terms, power in ((fisher_terms, 2), (mas_terms, 1)):
        fast = cl.per_sample_gradient_sum(model, x, terms, power)
        slow = brute_force(model, x, terms, power)
        assert set(fast) == set(slow)
        for name in slow:
            torch.testing.assert_close(fast[name], slow[name], rtol=1e-9, atol=1e-12, msg=name)


def test_fisher_diagonal_is_the_true_fisher():
    """F = mean_n Σ_y p(y|x_n) (∂ log p(y|x_n)/∂θ)², one sample and one class at a time."""
    model = tiny()
    x = tagged(n=9)
    fisher = cl.fisher_diagonal(model, TensorDataset(x, torch.zeros(9, dtype=torch.long)),
                                chunk=4)  # chunks must not matter
    expected = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for i in range(9):
        log_p = F.log_softmax(model(x[i:i + 1]), 1)[0]
        for y in range(3):
            grads = torch.autograd.grad(log_p[y], list(model.parameters()), retain_graph=True,
                                        allow_unused=True)
            for (n, _), g in zip(model.named_parameters(), grads):
                if g is not None:
                    expected[n] += log_p[y].exp().detach() * g ** 2 / 9
    for n in expected:
        torch.testing.assert_close(fisher[n], expected[n], rtol=1e-9, atol=1e-12, msg=n)
    # heads of tasks the data does not use get no importance
    assert fisher["heads.1.weight"].abs().sum() == 0


def test_mas_importance_by_hand_on_a_linear_layer():
    """For f(x) = W x: ∂‖Wx‖²/∂W = 2 (W x) xᵀ, so Ω = mean_n |2 (W x_n) x_nᵀ|."""
    lin = torch.nn.Linear(3, 2, bias=False).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    omega = cl.mas_importance(lin, x)["weight"]
    expected = torch.stack([(2 * (lin.weight @ xi)[:, None] * xi[None, :]).abs() for xi in x]).mean(0)
    torch.testing.assert_close(omega, expected.detach())


def test_anpyc_importance_by_hand():
    model = tiny()
    x = tagged(n=6)
    omega = cl.anpyc_importance(model, x)
    log_p = F.log_softmax(model(x), 1)
    entropy = -(log_p.exp() * log_p).sum(1).mean()
    grads = torch.autograd.grad(entropy, list(model.parameters()), allow_unused=True)
    for (n, p), g in zip(model.named_parameters(), grads):
        g = torch.zeros_like(p) if g is None else g
        expected = torch.clamp(g * p + 0.5 * p ** 2 * g ** 2, min=0).detach()
        torch.testing.assert_close(omega[n], expected, msg=n)
        assert (omega[n] >= 0).all()


def test_importances_reject_unsupported_layers_and_empty_data():
    conv = torch.nn.Sequential(torch.nn.Conv1d(1, 2, 3), torch.nn.Flatten())
    with pytest.raises(ValueError, match="'0' of type Conv1d.*supports Linear, Conv2d"):
        cl.fisher_diagonal(conv, torch.zeros(2, 1, 4))
    with pytest.raises(ValueError, match="'0' of type Conv1d"):
        cl.mas_importance(conv, torch.zeros(2, 1, 4))
    with pytest.raises(ValueError, match="non-empty"):
        cl.fisher_diagonal(tiny(), torch.zeros(0, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match="power"):
        cl.per_sample_gradient_sum(tiny(), tagged(), fisher._true_fisher_terms, power=3)


# --------------------------------------------------------------------------- penalties


def test_penalty_is_zero_at_the_anchor_and_quadratic_around_it():
    model = tiny()
    ewc = cl.EWC(strength=4.0, samples=5)
    assert ewc(model).item() == 0.0  # nothing consolidated yet
    data = TensorDataset(tagged(n=5), torch.zeros(5, dtype=torch.long))
    ewc.after_task(model, 0, data)
    assert ewc(model).item() == pytest.approx(0.0, abs=1e-12)
    fisher = cl.fisher_diagonal(model.eval(), data.tensors[0])
    with torch.no_grad():
        model.hidden[0].main.weight.add_(0.1)
    expected = 0.5 * 4.0 * (fisher["hidden.0.main.weight"] * 0.01).sum()
    assert ewc(model).item() == pytest.approx(expected.item(), rel=1e-9)
    # the penalty pulls back towards θ*: its gradient is strength · F · (θ − θ*)
    (grad,) = torch.autograd.grad(ewc(model), [model.hidden[0].main.weight])
    torch.testing.assert_close(grad, 4.0 * fisher["hidden.0.main.weight"] * 0.1)
    # heads are not penalised
    assert all(not k.startswith("heads") for k in ewc.omega)


def test_separate_penalties_merge_exactly():
    """EWC's Σ_t F_t (θ − θ_t)², kept as one quadratic, equals the sum over tasks."""
    model = tiny()
    shared = model.shared_parameters()
    g = torch.Generator().manual_seed(0)
    tasks = [({k: torch.rand(p.shape, generator=g, dtype=p.dtype) for k, p in shared.items()},
              {k: torch.randn(p.shape, generator=g, dtype=p.dtype) for k, p in shared.items()})
             for _ in range(3)]
    tasks[1][0]["hidden.0.main.bias"].zero_()  # zero importance somewhere
    separate, accumulate = cl.EWC(2.0, mode="separate"), cl.EWC(2.0, mode="accumulate")
    for omega, theta in tasks:
        separate.consolidate(omega, theta)
        accumulate.consolidate(omega, theta)
    expected = 0.5 * 2.0 * sum((omega[k] * (shared[k] - theta[k]) ** 2).sum()
                               for omega, theta in tasks for k in shared)
    assert separate(model).item() == pytest.approx(expected.item(), rel=1e-9)
    # "accumulate": summed importance, the latest anchor
    last = tasks[-1][1]
    expected_acc = 0.5 * 2.0 * sum((sum(t[0][k] for t in tasks) * (shared[k] - last[k]) ** 2).sum()
                                   for k in shared)
    assert accumulate(model).item() == pytest.approx(expected_acc.item(), rel=1e-9)


def test_strategy_arguments_are_checked():
    with pytest.raises(ValueError, match="strength"):
        cl.MAS(-1.0)
    with pytest.raises(ValueError, match="samples"):
        cl.EWC(1.0, samples=0)
    with pytest.raises(ValueError, match="unknown mode"):
        cl.EWC(1.0, mode="online")
    with pytest.raises(ValueError, match="xi"):
        cl.SynapticIntelligence(1.0, xi=0.0)
    bad = cl.MAS(1.0)
    model = tiny()
    with pytest.raises(ValueError, match=">= 0"):
        bad.consolidate({k: -torch.ones_like(p) for k, p in model.shared_parameters().items()},
                        {k: p.detach() for k, p in model.shared_parameters().items()})


def test_synaptic_intelligence_path_integral():
    """With plain SGD, Δθ = −lr·g, so ω = Σ_t lr g_t², and Ω = ω / ((θ_end − θ_start)² + ξ)."""
    model = tiny(forgetting=False)
    si = cl.SynapticIntelligence(strength=0.0, xi=0.5)
    si.before_task(model, 0)
    start = {k: p.detach().clone() for k, p in model.shared_parameters().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = tagged(n=8), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    expected = {k: torch.zeros_like(p) for k, p in start.items()}
    for step in range(5):  # the order of afm.train: forward, loss, zero_grad, backward, step, callbacks
        loss = F.cross_entropy(model(x), y) + si(model)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for k, p in model.shared_parameters().items():
            expected[k] += 0.1 * p.grad ** 2
        optimizer.step()
        si.on_step(model, step, loss.item())
    si.after_task(model, 0, None)
    for k, p in model.shared_parameters().items():
        omega = expected[k] / ((p.detach() - start[k]) ** 2 + 0.5)
        torch.testing.assert_close(si.omega[k], omega, msg=k)
        torch.testing.assert_close(si.anchor[k], p.detach())
    with pytest.raises(RuntimeError, match="before_task"):
        cl.SynapticIntelligence(1.0).on_step(model, 0, 0.0)
    assert si.callbacks() == [si] and si.regularisers() == [si]


class RegulariserSI(cl.SynapticIntelligence):
    """SI as it was before afm.train had callbacks: the path accumulated inside the regulariser's
    call (after the forward, before the backward: p.grad still holds the previous step's gradient),
    the last step in after_task."""

    def callbacks(self):
        return []

    def before_task(self, model, task):
        super().before_task(model, task)
        self._previous = None

    def _accumulate(self, model):
        shared = cl.shared_parameters(model)
        if self._previous is not None:
            for k, p in shared.items():
                if p.grad is not None:
                    self._path[k] = self._path[k] - p.grad.detach() * (p.detach() - self._previous[k])
        self._previous = {k: p.detach().clone() for k, p in shared.items()}

    def __call__(self, model):
        self._accumulate(model)
        return self.penalty(model)

    def after_task(self, model, task, data=None):
        self._accumulate(model)
        super().after_task(model, task, data)


def test_synaptic_intelligence_as_a_callback_gives_the_numbers_it_gave_as_a_regulariser():
    tasks = [cl.tag_dataset(TensorDataset(*toy_task(seed=t)), t) for t in range(3)]
    results = []
    for strategy in (cl.SynapticIntelligence(1.0), RegulariserSI(1.0)):
        torch.manual_seed(1)
        model = cl.MultiHeadMLP((6, 8, 5), n_tasks=3, n_classes=3, forgetting=True)
        seq = cl.train_sequence(model, strategy, tasks, tasks, TrainConfig(epochs=2, batch_size=16, seed=3),
                                regularisers=[afm.Forgetting(0.5, 0.01)], progress=False)
        results.append((strategy.omega, seq.accuracy, model.state_dict()))
    (omega, acc, params), (omega_old, acc_old, params_old) = results
    assert set(omega) == set(omega_old) and len(omega) == 8
    for k in omega:
        assert torch.equal(omega[k], omega_old[k]), k
    np.testing.assert_array_equal(acc, acc_old)
    for k in params:
        assert torch.equal(params[k], params_old[k]), k


# --------------------------------------------------------------------------- sequences


def toy_tasks(n_tasks=2, n=200, d=6, seed=0):
    """Linearly separable 3-class tasks, each with its own class means."""
    g = torch.Generator().manual_seed(seed)
    tasks = []
    for t in range(n_tasks):
        centers = torch.randn(3, d, generator=g) * 3
        y = torch.randint(0, 3, (n,), generator=g)
        x = centers[y] + torch.randn(n, d, generator=g)
        tasks.append(TensorDataset(cl.tag(x, t), y))
    return tasks


@pytest.mark.parametrize("strategy", [cl.Naive(), cl.EWC(10.0, samples=50), cl.MAS(1.0, samples=50),
                                      cl.SynapticIntelligence(1.0), cl.ANPyC(10.0, samples=50)])
def test_train_sequence_runs_every_strategy(strategy):
    torch.manual_seed(0)
    model = cl.MultiHeadMLP((6, 16, 8), n_tasks=2, n_classes=3, forgetting=True)
    tasks = toy_tasks()
    result = cl.train_sequence(model, strategy, tasks, tasks, TrainConfig(epochs=3, lr=0.01, batch_size=32,
                               optimizer="adam"), regularisers=[afm.Forgetting(0.1, 1e-5)],
                               progress=False)
    acc = result.accuracy
    assert acc.shape == (2, 2) and np.isnan(acc[0, 1]) and not np.isnan(acc[1]).any()
    assert acc[0, 0] > 0.8 and len(result.seconds) == 2


def test_strong_consolidation_keeps_the_important_weights_in_place():
    """After task 2, Σ F (θ − θ*)² (the distance EWC measures) is far smaller with EWC."""
    def fisher_distance(strategy):
        torch.manual_seed(0)
        model = cl.MultiHeadMLP((6, 16, 8), n_tasks=2, n_classes=3)
        tasks = toy_tasks()
        cfg = TrainConfig(epochs=3, lr=0.01, batch_size=32, optimizer="adam")
        strategy.before_task(model, 0)
        afm.train(model, tasks[0], cfg, strategy.regularisers(), progress=False)
        strategy.after_task(model, 0, tasks[0])
        anchor = {k: p.detach().clone() for k, p in model.shared_parameters().items()}
        fisher = cl.fisher_diagonal(model, tasks[0])
        strategy.before_task(model, 1)
        afm.train(model, tasks[1], cfg, strategy.regularisers(), progress=False)
        return sum((fisher[k] * (p.detach() - anchor[k]) ** 2).sum()
                   for k, p in model.shared_parameters().items()).item()

    assert fisher_distance(cl.EWC(1e4, samples=200)) < 0.1 * fisher_distance(cl.Naive())


def test_joint_training_is_one_model_on_every_task():
    torch.manual_seed(0)
    model = cl.MultiHeadMLP((6, 16, 8), n_tasks=3, n_classes=3)
    tasks = toy_tasks(3)
    result = cl.train_sequence(model, cl.JointTraining(), tasks, tasks,
                               TrainConfig(epochs=3, lr=0.01, batch_size=32, optimizer="adam"), progress=False)
    acc = result.accuracy
    assert acc[2].min() > 0.8
    np.testing.assert_array_equal(acc[1, :2], acc[2, :2])  # every row: the same final model
    assert np.isnan(acc[0, 1:]).all() and len(result.seconds) == 1
    with pytest.raises(ValueError, match="one evaluation set per training task"):
        cl.train_sequence(model, cl.Naive(), tasks, tasks[:2])


def test_curves_from_the_accuracy_matrix():
    acc = np.array([[0.9, np.nan, np.nan], [0.8, 0.95, np.nan], [0.7, 0.9, 1.0]])
    np.testing.assert_allclose(cl.first_task_accuracy(acc), [0.9, 0.8, 0.7])
    np.testing.assert_allclose(cl.average_accuracy(acc), [0.9, 0.875, 0.8666666666666667])
    assert cl.learning_accuracy(acc) == pytest.approx((0.9 + 0.95 + 1.0) / 3)
    assert cl.backward_transfer(acc) == pytest.approx(((0.7 - 0.9) + (0.9 - 0.95)) / 2)
    assert np.isnan(cl.backward_transfer(np.array([[0.5]])))
    with pytest.raises(ValueError, match="square"):
        cl.average_accuracy(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="square"):
        cl.backward_transfer(np.zeros((0, 0)))


# --------------------------------------------------------------------------- Fig. 5c


def test_polarisation_and_gini_by_hand():
    p = cl.polarisation_shares(np.array([0.0, 0.05, 1.0, 2.0, 96.9]))  # mean 20: u = 0, .0025, .05, .1, 4.8
    assert p["near_zero"] == pytest.approx(0.6) and p["top"] == 0.0
    assert p["middle"] == pytest.approx(0.4)
    q = cl.polarisation_shares(np.array([0.0] * 98 + [1.0, 1.0]), bounds=(0.1, 10.0))  # u = 0 or 50
    assert q["near_zero"] == pytest.approx(0.98) and q["top"] == pytest.approx(0.02)
    assert q["top_mass"] == pytest.approx(1.0) and q["middle"] == pytest.approx(0.0)
    # scale-free
    w = np.random.default_rng(0).exponential(size=1000)
    assert cl.polarisation_shares(w) == pytest.approx(cl.polarisation_shares(1e-6 * w))
    assert cl.gini(np.ones(4)) == pytest.approx(0.0)
    assert cl.gini(np.array([0.0, 0.0, 0.0, 1.0])) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="not all zero"):
        cl.polarisation_shares(np.zeros(3))
    with pytest.raises(ValueError, match="bounds"):
        cl.polarisation_shares(np.ones(3), bounds=(2.0, 10.0))
    with pytest.raises(ValueError, match="non-negative"):
        cl.gini(np.array([-1.0, 2.0]))


# --------------------------------------------------------------------------- the chapter's data


def test_chapter_specs_are_checked():
    from afm.experiments.long_memory import cl_spec, method_of
    with pytest.raises(ValueError, match="unknown method"):
        cl_spec("smoke", method="lwf")
    with pytest.raises(ValueError, match="split"):
        cl_spec("smoke", split="train")
    run = cl_spec("smoke", method="ewc_f", strength=10.0, lam=1.0)
    assert run.forgetting and method_of(run) == "ewc_f" and run.strategy_setting("strength") == 10.0
    assert [type(r).__name__ for r in run.regularisers()] == ["Forgetting"]
    assert not cl_spec("smoke", method="ewc").forgetting


@pytest.mark.usefixtures("real_mnist")
def test_task_data_equals_permuted_mnist(monkeypatch, tmp_path):
    from afm.experiments.long_memory import task_data, task_indices
    monkeypatch.setenv("AFM_DATA_DIR", str(SHARED_DATA))
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("AFM_OFFLINE", "1")
    for split, train in (("train", True), ("test", False)):
        x, y = task_data(2, 5, split, 300).tensors
        idx = task_indices(2, 5, split, 300)
        ref_x, ref_y = afm.data.permuted_mnist(2, seed=5, train=train).tensors
        torch.testing.assert_close(x[:, :-1], ref_x[idx].reshape(300, -1))
        torch.testing.assert_close(y, ref_y[idx])
        assert (x[:, -1] == 2).all()
    # training and validation images never overlap
    train_idx = set(task_indices(0, 0, "train", None).tolist())
    assert not train_idx & set(task_indices(0, 0, "val", None).tolist())


def toy_task(n=64, seed=0):
    g = torch.Generator().manual_seed(100 + seed)
    return torch.randn(n, 6, generator=g), torch.randint(0, 3, (n,), generator=g)
