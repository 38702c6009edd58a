"""Continual learning on a shared trunk with one output head per task: the strategies of Fig. 5.

The paper's long-sequence experiment (Fig. 5) learns ten Permuted-MNIST tasks
one after the other; "all tasks share network parameters except for the
output layer". The package separates what Avalanche separates:

* :mod:`~afm.baselines.continual.model`: :class:`MultiHeadMLP` (the shared trunk
  with one head per task), :func:`tag` (the task id travels with the input),
  :func:`shared_parameters`;
* :mod:`~afm.baselines.continual.importance`: the importances Ω, :func:`fisher_diagonal`
  (EWC), :func:`mas_importance`, :func:`anpyc_importance`;
* :mod:`~afm.baselines.continual.strategies`: :class:`Naive`, :class:`JointTraining`,
  and the consolidation penalties :class:`EWC`, :class:`MAS`,
  :class:`SynapticIntelligence`, :class:`ANPyC` (hooks: ``before_task``,
  ``regularisers``, ``callbacks``, ``after_task``);
* :mod:`~afm.baselines.continual.sequence`: :func:`train_sequence` (the task loop),
  the accuracy-matrix metrics, and :func:`polarisation_shares`, the summary of Fig. 5c.

Every public name is importable from ``afm.baselines.continual`` directly.
"""

from afm.baselines.continual.importance import anpyc_importance, fisher_diagonal, mas_importance
from afm.baselines.continual.model import MultiHeadMLP, shared_parameters, tag, tag_dataset
from afm.baselines.continual.sequence import (POLARISATION_BOUNDS, SequenceResult, average_accuracy,
                                              backward_transfer, first_task_accuracy, gini,
                                              learning_accuracy, polarisation_shares, train_sequence)
from afm.baselines.continual.strategies import (ANPyC, EWC, MAS, Consolidation, JointTraining, Naive,
                                                SynapticIntelligence)
from afm.baselines.per_sample import per_sample_gradient_sum

__all__ = [
    "tag", "tag_dataset", "MultiHeadMLP", "shared_parameters",
    "fisher_diagonal", "mas_importance", "anpyc_importance", "per_sample_gradient_sum",
    "Naive", "JointTraining", "Consolidation", "EWC", "MAS", "SynapticIntelligence", "ANPyC",
    "SequenceResult", "train_sequence", "first_task_accuracy", "average_accuracy",
    "learning_accuracy", "backward_transfer", "POLARISATION_BOUNDS", "polarisation_shares", "gini",
]
