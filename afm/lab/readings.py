"""The readings of the paper, declared before any result: where its text admits more than one.

An :class:`Axis` is one choice the paper leaves open (with or without the shortcut, Eq. (8)
asymmetric or symmetric, λ chosen on validation or fixed, ...): the sentence of the paper
that leaves it open, and its alternatives, each a frozen bundle of settings. The first
alternative is the book's default reading. :data:`CLAIM_READINGS` says which axes bear on
each claim, and :func:`claim_readings` expands that into the concrete readings the claim is
measured under. Everything here is fixed before a result is looked at, and every reading is
reported: a map of the conditions under which each claim holds, not a search for a passing one.

A reading is a plain dict of settings, named like the run spec's fields (``shortcut``,
``rho``, ``lam``, ``beta``, ``optimizer``, ``momentum``, ``lr``, ``batch_norm``) or like what
they feed: ``lateral`` is the ``reading`` of :func:`afm.lateral_inhibition_loss`,
``lam_rule`` how λ is chosen, ``eq2_outside`` the ``outside`` of
:func:`afm.importance.weight_importance` and ``eq2_threshold`` one global threshold
(:func:`~afm.baselines.pruning.keep_top`) or one per layer
(:func:`~afm.baselines.pruning.keep_top_per_layer`).

This is protocol, not mechanism, so it lives in :mod:`afm.lab` beside the claims it indexes;
the core modules (:mod:`afm.layer`, :mod:`afm.losses`, ...) do not know about claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from itertools import product
from typing import Any

from afm.baselines.pruning import keep_top, keep_top_per_layer

#: The fixed λ grid of the ``lam`` axis; β is fixed with it (for an ERS-only network β is 0).
LAM_GRID = (0.1, 1.0)
BETA_FIXED = 1e-4


@dataclass(frozen=True)
class Alternative:
    """One way of reading an open choice: a short label and a frozen bundle of settings."""

    label: str
    settings: tuple[tuple[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.settings)


def alt(label: str, **settings: Any) -> Alternative:
    """``alt("no shortcut", shortcut=False)``: an :class:`Alternative` (settings in the given order)."""
    return Alternative(label, tuple(settings.items()))


@dataclass(frozen=True)
class Axis:
    """A choice the paper leaves open.

    Args:
        name: the axis' key in :data:`AXES` and :data:`CLAIM_READINGS`.
        equation: where in the book's account of the equations it sits, e.g. ``"Eq. (5) / (3)"``.
        paper: the paper's sentence that motivates it (quoted).
        why_open: why that sentence admits more than one reading.
        alternatives: the readings; the first is the book's default.
    """

    name: str
    equation: str
    paper: str
    why_open: str
    alternatives: tuple[Alternative, ...]

    @property
    def default(self) -> Alternative:
        return self.alternatives[0]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.default.settings)


AXES: dict[str, Axis] = {a.name: a for a in [
    Axis("shortcut", "Eq. (5) or Eq. (3)",
         "Since the sigmoid function tends to oversaturate with large activation values, this will "
         "cause the model to be prone to gradient disappearance on the deep network, making it "
         "difficult to converge (Fig. 1 b). To alleviate this issue, we introduce the shortcut",
         "The paper introduces the shortcut h + h⊙σ (Eq. 5) as a remedy but never says which "
         "experiments use it. It also says that \"a low weight value means that excitatory neurons "
         "are turned off\", which holds for h⊙σ (Eq. 3) but not under the shortcut, where a closed "
         "switch still passes h.",
         (alt("shortcut", shortcut=True), alt("no shortcut", shortcut=False))),
    Axis("lateral", "Eq. (8)",
         "(i) if one neuron is essential, it should be inhibited less; and (ii) if one neuron is "
         "essential, it inhibits others more.",
         "The extracted Eq. (8) reads h_i h_j 1 − σ_i σ_j: the brackets were lost, so both "
         "(1 − σ_i) σ_j (asymmetric, both hypotheses) and 1 − σ_i σ_j (symmetric) fit the letters.",
         (alt("Eq. 8 asymmetric", lateral="asymmetric"), alt("Eq. 8 symmetric", lateral="symmetric"))),
    Axis("lam", "Eq. (9)",
         "hyperparameters λ and β control the weights of inhibition and lateral inhibition, as well "
         "as the rate of forgetting, respectively.",
         "The paper gives no values. The book chooses (λ, β) on validation accuracy, which can pick "
         "between near-ties whose switches behave in opposite ways; the fixed readings judge the "
         "claim at each λ of a grid, with β fixed, whatever validation prefers.",
         (alt("λ on validation", lam_rule="validation", lam=None, beta=None),
          *(alt(f"λ = {lam:g}", lam_rule="fixed", lam=lam, beta=BETA_FIXED) for lam in LAM_GRID))),
    Axis("rho", "Eq. (4)",
         "ρ is a hyperparameter with a value greater than zero, which controls the degree of "
         "polarisation of the sigmoid function.",
         "The paper gives no value; a steeper δ polarises the switches, which is what the "
         "importance and inhibition claims are about.",
         (alt("ρ = 1", rho=1.0), alt("ρ = 4", rho=4.0))),
    Axis("optimizer", "training (not an equation)",
         "The vanilla sgd is the standard model that serves as the control group.",
         "The optimizer, its momentum and learning rate are never stated, and \"sgd\" may name "
         "plain stochastic gradient descent. Claims about training speed (how far a network gets "
         "in a few epochs) depend on it.",
         (alt("SGD, momentum 0.9", optimizer="sgd", momentum=0.9, lr=0.05),
          alt("plain SGD", optimizer="sgd", momentum=0.0, lr=0.01))),
    Axis("eq2_outside", "Eq. (2)",
         "where Ωli and Ωl−1j are neurons in adjacent layers. If neither neuron is important, the "
         "connection between them, corresponding to the parameter, is even less important",
         "The input pixels and the output logits have no forgetting layer, so no Ω. Read as Ω = 0, "
         "the first and last layers' weights are scored by one side only and go first; read as "
         "Ω = 1 (never forgotten), they go last.",
         (alt("Ω outside = 0", eq2_outside=0.0), alt("Ω outside = 1", eq2_outside=1.0))),
    Axis("eq2_threshold", "Eq. (2)",
         "forgetting layer-based parameter importance sampling (forgetting l2), which selects the "
         "parameter with the lowest importance value",
         "Lowest over the whole network (one global threshold) or within each layer (one "
         "threshold per layer)?",
         (alt("global threshold", eq2_threshold="global"),
          alt("per-layer threshold", eq2_threshold="per_layer"))),
    Axis("batch_norm", "VGG-9 (not an equation)",
         "We trained the VGG network with 9 layers on CIFAR-10.",
         "Whether this VGG has batch normalisation is not stated. Batch normalisation rescales "
         "every channel, which can cancel the gain (1 + σ) that the shortcut adds.",
         (alt("batch norm", batch_norm=True), alt("no batch norm", batch_norm=False))),
]}

#: Mechanism and importance claims: at least the shortcut crossed with λ.
_SHORTCUT_LAM = ("shortcut", "lam")

#: Which readings bear on each claim: claim id → designs; each design is a tuple of axes whose
#: alternatives are crossed, the axes of the other designs staying at their defaults.
CLAIM_READINGS: dict[str, tuple[tuple[str, ...], ...]] = {
    "fig1c-lateral-inhibition": (_SHORTCUT_LAM, ("rho",), ("lateral",)),
    "fig1d-activation-decreased": (_SHORTCUT_LAM,),
    "fig1e-sparsity-raised": (_SHORTCUT_LAM,),
    "fig1e-ers-sparser-than-irs": (_SHORTCUT_LAM, ("lateral",)),
    "fig1e-irs-generalises": (_SHORTCUT_LAM, ("lateral",)),
    "fig1e-upper-layer-less-sparse": (_SHORTCUT_LAM,),
    "fig1f-switches-close": (_SHORTCUT_LAM, ("rho",)),
    "fig2a-positive-order-80": (_SHORTCUT_LAM, ("lateral",)),
    "fig2a-inverse-order-5": (_SHORTCUT_LAM, ("lateral",)),
    "fig2a-random-between": (_SHORTCUT_LAM, ("lateral",)),
    "fig2b-higher-layers-critical": (_SHORTCUT_LAM,),
    "fig2c-top-channels-collapse": (_SHORTCUT_LAM, ("rho",)),
    "fig2d-importance-bimodal": (_SHORTCUT_LAM, ("rho",)),
    "fig2d-irs-polarises": (_SHORTCUT_LAM, ("lateral",)),
    "fig3a-gain-over-sgd": (("optimizer",),),
    "fig3a-ordering-l1-l2": (("optimizer",),),
    "fig3b-few-parameters": (_SHORTCUT_LAM, ("eq2_outside", "eq2_threshold")),
    "fig3b-random-worse": (_SHORTCUT_LAM, ("eq2_outside", "eq2_threshold")),
    "fig3c-convergence": (("optimizer", "batch_norm"),),
    "fig3c-without-losses": (("optimizer", "batch_norm"),),
}

#: Claims of the varied figures on which no reading bears, and why.
UNVARIED: dict[str, str] = {
    "fig2d-plain-near-uniform": "it measures the plain network, which has no forgetting layer: "
                                "no reading of the layer or its losses changes it",
}


def claim_readings(claim_id: str) -> list[dict[str, Any]]:
    """The concrete readings ``claim_id`` is measured under; the first is the book's default.

    Every reading carries the settings of every axis that bears on the claim (at its default
    where a design does not vary it), so all have the same keys. The order is fixed: designs in
    the order declared, alternatives crossed in the order declared, repeats dropped.

    Args:
        claim_id: an id of :data:`afm.lab.claims.EXPECTED_CLAIMS`.

    Returns:
        A list of dicts (``[]`` for a claim on which no reading bears).

    Raises:
        ValueError: for an id that is not a claim of the book.

    Example:
        >>> readings = claim_readings("fig2a-random-between")
        >>> len(readings), readings[0]
        (7, {'shortcut': True, 'lateral': 'asymmetric', 'lam_rule': 'validation', 'lam': None, 'beta': None})
        >>> [label(r) for r in readings[:3]]
        ['default', 'λ = 0.1', 'λ = 1']
    """
    from afm.lab.claims import EXPECTED_CLAIMS

    if claim_id not in EXPECTED_CLAIMS:
        raise ValueError(f"unknown claim {claim_id!r}: see afm.lab.claims.EXPECTED_CLAIMS")
    designs = CLAIM_READINGS.get(claim_id, ())
    used = [a for a in AXES if any(a in d for d in designs)]
    base: dict[str, Any] = {}
    for name in used:
        base.update(AXES[name].default.settings)
    out: list[dict[str, Any]] = []
    for design in designs:
        for combo in product(*(AXES[name].alternatives for name in design)):
            reading = dict(base)
            for alternative in combo:
                reading.update(alternative.settings)
            if reading not in out:
                out.append(reading)
    return out


def _alternative(axis: Axis, reading: Mapping[str, Any]) -> Alternative | None:
    """The alternative of ``axis`` that ``reading`` sets; None if it sets none of the axis' keys."""
    present = [k for k in axis.keys if k in reading]
    if not present:
        return None
    for alternative in axis.alternatives:
        if all(k in reading and reading[k] == v for k, v in alternative.settings):
            return alternative
    given = {k: reading[k] for k in present}
    raise ValueError(f"{given} is not a declared reading of "
                     f"{axis.name!r}; declared: {[a.as_dict() for a in axis.alternatives]}")


def check_reading(reading: Mapping[str, Any]) -> dict[str, Any]:
    """``reading`` as a dict, once every setting is checked to be a declared alternative.

    Raises:
        ValueError: for an unknown setting, or a combination no axis declares.

    Example:
        >>> check_reading({"shortcut": False})
        {'shortcut': False}
        >>> check_reading({"shortcut": False, "rho": 2.0})
        Traceback (most recent call last):
            ...
        ValueError: {'rho': 2.0} is not a declared reading of 'rho'; declared: [{'rho': 1.0}, {'rho': 4.0}]
    """
    known = {k for axis in AXES.values() for k in axis.keys}
    unknown = sorted(set(reading) - known)
    if unknown:
        raise ValueError(f"unknown reading settings {unknown}: expected some of {sorted(known)}")
    for axis in AXES.values():
        _alternative(axis, reading)
    return dict(reading)


def is_default(reading: Mapping[str, Any]) -> bool:
    """True if every axis ``reading`` sets is at the book's default."""
    check_reading(reading)
    return all(_alternative(a, reading) in (None, a.default) for a in AXES.values())


def label(reading: Mapping[str, Any]) -> str:
    """A short name: ``"default"``, or the labels of its non-default alternatives joined by ``" · "``.

    Example:
        >>> label({"shortcut": False, "lam_rule": "fixed", "lam": 1.0, "beta": 1e-4})
        'no shortcut · λ = 1'
    """
    check_reading(reading)
    changed = [alt.label for axis in AXES.values()
               if (alt := _alternative(axis, reading)) not in (None, axis.default)]
    return " · ".join(changed) or "default"


#: Settings that are not part of a training run: how λ is chosen, and how Eq. (2) prunes.
NOT_TRAINING = ("lam_rule", "eq2_outside", "eq2_threshold")
#: Settings a run spec without a field of their name keeps among its ``options`` pairs.
OPTIONS = ("batch_norm",)


def apply_reading(spec, reading: Mapping[str, Any]):
    """The run spec ``spec`` (a frozen dataclass) trained under ``reading``.

    Each setting goes to the spec's field of that name, else to the field of that name of its
    ``train`` config (optimizer, momentum, lr), else, for
    :data:`OPTIONS`, into its ``options`` pairs. λ and β are set only by a fixed-λ reading
    (``None`` leaves the validated choice); ``lam_rule`` and the Eq. (2) settings are not
    training settings and are left out.

    Raises:
        ValueError: if the reading sets something the spec has no place for.

    Example:
        >>> from afm.lab.runs import Run
        >>> run = apply_reading(Run(lam=1.0, beta=1e-3), claim_readings("fig2a-random-between")[4])
        >>> run.shortcut, run.lam, run.beta, run.lateral
        (False, 0.1, 0.0001, 'asymmetric')
        >>> apply_reading(Run(), {"optimizer": "sgd", "momentum": 0.0, "lr": 0.01}).train.momentum
        0.0
    """
    names = {f.name for f in fields(spec)}
    train = getattr(spec, "train", None)
    train_names = {f.name for f in fields(train)} if is_dataclass(train) else set()
    changes: dict[str, Any] = {}
    train_changes: dict[str, Any] = {}
    options: dict[str, Any] = {}
    missing = []
    for key, value in check_reading(reading).items():
        if key in NOT_TRAINING or value is None:
            continue
        if key in names:
            changes[key] = value
        elif key in train_names:
            train_changes[key] = value
        elif key in OPTIONS and "options" in names:
            options[key] = value
        else:
            missing.append(key)
    if missing:
        raise ValueError(f"{type(spec).__name__} has no field for the reading settings {missing}: "
                         f"add them to the run spec, or measure this claim without that reading")
    if train_changes:
        changes["train"] = replace(train, **train_changes)
    if options:
        changes["options"] = tuple({**dict(spec.options), **options}.items())
    return replace(spec, **changes)


#: ``eq2_threshold`` → the function that keeps the top weights by θ of Eq. (2).
THRESHOLDS = {"global": keep_top, "per_layer": keep_top_per_layer}


def claims_moved_by(name: str) -> list[str]:
    """The claims on which the axis ``name`` bears, in the order of :data:`CLAIM_READINGS`."""
    if name not in AXES:
        raise ValueError(f"unknown axis {name!r}: expected one of {list(AXES)}")
    return [c for c, designs in CLAIM_READINGS.items() if any(name in d for d in designs)]


def readings_markdown() -> str:
    """Every axis as a Markdown list item: the choice, the paper's sentence, why it is open, its
    readings (the default in bold) and the claims it moves. The appendix renders this, so the
    book's account of the readings is the declaration itself.

    Example:
        >>> print(readings_markdown().splitlines()[0])  # doctest: +ELLIPSIS
        * **shortcut**, Eq. (5) or Eq. (3). *The paper:* "Since the sigmoid function ...
    """
    items = []
    for axis in AXES.values():
        alternatives = ", ".join(f"**{a.label}** (default)" if a is axis.default else a.label
                                 for a in axis.alternatives)
        claims = ", ".join(f"`{c}`" for c in claims_moved_by(axis.name))
        items.append(f"* **{axis.name}**, {axis.equation}. *The paper:* \"{axis.paper}\" "
                     f"*Why it is open:* {axis.why_open} *Readings:* {alternatives}. "
                     f"*Claims it moves:* {claims}.")
    return "\n".join(items)
