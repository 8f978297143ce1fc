"""The model's two backends: the pure-Python reference, and PyTorch when installed."""

from __future__ import annotations

import importlib.util
import math
import types

import pytest

from app import model
from app.model import BIAS, FEATURES, WEIGHTS, ReferenceBackend, TorchBackend, load_backend


def expected(row: list[float]) -> float:
    return 1 / (1 + math.exp(-(sum(w * x for w, x in zip(WEIGHTS, row, strict=True)) + BIAS)))


def test_reference_scores() -> None:
    rows = [[0.0] * FEATURES, [1.0] * FEATURES, [-3.0, 2.0, 0.5, 1.0]]
    assert ReferenceBackend().predict(rows) == pytest.approx([expected(r) for r in rows])


def test_reference_refuses_rows_of_another_length() -> None:
    with pytest.raises(ValueError, match="features"):
        ReferenceBackend().predict([[1.0] * (FEATURES + 1)])


def test_reference_is_stable_for_extreme_inputs() -> None:
    scores = ReferenceBackend().predict([[1e6] * FEATURES, [-1e6, 1e6, -1e6, -1e6]])
    assert scores == pytest.approx([1.0, 0.0])


def test_without_torch_the_reference_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "_import_torch", lambda: None)
    assert isinstance(load_backend(), ReferenceBackend)


def test_without_a_gpu_the_reference_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "_import_torch", lambda: NO_GPU)
    assert isinstance(load_backend(), ReferenceBackend)


NO_GPU = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: False))


@pytest.mark.parametrize("torch", [None, NO_GPU])
def test_a_required_gpu_must_be_there(monkeypatch: pytest.MonkeyPatch, torch: object) -> None:
    monkeypatch.setattr(model, "_import_torch", lambda: torch)
    with pytest.raises(RuntimeError, match="REQUIRE_GPU"):
        load_backend(require_gpu=True)


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="torch is not installed (pip install -r requirements-gpu.txt to run this)",
)
def test_torch_backend_matches_the_reference() -> None:
    import torch  # noqa: PLC0415 - optional dependency

    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows = [[0.0] * FEATURES, [1.0] * FEATURES, [-3.0, 2.0, 0.5, 1.0]]
    gpu = TorchBackend(torch, device).predict(rows)
    assert gpu == pytest.approx(ReferenceBackend().predict(rows), abs=1e-6)
