"""Chapter 2, "Sparse coding through active forgetting": Fig. 1d, 1e and 1f.

The paper's MNIST network, an MLP 784-128-256-10, in three variants:

* ``plain``: no forgetting layer;
* ``ERS``: a forgetting layer (with shortcut) after each hidden layer, trained
  with the inhibition loss only (Eq. 9 with ``β = 0``);
* ``ERS + IRS``: the complete layer, inhibition and lateral-inhibition losses.

λ and β are chapter 1's (:func:`afm.experiments.forgetting_layer.choose_lam_beta`,
chosen on a validation split), so the complete layer here is the very network
of chapter 1 and shares its cached runs; ``ERS`` uses the same λ with β = 0.
Because the paper's claims turn out to depend on how strong the inhibition
loss is, :func:`lambda_sweep` repeats the two forgetting variants at larger λ.

Sparsity (Eq. 1) and the activation statistics of Fig. 1d are measured on the
**excitatory** neurons, the ReLU outputs ``hidden.k.act`` that enter the
forgetting layer, over the test set.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace

import numpy as np
import torch

from afm import data as afm_data
from afm.lab.cache import cached
from afm.capture import capture_activations
from afm.layer import forgetting_layers
from afm.metrics import activation_frequency, sparsity
from afm.models import excitatory_of
from afm.lab.profiles import by_profile, check_profile
from afm.lab.registry import Figure
from afm.plotting import sparse_coding as plotting
from afm.lab.sweep import cached_map
from afm.train import loader, train
from afm.experiments import forgetting_layer
from afm.lab.runs import Run, fit, fit_all

#: The three networks of Fig. 1e.
VARIANTS = ("plain", "ERS", "ERS + IRS")
#: A switch with σ below this is *closed* (its excitatory neuron forgotten), for Fig. 1f.
CLOSED = 0.1


def settings(profile: str) -> dict:
    """Seeds, the λ sweep, and how often Fig. 1f records the switches (training steps).

    Data size, epochs, optimiser and the (λ, β) grid are chapter 1's
    (:func:`afm.experiments.forgetting_layer.settings`).
    """
    check_profile(profile)
    return by_profile(
        profile,
        smoke=dict(seeds=[0], sweep_lams=[1.0, 10.0], trace_seeds=[0], trace_every=2),
        book=dict(seeds=[0, 1, 2], sweep_lams=[0.1, 1.0, 10.0], trace_seeds=[0], trace_every=10),
        paper=dict(seeds=[0, 1, 2, 3, 4], sweep_lams=[0.1, 1.0, 10.0], trace_seeds=[0],
                   trace_every=50))


def seeds(profile: str) -> list[int]:
    """The seeds of Fig. 1d, 1e (and of the λ sweep)."""
    return list(settings(profile)["seeds"])


def trace_seeds(profile: str) -> list[int]:
    """The seeds whose switches Fig. 1f draws over training (each costs three more runs)."""
    return list(settings(profile)["trace_seeds"])


#: ``"hidden.0.forget"`` → ``"hidden.0.act"``: the excitatory neurons a forgetting layer gates.
excitatory_name = excitatory_of


def variant_spec(profile: str, variant: str, seed: int, lam: float, beta: float) -> Run:
    """The :class:`Run` of one variant: chapter 1's network, data and optimiser."""
    base = replace(forgetting_layer.base_spec(profile), seed=seed)
    if variant == "plain":
        return replace(base, forgetting=False, lam=0.0, beta=0.0)
    if variant == "ERS":
        return replace(base, lam=lam, beta=0.0)
    if variant == "ERS + IRS":
        return replace(base, lam=lam, beta=beta)
    raise ValueError(f"unknown variant {variant!r}: expected one of {VARIANTS}")


def choice(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """Chapter 1's (λ, β), chosen on validation accuracy (trains its grid if not cached)."""
    return forgetting_layer.choose_lam_beta(profile, jobs=jobs, scheduler=scheduler)


def main_specs(profile: str, lam: float, beta: float) -> list[Run]:
    """The three variants of Fig. 1e for every seed."""
    return [variant_spec(profile, v, seed, lam, beta) for v in VARIANTS for seed in seeds(profile)]


def _sweep_specs(profile: str, beta: float) -> list[Run]:
    return [variant_spec(profile, v, seed, lam, beta) for lam in settings(profile)["sweep_lams"]
            for v in ("ERS", "ERS + IRS") for seed in seeds(profile)]


def _trace_specs(profile: str, lam: float, beta: float, seed: int = 0) -> dict[str, Run]:
    strong = max(settings(profile)["sweep_lams"])
    specs = {f"ERS + IRS, λ={lam:g}": variant_spec(profile, "ERS + IRS", seed, lam, beta),
             f"ERS, λ={lam:g}": variant_spec(profile, "ERS", seed, lam, beta)}
    if strong != lam:
        specs[f"ERS + IRS, λ={strong:g}"] = variant_spec(profile, "ERS + IRS", seed, strong, beta)
    return specs


def prepare(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """Train every run of the chapter (in parallel, cached) before the per-seed figures read them."""
    chosen = choice(profile, jobs=jobs, scheduler=scheduler)
    lam, beta = chosen["lam"], chosen["beta"]
    fit_all(main_specs(profile, lam, beta) + _sweep_specs(profile, beta), jobs=jobs,
            scheduler=scheduler)
    every = settings(profile)["trace_every"]
    traces = [(spec, every) for seed in trace_seeds(profile)
              for spec in _trace_specs(profile, lam, beta, seed).values()]
    cached_map("gate_trace", _trace, traces, _trace_config, jobs=jobs, scheduler=scheduler,
               desc="switch traces")
    return chosen


def _test_batches(dataset: str = "mnist") -> list:
    return loader(afm_data.load_dataset(dataset, train=False))


def _gate_history(gates: dict) -> dict[str, np.ndarray]:
    """``{excitatory layer: (epochs + 1, N)}`` mean σ per neuron, before training then per epoch."""
    return {excitatory_name(name): torch.stack(g).numpy() for name, g in gates.items()}


def measure_run(spec: Run, batches: list) -> dict:
    """Accuracies, sparsity (Eq. 1) and activation statistics of one trained run.

    Activations are those of the excitatory neurons (``model.excitatory_names()``)
    over ``batches`` (the test set).

    Returns:
        ``{"test_acc", "val_acc", "sparsity": {layer: S}, "act_mean"/"act_std"/"frequency":
        {layer: (N,)}, "gates": {layer: (epochs + 1, N)} (forgetting variants only)}``
    """
    result = fit(spec)
    acts = capture_activations(spec.build(result["state_dict"]), batches)
    return {
        "test_acc": result["test_acc"], "val_acc": result["val_acc"],
        "sparsity": {n: sparsity(a) for n, a in acts.items()},
        "act_mean": {n: a.double().mean(0).numpy() for n, a in acts.items()},
        "act_std": {n: a.double().std(0).numpy() for n, a in acts.items()},
        "frequency": {n: activation_frequency(a).numpy() for n, a in acts.items()},
        "gates": _gate_history(result["history"]["gates"]),
    }


def sparse_coding(profile: str, seed: int) -> dict:
    """Fig. 1d and 1e for one seed: the three variants at chapter 1's (λ, β), and the λ sweep.

    Fig. 1d and 1e both draw this result: the figure registry stores it once.

    Returns:
        ``{"lam", "beta", "seed", "layers": [excitatory layer names],
        "variants": {variant: measure_run(...)}, "sweep": lambda_sweep(...)["rows"]}``
    """
    check_profile(profile)
    chosen = choice(profile)
    batches = _test_batches()
    variants = {v: measure_run(variant_spec(profile, v, seed, chosen["lam"], chosen["beta"]), batches)
                for v in VARIANTS}
    return {"lam": chosen["lam"], "beta": chosen["beta"], "seed": seed,
            "layers": list(variants["plain"]["sparsity"]), "variants": variants,
            "sweep": lambda_sweep(profile, seed)["rows"]}


def switch_summary(gates: dict[str, np.ndarray], closed: float = CLOSED) -> dict:
    """Fig. 1f in numbers, from ``{layer: (T, N)}`` switch states over training.

    Returns ``{"start_mean", "end_mean", "closed_share"}``: the mean σ at the first
    and at the last record, and the share of neurons whose last σ is below
    ``closed``, over all layers together (and per layer under ``"per_layer"``).
    """
    first = np.concatenate([g[0] for g in gates.values()])
    last = np.concatenate([g[-1] for g in gates.values()])
    return {"start_mean": float(first.mean()), "end_mean": float(last.mean()),
            "closed_share": float((last < closed).mean()),
            "per_layer": {n: {"start_mean": float(g[0].mean()), "end_mean": float(g[-1].mean()),
                              "closed_share": float((g[-1] < closed).mean())}
                          for n, g in gates.items()}}


def lambda_sweep(profile: str, seed: int) -> dict:
    """Sparsity, accuracy and closed switches of ``ERS`` and ``ERS + IRS`` over λ (β fixed).

    Returns:
        ``{"beta", "seed", "rows": [{"lam", "variant", "sparsity": {layer: S}, "test_acc",
        "val_acc", "switches": switch_summary(...)}]}``; plain is in :func:`sparse_coding`.
    """
    chosen = choice(profile)
    batches = _test_batches()
    rows = []
    for lam in settings(profile)["sweep_lams"]:
        for variant in ("ERS", "ERS + IRS"):
            m = measure_run(variant_spec(profile, variant, seed, lam, chosen["beta"]), batches)
            rows.append({"lam": lam, "variant": variant, "sparsity": m["sparsity"],
                         "test_acc": m["test_acc"], "val_acc": m["val_acc"],
                         "switches": switch_summary(m["gates"])})
    return {"beta": chosen["beta"], "seed": seed, "rows": rows}


class GateTrace:
    """A training callback that records the switches every ``every`` training steps.

    :func:`afm.train.train` calls ``on_step`` after each step; the forgetting layers
    still hold that step's ``σ``, and this keeps it averaged over the batch, ``(N,)``
    per forgetting layer, at steps ``0, every, 2·every, ...``. It only observes, so
    training is unchanged. Fig. 1f draws these records.
    """

    def __init__(self, every: int) -> None:
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int (training steps), got {every!r}")
        self.every = every
        self.step = 0
        self.steps: list[int] = []
        self.gates: dict[str, list[torch.Tensor]] = {}

    def on_step(self, model: torch.nn.Module, step: int, batch_loss: float) -> None:
        layers = list(forgetting_layers(model))
        if not layers:
            raise ValueError(f"{type(model).__name__} has no ForgettingLayer: nothing to trace")
        if self.step % self.every == 0:
            for name, layer in layers:
                if layer.gate is None:
                    raise RuntimeError("GateTrace needs the gates of a forward pass: call model(x) first")
                self.gates.setdefault(name, []).append(layer.gate.detach().float().mean(0).cpu())
            self.steps.append(self.step)
        self.step += 1

    def result(self) -> dict:
        """``{"steps": (T,), "gates": {excitatory layer: (T, N)}}`` as NumPy arrays."""
        return {"steps": np.asarray(self.steps),
                "gates": {excitatory_name(n): torch.stack(g).numpy() for n, g in self.gates.items()}}


def _trace(task: tuple[Run, int]) -> dict:
    spec, every = task
    train_set, _, _ = spec.splits()
    model = spec.build()
    trace = GateTrace(every)
    train(model, train_set, spec.train, spec.regularisers(), callbacks=[trace],
          desc=f"trace λ={spec.lam:g} β={spec.beta:g}")
    return {**trace.result(), "steps_per_epoch": math.ceil(len(train_set) / spec.train.batch_size),
            "epochs": spec.train.epochs}


def gate_trace_run(spec: Run, every: int) -> dict:
    """The run ``spec`` trained again with a :class:`GateTrace` (cached): Fig. 1f's heatmap data."""
    if not spec.has_forgetting:
        raise ValueError("a switch trace needs a network with forgetting layers")
    return cached("gate_trace", _trace_config((spec, every)), lambda: _trace((spec, every)))


def _trace_config(task: tuple[Run, int]) -> dict:
    spec, every = task
    return {**asdict(spec), "every": every}


def switch_traces(profile: str, seed: int = 0) -> dict:
    """Fig. 1f: ``{label: gate_trace_run(...)}`` for the complete and the ERS-only layer at
    chapter 1's λ, and the complete layer at the sweep's largest λ (:func:`prepare` traces seed 0)."""
    chosen = choice(profile)
    every = settings(profile)["trace_every"]
    return {label: gate_trace_run(spec, every)
            for label, spec in _trace_specs(profile, chosen["lam"], chosen["beta"], seed).items()}


#: The chapter's figures, for :mod:`afm.lab.figures` (``afm run``) and the chapter.
FIGURES = [
    Figure("1d", "Activations of excitatory neurons, plain and with forgetting layers",
           "02_sparse_coding", plot=plotting.fig_1d_activations, compute=sparse_coding,
           seeds=seeds, prepare=prepare),
    Figure("1e", "Sparsity per layer: plain, ERS, ERS + IRS, and against λ", "02_sparse_coding",
           plot=plotting.fig_1e_sparsity, compute=sparse_coding, seeds=seeds, prepare=prepare),
    Figure("1f", "The switches over training", "02_sparse_coding", plot=plotting.fig_1f_switches,
           compute=switch_traces, seeds=trace_seeds, prepare=prepare),
]
