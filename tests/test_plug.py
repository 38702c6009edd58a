"""afm.insert_forgetting_layers: one call plugs forgetting layers into any network."""

import copy

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock

import afm
from afm.analysis.ablation import ablate
from afm.experiments.own_model_nets import EncoderBlock, RowTransformer, plain_cnn, resnet
from afm.plug import Plugged, insert_forgetting_layers


def _nested():
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(),
                         nn.Sequential(nn.Linear(8, 5), nn.GELU(), nn.Sequential(nn.Linear(5, 4), nn.ReLU())),
                         nn.Linear(4, 3))


class TwoWidths(nn.Module):
    """One activation module called twice, on 8 and then on 4 units."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.act, self.head = nn.Linear(3, 8), nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.act(self.b(self.act(self.a(x)))))


def test_nested_sequential_gets_a_layer_after_every_activation():
    model, names = insert_forgetting_layers(_nested(), torch.zeros(1, 6))
    assert names == ["1.forget.0", "2.1.forget.0", "2.2.1.forget.0"]
    widths = [dict(model.named_modules())[n].num_features for n in names]
    assert widths == [8, 5, 4]
    assert [n for n, _ in afm.forgetting_layers(model)] == names


def test_unit_gain_plugged_network_computes_the_plain_network_before_learning():
    torch.manual_seed(0)
    plain = _nested()
    plugged, _ = insert_forgetting_layers(copy.deepcopy(plain), torch.zeros(1, 6))
    paper, _ = insert_forgetting_layers(copy.deepcopy(plain), torch.zeros(1, 6), unit_gain=False)
    x = torch.randn(7, 6)
    assert torch.equal(plugged(x), plain(x))  # (1 + 0.5) · fl(2/3) rounds to 1 exactly
    assert not torch.allclose(paper(x), plain(x))  # the paper's layer scales every unit by 1.5
    # parameters of the original modules keep their names and values
    for name, p in plain.named_parameters():
        torch.testing.assert_close(dict(plugged.named_parameters())[name], p)


def test_a_module_called_twice_gets_one_layer_per_call_with_its_own_width():
    model, names = insert_forgetting_layers(TwoWidths(), torch.zeros(2, 3))
    assert names == ["act.forget.0", "act.forget.1"]
    assert [m.num_features for m in model.act.forget] == [8, 4]
    for _ in range(2):  # the routing restarts with every forward pass
        model(torch.randn(5, 3))
        assert model.act.forget[0].gate.shape == (5, 8) and model.act.forget[1].gate.shape == (5, 4)


def test_residual_block_with_batch_norm_and_in_place_relu():
    block = BasicBlock(4, 4)  # calls its in-place ReLU before and after the residual sum
    model, names = insert_forgetting_layers(block, torch.zeros(2, 4, 6, 6))
    assert names == ["relu.forget.0", "relu.forget.1"]
    x = torch.randn(3, 4, 6, 6, requires_grad=True)
    out = model(x)
    (out.sum() + afm.forgetting_loss(model, lam=1.0, beta=1e-3)).backward()
    assert out.shape == x.shape and x.grad is not None
    assert all(layer.weight.grad is not None for _, layer in afm.forgetting_layers(model))


def test_torchvision_resnet18_on_a_tiny_input():
    model, names = insert_forgetting_layers(torchvision.models.resnet18(num_classes=10),
                                            torch.zeros(1, 3, 32, 32))
    assert len(names) == 17  # the stem's ReLU, then two calls in each of the 8 BasicBlocks
    assert names[:3] == ["relu.forget.0", "layer1.0.relu.forget.0", "layer1.0.relu.forget.1"]
    assert dict(model.named_modules())["layer4.1.relu.forget.1"].num_features == 512
    model.train()
    loss = nn.functional.cross_entropy(model(torch.randn(2, 3, 32, 32)), torch.tensor([0, 1]))
    loss.backward()


def test_transformer_tokens_are_gated_along_the_last_axis():
    model, names = insert_forgetting_layers(EncoderBlock(8, 2, 16), torch.zeros(1, 5, 8))
    assert names == ["act.forget.0"]
    model(torch.randn(3, 5, 8))
    layer = model.act.forget[0]
    assert layer.num_features == 16 and layer.gate.shape == (15, 16)  # (B·T, ffn)


def test_predicate_and_errors_name_the_model():
    model, names = insert_forgetting_layers(_nested(), torch.zeros(1, 6),
                                            after=lambda name, m: isinstance(m, nn.GELU))
    assert names == ["2.1.forget.0"]
    with pytest.raises(ValueError, match="nothing in Linear matches"):
        insert_forgetting_layers(nn.Linear(3, 2), torch.zeros(1, 3))
    with pytest.raises(TypeError, match="after must be"):
        insert_forgetting_layers(_nested(), torch.zeros(1, 6), after=("ReLU",))
    unchanged = _nested()
    with pytest.raises(RuntimeError):  # a bad example leaves the model as it was
        insert_forgetting_layers(unchanged, torch.zeros(1, 5))
    assert not any(isinstance(m, Plugged) for m in unchanged.modules())


def test_plugging_twice_does_not_gate_the_same_activation_twice():
    model, first = insert_forgetting_layers(_nested(), torch.zeros(1, 6))
    with pytest.raises(ValueError, match="nothing in Sequential"):
        insert_forgetting_layers(model, torch.zeros(1, 6))
    assert [n for n, _ in afm.forgetting_layers(model)] == first


def test_deepcopy_routes_the_copy_through_its_own_layers():
    model, _ = insert_forgetting_layers(TwoWidths(), torch.zeros(2, 3))
    clone = copy.deepcopy(model)
    clone(torch.randn(4, 3))
    assert clone.act.forget[1].gate.shape == (4, 4)
    assert model.act.forget[1].gate.shape != (4, 4)  # the original kept its dry-forward gates


def test_importance_capture_and_ablation_need_no_names():
    torch.manual_seed(0)
    model, names = insert_forgetting_layers(plain_cnn(), torch.zeros(1, 1, 28, 28))
    batches = [(torch.rand(6, 1, 28, 28), None)]
    omega = afm.neuron_importance(model, batches)
    assert list(omega) == names and omega["1.forget.0"].shape == (16,)
    acts = afm.capture_activations(model, batches)
    assert list(acts) == names and acts["8.forget.0"].shape == (6, 64)
    with ablate(model, {"8.forget.0": list(range(64))}):
        silenced = afm.capture_activations(model, batches)["8.forget.0"]
    assert silenced.abs().sum() == 0


def _train_pair(build, shape, n_train=1200, epochs=3):
    """Test accuracy without and with plugged (plug-in default) layers at TrainConfig defaults."""
    data = afm.data.load_dataset("fashion-mnist")
    test = afm.data.load_dataset("fashion-mnist", train=False)
    train_set = afm.data.subset(data, n_train, seed=0)
    test_set = (test.tensors[0][:1000], test.tensors[1][:1000])
    config = afm.TrainConfig(epochs=epochs)  # SGD, lr 0.05, momentum 0.9, batch 128
    out = {}
    for plug in (False, True):
        torch.manual_seed(0)
        model = build()
        if plug:
            model, _ = insert_forgetting_layers(model, torch.zeros(2, *shape))
        afm.train(model, train_set, config, [afm.Forgetting(0.1)] if plug else [], progress=False,
                  device=torch.device("cpu"))
        out[plug] = afm.evaluate(model, test_set)
    return out


def _grey_resnet():
    net = resnet(widths=(8, 16))
    net[0] = nn.Conv2d(1, 8, 3, padding=1, bias=False)
    return net


def test_residual_cnn_with_batch_norm_trains_at_default_settings_with_plugged_layers():
    acc = _train_pair(_grey_resnet, (1, 28, 28))
    assert acc[False] > 0.3  # the plain network learns (chance: 0.1)
    assert acc[True] >= acc[False] - 0.05


def test_transformer_trains_at_default_settings_with_plugged_layers():
    acc = _train_pair(lambda: RowTransformer(d=16, heads=2, layers=1, ffn=32), (1, 28, 28))
    assert acc[False] > 0.3
    assert acc[True] >= acc[False] - 0.05


def test_paper_layer_compounds_the_gain_the_unit_gain_layer_keeps_it():
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Linear(5, 6, bias=False), nn.ReLU(), nn.Linear(6, 6, bias=False),
                          nn.ReLU(), nn.Linear(6, 4, bias=False), nn.ReLU())
    x = torch.randn(16, 5)
    out = {}
    for unit_gain in (False, True):
        model, _ = insert_forgetting_layers(copy.deepcopy(plain), x[:1], unit_gain=unit_gain)
        out[unit_gain] = model(x)
    torch.testing.assert_close(out[False], 1.5 ** 3 * plain(x))  # ReLU is positively homogeneous
    assert torch.equal(out[True], plain(x))


def test_unit_gain_layer_hand_values_and_the_default_is_the_papers():
    h = torch.tensor([[2.0, -1.0, 0.0]])
    assert afm.ForgettingLayer(3)(h).tolist() == [[3.0, -1.5, 0.0]]  # h + h ⊙ σ, σ = 0.5
    assert torch.equal(afm.ForgettingLayer(3, unit_gain=True)(h), h)
    assert torch.equal(afm.ForgettingLayer(3, shortcut=False, unit_gain=True)(h), h)
    maps = torch.randn(2, 3, 4, 4)  # feature maps: the same, per channel
    assert torch.equal(afm.ForgettingLayer(3, unit_gain=True)(maps), maps)
    layer = afm.ForgettingLayer(3, unit_gain=True)
    with torch.no_grad():
        layer.bias.fill_(10.0)  # σ ≈ 1: the switch fully open gives (h + h) / 1.5
    torch.testing.assert_close(layer(h), h * (1 + torch.sigmoid(torch.tensor(10.0))) / 1.5)
    assert "unit_gain=True" in repr(layer) and "unit_gain" not in repr(afm.ForgettingLayer(3))


@pytest.mark.parametrize("shortcut", [True, False])
@pytest.mark.parametrize("shape", [(5, 4), (5, 4, 3, 3)])
def test_unit_gain_layer_and_its_gradients_equal_the_scaled_paper_layer(shortcut, shape):
    torch.manual_seed(0)
    unit = afm.ForgettingLayer(4, shortcut=shortcut, unit_gain=True)
    paper = afm.ForgettingLayer(4, shortcut=shortcut)
    with torch.no_grad():
        for p in (unit.weight, unit.bias):
            p.normal_()
        paper.load_state_dict(unit.state_dict())
    h = torch.randn(*shape, requires_grad=True)
    out = unit(h)
    reference = paper(h) / (1.5 if shortcut else 0.5)  # Eq. (5) or (3) ÷ its initial gain
    torch.testing.assert_close(out, reference)
    g = torch.randn_like(out)
    grads = torch.autograd.grad((out * g).sum(), [h, unit.weight])
    expected = torch.autograd.grad((reference * g).sum(), [h, paper.weight])
    for a, b in zip(grads, expected):
        torch.testing.assert_close(a, b)


def test_eq2_weight_importance_of_a_plugged_network_equals_the_books_mlp():
    from afm.importance import weight_importance

    book = afm.MLP([6, 5, 4, 3])  # hidden.0 -> forget, hidden.1 -> forget, head
    plugged, names = insert_forgetting_layers(
        nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3)),
        torch.zeros(1, 6))
    omega = [torch.tensor([0.1, 0.9, 0.5, 0.0, 1.0]), torch.tensor([0.2, 0.7, 0.3, 0.6])]
    theta_book = weight_importance(book, dict(zip(["hidden.0.forget", "hidden.1.forget"], omega)))
    theta = weight_importance(plugged, dict(zip(names, omega)))
    for ours, theirs in zip(theta.values(), theta_book.values()):
        torch.testing.assert_close(ours, theirs)


def test_eq2_follows_the_forward_pass_through_residual_blocks_and_flattening():
    model, names = insert_forgetting_layers(resnet(widths=(4, 8)), torch.zeros(1, 3, 32, 32))
    feeds = model.forgetting_feeds
    assert feeds["3.conv1"] == ("3.relu.forget.0", "2.forget.0")
    assert feeds["4.conv2"] == ("4.relu.forget.1", "4.relu.forget.0")
    assert feeds["4.downsample.0"] == ("4.relu.forget.1", "3.relu.forget.1")  # the block's input
    assert feeds["7"] == (None, "4.relu.forget.1")  # the classifier reads the last block
    cnn, _ = insert_forgetting_layers(plain_cnn(), torch.zeros(1, 1, 28, 28))
    assert cnn.forgetting_feeds["7"] == ("8.forget.0", "4.forget.0")  # 32·7·7 inputs, 32 channels


def test_the_chapters_runs_are_runs_of_the_one_protocol():
    from afm.experiments import own_model
    from afm.lab.runs import ARCHITECTURES, Run

    assert set(own_model.ARCHITECTURES) <= set(ARCHITECTURES)
    run = own_model.plugged_run("cnn", "paper", 0.1, seed=3)
    assert isinstance(run, Run) and run.train.seed == 3 and run.train.optimizer == "sgd"
    torch.manual_seed(3)  # Run.build seeds as the chapter did: the plain network, then plugged
    by_hand, _ = insert_forgetting_layers(plain_cnn(), torch.zeros(2, 1, 28, 28), unit_gain=False)
    built = run.build()
    assert [n for n, _ in afm.forgetting_layers(built)] == [n for n, _ in afm.forgetting_layers(by_hand)]
    x = torch.randn(4, 1, 28, 28)
    torch.testing.assert_close(built.eval()(x), by_hand.eval()(x))
    assert [type(r).__name__ for r in run.regularisers()] == ["Forgetting"]
    plain = own_model.plugged_run("cnn", "plain")
    assert plain.regularisers() == [] and list(afm.forgetting_layers(plain.build())) == []
    with pytest.raises(ValueError, match="unknown variant 'gated'"):
        Run(arch="cnn", options=(("variant", "gated"),)).build()
    with pytest.raises(ValueError, match="needs forgetting=True"):
        Run(arch="cnn", options=(("variant", "unit"),), forgetting=False).build()
