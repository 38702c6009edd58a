"""Tables and verdicts of chapter 9, your own model: why the paper's layer can break a
network (the forward gain), accuracy at the usual learning rate, Ω-guided silencing and cost.

Each function takes the chapter's cached results and returns ``(rows, numbers)``: the rows of
the table the chapter shows, and the numbers its prose glues (names without the ``pl_`` prefix).
"""

from __future__ import annotations

import numpy as np

from afm.experiments import own_model as plugin
from afm.lab.claims import verdict_from

#: A variant "recovers" when its test accuracy is within this much (a fraction) of the plain network's.
TOLERANCE = 0.05


def recovers(c: dict, variant: str) -> bool:
    """Within :data:`TOLERANCE` of the plain network at the usual learning rate (seed 0)?"""
    return c["test_acc"][variant] >= c["test_acc"]["plain"] - TOLERANCE


def _effect(c: dict) -> str:
    gap = c["test_acc"]["paper"] - c["test_acc"]["plain"]
    return (f"hurts ({100 * gap:+.1f} points)" if gap < -TOLERANCE else
            f"helps ({100 * gap:+.1f} points)" if gap > TOLERANCE else
            f"makes no difference beyond 5 points ({100 * gap:+.1f})")


def cause_table(why: dict) -> tuple[list[dict], dict]:
    """The forward gains, accuracies and dead ReLUs of :func:`afm.experiments.own_model_cause.cause`."""
    rows, n = [], {}
    for arch, c in why.items():
        g = c["gain"]
        rows.append({"network": arch,
                     "classifier input, paper / plain": g["paper"]["features"] / g["plain"]["features"],
                     "logits, paper / plain": g["paper"]["logits"] / g["plain"]["logits"],
                     "logits, plug-in default / plain": g["unit"]["logits"] / g["plain"]["logits"],
                     **{f"test acc. {v} (%)": 100 * c["test_acc"][v] for v in ("plain", "paper", "detached", "unit")},
                     "dead ReLUs plain / paper (%)": "—" if c["dead"] is None else
                     f"{100 * c['dead']['plain']:.0f} / {100 * c['dead']['paper']:.0f}"})
        n[f"gain_{arch}"] = rows[-1]["classifier input, paper / plain"]
        n[f"logit_gain_{arch}"] = rows[-1]["logits, paper / plain"]
        n.update({f"why_{arch}_{v}": 100 * c["test_acc"][v] for v in ("plain", "paper", "detached", "unit")})
        n[f"lr_{arch}"] = c["lr"]
        if c["dead"] is not None:
            n[f"dead_{arch}_plain"], n[f"dead_{arch}_paper"] = 100 * c["dead"]["plain"], 100 * c["dead"]["paper"]
    broken = [a for a in why if not recovers(why[a], "paper")]
    detach_fixes = [a for a in broken if recovers(why[a], "detached")]
    n["broken"] = ", ".join(broken) if broken else "none of the three networks"
    n["detach_finding"] = (
        "none of the networks it breaks recovers: not the gate's gradient but the forward gain is "
        "what matters" if broken and not detach_fixes else
        f"{', '.join(detach_fixes)} recover(s), so the gate's gradient path plays a part" if detach_fixes
        else "(the paper's layer breaks none of the networks in this run)")
    n.update({f"effect_{a}": _effect(why[a]) for a in why})
    n["unit_finding"] = ("every network" if all(recovers(why[a], "unit") for a in why) else
                         ", ".join(a for a in why if recovers(why[a], "unit")) or "none of the networks")
    return rows, n


def accuracy_rows(table: dict) -> list[dict]:
    """:func:`afm.plotting.own_model.accuracy_table` as rows: mean ± std (%) per network, rate, variant."""
    return [{"network": arch, "lr": lr,
             **{f"{v} (%)": f"{100 * table[arch][v][lr][0]:.1f} ± {100 * table[arch][v][lr][1]:.1f}"
                for v in plugin.VARIANTS}}
            for arch in plugin.ARCHITECTURES for lr in table[arch]["plain"]]


def _per_seed(runs: dict, arch: str, variant: str, lr: float) -> np.ndarray:
    return np.array([next(r["test_acc"] for r in res["rows"] if r["arch"] == arch
                          and r["variant"] == variant and r["lr"] == lr) for res in runs.values()])


def usual_rate(runs: dict, table: dict) -> tuple[list[dict], dict]:
    """Gaps to the plain network at the usual learning rate (verdict: within 5 points in every
    seed) and each variant at the rate its validation accuracy chooses."""
    rows, n = [], {}
    for arch, spec in plugin.ARCHITECTURES.items():
        usual = min(table[arch]["plain"], key=lambda lr: abs(np.log(lr / spec["usual"])))
        plain = _per_seed(runs, arch, "plain", usual)
        for variant in ("paper", "unit"):
            gap = _per_seed(runs, arch, variant, usual) - plain
            n[f"gap_{arch}_{variant}"] = 100 * gap.mean()
            n[f"verdict_{arch}_{variant}"] = verdict_from(bool((gap >= -TOLERANCE).all()),
                                                          bool((gap >= -TOLERANCE).any()))
        for variant in plugin.VARIANTS:
            picks = [plugin.choose_lr(res["rows"], arch, variant) for res in runs.values()]
            rows.append({"network": arch, "variant": variant,
                         "lr chosen on validation (per seed)": ", ".join(f"{p['lr']:g}" for p in picks),
                         "test accuracy (%)": f"{100 * np.mean([p['test_acc'] for p in picks]):.1f}"})
            n[f"best_{arch}_{variant}"] = 100 * np.mean([p["test_acc"] for p in picks])
    return rows, n


def omega_table(runs: dict, fraction: float = 0.3) -> tuple[list[dict], dict]:
    """Accuracy with ``fraction`` of the units silenced by Ω against at random (verdict: Ω
    better in every seed)."""
    rows, n = [], {}
    k = plugin.PRUNE_FRACTIONS.index(fraction)
    for arch in plugin.ARCHITECTURES:
        o = [res["omega"][arch] for res in runs.values()]
        by_omega = np.array([x["acc_omega"][k] for x in o])
        by_random = np.array([x["acc_random"][k] for x in o])
        share = o[0]["removed_share"]
        top = max(share, key=share.get)
        rows.append({"network": arch, "intact (%)": 100 * np.mean([x["acc_omega"][0] for x in o]),
                     f"{100 * fraction:.0f} % silenced by Ω (%)": 100 * by_omega.mean(),
                     f"{100 * fraction:.0f} % random (%)": 100 * by_random.mean(),
                     "layer losing most units (seed 0)": f"{top} ({100 * share[top]:.0f} %)"})
        n[f"om_{arch}"], n[f"rand_{arch}"] = 100 * by_omega.mean(), 100 * by_random.mean()
        n[f"om_verdict_{arch}"] = verdict_from(bool((by_omega > by_random).all()),
                                               bool((by_omega > by_random).any()))
    return rows, n


def cost_table(speed: dict) -> tuple[list[dict], dict]:
    """Step time and extra parameters of the plugged networks (:func:`afm.experiments.own_model.step_times`)."""
    rows, n = [], {}
    for arch, s in speed.items():
        extra = s["plugged_params"] - s["plain_params"]
        rows.append({"network": arch, "step, plain (ms)": 1e3 * s["plain_s"],
                     "step, plugged (ms)": 1e3 * s["plugged_s"], "step-time ratio": s["ratio"],
                     "parameters, plain": s["plain_params"],
                     "extra parameters (W_f, b)": f"{extra:,} (+{100 * extra / s['plain_params']:.0f} %)"})
        n[f"ratio_{arch}"], n[f"extra_{arch}"] = s["ratio"], 100 * extra / s["plain_params"]
    return rows, n
