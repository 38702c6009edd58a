"""Speed measurements of the book (not tests): `python benchmarks/run.py [--chapters]`.

1. Training-step time (forward, both forgetting losses, backward, SGD step) of the
   784-256-256-128-10 MLP with dense forgetting layers, as a ratio to the same MLP
   without them (target <= 1.5x).
   The same for the plug-in chapter's three networks (a ResNet of torchvision blocks, a row
   transformer, a CNN), plugged with ``afm.insert_forgetting_layers``, and a profile of where
   the time of the MLP's step goes: matrix products (arithmetic) or everything else.
2. Eq. (8): the O(N) closed form against the pairwise double sum at N = 256, 1024,
   4096, batch 128 (target >= 50x faster at N = 4096, equal to 1e-5 relative).
3. With --chapters: the wall time of chapter 1 executed cold (an empty result
   cache) in the `smoke` and the `book` profile.

Results are printed and written to benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import afm

ROOT = Path(__file__).resolve().parents[1]


def _time(fn, repeat: int, warmup: int = 3) -> float:
    """Median seconds of ``fn()`` over ``repeat`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def train_step_ratio(batch: int = 128, repeat: int = 300) -> dict:
    """Median step time of each variant; variants are timed in interleaved rounds to share noise."""
    torch.manual_seed(0)
    x = torch.rand(batch, 784)
    y = torch.randint(0, 10, (batch,))
    variants = {"plain": (False, "dense", False), "dense": (True, "dense", True),
                "dense, no losses": (True, "dense", False), "diagonal": (True, "diagonal", True),
                "static": (True, "static", True)}
    steps = {}
    for name, (forgetting, gate, losses) in variants.items():
        model = afm.MLP([784, 256, 256, 128, 10], forgetting=forgetting, gate=gate)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step(model=model, opt=opt, losses=losses):
            loss = F.cross_entropy(model(x), y)
            if losses:
                loss = loss + afm.forgetting_loss(model, lam=1.0, beta=1e-4)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        steps[name] = step
    shares = {name: time_shares(steps[name]) for name in ("plain", "dense", "static")}
    times = {name: [] for name in steps}
    for _ in range(5):
        for name, step in steps.items():
            times[name].append(_time(step, repeat // 5))
    out = {name: statistics.median(t) for name, t in times.items()}
    out["ratio"] = out["dense"] / out["plain"]
    out["ratios"] = {name: out[name] / out["plain"] for name in steps}
    widths = [784, 256, 256, 128, 10]
    plain_flops = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    out["flop_ratio_dense"] = (plain_flops + sum(w * w for w in widths[1:-1])) / plain_flops
    out["shares"] = shares
    return out


#: The kernels that do the multiply-adds of a step (everything else is "other").
ARITHMETIC_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::mkldnn_convolution",
                  "aten::convolution_backward", "aten::linear")


def time_shares(step, repeat: int = 30) -> dict:
    """Self CPU seconds per step of ``step()``, split into matrix products / convolutions and the
    rest (elementwise kernels, reductions, autograd and optimizer bookkeeping), by torch.profiler."""
    from torch.profiler import profile

    for _ in range(3):
        step()
    with profile() as prof:
        for _ in range(repeat):
            step()
    arithmetic = other = 0.0
    for event in prof.key_averages():
        seconds = event.self_cpu_time_total / 1e6 / repeat
        if event.key in ARITHMETIC_OPS:
            arithmetic += seconds
        else:
            other += seconds
    return {"arithmetic_s": arithmetic, "other_s": other}


def architecture_ratios(steps: int = 40) -> dict:
    """Step-time ratio, plugged (plug-in default, Eq. 6 loss) / plain, of chapter 9's networks."""
    from afm.experiments.own_model import measure_step_times

    return measure_step_times(steps)


def pairwise_lateral(h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Eq. (8) as written: for each sample, the N x N matrix of h_i h_j (1-σ_i) σ_j off the diagonal."""
    total = h.new_zeros(())
    for hb, sb in zip(h, s):
        pair = torch.outer(hb * (1 - sb), hb * sb)
        total = total + pair.sum() - pair.diagonal().sum()
    return total / h.shape[0]


def lateral_speedup(sizes=(256, 1024, 4096), batch: int = 128) -> list[dict]:
    rows = []
    for n in sizes:
        g = torch.Generator().manual_seed(n)
        h = torch.rand(batch, n, generator=g)
        s = torch.rand(batch, n, generator=g)
        closed = afm.lateral_inhibition_loss([h], [s])
        reference = pairwise_lateral(h.double(), s.double())
        t_closed = _time(lambda: afm.lateral_inhibition_loss([h], [s]), repeat=50)
        t_pair = _time(lambda: pairwise_lateral(h, s), repeat=3, warmup=1)
        rows.append({"N": n, "closed_s": t_closed, "pairwise_s": t_pair,
                     "speedup": t_pair / t_closed,
                     "rel_error": abs(closed.item() - reference.item()) / abs(reference.item())})
    return rows


def chapter_time(chapter: str, profile: str) -> float:
    """Execute a chapter with nbclient in a fresh result cache; wall seconds."""
    import jupytext
    import nbclient

    nb = jupytext.read(ROOT / "book" / f"{chapter}.md")
    with tempfile.TemporaryDirectory() as cache:
        env = {"AFM_PROFILE": profile, "AFM_CACHE_DIR": cache, "AFM_PROGRESS": "0"}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            start = time.perf_counter()
            nbclient.NotebookClient(nb, timeout=3600, kernel_name="python3",
                                    resources={"metadata": {"path": str(ROOT / "book")}}).execute()
            return time.perf_counter() - start
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", action="store_true", help="also time chapter 1 cold")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    result = {"machine": f"{platform.processor() or platform.machine()}, "
                         f"{os.cpu_count()} cores, torch {torch.__version__}, "
                         f"{torch.get_num_threads()} threads"}
    step = train_step_ratio()
    result["train_step"] = step
    print(f"training step, 784-256-256-128-10, batch 128: plain {1e3 * step['plain']:.2f} ms")
    for name, ratio in step["ratios"].items():
        print(f"  {name:17s} {1e3 * step[name]:.2f} ms  {ratio:.2f}x plain")
    print(f"  dense gates, both losses: {step['ratio']:.2f}x (target <= 1.5x; the dense W_f alone "
          f"adds {step['flop_ratio_dense']:.2f}x the multiply-adds)")
    for name, share in step["shares"].items():
        print(f"  profile, {name:6s}: matrix products {1e3 * share['arithmetic_s']:.2f} ms, "
              f"everything else {1e3 * share['other_s']:.2f} ms per step")
    result["architectures"] = architecture_ratios()
    for arch, r in result["architectures"].items():
        print(f"chapter 9, {arch:11s}: plain {1e3 * r['plain_s']:.1f} ms, plugged "
              f"{1e3 * r['plugged_s']:.1f} ms, {r['ratio']:.2f}x; parameters {r['plain_params']:,} "
              f"-> {r['plugged_params']:,}")
    result["lateral"] = lateral_speedup()
    for row in result["lateral"]:
        print(f"Eq. (8), N={row['N']:5d}: closed {1e3 * row['closed_s']:.3f} ms, pairwise "
              f"{1e3 * row['pairwise_s']:.1f} ms, {row['speedup']:.0f}x faster, "
              f"relative error {row['rel_error']:.1e}")
    if args.chapters:
        result["chapter_1"] = {}
        for profile in ("smoke", "book"):
            seconds = chapter_time("01_forgetting_layer", profile)
            result["chapter_1"][profile] = seconds
            print(f"chapter 1, {profile} profile, cold: {seconds:.0f} s")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(result, indent=1))
    print(f"written {out / 'latest.json'}")


if __name__ == "__main__":
    sys.exit(main())
