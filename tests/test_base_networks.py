"""The base-network rule: a network below 90 % of its published reference is provisional."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from afm.verdicts.base_networks import (FRACTION, REFERENCES, base_numbers, base_table, load_base,
                                        provisional, record_base)

ROOT = Path(__file__).resolve().parents[1]


def test_provisional_hand_computed():
    # LeNet-5 at 41 % of a 60 % reference: 0.41 < 0.54.
    assert provisional(0.41, 0.60)
    # The Fashion-MNIST MLP at 85 % of 87 %: 0.85 >= 0.783.
    assert not provisional(0.85, 0.87)
    # EWC at 79.7 % of van de Ven & Tolias' 94.7 %: 0.797 < 0.8523.
    assert provisional(0.797, 0.947)
    # A network above its reference is never provisional.
    assert not provisional(0.99, 0.97)


def test_the_90_percent_boundary():
    assert FRACTION == 0.9
    # 0.5 * 0.9 = 0.45 exactly in binary floating point: at the boundary, not below it.
    assert not provisional(0.45, 0.5)
    assert provisional(0.4499, 0.5)
    assert not provisional(0.4501, 0.5)
    assert provisional(0.79, 0.8, fraction=1.0) and not provisional(0.8, 0.8, fraction=1.0)


@pytest.mark.parametrize("measured, reference, fraction, message", [
    (97.0, 0.97, 0.9, "a fraction, not a percentage"),
    (0.9, 98.0, 0.9, "a fraction, not a percentage"),
    (float("nan"), 0.9, 0.9, "measured must be an accuracy"),
    (-0.1, 0.9, 0.9, "measured must be an accuracy"),
    (0.5, 0.0, 0.9, "reference must be a positive accuracy"),
    (0.5, 0.9, 0.0, "fraction must lie in"),
    (0.5, 0.9, 1.5, "fraction must lie in"),
])
def test_provisional_rejects_bad_input(measured, reference, fraction, message):
    with pytest.raises(ValueError, match=message):
        provisional(measured, reference, fraction)


def test_base_table_hand_computed():
    table = base_table({"LeNet-5": ("cifar10-lenet5", [0.40, 0.42, 0.44]),
                        "joint": ("pmnist-joint", [0.977])})
    lenet, joint = table.iloc[0], table.iloc[1]
    assert lenet["test accuracy (%)"] == pytest.approx(42.0)
    assert lenet["std (%)"] == pytest.approx(2.0)          # ddof 1 of 40, 42, 44
    assert lenet["n seeds"] == 3 and lenet["reference (%)"] == pytest.approx(60.0)
    assert lenet["ratio"] == pytest.approx(0.7) and bool(lenet["provisional"])
    assert joint["std (%)"] == 0.0 and joint["ratio"] == pytest.approx(1.0)
    assert not joint["provisional"] and joint["source"] == "vandeven2019"


def test_base_table_rejects_bad_input():
    with pytest.raises(KeyError, match="unknown reference 'cifar-lenet'.*known"):
        base_table({"LeNet-5": ("cifar-lenet", [0.4])})
    with pytest.raises(ValueError, match="no measured accuracy"):
        base_table({"LeNet-5": ("cifar10-lenet5", [])})
    with pytest.raises(ValueError, match="LeNet-5: measured accuracy.*not a percentage"):
        base_table({"LeNet-5": ("cifar10-lenet5", [41.0])})
    with pytest.raises(ValueError, match="at least one network"):
        base_table({})


def test_every_reference_is_an_accuracy_with_a_source_in_the_bibliography():
    keys = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), re.M))
    for name, ref in REFERENCES.items():
        assert 0.5 < ref.accuracy <= 1.0, name
        assert ref.source in keys or (ref.source == "" and ref.note.startswith("approximate")), name


def test_record_and_load_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_CACHE_DIR", str(tmp_path))
    table = base_table({"MLP": ("mnist-mlp", [0.96, 0.98])})
    record_base(table, "01_forgetting_layer", "smoke")
    loaded = load_base("smoke")
    assert loaded["chapter"].tolist() == ["01_forgetting_layer"]
    assert loaded["test accuracy (%)"][0] == pytest.approx(97.0)
    assert loaded["provisional"].tolist() == [False]
    assert load_base("book").empty


def test_base_numbers_counts_the_provisional_networks():
    table = base_table({"a": ("mnist-mlp", [0.97]), "b": ("fashion-mnist-mlp", [0.87 * 0.9])})
    assert base_numbers(table)["provisional"] == 0 and base_numbers(table)["under"] == "none"
    assert base_numbers(table)["status"] == "judged on adequately trained networks"
    table = base_table({"a": ("mnist-mlp", [0.97]), "b": ("cifar10-vgg", [0.459])})
    numbers = base_numbers(table)
    assert numbers["provisional"] == 1 and numbers["under"] == "b" and numbers["lowest_ratio"] == pytest.approx(0.54)
    assert numbers["status"] == "provisional (under-trained)"
