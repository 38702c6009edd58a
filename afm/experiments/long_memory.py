"""Chapter "Long-sequence memory": Fig. 5a-5c, Permuted MNIST with EWC, MAS, SI and ANPyC.

Ten Permuted-MNIST tasks are learned one after the other by an MLP
784-512-256 trunk shared by every task, with one 10-way output head per task
(task-incremental: the task id is given with each input, :func:`afm.baselines.continual.tag`).
The methods (the paper's names):

* ``joint``: one network trained on all tasks at once (the upper bound);
* ``sgd``: fine-tuning (:class:`afm.baselines.continual.Naive`, the lower bound);
* ``ewc``, ``mas``, ``si``, ``anpyc``: the consolidation penalties on the plain network;
* ``ewc_f``, ``mas_f``, ``anpyc_f``: the same on the network with a forgetting
  layer after each trunk layer, trained with ``afm.Forgetting(λ, β)`` besides the penalty.

Every strength is chosen on a validation split (10 % of each task's training
images, never the test images) of the first tasks, seed 0: the penalty
strengths, and for the forgetting networks (λ, β) jointly with EWC's strength.
"""

from __future__ import annotations

from dataclasses import asdict
from itertools import product

import numpy as np
import torch
from torch.utils.data import TensorDataset

from afm.baselines import continual as cl
from afm import data as afm_data
from afm.lab.cache import cached
from afm.lab.profiles import by_profile, check_profile
from afm.lab.registry import Figure
from afm.plotting import long_memory as plotting
from afm.lab.runs import Run, best_on_validation
from afm.lab.sweep import cached_map
from afm.train import TrainConfig

#: Every method of the chapter, in the order of the legends.
METHODS = ("joint", "sgd", "ewc", "ewc_f", "mas", "mas_f", "si", "anpyc", "anpyc_f")
#: The pairs of Fig. 5c: the importance of each method without and with forgetting layers.
IMPORTANCE_METHODS = ("mas", "ewc", "anpyc")
#: The trunk weights whose importance Fig. 5c compares (both networks have them).
TRUNK_WEIGHTS = ("hidden.0.main.weight", "hidden.1.main.weight")
#: Fig. 5c's histogram bins, over log10(Ω / mean Ω); values outside go to the end bins.
LOG_BINS = np.linspace(-5.0, 2.0, 57)
STRATEGIES = {"sgd": cl.Naive, "joint": cl.JointTraining, "ewc": cl.EWC, "mas": cl.MAS,
              "si": cl.SynapticIntelligence, "anpyc": cl.ANPyC}
WIDTHS = (784, 512, 256)


def settings(profile: str) -> dict:
    """What each profile trains (see the chapter for the reasons)."""
    check_profile(profile)
    return by_profile(
        profile,
        smoke=dict(n_tasks=3, train_size=1000, eval_size=500, epochs=1, seeds=[0],
                   importance_samples=200, val_tasks=3,
                   grid={"ewc": [100.0], "mas": [0.01], "si": [1.0], "anpyc": [1000.0]},
                   forgetting_grid=[(1.0, 1e-4)]),
        book=dict(n_tasks=10, train_size=10000, eval_size=2000, epochs=1, seeds=[0, 1, 2],
                  importance_samples=500, val_tasks=10,
                  grid={"ewc": [10.0, 100.0, 1000.0], "mas": [0.001, 0.01, 0.1, 1.0],
                        "si": [0.1, 1.0, 10.0, 100.0, 1000.0], "anpyc": [100.0, 1000.0, 10000.0, 100000.0]},
                  forgetting_grid=[(0.1, 1e-5), (1.0, 1e-4)]),
        paper=dict(n_tasks=10, train_size=None, eval_size=None, epochs=5, seeds=[0, 1, 2, 3, 4],
                   importance_samples=1000, val_tasks=10,
                   grid={"ewc": [10.0, 100.0, 1000.0, 10000.0, 100000.0],
                         "mas": [0.001, 0.01, 0.1, 1.0, 10.0], "si": [0.1, 1.0, 10.0, 100.0, 1000.0],
                         "anpyc": [10.0, 100.0, 1000.0, 10000.0, 100000.0]},
                   forgetting_grid=[(0.1, 1e-5), (0.1, 1e-4), (1.0, 1e-5), (1.0, 1e-4)]))


def seeds(profile: str) -> list[int]:
    """The seeds each profile averages over."""
    return list(settings(profile)["seeds"])


def cl_spec(profile: str, method: str = "sgd", strength: float = 0.0, lam: float = 0.0,
            beta: float = 0.0, split: str = "test", n_tasks: int | None = None, seed: int = 0) -> Run:
    """One sequence of Permuted-MNIST tasks as a :class:`~afm.lab.runs.Run`.

    The multi-head MLP (:data:`WIDTHS`, one head per task), forgetting layers for the ``_f``
    methods, Adam (lr 1e-3, batch 128, a fresh optimiser per task); ``strategy`` holds the
    method, its ``strength``, the importance ``samples`` and SI's ``xi``. ``split="val"``
    (``epoch_eval``) evaluates each task on its validation images (for choosing strengths),
    ``"test"`` on its test images. The task permutations, the training subsets and the
    initial weights all follow ``seed``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: expected one of {METHODS}")
    if split not in ("val", "test"):
        raise ValueError(f"split must be 'val' or 'test', got {split!r}")
    s = settings(profile)
    return Run(arch="multihead_mlp", widths=WIDTHS,
               options=(("n_tasks", s["n_tasks"] if n_tasks is None else n_tasks),),
               forgetting=method.endswith("_f"), dataset="permuted-mnist",
               train_size=s["train_size"], epoch_eval=split, epoch_eval_size=s["eval_size"],
               train=TrainConfig(epochs=s["epochs"], batch_size=128, lr=1e-3, optimizer="adam"),
               lam=lam, beta=beta, seed=seed,
               strategy=(("method", method), ("strength", strength),
                         ("samples", s["importance_samples"]), ("xi", 0.1)))


def method_of(run: Run) -> str:
    """The method (:data:`METHODS`) of a sequence run."""
    return run.strategy_setting("method")


def _strategy(run: Run):
    base = method_of(run).removesuffix("_f")
    if base in ("sgd", "joint"):
        return STRATEGIES[base]()
    strength = run.strategy_setting("strength")
    if base == "si":
        return cl.SynapticIntelligence(strength, xi=run.strategy_setting("xi"))
    return STRATEGIES[base](strength, samples=run.strategy_setting("samples"))


def task_indices(task: int, seed: int, split: str, size: int | None) -> torch.Tensor:
    """The MNIST images of one task's ``split`` ("train", "val" or "test").

    "train" and "val" are the two parts of ``afm.data.train_val_split`` (90 % / 10 %
    of the 60 000 training images, the same split as every chapter's); "train" is
    subsampled with a seed of its own per task and run, "val" and "test" with a
    fixed seed (the same images for every method and run).
    """
    if split == "test":
        index = TensorDataset(torch.arange(10000))
        return afm_data.subset(index, size, seed=0).tensors[0]
    train, val = afm_data.train_val_split(TensorDataset(torch.arange(60000)), 0.1, seed=0)
    if split == "val":
        return afm_data.subset(val, size, seed=0).tensors[0]
    if split == "train":
        return afm_data.subset(train, size, seed=1000 * seed + task).tensors[0]
    raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")


def task_data(task: int, seed: int, split: str, size: int | None) -> TensorDataset:
    """Task ``task`` of Permuted MNIST (``afm.data.pixel_permutation(task, seed)``), tagged.

    The same images as ``afm.data.permuted_mnist(task, seed)`` at
    :func:`task_indices`, permuting only the selected images.
    """
    images, labels = afm_data.load_dataset("mnist", train=split != "test").tensors
    idx = task_indices(task, seed, split, size)
    perm = torch.from_numpy(afm_data.pixel_permutation(task, seed))
    x = images[idx].reshape(len(idx), -1)[:, perm]
    return TensorDataset(cl.tag(x, task), labels[idx])


def _sequence(spec: Run) -> dict:
    n_tasks = spec.option("n_tasks")
    train_tasks = [task_data(t, spec.seed, "train", spec.train_size) for t in range(n_tasks)]
    eval_tasks = [task_data(t, spec.seed, spec.epoch_eval, spec.epoch_eval_size) for t in range(n_tasks)]
    model = spec.build()
    strategy = _strategy(spec)
    result = cl.train_sequence(model, strategy, train_tasks, eval_tasks, spec.train,
                               spec.regularisers(), desc=f"{method_of(spec)} seed={spec.seed}")
    out = {"accuracy": result.accuracy, "seconds": float(sum(result.seconds))}
    if spec.epoch_eval == "test" and isinstance(strategy, cl.Consolidation):
        out["importance"] = {k: strategy.omega[k].detach().cpu().float().numpy()
                             for k in TRUNK_WEIGHTS}
    return out


def cl_run(spec: Run) -> dict:
    """Train (or load from the result cache) one sequence: ``{"accuracy": (T, T), "seconds",
    "importance": {trunk weight: Ω summed over the tasks}}`` (importance for test runs of
    the consolidation methods only)."""
    return cached("sequence", asdict(spec), lambda: _sequence(spec))


def run_all(specs, jobs: int | None = None, scheduler=None, desc: str = "sequences") -> list[dict]:
    """:func:`cl_run` of every spec, the missing ones in parallel, then all from the cache."""
    return cached_map("sequence", _sequence, list(specs), asdict, jobs=jobs, scheduler=scheduler,
                      desc=desc)


def base_spec(profile: str) -> Run:
    """The plain network fine-tuned on the profile's task sequence (``sgd``, seed 0)."""
    return cl_spec(profile)


def _validation_score(result: dict) -> float:
    """Mean validation accuracy over the tasks seen, after the last one."""
    return float(cl.average_accuracy(result["accuracy"])[-1])


def _grid_specs(profile: str, methods, forgetting_choice=None) -> list[Run]:
    s = settings(profile)

    def spec(method, strength, lam=0.0, beta=0.0):
        return cl_spec(profile, method, strength, lam, beta, split="val", n_tasks=s["val_tasks"])

    specs = []
    for method in methods:
        strengths = s["grid"][method.removesuffix("_f")]
        if not method.endswith("_f"):
            specs += [spec(method, v) for v in strengths]
        elif forgetting_choice is None:
            specs += [spec(method, v, lam, beta)
                      for v, (lam, beta) in product(strengths, s["forgetting_grid"])]
        else:
            specs += [spec(method, v, **forgetting_choice) for v in strengths]
    return specs


def choose_strengths(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """Each method's strength, on validation accuracy of the first ``val_tasks`` tasks (seed 0;
    the whole sequence in the ``book`` and ``paper`` profiles).

    First the plain methods' strengths and, for ``ewc_f``, EWC's strength jointly
    with the forgetting loss's (λ, β); then ``mas_f`` and ``anpyc_f`` use that
    (λ, β) and choose only their own strength. Ties go to the earlier candidate.

    Returns:
        ``{method: {"strength", "lam", "beta", "val_acc"}, "grid": [one row per run]}``.
    """
    first = _grid_specs(profile, ("ewc", "mas", "si", "anpyc", "ewc_f"))
    results = run_all(first, jobs, scheduler, desc="validation grid")
    chosen, rows = {}, []

    def pick(specs, results):
        for method in dict.fromkeys(method_of(s) for s in specs):
            cands = [(s, r) for s, r in zip(specs, results) if method_of(s) == method]
            scores = [_validation_score(r) for _, r in cands]
            best = best_on_validation([{"val_acc": v} for v in scores])
            spec = cands[best][0]
            chosen[method] = {"strength": spec.strategy_setting("strength"), "lam": spec.lam,
                              "beta": spec.beta, "val_acc": scores[best]}
            rows.extend({"method": method, "strength": s.strategy_setting("strength"), "lam": s.lam,
                         "beta": s.beta, "val_acc": v} for (s, _), v in zip(cands, scores))

    pick(first, results)
    forgetting = {"lam": chosen["ewc_f"]["lam"], "beta": chosen["ewc_f"]["beta"]}
    second = _grid_specs(profile, ("mas_f", "anpyc_f"), forgetting_choice=forgetting)
    pick(second, run_all(second, jobs, scheduler, desc="validation grid"))
    chosen["sgd"] = chosen["joint"] = {"strength": 0.0, "lam": 0.0, "beta": 0.0, "val_acc": None}
    return {**chosen, "grid": rows}


def grid_edges(chosen: dict, grid: dict[str, list[float]]) -> str:
    """The methods whose chosen strength is the smallest or the largest of its grid, in words
    (``"none"`` when every choice lies inside its grid). A choice at an edge means the grid may
    not bracket the best strength.

    Args:
        chosen: :func:`choose_strengths`' result (``{method: {"strength", ...}}``).
        grid: the profile's ``grid`` setting, ``{method: strengths}`` (``_f`` methods use theirs).

    Example:
        >>> grid_edges({"ewc": {"strength": 100.0}, "si": {"strength": 10.0}, "sgd": {"strength": 0.0}},
        ...            {"ewc": [10.0, 100.0, 1000.0], "si": [0.1, 1.0, 10.0]})
        'si (10, the largest of its grid)'
    """
    out = []
    for method, choice in chosen.items():
        values = grid.get(method.removesuffix("_f"), [])
        if len(values) > 1 and choice["strength"] in (min(values), max(values)):
            side = "smallest" if choice["strength"] == min(values) else "largest"
            out.append(f"{method} ({choice['strength']:g}, the {side} of its grid)")
    return ", ".join(out) or "none"


def main_specs(profile: str, seed: int, chosen: dict | None = None) -> dict[str, Run]:
    """The test run of every method for ``seed``, with the chosen strengths."""
    chosen = choose_strengths(profile) if chosen is None else chosen
    return {m: cl_spec(profile, m, chosen[m]["strength"], chosen[m]["lam"], chosen[m]["beta"],
                       seed=seed) for m in METHODS}


def prepare(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """The validation grid, then every (method, seed) sequence, all in parallel."""
    chosen = choose_strengths(profile, jobs, scheduler)
    specs = [spec for seed in seeds(profile) for spec in main_specs(profile, seed, chosen).values()]
    run_all(specs, jobs, scheduler, desc="task sequences")
    return chosen


def sequence_results(profile: str, seed: int = 0) -> dict:
    """Fig. 5b for one seed: every method's accuracy matrix and its two curves.

    Returns:
        ``{"methods", "accuracy": {m: (T, T)}, "first_task": {m: (T,)},
        "average": {m: (T,)}, "learning": {m: float}, "backward_transfer": {m: float},
        "seconds": {m: s}, "chosen": {m: strengths}}``.
    """
    chosen = choose_strengths(profile)
    runs = {m: cl_run(spec) for m, spec in main_specs(profile, seed, chosen).items()}
    return {"methods": list(METHODS),
            "accuracy": {m: r["accuracy"] for m, r in runs.items()},
            "first_task": {m: cl.first_task_accuracy(r["accuracy"]) for m, r in runs.items()},
            "average": {m: cl.average_accuracy(r["accuracy"]) for m, r in runs.items()},
            "learning": {m: cl.learning_accuracy(r["accuracy"]) for m, r in runs.items()},
            "backward_transfer": {m: cl.backward_transfer(r["accuracy"]) for m, r in runs.items()},
            "seconds": {m: r["seconds"] for m, r in runs.items()},
            "chosen": {m: v for m, v in chosen.items() if m != "grid"}}


def importance_results(profile: str, seed: int = 0) -> dict:
    """Fig. 5c for one seed: the importance of the trunk weights after all tasks, per method,
    without and with forgetting layers: histograms of ``log10(Ω / mean Ω)`` and
    :func:`afm.baselines.continual.polarisation_shares`.

    Returns:
        ``{"bins": edges, method: {"plain"|"forgetting": {"hist": counts,
        "polarisation": {...}}}}`` for ``method`` in :data:`IMPORTANCE_METHODS`.
    """
    specs = main_specs(profile, seed)
    out = {"bins": LOG_BINS}
    for method in IMPORTANCE_METHODS:
        out[method] = {}
        for key, name in (("plain", method), ("forgetting", f"{method}_f")):
            omega = np.concatenate([cl_run(specs[name])["importance"][k].ravel()
                                    for k in TRUNK_WEIGHTS]).astype(np.float64)
            out[method][key] = {"hist": log_histogram(omega),
                                "polarisation": cl.polarisation_shares(omega)}
    return out


def log_histogram(omega: np.ndarray, bins: np.ndarray = LOG_BINS) -> np.ndarray:
    """Counts of ``log10(Ω / mean Ω)`` in ``bins``, values outside (and Ω = 0) in the end bins."""
    u = omega / omega.mean()
    with np.errstate(divide="ignore"):
        logs = np.log10(u)
    logs = np.clip(np.nan_to_num(logs, neginf=bins[0]), bins[0], bins[-1] - 1e-9)
    return np.histogram(logs, bins=bins)[0]


def permutation_examples(n_digits: int = 4, tasks=(0, 1, 2), seed: int = 0) -> dict:
    """Fig. 5a: the first ``n_digits`` test digits, unpermuted and under each task's permutation.

    Returns ``{"labels": (n,), "original": (n, 28, 28), "tasks": {t: (n, 28, 28)}}``.
    """
    images, labels = afm_data.load_dataset("mnist", train=False).tensors
    x = images[:n_digits].reshape(n_digits, -1)
    out = {"labels": labels[:n_digits].numpy(), "original": x.reshape(-1, 28, 28).numpy(),
           "tasks": {}}
    for t in tasks:
        perm = torch.from_numpy(afm_data.pixel_permutation(t, seed))
        out["tasks"][t] = x[:, perm].reshape(-1, 28, 28).numpy()
    return out


def permutations(profile: str, seed: int = 0) -> dict:
    """Fig. 5a for ``seed``'s task permutations: :func:`permutation_examples` (the same in
    every profile)."""
    check_profile(profile)
    return permutation_examples(seed=seed)


def example_seeds(profile: str) -> list[int]:
    """Fig. 5a draws the permutations of seed 0."""
    return [0]


#: The chapter's figures, for :mod:`afm.lab.figures` (``afm run``) and the chapter.
FIGURES = [
    Figure("5a", "Permuted MNIST: digits under three task permutations", "05_long_memory",
           plot=plotting.fig_5a_permutations, compute=permutations, seeds=example_seeds),
    Figure("5b", "Ten Permuted-MNIST tasks: first-task and average accuracy", "05_long_memory",
           plot=plotting.fig_5b, compute=sequence_results, seeds=seeds, prepare=prepare),
    Figure("5c", "Importance of the trunk weights, with and without forgetting layers",
           "05_long_memory", plot=plotting.fig_5c, compute=importance_results, seeds=seeds,
           prepare=prepare),
]
