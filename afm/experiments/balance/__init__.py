"""Chapter "Sparsity, generalisation and robustness in balance": Fig. 4a (sparsity against
accuracy), Fig. 4b (robustness to perturbed neurons) and Fig. 4c (feature clusters).

The network is the paper's MLP 784-64-64-10. Fig. 4a and 4b train it on
Fashion-MNIST with six methods (:data:`METHODS`); each method's strength is
chosen on the validation split (10 % of the training set, seed 0) by
validation accuracy. Fig. 4c trains the plain and the complete network on
MNIST with the strengths chosen on Fashion-MNIST (no tuning on MNIST); its code is
:mod:`afm.experiments.balance.clusters`.
"""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import torch

from afm import data as afm_data
from afm.lab.cache import cached
from afm.capture import capture_activations
from afm.metrics import sparsity
from afm.analysis.perturb import neuron_layers, perturbation_curve
from afm.lab.profiles import by_profile, check_profile
from afm.lab.registry import Figure
from afm.plotting import balance as plotting
from afm.train import TrainConfig, loader
from afm.lab.runs import Run, choose, fit, fit_all, spread, trained

#: Fig. 4a's methods, in the paper's legend order.
METHODS = ("L1", "decov", "sgd", "inhibition", "i_short_cut", "lateral_inhibition")
#: The plain and the complete network, compared in Fig. 4b and 4c.
PAIR = ("sgd", "lateral_inhibition")
WIDTHS = (784, 64, 64, 10)


def settings(profile: str) -> dict:
    """What each profile runs: data, epochs, seeds, strength grids, perturbation and clusters."""
    check_profile(profile)
    return by_profile(
        profile,
        smoke=dict(train_size=2000, epochs=1, seeds=[0], l1s=[1e-5], decovs=[1e-2],
                   lams=[1.0], betas=[1e-4], perturb_seeds=[0], fractions=[0.0, 0.5, 1.0], repeats=2,
                   std_rel=1.0, std_rels=[1.0, 4.0], eval_size=2000, cluster_seeds=[0], cluster_size=300,
                   silhouette_size=None, tsne_size=300, tsne_iter=500),
        book=dict(train_size=None, epochs=3, seeds=list(range(10)), l1s=[1e-6, 1e-5, 1e-4],
                  decovs=[1e-3, 1e-2, 1e-1], lams=[0.1, 1.0, 10.0], betas=[1e-5, 1e-4, 1e-3],
                  perturb_seeds=[0, 1, 2, 3, 4],
                  fractions=[round(0.1 * i, 1) for i in range(11)], repeats=5, std_rel=1.0,
                  std_rels=[0.5, 1.0, 2.0, 4.0],
                  eval_size=None, cluster_seeds=[0, 1, 2], cluster_size=2000,
                  silhouette_size=None, tsne_size=2000, tsne_iter=1000),
        paper=dict(train_size=None, epochs=20, seeds=list(range(10)),
                   l1s=[1e-7, 1e-6, 1e-5, 1e-4], decovs=[1e-4, 1e-3, 1e-2, 1e-1],
                   lams=[0.1, 1.0, 10.0, 100.0], betas=[1e-6, 1e-5, 1e-4, 1e-3],
                   perturb_seeds=list(range(10)),
                   fractions=[round(0.1 * i, 1) for i in range(11)], repeats=5, std_rel=1.0,
                   std_rels=[0.5, 1.0, 2.0, 4.0, 8.0],
                   eval_size=None, cluster_seeds=[0, 1, 2, 3, 4], cluster_size=10000,
                   silhouette_size=5000, tsne_size=5000, tsne_iter=1000))


def seeds(profile: str) -> list[int]:
    """Fig. 4a's training seeds (one run per method and seed)."""
    return list(settings(profile)["seeds"])


def perturb_seeds(profile: str) -> list[int]:
    """Fig. 4b's seeds (networks of Fig. 4a that are perturbed)."""
    return list(settings(profile)["perturb_seeds"])


def cluster_seeds(profile: str) -> list[int]:
    """Fig. 4c's seeds (networks trained on MNIST for the feature clusters)."""
    return list(settings(profile)["cluster_seeds"])


def prepare(profile: str, jobs: int | None = None, scheduler=None) -> int:
    """Every training run of Fig. 4a-4c (for ``afm run 4a``): :func:`train_all`."""
    return train_all(profile, jobs=jobs, scheduler=scheduler)


def base_spec(profile: str, dataset: str = "fashion-mnist") -> Run:
    """The plain network (``sgd``): SGD, momentum 0.9, lr 0.05, batch 128, seed 0."""
    s = settings(profile)
    return Run(dataset=dataset, widths=WIDTHS, forgetting=False,
               train=TrainConfig(epochs=s["epochs"], lr=0.05), train_size=s["train_size"])


def method_spec(profile: str, method: str, strength: float = 0.0, lam: float = 0.0,
                dataset: str = "fashion-mnist") -> Run:
    """The run of one Fig. 4a method.

    ``strength`` is the L1 or DeCov strength, or λ for ``inhibition`` and
    ``i_short_cut``; for ``lateral_inhibition`` it is β and ``lam`` is λ.
    """
    base = base_spec(profile, dataset)
    if method == "sgd":
        return base
    if method == "L1":
        return replace(base, l1=strength)
    if method == "decov":
        return replace(base, decov=strength)
    if method == "inhibition":  # ERS, no shortcut (Eq. 3)
        return replace(base, forgetting=True, shortcut=False, lam=strength)
    if method == "i_short_cut":  # ERS with the shortcut (Eq. 5)
        return replace(base, forgetting=True, shortcut=True, lam=strength)
    if method == "lateral_inhibition":  # ERS + IRS + shortcut, Eq. (9)
        return replace(base, forgetting=True, shortcut=True, lam=lam, beta=strength)
    raise ValueError(f"unknown method {method!r}: expected one of {METHODS}")


def strength_of(method: str, spec: Run) -> dict:
    """The tuned strength(s) of ``spec`` as ``{symbol: value}``."""
    return {"L1": {"L1": spec.l1}, "decov": {"DeCov": spec.decov}, "sgd": {},
            "inhibition": {"λ": spec.lam}, "i_short_cut": {"λ": spec.lam},
            "lateral_inhibition": {"λ": spec.lam, "β": spec.beta}}[method]


def layer_sparsity(model: torch.nn.Module, data) -> dict[str, float]:
    """Eq. (1) for each hidden layer's excitatory neurons ``h`` (the ReLU outputs) over ``data``."""
    acts = capture_activations(model, loader(data))
    return {name: sparsity(a) for name, a in acts.items()}


def _grid(profile: str, method: str, lam: float) -> list[Run]:
    s = settings(profile)
    values = {"L1": s["l1s"], "decov": s["decovs"], "inhibition": s["lams"],
              "i_short_cut": s["lams"], "lateral_inhibition": s["betas"]}[method]
    return [method_spec(profile, method, v, lam=lam) for v in values]


def _choose(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    specs, rows = {"sgd": base_spec(profile)}, []
    # every grid that does not wait for another choice, trained at once (in parallel)
    fit_all([spec for m in METHODS if m not in ("lateral_inhibition",)
             for spec in (_grid(profile, m, 0.0) if m != "sgd" else [specs["sgd"]])],
            jobs=jobs, scheduler=scheduler)
    plain = fit(specs["sgd"])  # sgd's point on the validation split, for Fig. 4a's trade-off test
    rows.append({"method": "sgd", "val_acc": plain["val_acc"], "chosen": True, "val_sparsity": float(np.mean(list(
        layer_sparsity(specs["sgd"].build(plain["state_dict"]), specs["sgd"].splits()[1]).values())))})
    for method in METHODS:
        if method == "sgd":
            continue
        lam = specs["i_short_cut"].lam if method == "lateral_inhibition" else 0.0
        grid = _grid(profile, method, lam)
        best, results = choose(grid, jobs=jobs, scheduler=scheduler)
        specs[method] = best
        val = grid[0].splits()[1]
        for spec, r in zip(grid, results):
            model = spec.build(r["state_dict"])
            rows.append({"method": method, **strength_of(method, spec), "val_acc": r["val_acc"],
                         "val_sparsity": float(np.mean(list(layer_sparsity(model, val).values()))),
                         "chosen": spec == best})
    return {"specs": {m: asdict(specs[m]) for m in METHODS}, "grid": rows}


def choose_strengths(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """Each method's strength, chosen by *validation* accuracy (seed 0; test set unused).

    L1 from ``l1s``, DeCov from ``decovs``, λ of ``inhibition`` and of
    ``i_short_cut`` from ``lams``; ``lateral_inhibition`` keeps the λ chosen
    for ``i_short_cut`` and adds β from ``betas``, so it differs from
    ``i_short_cut`` only by IRS.

    Returns:
        ``{"specs": {method: Run}, "grid": [{"method", strength, "val_acc",
        "val_sparsity", "chosen"}, ...]}``.
    """
    choice = cached("balance_choice", {"profile": profile, **settings(profile)},
                    lambda: _choose(profile, jobs, scheduler))
    return {"specs": {m: Run.from_dict(d) for m, d in choice["specs"].items()}, "grid": choice["grid"]}


def train_all(profile: str, jobs: int | None = None, scheduler=None) -> int:
    """Train every run of the chapter not yet in the result cache, in parallel where it can.

    The validation grids first (:func:`choose_strengths`), then each method at every seed
    of Fig. 4a (Fashion-MNIST) and the plain and complete networks at every seed of Fig. 4c
    (MNIST); ``jobs``/``scheduler`` as in :func:`afm.lab.sweep.run_many`. Returns the number of runs.
    """
    specs = choose_strengths(profile, jobs, scheduler)["specs"]
    s = settings(profile)
    runs = [replace(specs[m], seed=seed) for seed in s["seeds"] for m in METHODS]
    runs += [spec for seed in s["cluster_seeds"] for spec in cluster_specs(profile, seed).values()]
    fit_all(runs, jobs=jobs, scheduler=scheduler)
    return len(runs)


def sparsity_accuracy(profile: str, seed: int) -> dict:
    """Fig. 4a for one seed: test accuracy and sparsity (Eq. 1) of every method.

    Sparsity is measured on the whole test set, per hidden layer, on the
    excitatory activations ``h``; ``sparsity`` is the mean over the hidden layers.

    Returns:
        ``{method: {"test_acc", "val_acc", "sparsity", "layers": {name: S}, "strength"}}``.
    """
    specs = choose_strengths(profile)["specs"]
    test = afm_data.load_dataset("fashion-mnist", train=False)
    out = {}
    for method in METHODS:
        spec = replace(specs[method], seed=seed)
        result = fit(spec)
        layers = layer_sparsity(spec.build(result["state_dict"]), test)
        out[method] = {"test_acc": result["test_acc"], "val_acc": result["val_acc"],
                       "sparsity": float(np.mean(list(layers.values()))), "layers": layers,
                       "strength": strength_of(method, spec)}
    return out


def summarise(per_seed: dict[int, dict]) -> dict:
    """Mean, std (ddof 1) and n over seeds of ``test_acc`` and ``sparsity``, per method."""
    out = {}
    for method in next(iter(per_seed.values())):
        acc = np.array([r[method]["test_acc"] for r in per_seed.values()])
        sp = np.array([r[method]["sparsity"] for r in per_seed.values()])
        out[method] = {"acc": float(acc.mean()), "acc_std": spread(acc)[1],
                       "sparsity": float(sp.mean()), "sparsity_std": spread(sp)[1], "n": int(acc.size),
                       "acc_values": acc.tolist(), "sparsity_values": sp.tolist()}
    return out


def welch(a, b) -> dict:
    """``mean(a) - mean(b)`` and the two-sided p-value of Welch's t-test (unequal variances).

    ``p`` is NaN with fewer than 2 values on a side (nothing to test).
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue) if min(a.size, b.size) > 1 else float("nan")
    return {"diff": float(a.mean() - b.mean()), "p": p}




def _perturb(profile: str, seed: int) -> dict:
    s = settings(profile)
    specs = choose_strengths(profile)["specs"]
    test = afm_data.subset(afm_data.load_dataset("fashion-mnist", train=False), s["eval_size"])
    out = {"fractions": list(s["fractions"]), "std_rel": s["std_rel"], "curves": {},
           "std_rels": list(s["std_rels"]), "all_neurons": {c: {} for c in s["std_rels"]}}
    for method in PAIR:
        model = trained(replace(specs[method], seed=seed))
        out["layers"] = neuron_layers(model)
        out["curves"][method] = {layer: perturbation_curve(model, layer, s["fractions"],
                                                           s["repeats"], s["std_rel"], test, seed)
                                 for layer in out["layers"]}
        for c in s["std_rels"]:
            out["all_neurons"][c][method] = {
                layer: perturbation_curve(model, layer, [1.0], s["repeats"], c, test, seed)[0]
                for layer in out["layers"]}
    return out


def perturbation_robustness(profile: str, seed: int) -> dict:
    """Fig. 4b for one seed: test accuracy as a growing share of one layer's neurons is perturbed.

    Each layer of the plain (``sgd``) and the complete (``lateral_inhibition``) network of
    Fig. 4a is perturbed separately (:func:`afm.analysis.perturb.perturb_neurons`: Gaussian noise of
    std ``std_rel`` × the layer's weight std on the chosen neurons' incoming weights),
    ``repeats`` times per fraction; both networks see the same neurons chosen.

    Returns:
        ``{"fractions", "std_rel", "layers", "curves": {method: {layer: (F, R) accuracies}},
        "drop": {method: {layer: mean accuracy lost}}, "std_rels", "all_neurons": {c: {method:
        {layer: (R,) accuracies}}}}``. ``drop`` is the mean over fractions and repetitions of
        ``acc(0 %) - acc(fraction)``: lower is more robust. ``all_neurons`` is the accuracy
        with every neuron of the layer perturbed, for each noise scale ``c`` in ``std_rels``
        (how the comparison depends on the one choice of ``std_rel``).
    """
    out = _perturb(profile, seed)
    out["drop"] = {m: {layer: mean_drop(c) for layer, c in curves.items()}
                   for m, curves in out["curves"].items()}
    return out


def mean_drop(curve: np.ndarray) -> float:
    """Mean of ``acc(first fraction) - acc`` over a ``(F, R)`` curve whose first row is 0 %."""
    curve = np.asarray(curve, dtype=float)
    if curve.ndim != 2 or curve.shape[0] < 2:
        raise ValueError(f"expected a (fractions >= 2, repeats) curve, got shape {curve.shape}")
    return float((curve[0].mean() - curve).mean())






# Fig. 4c's code (after the settings and choices above, which it reads), re-exported here.
from afm.experiments.balance.clusters import (  # noqa: E402
    cluster_specs, feature_clusters, features, tsne_maps)


#: The chapter's figures, for :mod:`afm.lab.figures` (``afm run``) and the chapter.
FIGURES = [
    Figure("4a", "Sparsity against accuracy: L1, DeCov, sgd and three forgetting layers",
           "04_balance", plot=plotting.fig_4a_scatter, compute=sparsity_accuracy, seeds=seeds,
           prepare=prepare),
    Figure("4b", "Robustness to perturbed neurons, layer by layer", "04_balance",
           plot=plotting.fig_4b_perturbation, compute=perturbation_robustness,
           seeds=perturb_seeds, prepare=prepare),
    Figure("4c", "Feature clusters: t-SNE, silhouette and distance ratio", "04_balance",
           plot=plotting.fig_4c_clusters, compute=feature_clusters, seeds=cluster_seeds,
           prepare=prepare),
]
