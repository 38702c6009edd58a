"""Why the paper's layer breaks plug-in training at ordinary learning rates: the measurements.

* :func:`initial_gain`: the scale of the logits (and of the features the
  classifier reads) before learning, plugged against plain. Before learning every
  switch is half open, so the paper's layer multiplies its input by 1.5; where
  nothing normalises afterwards (a residual stream, the classifier head, a
  network without normalisation) the factors compound.
* the ``"detached"`` run (:class:`afm.experiments.own_model.DetachedGate`): the
  paper's layer with the gradient path through the gate's input cut, which tells
  whether the gate's own gradient (the ``h σ' W_f`` term of the Jacobian) or the
  forward gain breaks training.
* :func:`dead_share`: the share of ReLU units (channels) that never fire on the
  test images: a unit that a too-large update pushes below zero for every input
  gets no gradient again (a dead ReLU).
"""

from __future__ import annotations

import torch
from torch import nn

from afm.experiments.own_model import ARCHITECTURES, plug_run, plugged_run, splits
from afm.lab.cache import cached
from afm.lab.runs import Run


def _rms(t: torch.Tensor) -> float:
    return float(t.double().pow(2).mean().sqrt())


def initial_gain(arch: str, n: int = 256, seed: int = 0) -> dict:
    """RMS of the logits and of the classifier's input before learning, per variant, on ``n``
    real training images; ``{"plain"|"paper"|"unit": {"logits": rms, "features": rms}}``."""
    x = splits(arch, n, seed)[0].tensors[0]
    out = {}
    for variant in ("plain", "paper", "unit"):
        model = plugged_run(arch, variant, seed=seed).build().eval()
        head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        seen = []
        handle = head.register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0]))
        with torch.no_grad():
            logits = model(x)
        handle.remove()
        out[variant] = {"logits": _rms(logits), "features": _rms(seen[0])}
    return out


def dead_share(spec: Run, n: int = 1000) -> float:
    """The share of ReLU units (channels of feature maps) of the trained run ``spec`` that are 0
    for every one of ``n`` test images (every ReLU call of the network counted separately)."""
    model = spec.build(plug_run(spec)["state_dict"])
    x = splits(spec.arch, 0, spec.seed, n)[2].tensors[0]
    fired: list[torch.Tensor] = []
    handles = [m.register_forward_hook(
        lambda _m, _i, o: fired.append(o.detach().flatten(2).amax(2) if o.dim() == 4 else o.detach()))
        for m in model.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    units = torch.cat([(f > 0).any(0) for f in fired])
    return float(1 - units.float().mean())


def cause(profile: str) -> dict:
    """Every measurement of the cause, per architecture, at its usual learning rate (seed 0)."""
    return cached("plug_cause", {"profile": profile}, lambda: _cause(profile))


def _cause(profile: str) -> dict:
    from afm.experiments.own_model import settings as chapter_settings

    settings = chapter_settings(profile)
    out = {}
    for arch, spec in ARCHITECTURES.items():
        usual = {v: plugged_run(arch, v, spec["usual"], settings["train_size"], settings["epochs"],
                                eval_size=settings["eval_size"]) for v in ("plain", "paper", "unit", "detached")}
        runs = {v: plug_run(usual[v]) for v in usual}
        out[arch] = {
            "gain": initial_gain(arch),
            "lr": spec["usual"],
            "test_acc": {v: r["test_acc"] for v, r in runs.items()},
            "batch_loss": {v: r["batch_loss"] for v, r in runs.items()},
            "dead": {v: dead_share(usual[v]) for v in ("plain", "paper", "unit")}
            if arch != "transformer" else None,
        }
    return out
