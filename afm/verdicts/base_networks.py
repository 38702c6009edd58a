"""Base networks beside published references: is a network trained well enough to judge?

A claim about what a forgetting layer does to a network is weak evidence when the
network itself is far from what it can reach. Every chapter therefore states the test
accuracy of the networks it trains beside a published reference (:data:`REFERENCES`),
and a claim measured on a network below :data:`FRACTION` of its reference is marked
*provisional (under-trained)* (:func:`provisional`). The rule was fixed before the
book's accuracies were compared with it.

References are approximate where the literature gives a range or no canonical figure
for the exact network; :attr:`Reference.note` says which, and the lower end of a range
is used, so that the rule errs towards *not* marking a network provisional.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from afm.lab.paths import cache_dir

#: A network below this fraction of its reference accuracy is under-trained.
FRACTION = 0.9


@dataclass(frozen=True)
class Reference:
    """A published test accuracy for a network like one the book trains.

    Args:
        network: the published network and dataset, in words.
        accuracy: its test accuracy, a fraction in (0, 1].
        source: the BibTeX key of the source in the book's ``references.bib``; empty where
            the figure is commonly reported without one canonical publication.
        note: how the figure was read (``approximate: ...`` where the source gives a range).
    """

    network: str
    accuracy: float
    source: str
    note: str


#: One reference per kind of base network the book trains (keys used by the chapters).
REFERENCES: dict[str, Reference] = {
    "mnist-mlp": Reference(
        "three-layer MLP, MNIST", 0.97, "lecun1998",
        "approximate: three-layer MLPs reach 96.95-97.55 % in the comparison table"),
    "fashion-mnist-mlp": Reference(
        "MLP, Fashion-MNIST", 0.87, "xiao2017",
        "approximate: the benchmark's MLPs reach about 87-88 %"),
    "cifar10-lenet5": Reference(
        "LeNet-5-sized CNN, CIFAR-10", 0.60, "",
        "approximate: commonly reported at 60-67 %, with no canonical published figure "
        "for LeNet-5 on CIFAR-10; the lower end is used"),
    "cifar10-vgg": Reference(
        "VGG-class CNN, CIFAR-10", 0.85, "li2017",
        "approximate: VGG-class networks reach 85-90 % and more (VGG-16: 93.3 %); "
        "no canonical figure for VGG-9, the lower end is used"),
    "pmnist-joint": Reference(
        "joint training, Permuted MNIST (10 tasks, task-incremental)", 0.977, "vandeven2019",
        "average over the tasks after the last"),
    "pmnist-ewc": Reference(
        "EWC, Permuted MNIST (10 tasks, task-incremental)", 0.947, "vandeven2019",
        "average over the tasks after the last"),
    "pmnist-si": Reference(
        "SI, Permuted MNIST (10 tasks, task-incremental)", 0.948, "vandeven2019",
        "average over the tasks after the last"),
    "pmnist-finetune": Reference(
        "fine-tuning, Permuted MNIST (10 tasks, task-incremental)", 0.818, "vandeven2019",
        "average over the tasks after the last"),
}


def _check_accuracy(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be an accuracy in [0, 1] (a fraction, not a percentage), "
                         f"got {value!r}")
    return value


def provisional(measured: float, reference: float, fraction: float = FRACTION) -> bool:
    """True when ``measured < fraction * reference``: the network is under-trained.

    Both accuracies are fractions in [0, 1]; ``fraction`` lies in (0, 1].

    Example:
        >>> provisional(0.41, 0.60), provisional(0.54, 0.60), provisional(0.85, 0.87)
        (True, False, False)
    """
    measured = _check_accuracy("measured", measured)
    reference = _check_accuracy("reference", reference)
    if reference == 0.0:
        raise ValueError("reference must be a positive accuracy, got 0")
    if not (math.isfinite(fraction) and 0.0 < fraction <= 1.0):
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
    return measured < fraction * reference


def base_row(network: str, reference: str, accuracies: Sequence[float],
             fraction: float = FRACTION) -> dict:
    """One row of :func:`base_table`: ``accuracies`` (per seed, fractions) against
    :data:`REFERENCES` ``[reference]``; percentages in the row, ``ratio`` = mean / reference."""
    if reference not in REFERENCES:
        raise KeyError(f"unknown reference {reference!r}; known: {sorted(REFERENCES)}")
    acc = np.asarray(accuracies, dtype=float).ravel()
    if acc.size == 0:
        raise ValueError(f"{network}: no measured accuracy (give one per seed)")
    for a in acc:
        _check_accuracy(f"{network}: measured accuracy", a)
    ref = REFERENCES[reference]
    mean, std = float(acc.mean()), float(acc.std(ddof=1)) if acc.size > 1 else 0.0
    return {"network": network, "test accuracy (%)": 100 * mean, "std (%)": 100 * std,
            "n seeds": int(acc.size), "reference (%)": 100 * ref.accuracy,
            "reference network": ref.network, "source": ref.source or "(no single source)",
            "note": ref.note,
            "ratio": mean / ref.accuracy,
            "provisional": provisional(mean, ref.accuracy, fraction)}


def base_table(measured: Mapping[str, tuple[str, Sequence[float]]],
               fraction: float = FRACTION) -> "pandas.DataFrame":
    """The base-network table of a chapter.

    Args:
        measured: ``{network label: (reference key, per-seed test accuracies as fractions)}``.
        fraction: the provisional rule's fraction of the reference.

    Returns:
        One row per network: ``network``, ``test accuracy (%)``, ``std (%)`` (ddof 1),
        ``n seeds``, ``reference (%)``, ``reference network``, ``source`` (BibTeX key, or
        ``"(no single source)"``),
        ``note``, ``ratio`` (mean / reference) and ``provisional`` (mean below
        ``fraction`` of the reference).

    Example:
        >>> t = base_table({"LeNet-5": ("cifar10-lenet5", [0.40, 0.42])})
        >>> round(float(t["ratio"][0]), 3), bool(t["provisional"][0])
        (0.683, True)
    """
    import pandas as pd

    if not measured:
        raise ValueError("base_table needs at least one network")
    return pd.DataFrame([base_row(name, ref, acc, fraction)
                         for name, (ref, acc) in measured.items()])


def base_numbers(table: "pandas.DataFrame") -> dict:
    """What a chapter's sentence on its base networks glues: ``n`` networks, ``provisional``
    (how many are under-trained), ``under`` (their names, or ``"none"``), ``lowest_ratio``
    and ``status``, the words the chapter
    puts on its claims (``"provisional (under-trained)"`` if any network is, else
    ``"judged on adequately trained networks"``).

    Example:
        >>> t = base_table({"a": ("mnist-mlp", [0.97]), "b": ("cifar10-lenet5", [0.30])})
        >>> base_numbers(t)
        {'n': 2, 'provisional': 1, 'under': 'b', 'lowest_ratio': 0.5, 'status': 'provisional (under-trained)'}
    """
    k = int(table["provisional"].sum())
    under = "; ".join(table.loc[table["provisional"].astype(bool), "network"]) or "none"
    return {"n": len(table), "provisional": k, "under": under, "lowest_ratio": float(table["ratio"].min()),
            "status": "provisional (under-trained)" if k else "judged on adequately trained networks"}


def base_dir(profile: str) -> Path:
    """``<cache>/base_networks/<profile>``, where the chapters record their base tables."""
    path = cache_dir() / "base_networks" / profile
    path.mkdir(parents=True, exist_ok=True)
    return path


def record_base(table: "pandas.DataFrame", chapter: str, profile: str) -> Path:
    """Write a chapter's :func:`base_table` atomically to
    ``<cache>/base_networks/<profile>/<chapter>.json`` (JSON, read back by :func:`load_base`)."""
    rows = [{**{k: (bool(v) if k == "provisional" else v) for k, v in row.items()},
             "chapter": chapter} for row in table.to_dict(orient="records")]
    path = base_dir(profile) / f"{chapter}.json"
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(rows, f, indent=1, default=float)
    os.replace(tmp, path)
    return path


def load_base(profile: str) -> "pandas.DataFrame":
    """Every chapter's recorded base networks in ``profile`` (an empty table if none)."""
    import pandas as pd

    rows = [row for p in sorted(base_dir(profile).glob("*.json")) for row in json.loads(p.read_text())]
    return pd.DataFrame(rows)


def style_base(table: "pandas.DataFrame"):
    """The table as a chapter shows it (percentages to one decimal, ratio to two)."""
    shown = table.drop(columns=["note"])
    return (shown.style.format({"test accuracy (%)": "{:.1f}", "std (%)": "{:.1f}",
                                "reference (%)": "{:.1f}", "ratio": "{:.2f}"})
            .hide(axis="index"))


def _measured(chapter: str, profile: str) -> dict:
    """``{network label: (reference key, per-seed test accuracies)}`` of a chapter's base
    networks, read from its cached figure results (:func:`afm.lab.figures.results`)."""
    from afm.experiments import balance, efficient_learning, sparse_coding
    from afm.lab.figures import results

    def accs(figure: str, get) -> list[float]:
        return [get(r) for r in results(figure, profile).values()]

    if chapter == "01_forgetting_layer":
        return {f"MLP 784-128-256-10, MNIST, complete layer, {'with' if sc else 'without'} shortcut":
                ("mnist-mlp", accs("1b", lambda r: r["runs"][sc]["test_acc"])) for sc in (True, False)}
    if chapter == "02_sparse_coding":
        return {f"MLP 784-128-256-10, MNIST, {v}":
                ("mnist-mlp", accs("1e", lambda r: r["variants"][v]["test_acc"]))
                for v in sparse_coding.VARIANTS}
    if chapter == "03_neuron_importance":
        return {"MLP 784-256-256-128-10, Fashion-MNIST, complete layer (Fig. 2a, 2b)":
                ("fashion-mnist-mlp", accs("2a", lambda r: r["test_acc"])),
                **{f"LeNet-5, CIFAR-10, {n} (Fig. 2c)":
                   ("cifar10-lenet5", accs("2c", lambda r: r["test_acc"][n])) for n in ("forgetting", "plain")}}
    if chapter == "04_balance":
        return {**{f"MLP 784-64-64-10, Fashion-MNIST, {m} (Fig. 4a)":
                   ("fashion-mnist-mlp", accs("4a", lambda r: r[m]["test_acc"])) for m in balance.METHODS},
                **{f"MLP 784-64-64-10, MNIST, {m} (Fig. 4c)":
                   ("mnist-mlp", accs("4c", lambda r: r["test_acc"][m])) for m in balance.PAIR}}
    if chapter == "05_long_memory":
        return {f"{name}, Permuted MNIST, average after the last task":
                (ref, accs("5b", lambda r: r["average"][m][-1]))
                for m, name, ref in (("joint", "joint training", "pmnist-joint"), ("ewc", "EWC", "pmnist-ewc"),
                                     ("si", "SI", "pmnist-si"), ("sgd", "fine-tuning (sgd)", "pmnist-finetune"))}
    if chapter == "06_efficient_learning":
        return {**{f"MLP 784-256-256-128-10, Fashion-MNIST, {m}, largest training set (Fig. 3a)":
                   ("fashion-mnist-mlp", accs("3a", lambda r: r["runs"][max(r["sizes"])][m]["test_acc"]))
                   for m in efficient_learning.METHODS},
                **{f"VGG-9, CIFAR-10, {v} (Fig. 3b, 3c)":
                   ("cifar10-vgg", accs("3c", lambda r: r["runs"][v]["test_acc"]))
                   for v in efficient_learning.VARIANTS}}
    raise KeyError(f"no base networks known for chapter {chapter!r}; known: {sorted(GLUE_PREFIX)}")


#: The prefix under which each chapter glues :func:`base_numbers`.
GLUE_PREFIX = {"01_forgetting_layer": "ch1_base", "02_sparse_coding": "ch2_base",
               "03_neuron_importance": "ch3_base", "04_balance": "bal_base",
               "05_long_memory": "ch5_base", "06_efficient_learning": "ch6_base"}


def show_base(chapter: str, profile: str):
    """A chapter's base-network table: built from its cached results (:func:`base_table`),
    recorded (:func:`record_base`), its :func:`base_numbers` glued as ``<prefix>_<name>``
    (:data:`GLUE_PREFIX`), and returned styled for display (:func:`style_base`)."""
    from afm.lab.book import glue_numbers

    if chapter not in GLUE_PREFIX:
        raise KeyError(f"no base networks known for chapter {chapter!r}; known: {sorted(GLUE_PREFIX)}")
    table = base_table(_measured(chapter, profile))
    record_base(table, chapter, profile)
    glue_numbers(base_numbers(table), GLUE_PREFIX[chapter])
    return style_base(table).set_caption("Base networks: test accuracy (%) against a published reference")


def show_all_base(profile: str, prefix: str = "rep_base"):
    """Every chapter's recorded base networks (:func:`load_base`) for the report: glues
    ``<prefix>_n`` and ``<prefix>_provisional`` (0 and 0 when none is recorded) and returns
    the styled table (None, after saying so, when no chapter has recorded any yet)."""
    from afm.lab.book import glue_numbers

    base = load_base(profile)
    numbers = base_numbers(base) if len(base) else {"n": 0, "provisional": 0}
    glue_numbers({k: numbers[k] for k in ("n", "provisional")}, prefix)
    if not len(base):
        print("No chapter has recorded its base networks in this profile yet.")
        return None
    return (style_base(base[["chapter"] + [c for c in base.columns if c != "chapter"]])
            .set_caption("Base networks of every chapter that has run in this profile"))
