"""Speed measurements of the book (not tests): `python benchmarks/run.py [--chapters]`.

Run it on a quiet machine, pinned to one core: ``taskset -c 1 python benchmarks/run.py``
(it sets one torch thread itself). benchmarks/README.md says how to read the numbers.

1. The training step (forward, cross-entropy + both forgetting losses, backward, the
   optimizer ``afm.train`` makes) of the 784-256-256-128-10 MLP with each gate (dense,
   diagonal, static; dense and static also without the losses), and of the plug-in
   chapter's three networks (a ResNet of torchvision blocks, a row transformer, a CNN)
   plugged with ``afm.insert_forgetting_layers``, as ratios to the same network without
   forgetting layers: by wall clock and by CPU time, next to the ratio of their arithmetic
   (the floating-point operations of matrix products and convolutions, counted). Variants
   are timed in alternating blocks, several rounds, medians. A profile says where the MLP's
   step goes: matrix products, or everything else (and in how many ATen calls).
2. Eq. (8): the O(N) closed form against the pairwise double sum at N = 256, 1024,
   4096, batch 128 (target >= 50x faster at N = 4096, equal to 1e-5 relative).
3. With --chapters: the wall time of chapter 1 executed cold (an empty result
   cache) in the `smoke` and the `book` profile.

Results are printed and written to benchmarks/results/latest.json (``--out`` elsewhere).
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


def interleaved(steps: dict, rounds: int, block: int) -> dict:
    """Seconds per call of each ``steps[name]()``, by two clocks, timed in alternation.

    ``rounds`` rounds; in each, every step runs ``block`` times in a row (its caches warm),
    the names in turn (A A A, B B B, ..., A A A, ...), so that the load of other processes
    falls on every variant alike. Returns ``{name: {"wall_s", "cpu_s"}}``: the median over
    the rounds of the wall-clock time and of this process's CPU time per call. On a shared
    machine the CPU time is the steadier one: it does not count the time the process waited
    for a core (with one thread, it is the time the step's own work took).
    """
    for fn in steps.values():
        fn()
    wall = {name: [] for name in steps}
    cpu = {name: [] for name in steps}
    for _ in range(rounds):
        for name, fn in steps.items():
            w, c = time.perf_counter(), time.process_time()
            for _ in range(block):
                fn()
            wall[name].append((time.perf_counter() - w) / block)
            cpu[name].append((time.process_time() - c) / block)
    return {name: {"wall_s": statistics.median(wall[name]), "cpu_s": statistics.median(cpu[name])}
            for name in steps}


def multiply_adds(step) -> int:
    """Floating-point operations of one call of ``step()`` in matrix products and convolutions
    (forward and backward), counted by ``torch.utils.flop_counter``: the step's arithmetic."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def _ratios(times: dict, flops: dict, base: str) -> dict:
    """Each variant's times and arithmetic as ratios to ``base``'s."""
    return {name: {**t, "flops": flops[name],
                   "ratio_wall": t["wall_s"] / times[base]["wall_s"],
                   "ratio_cpu": t["cpu_s"] / times[base]["cpu_s"],
                   "flop_ratio": flops[name] / flops[base]} for name, t in times.items()}


def train_step_ratio(batch: int = 128, rounds: int = 15, block: int = 20) -> dict:
    """The MLP's training step, plain and with each gate, timed in interleaved rounds.

    The step is the one :func:`afm.train` runs: forward, cross-entropy + ``forgetting_loss``
    (λ = 1, β = 1e-4: both losses), backward, and the optimizer ``train`` makes (momentum SGD).
    """
    from afm.train import TrainConfig, make_optimizer

    torch.manual_seed(0)
    x = torch.rand(batch, 784)
    y = torch.randint(0, 10, (batch,))
    variants = {"plain": (False, "dense", False), "dense": (True, "dense", True),
                "dense, no losses": (True, "dense", False), "diagonal": (True, "diagonal", True),
                "static": (True, "static", True), "static, no losses": (True, "static", False)}
    steps = {}
    for name, (forgetting, gate, losses) in variants.items():
        torch.manual_seed(0)
        model = afm.MLP([784, 256, 256, 128, 10], forgetting=forgetting, gate=gate)
        opt = make_optimizer(model, TrainConfig(lr=0.01))

        def step(model=model, opt=opt, losses=losses):
            loss = F.cross_entropy(model(x), y)
            if losses:
                loss = loss + afm.forgetting_loss(model, lam=1.0, beta=1e-4)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        steps[name] = step
    flops = {name: multiply_adds(step) for name, step in steps.items()}
    shares = {name: time_shares(steps[name]) for name in ("plain", "dense", "static")}
    out = {"variants": _ratios(interleaved(steps, rounds, block), flops, "plain")}
    out["shares"] = shares
    return out


#: The kernels that do the multiply-adds of a step (everything else is "other").
ARITHMETIC_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm",
                  "aten::mkldnn_convolution", "aten::convolution_backward",
                  "aten::_slow_conv2d_forward", "aten::_slow_conv2d_backward", "aten::linear",
                  "aten::_scaled_dot_product_flash_attention_for_cpu",
                  "aten::_scaled_dot_product_flash_attention_for_cpu_backward")


def time_shares(step, repeat: int = 30) -> dict:
    """Self CPU seconds per step of ``step()``, split into matrix products / convolutions and the
    rest (elementwise kernels, reductions, autograd and optimizer bookkeeping), by torch.profiler,
    and the number of those other ATen calls per step (nested calls counted too). The profiler's
    own cost inflates every call's time, small ones most: read the seconds as shares, not times."""
    from torch.profiler import profile

    for _ in range(3):
        step()
    with profile() as prof:
        for _ in range(repeat):
            step()
    arithmetic = other = 0.0
    calls = 0
    for event in prof.key_averages():
        seconds = event.self_cpu_time_total / 1e6 / repeat
        if event.key in ARITHMETIC_OPS:
            arithmetic += seconds
        else:
            other += seconds
            calls += event.count if event.key.startswith("aten::") else 0
    return {"arithmetic_s": arithmetic, "other_s": other, "other_aten_calls": calls / repeat}


def architecture_ratios(rounds: int = 7, block: int = 3) -> dict:
    """The plug-in chapter's networks, plain and plugged (the plug-in default, ``unit_gain``, with
    the Eq. 6 loss at λ = ``LAM``), one training step each as ``afm.train`` runs it (the
    network's own optimizer and usual rate), timed as :func:`train_step_ratio` times the MLP."""
    from afm.experiments.own_model import ARCHITECTURES, plugged_run
    from afm.train import make_optimizer

    out = {}
    for arch, spec in ARCHITECTURES.items():
        torch.manual_seed(0)
        x, y = torch.rand(128, *spec["shape"]), torch.randint(0, 10, (128,))
        steps, params = {}, {}
        for variant in ("plain", "unit"):
            run = plugged_run(arch, variant)
            torch.manual_seed(0)
            model = run.build().train()
            regs, opt = run.regularisers(), make_optimizer(model, run.train)
            params[variant] = sum(p.numel() for p in model.parameters())

            def step(model=model, regs=regs, opt=opt):
                loss = F.cross_entropy(model(x), y)
                for reg in regs:
                    loss = loss + reg(model)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

            steps["plugged" if variant == "unit" else "plain"] = step
        flops = {name: multiply_adds(step) for name, step in steps.items()}
        out[arch] = _ratios(interleaved(steps, rounds, block), flops, "plain")
        out[arch]["shares"] = {name: time_shares(step, repeat=4) for name, step in steps.items()}
        out[arch]["parameters"] = {"plain": params["plain"], "plugged": params["unit"]}
    return out


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


def _row(name: str, r: dict) -> str:
    return (f"  {name:17s} {1e3 * r['wall_s']:8.2f} ms wall {r['ratio_wall']:5.2f}x | "
            f"{1e3 * r['cpu_s']:8.2f} ms CPU {r['ratio_cpu']:5.2f}x | "
            f"multiply-adds {r['flop_ratio']:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", action="store_true", help="also time chapter 1 cold")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "latest.json",
                        help="where to write the results (JSON)")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    torch.set_num_threads(1)  # one thread: the per-operation overhead is what is measured
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    result = {"machine": f"{platform.processor() or platform.machine()}, "
                         f"{os.cpu_count()} cores, torch {torch.__version__}, "
                         f"{torch.get_num_threads()} thread, allowed cores {cores}"}
    step = train_step_ratio()
    result["train_step"] = step
    print("training step, 784-256-256-128-10, batch 128 (ratios to the plain MLP):")
    for name, r in step["variants"].items():
        print(_row(name, r))
    for name, share in step["shares"].items():
        print(f"  profile, {name:6s}: matrix products {1e3 * share['arithmetic_s']:.2f} ms, "
              f"everything else {1e3 * share['other_s']:.2f} ms in "
              f"{share['other_aten_calls']:.0f} ATen calls per step (profiled)")
    result["architectures"] = architecture_ratios()
    for arch, r in result["architectures"].items():
        print(f"chapter 9, {arch} (plugged / plain), parameters {r['parameters']['plain']:,} -> "
              f"{r['parameters']['plugged']:,}:")
        for name in ("plain", "plugged"):
            print(_row(name, r[name]))
        for name, share in r["shares"].items():
            print(f"  profile, {name:7s}: convolutions and matrix products "
                  f"{1e3 * share['arithmetic_s']:.1f} ms, everything else {1e3 * share['other_s']:.1f} "
                  f"ms in {share['other_aten_calls']:.0f} ATen calls per step (profiled)")
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
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    sys.exit(main())
