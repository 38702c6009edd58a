"""Sweeps: serial, local processes (--jobs 2) and a Dask LocalCluster give identical results."""


import pytest
import torch

from afm.lab.runs import Run, fit, fit_all
from afm.train import TrainConfig
from afm.lab.sweep import default_jobs, run_many

from conftest import REAL_DATA as SHARED_DATA

pytestmark = pytest.mark.usefixtures("real_mnist")


def square(x):
    return x * x


def test_run_many_keeps_order_and_values():
    assert run_many(square, [(i,) for i in range(5)], jobs=1, progress=False) == [0, 1, 4, 9, 16]
    assert run_many(square, [(i,) for i in range(5)], jobs=2, progress=False) == [0, 1, 4, 9, 16]


def test_default_jobs(monkeypatch):
    monkeypatch.setenv("AFM_JOBS", "3")
    assert default_jobs() == 3
    monkeypatch.setenv("AFM_JOBS", "many")
    with pytest.raises(ValueError, match="whole number"):
        default_jobs()
    monkeypatch.setenv("AFM_JOBS", "0")
    with pytest.raises(ValueError, match=">= 1"):
        default_jobs()


def test_bad_scheduler_address():
    with pytest.raises(ValueError, match="scheduler must be an address"):
        run_many(square, [(1,), (2,)], scheduler="localhost", progress=False)


def _specs():
    return [Run(dataset="mnist", widths=(784, 32, 10), lam=1.0, beta=1e-4, train=TrainConfig(epochs=1),
                train_size=600, seed=s, shortcut=sc) for s in (0, 1) for sc in (True, False)]


def _weights(results):
    return [torch.cat([t.flatten() for t in r["state_dict"].values()]) for r in results]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("AFM_DATA_DIR", str(SHARED_DATA))
    monkeypatch.setenv("AFM_OFFLINE", "1")
    monkeypatch.setenv("AFM_PROGRESS", "0")
    return tmp_path


def _sweep(env, monkeypatch, name, **kwargs):
    monkeypatch.setenv("AFM_CACHE_DIR", str(env / name))  # a fresh cache: really computed
    return fit_all(_specs(), **kwargs)


def test_local_cluster_equals_serial_and_jobs(env, monkeypatch):
    distributed = pytest.importorskip("distributed")
    serial = _sweep(env, monkeypatch, "serial", jobs=1)
    parallel = _sweep(env, monkeypatch, "jobs2", jobs=2)
    monkeypatch.setenv("AFM_CACHE_DIR", str(env / "dask"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        on_cluster = fit_all(_specs(), scheduler=client)
    # local processes: bit-identical to the serial run
    for a, b in zip(_weights(serial), _weights(parallel)):
        assert torch.equal(a, b)
    assert [r["history"]["batch_loss"] for r in parallel] == [r["history"]["batch_loss"] for r in serial]
    # Dask workers: the same accuracies; weights equal to float32 rounding (measured: at most
    # ~1.5e-8 apart after an epoch; the residual comes from the Dask worker process, not the seed)
    assert [r["test_acc"] for r in on_cluster] == [r["test_acc"] for r in serial]
    for a, b in zip(_weights(serial), _weights(on_cluster)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    # the results landed in the cache the chapters read: loading does not retrain
    assert fit(_specs()[0])["test_acc"] == serial[0]["test_acc"]
