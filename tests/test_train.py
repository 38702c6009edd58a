"""Models, the training loop, regularisers, activation capture, device selection, determinism."""

import copy
import dataclasses
import math

import pytest
import torch
from torch import nn

from afm import MLP, VGG9, LeNet5, TrainConfig, capture_activations, evaluate, train
from afm.device import default_device, evaluating
from afm.regularisers import L1, L2, Forgetting
from afm.train import batches, learning_rate


def toy_data(n=256, d=20, classes=3, seed=0):
    centers = torch.randn(classes, d, generator=torch.Generator().manual_seed(1234)) * 3
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = centers[y] + torch.randn(n, d, generator=g)
    return x, y


def fit(seed=0, regs=(), epochs=3, callbacks=()):
    torch.manual_seed(seed)
    model = MLP([20, 16, 12, 3])
    hist = train(model, toy_data(), TrainConfig(epochs=epochs, batch_size=32, lr=0.05, seed=seed),
                 regularisers=regs, eval_data=toy_data(seed=1), progress=False,
                 device=torch.device("cpu"), callbacks=callbacks)
    return model, hist


def test_training_learns_separable_data():
    model, hist = fit(regs=[Forgetting(lam=1.0, beta=1e-3)])
    assert hist.eval_acc[-1] > 0.9
    assert len(hist.loss) == 3 and len(hist.batch_loss) == 3 * 8
    assert hist.loss[-1] < hist.loss[0]
    # gates: one snapshot before training (exactly 0.5) plus one per epoch
    assert list(hist.gates) == ["hidden.0.forget", "hidden.1.forget"]
    assert len(hist.gates["hidden.0.forget"]) == 4
    assert torch.equal(hist.gates["hidden.0.forget"][0], torch.full((16,), 0.5))


def test_same_seed_same_numbers():
    m1, h1 = fit(seed=3, regs=[Forgetting(1.0, 1e-3)])
    m2, h2 = fit(seed=3, regs=[Forgetting(1.0, 1e-3)])
    assert h1.batch_loss == h2.batch_loss
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p, q)
    _, h3 = fit(seed=4, regs=[Forgetting(1.0, 1e-3)])
    assert h3.batch_loss != h1.batch_loss


def test_inhibition_loss_closes_switches():
    _, plain = fit(regs=[])
    _, ers = fit(regs=[Forgetting(lam=5.0)], epochs=5)
    assert ers.gates["hidden.0.forget"][-1].mean() < plain.gates["hidden.0.forget"][-1].mean()


def test_regularisers_values():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=True))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.0]]))
    assert L1(0.1)(model).item() == pytest.approx(0.35)
    assert L2(0.2)(model).item() == pytest.approx(0.1 * (1 + 4 + 0.25))
    with pytest.raises(ValueError, match="L1 strength must be >= 0"):
        L1(-1.0)
    with pytest.raises(ValueError, match="L2 strength must be >= 0"):
        L2(-1.0)
    assert (L1(0.1).name, L2(0.1).name, L2(0.1, "decay").name) == ("l1", "l2", "decay")
    with pytest.raises(dataclasses.FrozenInstanceError):
        L2(0.1).strength = 1.0
    with pytest.raises(ValueError, match="unknown reading"):
        Forgetting(1.0, 0.0, reading="other")


def test_nan_loss_is_reported():
    torch.manual_seed(0)
    model = MLP([20, 8, 3])
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train(model, toy_data(), TrainConfig(epochs=2, lr=1e6, momentum=0.0), progress=False,
              device=torch.device("cpu"))


def test_bad_data_and_config():
    x, y = toy_data()
    model = MLP([20, 8, 3])
    with pytest.raises(ValueError, match="NaN"):
        bad = x.clone()
        bad[0, 0] = float("nan")
        train(model, (bad, y), TrainConfig(epochs=1), progress=False)
    with pytest.raises(ValueError, match="differ in length"):
        train(model, (x, y[:-1]), TrainConfig(epochs=1), progress=False)
    with pytest.raises(TypeError, match="int64 labels"):
        train(model, (x, y.float()), TrainConfig(epochs=1), progress=False)
    with pytest.raises(ValueError, match="unknown optimizer"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="expects inputs with 20 features"):
        model(torch.zeros(2, 21))


def test_batches_cover_every_sample_once():
    x = torch.arange(10).float()[:, None]
    y = torch.arange(10)
    seen = torch.cat([yb for _, yb in batches(x, y, 3, shuffle=True,
                                              generator=torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == list(range(10))


def test_capture_finds_excitatory_neurons_of_plain_and_forgetting_nets():
    x, y = toy_data(n=50)
    for forgetting in (True, False):
        model = MLP([20, 16, 12, 3], forgetting=forgetting)
        acts = capture_activations(model, [(x[:30], y[:30]), (x[30:], y[30:])])
        assert list(acts) == ["hidden.0.act", "hidden.1.act"]
        assert acts["hidden.0.act"].shape == (50, 16)
        expected = torch.relu(model.hidden[0].main(x))
        torch.testing.assert_close(acts["hidden.0.act"], expected)
    with pytest.raises(ValueError, match="unknown module names"):
        capture_activations(model, [(x, y)], names=["nope"])


@pytest.mark.parametrize("model, shape, n_forget", [
    (LeNet5(), (2, 3, 32, 32), 4),
    (VGG9(width=0.125), (2, 3, 32, 32), 8),
    (LeNet5(forgetting=False), (2, 3, 32, 32), 0),
])
def test_conv_models(model, shape, n_forget):
    from afm import forgetting_layers
    assert model(torch.randn(*shape)).shape == (2, 10)
    assert len(list(forgetting_layers(model))) == n_forget
    assert len(model.excitatory_names()) == (4 if isinstance(model, LeNet5) else 8)


def test_model_shape_errors():
    with pytest.raises(ValueError, match="32, 32"):
        LeNet5()(torch.zeros(1, 3, 28, 28))
    with pytest.raises(ValueError, match="one per hidden layer"):
        MLP([4, 3, 3, 2], forgetting=[True])
    with pytest.raises(ValueError, match="at least one hidden layer"):
        MLP([4, 2])


def test_device_override(monkeypatch):
    monkeypatch.setenv("AFM_DEVICE", "cpu")
    assert default_device() == torch.device("cpu")
    monkeypatch.setenv("AFM_DEVICE", "toaster")
    with pytest.raises(ValueError, match="AFM_DEVICE"):
        default_device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("AFM_DEVICE", "cuda")
        with pytest.raises(ValueError, match="CUDA is not available"):
            default_device()


def test_evaluating_restores_the_mode_also_on_error():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    for mode in (True, False):
        model.train(mode)
        with evaluating(model) as device:
            assert not model.training and not model[1].training and device == torch.device("cpu")
        assert model.training is mode and model[1].training is mode
    with pytest.raises(RuntimeError, match="inside"):
        with evaluating(model.train()):
            raise RuntimeError("inside")
    assert model.training
    with evaluating(torch.nn.ReLU()) as device:  # no parameters: the CPU
        assert device == torch.device("cpu")


def test_evaluate():
    model, _ = fit()
    x, y = toy_data(seed=1)
    assert evaluate(model, (x, y)) == pytest.approx(
        (model(x).argmax(1) == y).float().mean().item())


def test_capture_gradients_matches_manual_autograd():
    from afm.capture import capture_gradients
    torch.manual_seed(0)
    model = MLP([20, 16, 12, 3])
    x, y = toy_data(n=8)
    reg = Forgetting(lam=1.0, beta=1e-3)
    grads = capture_gradients(model, x, y, [reg])
    # by hand: run the blocks one by one, keeping h of the first hidden layer as a leaf
    h1 = torch.relu(model.hidden[0].main(x)).detach().requires_grad_(True)
    out = model.hidden[1](model.hidden[0].forget(h1))
    loss = torch.nn.functional.cross_entropy(model.head(out), y) + reg(model)
    (expected,) = torch.autograd.grad(loss, [h1])
    torch.testing.assert_close(grads["hidden.0.act"], expected)
    assert grads["hidden.1.act"].shape == (8, 12)


class Recorder:
    """A callback that keeps what it is shown, and the parameters after each step."""

    def __init__(self):
        self.steps, self.losses, self.epochs, self.first_weight = [], [], [], []

    def on_step(self, model, step, batch_loss):
        self.steps.append(step)
        self.losses.append(batch_loss)
        self.first_weight.append(model.hidden[0].main.weight.detach().clone())

    def on_epoch_end(self, model, epoch, history):
        self.epochs.append((epoch, len(history.loss)))


def test_a_callback_sees_every_step_in_order_after_the_update():
    recorder = Recorder()
    model, hist = fit(seed=2, regs=[Forgetting(1.0, 1e-3)], callbacks=[recorder])
    assert recorder.steps == list(range(3 * 8))
    assert recorder.losses == hist.batch_loss
    assert recorder.epochs == [(0, 1), (1, 2), (2, 3)]  # after each epoch's record
    assert torch.equal(recorder.first_weight[-1], model.hidden[0].main.weight)  # after the step
    assert not torch.equal(recorder.first_weight[0], recorder.first_weight[1])


def test_a_callback_does_not_change_the_run():
    class Nothing:
        def on_step(self, model, step, batch_loss):
            pass

    m1, h1 = fit(seed=5, regs=[Forgetting(1.0, 1e-3)])
    m2, h2 = fit(seed=5, regs=[Forgetting(1.0, 1e-3)], callbacks=[Nothing(), Recorder()])
    assert h1.batch_loss == h2.batch_loss and h1.reg == h2.reg and h1.eval_acc == h2.eval_acc
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p, q)


def test_a_callback_without_hooks_is_refused():
    with pytest.raises(TypeError, match="on_step"):
        fit(callbacks=[lambda model: None])


def test_cosine_schedule_matches_a_hand_written_loop():
    """``schedule="cosine"``: step t of T moves the weights by lr·(1 + cos(πt/T))/2 times the
    gradient; a plain loop over the same batches with that rate gives the same weights."""
    torch.manual_seed(0)
    x, y = torch.randn(20, 3), torch.randint(0, 2, (20,))
    config = TrainConfig(epochs=2, batch_size=8, lr=0.1, momentum=0.0, schedule="cosine")
    model = nn.Linear(3, 2)
    reference = copy.deepcopy(model)
    train(model, (x, y), config, progress=False)
    generator = torch.Generator().manual_seed(config.seed)
    total, step = 2 * 3, 0
    for _ in range(config.epochs):
        for xb, yb in batches(x, y, config.batch_size, True, generator):
            reference.zero_grad()
            nn.functional.cross_entropy(reference(xb), yb).backward()
            rate = 0.1 * (1 + math.cos(math.pi * step / total)) / 2
            with torch.no_grad():
                for p in reference.parameters():
                    p -= rate * p.grad
            step += 1
    for got, want in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(got, want)
    assert learning_rate(config, total, total) == 0.0  # decays to zero at the end


def test_unknown_schedule_is_named():
    with pytest.raises(ValueError, match="unknown schedule 'step'.*constant.*cosine"):
        TrainConfig(schedule="step")
