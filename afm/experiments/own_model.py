"""Chapter "Use the forgetting layer in your own model": a transformer the paper never used.

The model is a small transformer encoder that reads an image as a sequence of
its 28 rows (28 tokens of 28 pixels), the kind of model a reader might already
have. The forgetting layer goes into the feed-forward (MLP) block of every
encoder layer, after the GELU: two lines of the model change
(:class:`EncoderBlock`), and one term joins the loss (``afm.Forgetting``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn

import afm

from afm import data as afm_data
from afm.analysis.ablation import ablation_curve
from afm.lab.cache import cached, is_cached
from afm.device import seed_everything
from afm.importance import activation_importance, neuron_importance
from afm.metrics import sparsity
from afm.capture import capture_activations
from afm.lab.profiles import by_profile, check_profile
from afm.regularisers import Forgetting
from afm.lab.sweep import run_many
from afm.train import TrainConfig, evaluate, train

#: Shares of the feed-forward units removed, least important first.
PRUNE_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


class EncoderBlock(nn.Module):
    """A pre-norm transformer encoder layer; ``forgetting=True`` plugs a ForgettingLayer into
    its feed-forward block (the two lines marked ``# P&PF``)."""

    def __init__(self, d: int, heads: int, ffn: int, forgetting: bool) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.up, self.act, self.down = nn.Linear(d, ffn), nn.GELU(), nn.Linear(ffn, d)
        self.forget = afm.ForgettingLayer(ffn) if forgetting else nn.Identity()  # P&PF

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, d)
        a = self.norm1(x)
        x = x + self.attn(a, a, a, need_weights=False)[0]
        h = self.act(self.up(self.norm2(x)))             # (B, T, ffn): the excitatory neurons
        h = self.forget(h.flatten(0, 1)).view_as(h)      # P&PF: gate every token's (ffn,) vector
        return x + self.down(h)


class RowTransformer(nn.Module):
    """Classify a ``(B, 1, 28, 28)`` image as a sequence of 28 row tokens."""

    def __init__(self, d: int = 32, heads: int = 4, layers: int = 2, ffn: int = 128,
                 classes: int = 10, forgetting: bool = False) -> None:
        super().__init__()
        self.embed = nn.Linear(28, d)
        self.pos = nn.Parameter(torch.zeros(28, d))
        self.blocks = nn.ModuleList(EncoderBlock(d, heads, ffn, forgetting) for _ in range(layers))
        self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (28, 28):
            raise ValueError(f"RowTransformer expects (B, 1, 28, 28) images, got {tuple(x.shape)}")
        h = self.embed(x.reshape(x.shape[0], 28, 28)) + self.pos
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h).mean(dim=1))

    def ffn_names(self) -> list[str]:
        """The modules whose ``(B·T, ffn)`` outputs are the gated feed-forward units."""
        return [f"blocks.{i}.forget" for i in range(len(self.blocks))]


@dataclass(frozen=True)
class PluginRun:
    forgetting: bool = True
    lam: float = 0.1
    beta: float = 1e-5
    dataset: str = "fashion-mnist"
    train_size: int | None = 10000
    epochs: int = 3
    lr: float = 1e-3
    batch_size: int = 128
    seed: int = 0

    def build(self) -> RowTransformer:
        seed_everything(self.seed)
        return RowTransformer(forgetting=self.forgetting)

    def regularisers(self) -> list:
        return [Forgetting(self.lam, self.beta)] if self.forgetting else []


def settings(profile: str) -> dict:
    check_profile(profile)
    return by_profile(profile,
                      smoke=dict(train_size=1000, epochs=1, seeds=[0], lams=[0.1], betas=[1e-5],
                                 prune_eval=1000),
                      book=dict(train_size=10000, epochs=3, seeds=[0, 1, 2], lams=[0.1, 1.0],
                                betas=[0.0, 1e-5], prune_eval=5000),
                      paper=dict(train_size=None, epochs=15, seeds=[0, 1, 2, 3, 4],
                                 lams=[0.1, 1.0], betas=[0.0, 1e-5, 1e-4], prune_eval=None))


def seeds(profile: str) -> list[int]:
    return list(settings(profile)["seeds"])


def _splits(spec: PluginRun):
    full = afm_data.load_dataset(spec.dataset, train=True)
    train_set, val_set = afm_data.train_val_split(full, 0.1, seed=0)
    return (afm_data.subset(train_set, spec.train_size, seed=spec.seed), val_set,
            afm_data.load_dataset(spec.dataset, train=False))


def _train(spec: PluginRun) -> dict:
    train_set, val_set, test_set = _splits(spec)
    model = spec.build()
    config = TrainConfig(epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr,
                         optimizer="adam", seed=spec.seed)
    history = train(model, train_set, config, spec.regularisers(), eval_data=val_set,
                    desc=f"transformer {'P&PF' if spec.forgetting else 'plain'} seed={spec.seed}")
    model.cpu()
    return {"state_dict": model.state_dict(), "history": history,
            "val_acc": evaluate(model, val_set), "test_acc": evaluate(model, test_set)}


def plugin_run(spec: PluginRun) -> dict:
    """Train (or load from the result cache) one transformer."""
    return cached("plugin_run", asdict(spec), lambda: _train(spec))


def _base(profile: str) -> PluginRun:
    s = settings(profile)
    return PluginRun(train_size=s["train_size"], epochs=s["epochs"])


def choose_lam_beta(profile: str, jobs: int | None = None, scheduler=None) -> dict:
    """(λ, β) for the plugged-in layer, by validation accuracy (seed 0)."""
    s = settings(profile)
    grid = [replace(_base(profile), lam=lam, beta=beta) for lam in s["lams"] for beta in s["betas"]]
    todo = [g for g in grid if not is_cached("plugin_run", asdict(g))]
    if todo:
        run_many(plugin_run, [(g,) for g in todo], jobs=jobs, scheduler=scheduler,
                 desc="validation grid")
    vals = [plugin_run(g)["val_acc"] for g in grid]
    best = grid[int(np.argmax(vals))]
    return {"lam": best.lam, "beta": best.beta,
            "grid": [{"lam": g.lam, "beta": g.beta, "val_acc": v} for g, v in zip(grid, vals)]}


def compare(profile: str, seed: int = 0) -> dict:
    """Plain vs plugged-in transformer for one seed: accuracy, sparsity of the feed-forward
    units (Eq. 1, over tokens), parameters, and accuracy as feed-forward units are pruned by
    importance (Ω for the forgetting layer, mean |activation| for the plain model)."""
    chosen = choose_lam_beta(profile)
    test = afm_data.load_dataset(_base(profile).dataset, train=False)
    batches = [(test.tensors[0][i:i + 1000], test.tensors[1][i:i + 1000])
               for i in range(0, len(test), 1000)]
    n_prune = settings(profile)["prune_eval"] or len(test)
    prune_set = (test.tensors[0][:n_prune], test.tensors[1][:n_prune])
    out = {"lam": chosen["lam"], "beta": chosen["beta"], "prune_eval": n_prune}
    for forgetting in (False, True):
        spec = replace(_base(profile), forgetting=forgetting, lam=chosen["lam"],
                       beta=chosen["beta"], seed=seed)
        run = plugin_run(spec)
        model = spec.build()
        model.load_state_dict(run["state_dict"])
        model.eval()
        names = model.ffn_names()
        if forgetting:
            omega = neuron_importance(model, batches)
            scores = {name: omega[name] for name in names}
        else:
            scores = activation_importance(model, batches, names=names)
        acts = capture_activations(model, batches[:2], names=[n.replace("forget", "act") for n in names],
                                   reduce_spatial=False)
        out["plain" if not forgetting else "forgetting"] = {
            "test_acc": run["test_acc"], "val_acc": run["val_acc"],
            "parameters": sum(p.numel() for p in model.parameters()),
            "sparsity": [sparsity(a) for a in _token_acts(acts, model)],
            "importance": {k: v.numpy() for k, v in scores.items()},
            "prune_fractions": list(PRUNE_FRACTIONS),
            "prune_acc": ablation_curve(model, prune_set, scores, PRUNE_FRACTIONS, order="positive"),
            "seconds": run["history"].seconds,
        }
    return out


def _token_acts(acts: dict, model: RowTransformer) -> list[torch.Tensor]:
    """The feed-forward units' activations as ``(tokens, ffn)`` per block."""
    ffn = model.blocks[0].up.out_features
    return [a.reshape(-1, ffn) for a in acts.values()]
