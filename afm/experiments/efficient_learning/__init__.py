"""Chapter "Forgetting layers for efficient learning": Fig. 3a, 3b and 3c.

* Fig. 3a (structure-adaptive encoding): the paper's MLP 784-256-256-128-10 on
  Fashion-MNIST, trained with plain SGD, SGD + L1, SGD + L2 (weight decay) and
  with a complete forgetting layer (ERS + IRS, shortcut) after each hidden layer,
  at several training-set sizes. Every strength (L1, L2, and the layer's λ, β, ρ)
  is chosen on the validation split (10 % of the training set, seed 0), at each
  training-set size. The test set is evaluated after every epoch for the curves
  (on :func:`settings`' ``curve_test`` images) and never used for a choice.
* Fig. 3b (storing information in few parameters): a VGG-9 with forgetting layers
  on its 6 convolutional and 2 hidden fully connected layers, trained on the
  CIFAR-10 JPEG stand-in, then pruned to fractions of its weights by three rules
  (:mod:`afm.baselines.pruning`): random, optimal brain damage with the empirical Fisher
  (iterative, fine-tuned after each round), and Eq. (2)'s parameter importance
  (one shot, no fine-tuning).
* Fig. 3c (convergence): the training loss of the plain VGG-9 (``sgd``), the VGG-9
  with forgetting layers trained without their losses (``forgetting layer*``, λ = β = 0)
  and the complete one (``forgetting layer``), same seed, same batches.

The chapter's code by figure: :mod:`afm.experiments.efficient_learning.structure`
(Fig. 3a) and :mod:`afm.experiments.efficient_learning.pruning` (the VGG-9 of Fig. 3b
and 3c); this module holds the settings, the claims' criteria and the figures'
registry entries, and re-exports both.
"""

from __future__ import annotations

import numpy as np

from afm.lab.profiles import by_profile, check_profile
from afm.lab.registry import Figure
from afm.lab.runs import spread
from afm.plotting import efficient_learning as plotting

#: Fig. 3a's network (the paper's) and methods, in the order of the legend.
WIDTHS = (784, 256, 256, 128, 10)
METHODS = ("sgd", "l1", "l2", "forgetting")
#: Fig. 3b's pruning rules: the paper's forgetting_random, forgetting_OBS (here OBD) and
#: forgetting_l2 (Eq. 2, one global ranking); then two references that are not in the paper:
#: Eq. (2) ranked within each layer (the same share of every layer kept) and |w|.
RULES = ("random", "obd", "importance", "importance_layer", "importance_reversed", "magnitude")
#: Fig. 3c's networks: plain, forgetting layers without ERS/IRS, the complete layer.
VARIANTS = ("sgd", "forgetting*", "forgetting")
#: The paper's headline numbers.
PAPER_GAIN = 0.13          # "a nearly 13 % improvement in test accuracy"
PAPER_FRACTION = 0.20      # "only approximately 20 % of the parameters"
#: Fig. 3b: a pruned network "keeps" its accuracy within this of the unpruned one.
TOLERANCE = 0.01


def settings(profile: str) -> dict:
    """What each profile trains (the chapter prints it and says why).

    ``mlp_sizes``/``mlp_epochs``: Fig. 3a's training-set sizes (``None`` = all 54,000)
    and epochs at each (small sets get more epochs, so that every run takes
    enough steps to fit its data). ``vgg_*``: Fig. 3b/3c's VGG-9 (``width`` scales
    the channels, c = 64·width), its training subset and epochs.
    """
    check_profile(profile)
    return by_profile(
        profile,
        smoke=dict(mlp_sizes=(500,), mlp_epochs=(3,), seeds=[0], l1s=[1e-5], l2s=[1e-3],
                   lams=[1.0], betas=[1e-4], rhos=[1.0], curve_test=500,
                   vgg_width=0.125, vgg_train_size=256, vgg_val_fraction=0.02, vgg_epochs=1,
                   vgg_seeds=[0], vgg_lams=[1.0], vgg_beta=1e-4, fractions=(1.0, 0.5, 0.1),
                   fisher_samples=32, finetune_size=128, finetune_lr=0.01, random_draws=1,
                   recalibrate_size=128, prune_eval=500),
        book=dict(mlp_sizes=(1000, 5000, None), mlp_epochs=(30, 10, 2), seeds=[0, 1, 2],
                  l1s=[1e-6, 1e-5, 1e-4], l2s=[1e-4, 1e-3, 1e-2], lams=[0.1, 1.0],
                  betas=[1e-4, 1e-3], rhos=[1.0, 4.0], curve_test=2000,
                  vgg_width=0.125, vgg_train_size=None, vgg_val_fraction=0.05, vgg_epochs=2,
                  vgg_seeds=[0, 1],
                  vgg_lams=[0.1, 1.0], vgg_beta=1e-4,
                  fractions=(1.0, 0.8, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1, 0.05),
                  fisher_samples=256, finetune_size=2000, finetune_lr=0.01, random_draws=2,
                  recalibrate_size=1000, prune_eval=2000),
        paper=dict(mlp_sizes=(1000, 5000, None), mlp_epochs=(200, 60, 20), seeds=[0, 1, 2, 3, 4],
                   l1s=[1e-7, 1e-6, 1e-5, 1e-4], l2s=[1e-5, 1e-4, 1e-3, 1e-2],
                   lams=[0.1, 1.0, 10.0], betas=[1e-5, 1e-4, 1e-3], rhos=[1.0, 2.0, 4.0],
                   curve_test=None, vgg_width=1.0, vgg_train_size=None, vgg_val_fraction=0.1,
                   vgg_epochs=30,
                   vgg_seeds=[0, 1, 2], vgg_lams=[0.1, 1.0, 10.0], vgg_beta=1e-4,
                   fractions=(1.0, 0.8, 0.6, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05),
                   fisher_samples=1000, finetune_size=10000, finetune_lr=0.01, random_draws=5,
                   recalibrate_size=5000, prune_eval=None))


def seeds(profile: str) -> list[int]:
    """Fig. 3a's seeds."""
    return list(settings(profile)["seeds"])


def vgg_seeds(profile: str) -> list[int]:
    """Fig. 3b's and 3c's seeds (fewer: the VGG-9 is the book's heaviest network)."""
    return list(settings(profile)["vgg_seeds"])


# The figures' code (after the settings above, which they read), re-exported here.
from afm.experiments.efficient_learning.structure import (  # noqa: E402
    choose_mlp, method_of, mlp_grid, mlp_spec, prepare_mlp, structure_adaptive, summarise_3a)
from afm.experiments.efficient_learning.pruning import (  # noqa: E402
    choose_vgg, convergence, curve_of, obd_iterative, prepare_vgg, pruning_curves, smallest_kept,
    total_variation, variant_of, vgg_spec, vgg_specs)


#: The chapter's figures, for :mod:`afm.lab.figures` (``afm run``) and the chapter.
FIGURES = [
    Figure("3a", "Structure-adaptive encoding: sgd, L1, L2 and the forgetting layer",
           "06_efficient_learning", plot=plotting.fig_3a_structure, compute=structure_adaptive,
           seeds=seeds, prepare=prepare_mlp),
    Figure("3b", "Pruning VGG-9: random, OBD and the forgetting layer's importance (Eq. 2)",
           "06_efficient_learning", plot=plotting.fig_3b_pruning, compute=pruning_curves,
           seeds=vgg_seeds, prepare=prepare_vgg),
    Figure("3c", "Convergence of VGG-9: sgd, forgetting layer* and forgetting layer",
           "06_efficient_learning", plot=plotting.fig_3c_convergence, compute=convergence,
           seeds=vgg_seeds, prepare=prepare_vgg),
]


def settings_numbers(profile: str) -> dict:
    """The settings of ``profile`` as the chapter's prose states them (strings and numbers,
    glued as ``ch6_<name>``), with the ``paper`` profile's VGG epochs and seeds beside them."""
    import afm.data
    from afm.lab.book import images, listing

    s, paper = settings(profile), settings("paper")
    c = max(1, round(64 * s["vgg_width"]))
    return {"sizes": listing([images(n, 54000) for n in s["mlp_sizes"]], "{}"), "epochs": listing(s["mlp_epochs"]),
            "seeds": len(s["seeds"]), "vgg_seeds": len(s["vgg_seeds"]), "curve_test": images(s["curve_test"], 10000),
            **{k: listing(s[k]) for k in ("l1s", "l2s", "lams", "betas", "rhos", "vgg_lams")},
            "width": s["vgg_width"], "channels": f"{c}, {c}, {2 * c}, {2 * c}, {4 * c}, {4 * c}",
            "hidden": max(1, round(512 * s["vgg_width"])), "vgg_train": images(s["vgg_train_size"], 45000),
            "vgg_val": f"{round(50000 * s['vgg_val_fraction']):,}", "vgg_epochs": s["vgg_epochs"],
            "vgg_test": images(s["prune_eval"], 10000), "vgg_beta": s["vgg_beta"],
            "fractions": listing([100 * f for f in s["fractions"]], "{:g} %"),
            "fisher_samples": f"{s['fisher_samples']:,}",
            "finetune_size": f"{s['finetune_size']:,}", "finetune_lr": s["finetune_lr"],
            "random_draws": s["random_draws"], "recal_size": f"{s['recalibrate_size']:,}",
            "paper_epochs": paper["vgg_epochs"], "paper_seeds": len(paper["vgg_seeds"]),
            "standin": afm.data.CIFAR10_STANDIN_NOTE if afm.data.uses_jpeg_standin("cifar10", train=False)
            else "CIFAR-10 here is torchvision's original copy."}


def settings_rows(profile: str) -> list[dict]:
    """The chapter's table of what ``profile`` runs: one row per (figure, setting, value)."""
    s, vgg = settings(profile), vgg_spec(profile, "sgd")
    c = max(1, round(64 * s["vgg_width"]))
    return [
        {"figure": "3a", "setting": "training images (epochs)",
         "value": ", ".join(f"{'54,000' if n is None else f'{n:,}'} ({e})"
                            for n, e in zip(s["mlp_sizes"], s["mlp_epochs"]))},
        {"figure": "3a", "setting": "seeds", "value": str(len(s["seeds"]))},
        {"figure": "3b, 3c", "setting": "VGG-9 channels / hidden units",
         "value": f"{c}, {c}, {2 * c}, {2 * c}, {4 * c}, {4 * c} / {max(1, round(512 * s['vgg_width']))}"},
        {"figure": "3b, 3c", "setting": "training images, epochs",
         "value": f"{vgg.train_size or 45000:,}, {vgg.train.epochs}"},
        {"figure": "3b, 3c", "setting": "validation / test images",
         "value": f"{round(50000 * vgg.val_fraction):,} / {vgg.test_size or 10000:,}"},
        {"figure": "3b, 3c", "setting": "seeds", "value": str(len(s["vgg_seeds"]))},
    ]
