"""afm: active forgetting in neural networks, the package behind the runnable book.

The file list reads like the paper's methods section. The mechanism, at the top:

* :mod:`afm.layer`: the plug-and-play forgetting layer, Eq. (3)-(5);
* :mod:`afm.plug`: put forgetting layers into any network in one call;
* :mod:`afm.losses`: ERS (inhibition, Eq. 6) and IRS (lateral inhibition, Eq. 8), Eq. (9);
* :mod:`afm.metrics`: sparsity, Eq. (1), and accuracy;
* :mod:`afm.importance`: neuron importance Ω and the importance of a weight, Eq. (2);
* :mod:`afm.models`: MLP, LeNet-5, VGG-9 with forgetting layers where asked;
* :mod:`afm.train`, :mod:`afm.regularisers`: the one training loop and what plugs into it;
* :mod:`afm.capture`: activations and gradients, read with forward hooks;
* :mod:`afm.device`: CPU or CUDA, seeding, evaluation mode for a block;
* :mod:`afm.checks`: the input checks at the boundary of the core;
* :mod:`afm.env`: the ``AFM_*`` settings, parsed strictly.

Around it, by role:

* :mod:`afm.data`: MNIST, Fashion-MNIST, CIFAR-10 (JPEG stand-in), Permuted MNIST, offline
  (``sources``: where the files come from, and their checksums);
* :mod:`afm.baselines`: the compared methods: ``pruning``, ``fisher`` (on the engine
  ``per_sample``), ``decov``, and
  ``continual`` (``model``, ``importance``, ``strategies``, ``sequence``: Fig. 5);
* :mod:`afm.analysis`: measurements of trained networks: ``ablation``, ``perturb``,
  ``clusters``, ``stats``;
* :mod:`afm.lab`: the machinery: ``runs`` (one run protocol), ``cache`` (``codec``: its
  format), ``paths``, ``profiles``, ``sweep``, ``registry`` and ``figures``, ``claims``,
  ``readings``, ``book``, ``cli``, ``jupyterlab``;
* :mod:`afm.verdicts`: each claim's verdict as a short, tested rule, one module per chapter;
* :mod:`afm.experiments`: one module per chapter, named like it, computing its figures
  (``forgetting_layer``, ``sparse_coding``, ``neuron_importance``, ``balance``,
  ``long_memory``, ``efficient_learning``, ``own_model``, ``report``, ``readings``);
* :mod:`afm.plotting`: the same names, drawing those results (and ``style``).
"""

from afm import data
from afm.capture import capture_activations
from afm.device import default_device, seed_everything
from afm.importance import neuron_importance
from afm.layer import ForgettingLayer, forgetting_layers
from afm.losses import forgetting_loss, inhibition_loss, lateral_inhibition_loss
from afm.metrics import accuracy, sparsity
from afm.models import MLP, VGG9, LeNet5
from afm.plug import insert_forgetting_layers
from afm.lab.profiles import PROFILES, current_profile
from afm.regularisers import L1, L2, Forgetting
from afm.train import History, TrainConfig, evaluate, train

__version__ = "0.1.0"

__all__ = [
    "ForgettingLayer", "forgetting_layers", "inhibition_loss", "lateral_inhibition_loss",
    "forgetting_loss", "sparsity", "accuracy", "neuron_importance", "MLP", "LeNet5", "VGG9",
    "capture_activations", "train", "TrainConfig", "History", "evaluate", "Forgetting", "L1",
    "L2", "data", "default_device", "seed_everything", "PROFILES", "current_profile",
    "insert_forgetting_layers",
]
