"""Chapter "Use the forgetting layer in your own model": three networks the paper never used.

Each network of :mod:`afm.experiments.own_model_nets` is trained three ways
across a learning-rate grid that includes its usual rate: ``"plain"`` (no
forgetting layer), ``"paper"`` (forgetting layers as the book reads the paper,
output ``h + h ⊙ σ``), and ``"unit"`` (the plug-in default, the same layers with
``unit_gain=True``, output ``(h + h ⊙ σ) / 1.5``). The forgetting layers go in
with one call, :func:`afm.insert_forgetting_layers`, after every activation,
and train with the inhibition loss (Eq. 6). One run is a :class:`afm.lab.runs.Run`
(:func:`plugged_run`; its network is built by :func:`build`), trained once and cached
(:func:`plug_run`); :func:`seed_results` gathers a seed's grid and reads
what Ω says about the trained models (:func:`omega_pruning`).
"""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np
import torch
from torch import nn

from afm import data as afm_data
from afm.analysis.ablation import ablation_curve, units_to_remove
from afm.experiments import own_model_nets as nets
from afm.importance import neuron_importance
from afm.layer import ForgettingLayer
from afm.lab.cache import cached, is_cached
from afm.lab.profiles import by_profile, check_profile
from afm.lab.registry import Figure
from afm.lab.runs import Run
from afm.lab.sweep import run_many
from afm.plotting import own_model as plotting
from afm.plug import insert_forgetting_layers
from afm.train import TrainConfig, evaluate, train

#: How each network is built, trained and fed: builder, dataset, example shape, optimizer,
#: the learning-rate grid and the usual rate (the one a user would start from).
ARCHITECTURES = {
    "resnet": dict(title="ResNet (torchvision BasicBlocks, batch norm), CIFAR-10 stand-in",
                   build=nets.resnet, dataset="cifar10", shape=(3, 32, 32), optimizer="sgd",
                   lrs=(0.01, 0.05, 0.1, 0.2), usual=0.1),
    "transformer": dict(title="Row transformer (pre-norm, GELU MLP blocks), Fashion-MNIST",
                        build=nets.RowTransformer, dataset="fashion-mnist", shape=(1, 28, 28),
                        optimizer="adam", lrs=(3e-4, 1e-3, 3e-3, 1e-2), usual=1e-3),
    "cnn": dict(title="CNN without normalisation (ReLU), Fashion-MNIST", build=nets.plain_cnn,
                dataset="fashion-mnist", shape=(1, 28, 28), optimizer="sgd",
                lrs=(0.01, 0.05, 0.1, 0.2), usual=0.05),
}
#: plain: no forgetting layer; paper: h + h ⊙ σ (the book's reading); unit: the plug-in default
#: (``unit_gain=True``). The diagnosis adds "detached" (:class:`DetachedGate`).
VARIANTS = ("plain", "paper", "unit")
#: The inhibition loss's strength for every plugged network (Eq. 6), not tuned here.
LAM = 0.1
#: Shares of the gated units removed, least important first (Ω) or at random.
PRUNE_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


class DetachedGate(ForgettingLayer):
    """The paper's layer with ``σ = δ(ρ · h_detached W_f)``: no gradient reaches ``h`` through σ
    (a diagnosis of the cause, variant ``"detached"``; ``W_f`` still learns)."""

    def switches(self, h: torch.Tensor) -> torch.Tensor:
        return super().switches(h.detach())


def plugged_run(arch: str, variant: str = "unit", lr: float | None = None, train_size: int | None = 4000,
                epochs: int = 3, batch_size: int = 128, eval_size: int | None = None, seed: int = 0) -> Run:
    """One training run of the chapter, as a :class:`~afm.lab.runs.Run`: ``arch``'s network,
    ``variant`` (option ``"variant"``), the optimizer of ``arch`` at rate ``lr`` (default: the
    usual one), λ = :data:`LAM` unless plain, and ``eval_size`` (option) validation/test images.

    Example:
        >>> run = plugged_run("cnn", "paper", 0.1, eval_size=500)
        >>> run.option("variant"), run.train.lr, run.train.optimizer, run.dataset
        ('paper', 0.1, 'sgd', 'fashion-mnist')
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown network {arch!r}: expected one of {list(ARCHITECTURES)}")
    spec, plugged = ARCHITECTURES[arch], variant != "plain"
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=spec["usual"] if lr is None else lr,
                         optimizer=spec["optimizer"], seed=seed)
    return Run(arch=arch, options=(("variant", variant), ("eval_size", eval_size)), forgetting=plugged,
               dataset=spec["dataset"], train_size=train_size, train=config, lam=LAM if plugged else 0.0,
               seed=seed)


def build(run: Run) -> nn.Module:
    """The builder of the chapter's networks in :data:`afm.lab.runs.ARCHITECTURES`: ``run.arch``'s
    network, plugged (:func:`afm.insert_forgetting_layers`) unless ``run.option("variant")`` is
    ``"plain"``; ``"unit"`` sets ``unit_gain=True``, ``"detached"`` uses :class:`DetachedGate`."""
    variant = run.option("variant", "unit")
    if variant not in (*VARIANTS, "detached"):
        raise ValueError(f"unknown variant {variant!r}: expected one of {[*VARIANTS, 'detached']}")
    if run.has_forgetting != (variant != "plain"):
        raise ValueError(f"variant {variant!r} needs forgetting={variant != 'plain'}, "
                         f"got {run.forgetting!r}; make the run with plugged_run()")
    spec = ARCHITECTURES[run.arch]
    model = spec["build"]()
    if variant != "plain":
        layer = DetachedGate if variant == "detached" else ForgettingLayer
        model, _ = insert_forgetting_layers(model, torch.zeros(2, *spec["shape"]),
                                            unit_gain=variant == "unit", layer=layer)
    return model


def settings(profile: str) -> dict:
    check_profile(profile)
    return by_profile(profile,
                      smoke=dict(train_size=300, epochs=1, seeds=[0], lr_index=(1, 2),
                                 eval_size=500, prune_eval=300, timing_steps=3),
                      book=dict(train_size=3000, epochs=3, seeds=[0, 1], lr_index=(0, 1, 2),
                                eval_size=5000, prune_eval=2000, timing_steps=20),
                      paper=dict(train_size=None, epochs=15, seeds=[0, 1, 2, 3, 4],
                                 lr_index=(0, 1, 2, 3), eval_size=None, prune_eval=None,
                                 timing_steps=50))


def seeds(profile: str) -> list[int]:
    return list(settings(profile)["seeds"])


def lrs(profile: str, arch: str) -> list[float]:
    """The learning-rate grid of ``arch`` in ``profile``."""
    grid = ARCHITECTURES[arch]["lrs"]
    return [grid[i] for i in settings(profile)["lr_index"]]


def splits(arch: str, train_size: int | None, seed: int, eval_size: int | None = None):
    """``(train, validation, test)``: 10 % of the training set held out for validation;
    ``eval_size`` (if not None) samples of the validation and test sets."""
    name = ARCHITECTURES[arch]["dataset"]
    train_set, val_set = afm_data.train_val_split(afm_data.load_dataset(name, train=True), 0.1, seed=0)
    test_set = afm_data.load_dataset(name, train=False)
    return (afm_data.subset(train_set, train_size, seed=seed), afm_data.subset(val_set, eval_size),
            afm_data.subset(test_set, eval_size))


def _train(run: Run) -> dict:
    train_set, val_set, test_set = splits(run.arch, run.train_size, run.seed, run.option("eval_size"))
    model = run.build()
    start = time.perf_counter()
    try:
        history = train(model, train_set, run.train, run.regularisers(),
                        desc=f"{run.arch} {run.option('variant')} lr={run.train.lr:g} seed={run.seed}")
        loss, diverged = history.loss, False
    except FloatingPointError:  # the loss became NaN: the run failed at this learning rate
        loss, diverged = [], True
    model.cpu()
    return {"state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "loss": loss, "batch_loss": [] if diverged else history.batch_loss, "diverged": diverged,
            "val_acc": 0.1 if diverged else evaluate(model, val_set),
            "test_acc": 0.1 if diverged else evaluate(model, test_set),
            "parameters": sum(p.numel() for p in model.parameters()),
            "seconds": time.perf_counter() - start}


def plug_run(run: Run) -> dict:
    """Train (or load from the result cache) one run of :func:`plugged_run`. Unlike
    :func:`afm.lab.runs.fit`, a run whose loss becomes NaN is recorded (``"diverged"``, chance
    accuracy), not raised, and the result keeps ``"parameters"``, ``"seconds"`` and ``"batch_loss"``."""
    return cached("plug_run", asdict(run), lambda: _train(run))


def grid(profile: str, seed: int | None = None) -> list[Run]:
    """Every run of ``profile`` (of one seed, or of all): architecture × variant × lr × seed."""
    s = settings(profile)
    return [plugged_run(arch, variant, lr, s["train_size"], s["epochs"], eval_size=s["eval_size"], seed=sd)
            for sd in (s["seeds"] if seed is None else [seed])
            for arch in ARCHITECTURES for variant in VARIANTS for lr in lrs(profile, arch)]


def prepare(profile: str, jobs: int | None = None, scheduler=None) -> None:
    """Train every run of ``profile`` not yet cached, in parallel."""
    todo = [g for g in grid(profile) if not is_cached("plug_run", asdict(g))]
    if todo:
        run_many(plug_run, [(g,) for g in todo], jobs=jobs, scheduler=scheduler,
                 desc=f"{len(todo)} plug-in runs")


def omega_pruning(spec: Run, n_eval: int | None) -> dict:
    """What Ω says about a trained plugged network: Ω of every gated unit, the share of each
    layer among the 30 % least important units, and test accuracy as the least important (by
    Ω) or random units are silenced (:func:`afm.analysis.ablation.ablation_curve`)."""
    model = spec.build(plug_run(spec)["state_dict"])
    test_set = splits(spec.arch, 0, spec.seed)[2]
    x, y = test_set.tensors
    n = len(y) if n_eval is None else min(n_eval, len(y))
    omega = neuron_importance(model, [(x[i:i + 500], None) for i in range(0, n, 500)])
    removed = units_to_remove(omega, 0.3, "positive")
    curves = {order: ablation_curve(model, (x[:n], y[:n]), omega, PRUNE_FRACTIONS, order, seed=spec.seed)
              for order in ("positive", "random")}
    return {"omega": {k: v.numpy() for k, v in omega.items()},
            "removed_share": {k: len(v) / len(omega[k]) for k, v in removed.items()},
            "fractions": list(PRUNE_FRACTIONS), "acc_omega": curves["positive"],
            "acc_random": curves["random"], "lr": spec.train.lr}


def seed_results(profile: str, seed: int = 0) -> dict:
    """One seed of the chapter: every run's accuracies, and Ω read from each plug-in-default
    network trained at its architecture's usual learning rate."""
    s = settings(profile)
    rows = []
    for spec in grid(profile, seed):
        run = plug_run(spec)
        rows.append({"arch": spec.arch, "variant": spec.option("variant"), "lr": spec.train.lr,
                     "val_acc": run["val_acc"], "test_acc": run["test_acc"],
                     "diverged": run["diverged"], "parameters": run["parameters"]})
    omega = {}
    for arch in ARCHITECTURES:
        grid_lrs = lrs(profile, arch)
        usual = min(grid_lrs, key=lambda lr: abs(np.log(lr / ARCHITECTURES[arch]["usual"])))
        omega[arch] = omega_pruning(plugged_run(arch, "unit", usual, s["train_size"], s["epochs"],
                                            eval_size=s["eval_size"], seed=seed), s["prune_eval"])
    return {"rows": rows, "omega": omega}


def choose_lr(rows: list[dict], arch: str, variant: str) -> dict:
    """The row of the learning rate with the best *validation* accuracy (ties: the smaller lr)."""
    candidates = sorted((r for r in rows if r["arch"] == arch and r["variant"] == variant),
                        key=lambda r: r["lr"])
    return max(candidates, key=lambda r: r["val_acc"])


def step_times(profile: str) -> dict:
    """Median seconds of one training step (forward, losses, backward, SGD step; batch 128, one
    thread) of each network, plain and plugged, timed in interleaved rounds; and parameters."""
    return cached("plug_step_times", {"profile": profile},
                  lambda: measure_step_times(settings(profile)["timing_steps"]))


def measure_step_times(steps: int) -> dict:
    """``{arch: {"plain_s", "plugged_s", "ratio", "plain_params", "plugged_params"}}``: median
    step seconds over ``steps`` interleaved steps, plugged = the plug-in default + Eq. (6)."""
    import statistics

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    try:
        for arch, spec in ARCHITECTURES.items():
            x = torch.rand(128, *spec["shape"])
            y = torch.randint(0, 10, (128,))
            fns = {v: step_fn(plugged_run(arch, v), x, y) for v in ("plain", "unit")}
            times = {v: [] for v in fns}
            for _ in range(steps):
                for v, fn in fns.items():
                    start = time.perf_counter()
                    fn()
                    times[v].append(time.perf_counter() - start)
            med = {v: statistics.median(t[1:] or t) for v, t in times.items()}
            out[arch] = {"plain_s": med["plain"], "plugged_s": med["unit"],
                         "ratio": med["unit"] / med["plain"],
                         "plain_params": _count(plugged_run(arch, "plain").build()),
                         "plugged_params": _count(plugged_run(arch, "unit").build())}
    finally:
        torch.set_num_threads(previous)
    return out


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def step_fn(spec: Run, x: torch.Tensor, y: torch.Tensor):
    """One training step of ``spec``'s network on ``(x, y)`` (momentum SGD), as a closure."""
    model = spec.build().train()
    regs = spec.regularisers()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step() -> None:
        loss = nn.functional.cross_entropy(model(x), y) + sum(r(model) for r in regs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def plot_lr_grid(results_by_seed: dict):
    """The registry's figure: every architecture's accuracy against the learning rate."""
    return plotting.fig_lr_grid(results_by_seed, ARCHITECTURES)


#: The chapter's figure (not in the paper), for :mod:`afm.lab.figures` (``afm run plugin``).
FIGURES = [Figure("plugin", "Forgetting layers plugged into three networks: accuracy vs learning "
                  "rate (not in the paper)", "09_own_model", plot=plot_lr_grid,
                  compute=seed_results, seeds=seeds, prepare=prepare)]
