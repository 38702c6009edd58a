"""afm: active forgetting in neural networks, the package behind the runnable book.

The file list reads like the paper's methods section:

* :mod:`afm.layer`: the plug-and-play forgetting layer, Eq. (3)-(5);
* :mod:`afm.losses`: ERS (inhibition, Eq. 6) and IRS (lateral inhibition, Eq. 8), Eq. (9);
* :mod:`afm.metrics`: sparsity, Eq. (1), and accuracy;
* :mod:`afm.importance`: neuron importance Ω;
* :mod:`afm.models`: MLP, LeNet-5, VGG-9 with forgetting layers where asked;
* :mod:`afm.data`: MNIST, Fashion-MNIST, CIFAR-10 (JPEG stand-in), Permuted MNIST, offline;
* :mod:`afm.train`, :mod:`afm.regularisers`: the one training loop and what plugs into it;
* :mod:`afm.capture`, :mod:`afm.lab.profiles`, :mod:`afm.lab.cache`: activations, compute profiles, results;
* :mod:`afm.experiments`: one function per figure of the paper;
* :mod:`afm.verdicts`: one tested function per claim, the rule that judges it.
"""

from afm import data
from afm.capture import capture_activations
from afm.device import default_device, seed_everything
from afm.importance import neuron_importance
from afm.layer import ForgettingLayer, forgetting_layers
from afm.losses import forgetting_loss, inhibition_loss, lateral_inhibition_loss
from afm.metrics import accuracy, sparsity
from afm.models import MLP, VGG9, LeNet5
from afm.lab.profiles import PROFILES, current_profile
from afm.regularisers import L1, L2, Forgetting
from afm.train import History, TrainConfig, evaluate, train

__version__ = "0.1.0"

__all__ = [
    "ForgettingLayer", "forgetting_layers", "inhibition_loss", "lateral_inhibition_loss",
    "forgetting_loss", "sparsity", "accuracy", "neuron_importance", "MLP", "LeNet5", "VGG9",
    "capture_activations", "train", "TrainConfig", "History", "evaluate", "Forgetting", "L1",
    "L2", "data", "default_device", "seed_everything", "PROFILES", "current_profile",
]
