"""Every per-seed verdict under its null: measurements with no effect at all (every number drawn
from one distribution, whichever network or order it belongs to). Over 3 seeds a rule that
needs the claim in every seed then says "reproduced" with probability (per-seed chance)^3; the
simulated rate must stay near that bound, so no rule rates noise as a finding."""

import numpy as np
import pytest

from afm.verdicts import balance, efficient_learning, forgetting_layer, long_memory
from afm.verdicts import neuron_importance, sparse_coding

RNG = np.random.default_rng(2024)
SEEDS, DRAWS = 3, 300
P = dict(profile="smoke")


def variants(shape):
    return {v: RNG.uniform(0, 1, shape) for v in ("plain", "ERS", "ERS + IRS")}


NULLS = {
    # rule: (draw one null book of 3 seeds -> Claim, chance that one seed passes)
    "1b shortcut gradients": (lambda: forgetting_layer.shortcut_gradients(
        RNG.lognormal(0, 1, SEEDS), RNG.lognormal(0, 1, SEEDS), **P), 0.5 ** 2),
    "1d activation": (lambda: sparse_coding.activation_decreased(variants((SEEDS, 2)), **P), 0.5 ** 2),
    "1e ERS sparser": (lambda: sparse_coding.ers_sparser_than_irs(variants((SEEDS, 2)), **P), 0.5 ** 2),
    "1e upper layer": (lambda: sparse_coding.upper_layer_less_sparse(variants((SEEDS, 2)), **P), 0.5 ** 3),
    "2a random between": (lambda: neuron_importance.random_between(
        {o: RNG.uniform(0, 1, SEEDS) for o in ("positive", "random", "inverse")}, **P), 1 / 6),
    "2b layers": (lambda: neuron_importance.higher_layers_critical(
        RNG.uniform(0, 1, (SEEDS, 3)), RNG.uniform(0, 1, (SEEDS, 3)), **P), 1 / 6),
    "2c channels": (lambda: neuron_importance.top_channels_collapse(
        {k: {"forgetting": RNG.uniform(0, 1, SEEDS), "plain": RNG.uniform(0, 1, SEEDS)} for k in (1, 10)},
        **P), 0.5 ** 2),
    "3c convergence": (lambda: efficient_learning.convergence(
        {v: RNG.uniform(1, 2, SEEDS) for v in ("sgd", "forgetting*", "forgetting")},
        {v: RNG.uniform(0, 1, SEEDS) for v in ("sgd", "forgetting*", "forgetting")}, **P), 0.5 ** 2),
    "4c features": (lambda: balance.features_compact_and_separated(
        {k: RNG.uniform(0, 1, SEEDS) for k in ("sgd", "lateral_inhibition")},
        {k: RNG.uniform(1, 2, SEEDS) for k in ("sgd", "lateral_inhibition")}, **P), 0.5 ** 2),
    "5b gap widens": (lambda: long_memory.gap_widens(RNG.normal(0, 1, (SEEDS, 10)), **P), 0.5),
}


@pytest.mark.parametrize("name", sorted(NULLS))
def test_null_is_rarely_reproduced(name):
    draw, per_seed_chance = NULLS[name]
    rate = np.mean([draw().verdict == "reproduced" for _ in range(DRAWS)])
    bound = per_seed_chance ** SEEDS
    assert rate <= bound + 3 * np.sqrt(bound * (1 - bound) / DRAWS) + 1e-9, (name, rate, bound)
