"""Chapter 3, "The forgetting layer learns which neurons matter": Fig. 2a, 2b, 2c and 2d.

* Fig. 2a, 2b: the paper's Fashion-MNIST MLP 784-256-256-128-10 with a complete
  forgetting layer (ERS + IRS, shortcut) after each hidden layer; (λ, β) chosen
  on a validation split. Neurons are ablated (output set to 0, :mod:`afm.analysis.ablation`)
  in the order of their importance Ω, measured on the validation split; the
  accuracy is measured on the test set.
* Fig. 2c: LeNet-5 on the CIFAR-10 JPEG stand-in with forgetting layers on its
  two convolutional layers, against the plain LeNet-5; the top-1 and top-10
  most important channels (of the 6 + 16, ranked together) are removed, ranked
  by Ω in the forgetting network and by the mean activation
  (:func:`afm.importance.activation_importance`) in the plain one.
* Fig. 2d: the distribution of neuron importance per layer of the three MNIST
  networks of Fig. 1e ("the same model as mentioned in Fig. 1e", the paper
  says; :mod:`afm.experiments.sparse_coding`): plain (mean activation),
  ERS only and ERS + IRS (Ω), summarised by Sarle's bimodality coefficient.
"""

from __future__ import annotations

from itertools import product

import numpy as np
import torch
from scipy import stats as sps

from afm import data as afm_data
from afm.analysis.ablation import ablate, ablation_curve, area_under, removal_order
from afm.lab.cache import cached
from afm.importance import activation_importance, layer_importance
from afm.checks import stored_tensors, to_float
from afm.metrics import per_class_accuracy
from afm.lab.profiles import by_profile, check_profile
from afm.lab.registry import Figure
from afm.plotting import neuron_importance as plotting
from afm.analysis.stats import UNIFORM_BIMODALITY, bimodality_coefficient, end_shares, polarisation
from afm.train import TrainConfig, loader
from afm.experiments import sparse_coding
from afm.lab.runs import Run, best_on_validation, choose, fit, fit_all

#: The paper's Fashion-MNIST network of Fig. 2a and 2b.
FASHION_WIDTHS = (784, 256, 256, 128, 10)
#: Shares of neurons removed in Fig. 2a/2b: fine near 0, where the inverse order collapses.
FRACTIONS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0)
#: Fig. 2c: how many of the most important channels are removed.
TOP_K = (1, 10)
#: LeNet-5 of Fig. 2c: forgetting layers on the two convolutional layers only.
CNN_FORGETTING = (True, True, False, False)
#: Fig. 2c's rankings of the channels: (network, importance measure).
RANKINGS = (("forgetting", "omega"), ("plain", "activation"), ("forgetting", "activation"))


def settings(profile: str) -> dict:
    """What each profile trains for Fig. 2a-2c (Fig. 2d reuses chapter 2's networks).

    ``draws``: random orders per seed (the paper's 10 in ``paper``; 5 in ``book``);
    ``test_size``: test images for the ablations (None: all 10,000).
    """
    check_profile(profile)
    return by_profile(
        profile,
        smoke=dict(train_size=2000, epochs=1, seeds=[0], lams=[1.0], betas=[1e-4], draws=2,
                   fractions=(0.0, 0.05, 0.2, 0.5, 0.8, 1.0), test_size=2000, cnn_train_size=1000,
                   cnn_epochs=1, cnn_lams=[1.0], cnn_beta=1e-4),
        book=dict(train_size=None, epochs=5, seeds=[0, 1, 2], lams=[0.1, 1.0], betas=[1e-4, 1e-3],
                  draws=10, fractions=FRACTIONS, test_size=None, cnn_train_size=None,
                  cnn_epochs=8, cnn_lams=[0.1, 1.0], cnn_beta=1e-4),
        paper=dict(train_size=None, epochs=20, seeds=[0, 1, 2, 3, 4], lams=[0.1, 1.0, 10.0],
                   betas=[1e-5, 1e-4, 1e-3], draws=10, fractions=FRACTIONS, test_size=None,
                   cnn_train_size=None, cnn_epochs=30, cnn_lams=[0.1, 1.0, 10.0], cnn_beta=1e-4))


def seeds(profile: str) -> list[int]:
    return list(settings(profile)["seeds"])


def fashion_spec(profile: str, lam: float, beta: float, seed: int = 0) -> Run:
    """The complete forgetting network of Fig. 2a: SGD (momentum 0.9, lr 0.05, batch 128)."""
    s = settings(profile)
    return Run(dataset="fashion-mnist", widths=FASHION_WIDTHS, forgetting=True, shortcut=True,
               lam=lam, beta=beta, train=TrainConfig(epochs=s["epochs"], lr=0.05),
               train_size=s["train_size"], seed=seed)


def choose_fashion(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """(λ, β) of the Fashion-MNIST network by validation accuracy over the grid (seed 0)."""
    s = settings(profile)
    candidates = [fashion_spec(profile, lam, beta) for lam, beta in product(s["lams"], s["betas"])]
    best, results = choose(candidates, jobs=jobs, scheduler=scheduler)
    return {"lam": best.lam, "beta": best.beta,
            "grid": [{"lam": c.lam, "beta": c.beta, "val_acc": r["val_acc"],
                      "test_acc": r["test_acc"]} for c, r in zip(candidates, results)]}


def trained_and_omega(spec: Run, profile: str) -> tuple:
    """Train ``spec`` (cached) and read Ω on its validation split: ``(result, model, val, test,
    omega)``, the test set cut to the profile's ``test_size`` (what every ablation runs on)."""
    result = fit(spec)
    model = spec.build(result["state_dict"])
    _, val, test = spec.splits()
    test = afm_data.subset(test, settings(profile)["test_size"], seed=0)  # smoke: fewer images
    return result, model, val, test, layer_importance(model, loader(val), "omega")


def ablation_curves(model, test, omega: dict, fractions: list, draws: int, seed: int,
                    scope: str = "global") -> dict:
    """Fig. 2a: ``{"positive"|"inverse": (F,), "random": (draws, F)}`` accuracies of ``model`` on
    ``test`` as ever more neurons are removed by Ω (random draw ``d`` seeded ``1000·seed + d``)."""
    curves = {order: ablation_curve(model, test, omega, fractions, order, scope=scope)
              for order in ("positive", "inverse")}
    curves["random"] = np.stack([ablation_curve(model, test, omega, fractions, "random",
                                                1000 * seed + d, scope) for d in range(draws)])
    return curves


def ablation(profile: str, seed: int) -> dict:
    """Fig. 2a and 2b for one seed (cached on disk: the two figures share it).

    Ω is read on the validation split; accuracies are on the test set. Fig. 2a and 2b both
    draw this result: the figure registry stores it once.

    Returns:
        ``{"lam", "beta", "seed", "test_acc", "fractions", "layers", "omega": {layer: (N,)},
        "curves": {"positive"|"inverse": (F,), "random": (draws, F)},`` (one ranking over all
        layers) ``"stratified": {...}`` (the same share of every layer)
        ``"per_layer": {layer: {"positive"|"inverse": (F,)}}`` (Fig. 2b: one layer ablated)``}``
    """
    check_profile(profile)
    s = settings(profile)
    chosen = choose_fashion(profile)
    spec = fashion_spec(profile, chosen["lam"], chosen["beta"], seed)
    result, model, val, test, omega = trained_and_omega(spec, profile)
    fractions = list(s["fractions"])
    out = {"lam": chosen["lam"], "beta": chosen["beta"], "seed": seed, "test_acc": result["test_acc"],
           "val_acc": result["val_acc"], "fractions": np.asarray(fractions), "layers": list(omega),
           "omega": {k: v.numpy() for k, v in omega.items()}}
    for key, scope, draws in (("curves", "global", s["draws"]),
                              ("stratified", "per_layer", min(3, s["draws"]))):
        out[key] = ablation_curves(model, test, omega, fractions, draws, seed, scope)
    out["per_layer"] = {layer: {order: ablation_curve(model, test, {layer: omega[layer]}, fractions,
                                                      order) for order in ("positive", "inverse")}
                        for layer in omega}
    out.update(_omega_vs_activation(model, val, omega))
    return out


def _omega_vs_activation(model, val, omega: dict) -> dict:
    """Does Ω follow how active a neuron is? Spearman's ρ(Ω, mean activation) per layer."""
    act = activation_importance(model, loader(val), names=list(omega))
    return {"activation": {k: v.numpy() for k, v in act.items()},
            "spearman_activation": {k: float(sps.spearmanr(omega[k].numpy(), act[k].numpy()).statistic)
                                    for k in omega}}


def ablation_other_lambdas(profile: str, seed: int = 0) -> dict:
    """Fig. 2a's global curves for the *other* λ of the Fashion-MNIST grid (chosen β, one seed).

    Not a tuning step: it shows whether what Ω ranks depends on the strength of the
    inhibition loss. Cached. Returns ``{λ: {"lam", "beta", "test_acc", "fractions", "curves",
    "spearman_activation", "omega_range"}}``.
    """
    check_profile(profile)
    return cached("ablation_other_lambdas", {"profile": profile, "seed": int(seed)},
                  lambda: _ablation_other_lambdas(profile, int(seed)))


def _ablation_other_lambdas(profile: str, seed: int) -> dict:
    s = settings(profile)
    chosen = choose_fashion(profile)
    out = {}
    for lam in s["lams"]:
        if lam == chosen["lam"]:
            continue
        spec = fashion_spec(profile, lam, chosen["beta"], seed)
        result, model, val, test, omega = trained_and_omega(spec, profile)
        curves = ablation_curves(model, test, omega, list(s["fractions"]), s["draws"], seed)
        all_omega = np.concatenate([v.numpy() for v in omega.values()])
        out[lam] = {"lam": lam, "beta": chosen["beta"], "test_acc": result["test_acc"],
                    "fractions": np.asarray(s["fractions"]), "curves": curves,
                    "omega_range": (float(all_omega.min()), float(all_omega.max())),
                    "spearman_activation": _omega_vs_activation(model, val, omega)["spearman_activation"]}
    return out


def ablation_summary(res: dict) -> dict:
    """The numbers Fig. 2a/2b's claims are judged on, from :func:`ablation`'s result
    (accuracy at 5 % and 80 % removed, by linear interpolation on the curves; areas under the
    curves over [0, 1]); ``"stratified"`` and ``"per_layer"`` only where the result has them."""
    f = res["fractions"]
    at = lambda curve, x: float(np.interp(x, f, curve))  # noqa: E731
    c = res["curves"]
    base = float(c["positive"][0])
    random_mean = c["random"].mean(0)
    summary = {"base": base, "positive_at_80": at(c["positive"], 0.8),
               "drop_at_80": base - at(c["positive"], 0.8), "inverse_at_5": at(c["inverse"], 0.05),
               "random_at_80": at(random_mean, 0.8), "random_at_5": at(random_mean, 0.05),
               "auc": {"positive": area_under(f, c["positive"]), "random": area_under(f, random_mean),
                       "inverse": area_under(f, c["inverse"])}}
    if "stratified" not in res:  # e.g. ablation_other_lambdas: the global ranking only
        return summary
    st = res["stratified"]
    summary["stratified"] = {"drop_at_80": base - at(st["positive"], 0.8),
                             "inverse_at_5": at(st["inverse"], 0.05),
                             "auc": {"positive": area_under(f, st["positive"]),
                                     "random": area_under(f, st["random"].mean(0)),
                                     "inverse": area_under(f, st["inverse"])}}
    summary["per_layer"] = {
        layer: {"auc_positive": area_under(f, curves["positive"]),
                "auc_inverse": area_under(f, curves["inverse"]),
                "gap": area_under(f, curves["positive"]) - area_under(f, curves["inverse"])}
        for layer, curves in res["per_layer"].items()}
    return summary


# --- Fig. 2c: LeNet-5 on the CIFAR-10 stand-in ------------------------------------------------

def cnn_spec(profile: str, forgetting: bool, lam: float = 0.0, seed: int = 0) -> Run:
    """LeNet-5 of Fig. 2c on the CIFAR-10 stand-in: forgetting layers on its two convolutional
    layers (or none), SGD (momentum 0.9, batch 128, lr 0.02 decayed to 0 by a cosine schedule)."""
    s = settings(profile)
    return Run(arch="lenet5", dataset="cifar10",
               forgetting=CNN_FORGETTING if forgetting else (False,) * 4,
               lam=lam if forgetting else 0.0, beta=s["cnn_beta"] if forgetting else 0.0,
               train=TrainConfig(epochs=s["cnn_epochs"], lr=0.02, schedule="cosine"),
               train_size=s["cnn_train_size"], seed=seed)


def choose_cnn(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """λ of the forgetting LeNet-5 by validation accuracy (seed 0, β fixed)."""
    s = settings(profile)
    results = fit_all([cnn_spec(profile, True, lam) for lam in s["cnn_lams"]], jobs, scheduler)
    best = best_on_validation(results)
    return {"lam": s["cnn_lams"][best], "beta": s["cnn_beta"],
            "grid": [{"lam": lam, "val_acc": r["val_acc"]} for lam, r in zip(s["cnn_lams"], results)]}


def _logits(model, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return torch.cat([model(to_float(x[i:i + batch])) for i in range(0, x.shape[0], batch)])


def _class_accuracy(model, test, units=None) -> np.ndarray:
    x, y = stored_tensors(test)  # CIFAR-10 stays uint8, converted per batch
    if units is None:
        return per_class_accuracy(_logits(model, x), y, 10).numpy()
    with ablate(model, units):
        return per_class_accuracy(_logits(model, x), y, 10).numpy()


def _top_units(scores: dict, k: int, order: str = "inverse", seed: int = 0) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {name: [] for name in scores}
    for name, unit in removal_order(scores, order, seed)[:k]:
        out[name].append(unit)
    return out


def channel_removal(profile: str, seed: int, forgetting: Run | None = None) -> dict:
    """Fig. 2c for one seed: per-class test accuracy after removing the top-k channels
    (``forgetting``: the LeNet-5 with forgetting layers, default the λ of :func:`choose_cnn`).

    Three rankings of the 22 convolutional channels (6 + 16, ranked together):
    ``("forgetting", "omega")`` (the paper's), ``("plain", "activation")`` (the plain network's
    stated measure) and, as a control, ``("forgetting", "activation")``: (network, measure)
    pairs (:data:`RANKINGS`); each also with
    ``k`` channels removed at random (``draws`` draws).

    Returns:
        ``{"lam", "beta", "seed", "classes", "test_acc": {network: acc}, "scores":
        {ranking: {layer: (N,)}}, "removed": {ranking: {k: {layer: [units]}}},
        "per_class": {ranking: {0 | k: (10,)}}, "random": {network: {k: (draws, 10)}}}``
    """
    s = settings(profile)
    forgetting = forgetting or cnn_spec(profile, True, choose_cnn(profile)["lam"], seed)
    specs = {"forgetting": forgetting, "plain": cnn_spec(profile, False, seed=seed)}
    nets = {k: fit(spec) for k, spec in specs.items()}
    models = {k: specs[k].build(r["state_dict"]) for k, r in nets.items()}
    _, val, test = specs["plain"].splits()
    test = afm_data.subset(test, s["test_size"], seed=0)  # smoke: fewer test images
    val_batches = loader(val)
    conv = ["conv.0.act", "conv.1.act"]
    scores = {
        ("forgetting", "omega"): layer_importance(models["forgetting"], val_batches, "omega"),
        ("plain", "activation"): {k: v for k, v in
                                  activation_importance(models["plain"], val_batches).items() if k in conv},
        ("forgetting", "activation"): {k: v for k, v in
                                       activation_importance(models["forgetting"], val_batches).items()
                                       if k in conv},
    }
    out = {"lam": forgetting.lam, "beta": forgetting.beta, "seed": seed,
           "classes": list(afm_data.CIFAR10_CLASSES),
           "test_acc": {k: r["test_acc"] for k, r in nets.items()},
           "scores": {r: {k: v.numpy() for k, v in sc.items()} for r, sc in scores.items()},
           "removed": {}, "per_class": {}, "random": {}}
    for ranking, sc in scores.items():
        model = models[ranking[0]]
        out["per_class"][ranking] = {0: _class_accuracy(model, test)}
        out["removed"][ranking] = {}
        for k in TOP_K:
            units = _top_units(sc, k)
            out["removed"][ranking][k] = units
            out["per_class"][ranking][k] = _class_accuracy(model, test, units)
    for network in ("forgetting", "plain"):
        sc = scores[("forgetting", "omega") if network == "forgetting" else ("plain", "activation")]
        out["random"][network] = {
            k: np.stack([_class_accuracy(models[network], test,
                                         _top_units(sc, k, "random", 1000 * seed + d))
                         for d in range(s["draws"])]) for k in TOP_K}
    return out


# --- Fig. 2d: the distribution of importance (chapter 2's MNIST networks) --------------------

def distribution_stats(values: np.ndarray) -> dict:
    """Sarle's ``b``, the shares near 0 and near 1 (margin 0.1), the polarisation
    ``2·E|x - 1/2|`` and the Kolmogorov-Smirnov distance to the uniform distribution on
    [0, 1] of one layer's importance."""
    low, high = end_shares(values, margin=0.1)
    return {"bimodality": bimodality_coefficient(values), "low": low, "high": high,
            "polarisation": polarisation(values),
            "ks_uniform": float(sps.kstest(values, "uniform").statistic),
            "mean": float(np.mean(values)), "std": float(np.std(values))}


def importance_distributions(profile: str, seed: int) -> dict:
    """Fig. 2d for one seed: importance per layer of the plain, ERS and ERS + IRS networks.

    The networks are chapter 2's (Fig. 1e), at chapter 1's (λ, β); importance is
    read on the validation split: Ω for the forgetting networks, the mean
    activation relative to the layer's maximum for the plain one.

    Returns:
        ``{"lam", "beta", "seed", "threshold": 5/9, "variants": {variant: {"measure",
        "importance": {layer: (N,)}, "stats": {layer: distribution_stats(...)}}}}``
    """
    chosen = sparse_coding.choice(profile)
    out = {"lam": chosen["lam"], "beta": chosen["beta"], "seed": seed,
           "threshold": UNIFORM_BIMODALITY, "variants": {}}
    for variant in sparse_coding.VARIANTS:
        spec = sparse_coding.variant_spec(profile, variant, seed, chosen["lam"], chosen["beta"])
        out["variants"][variant] = distribution_of(spec)
    return out


def distribution_of(spec) -> dict:
    """One network of Fig. 2d: importance per layer (validation split) and its :func:`distribution_stats`."""
    measure = "omega" if spec.forgetting else "activation"
    importance = layer_importance(spec.build(fit(spec)["state_dict"]), loader(spec.splits()[1]), measure)
    values = {k: v.double().numpy() for k, v in importance.items()}
    return {"measure": measure, "importance": values,
            "stats": {k: distribution_stats(v) for k, v in values.items()}}


def prepare_ablation(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """Fig. 2a, 2b: the Fashion-MNIST grid, then the chosen (λ, β) for every seed."""
    chosen = choose_fashion(profile, jobs=jobs, scheduler=scheduler)
    fit_all([fashion_spec(profile, chosen["lam"], chosen["beta"], s) for s in seeds(profile)],
            jobs=jobs, scheduler=scheduler)
    return chosen


def prepare_channels(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """Fig. 2c: the λ candidates (seed 0) and the plain LeNet-5s, then the chosen λ per seed."""
    s = settings(profile)
    fit_all([cnn_spec(profile, True, lam) for lam in s["cnn_lams"]]
            + [cnn_spec(profile, False, seed=seed) for seed in seeds(profile)], jobs, scheduler)
    cnn = choose_cnn(profile)
    fit_all([cnn_spec(profile, True, cnn["lam"], seed) for seed in seeds(profile)], jobs, scheduler)
    return cnn


def prepare_distributions(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """Fig. 2d: chapter 2's three MNIST variants for every seed (chapter 1's λ, β)."""
    sc = sparse_coding.choice(profile, jobs=jobs, scheduler=scheduler)
    fit_all(sparse_coding.main_specs(profile, sc["lam"], sc["beta"]), jobs=jobs, scheduler=scheduler)
    return sc


def prepare(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """Every network of the chapter. The MLPs of all figures train in one parallel batch."""
    chosen = choose_fashion(profile, jobs=jobs, scheduler=scheduler)
    sc = sparse_coding.choice(profile, jobs=jobs, scheduler=scheduler)
    fit_all([fashion_spec(profile, chosen["lam"], chosen["beta"], s) for s in seeds(profile)]
            + sparse_coding.main_specs(profile, sc["lam"], sc["beta"]), jobs=jobs, scheduler=scheduler)
    return {"fashion": chosen, "mnist": sc, "cnn": prepare_channels(profile, jobs, scheduler)}


#: The chapter's figures, for :mod:`afm.lab.figures` (``afm run``) and the chapter.
FIGURES = [
    Figure("2a", "Ablating neurons in the order of their importance", "03_neuron_importance",
           plot=plotting.fig_2a_ablation, compute=ablation, seeds=seeds, prepare=prepare_ablation),
    Figure("2b", "Natural and targeted forgetting, layer by layer", "03_neuron_importance",
           plot=plotting.fig_2b_layers, compute=ablation, seeds=seeds, prepare=prepare_ablation),
    Figure("2c", "Removing the most important channels of LeNet-5", "03_neuron_importance",
           plot=plotting.fig_2c_channels, compute=channel_removal, seeds=seeds,
           prepare=prepare_channels),
    Figure("2d", "The distribution of neuron importance", "03_neuron_importance",
           plot=plotting.fig_2d_distributions, compute=importance_distributions,
           seeds=sparse_coding.seeds, prepare=prepare_distributions),
]
