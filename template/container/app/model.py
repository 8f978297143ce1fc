"""The model behind POST /predict, with two interchangeable backends.

- `TorchBackend` runs it with PyTorch on a CUDA GPU. The Docker image installs torch
  from requirements-gpu.txt; the instances have an NVIDIA GPU and driver.
- `ReferenceBackend` runs the same model in pure Python. It serves on machines without
  a GPU (laptops, CI) and is the reference the GPU backend is checked against.

The example model is a logistic regression over `FEATURES` inputs with fixed weights:
replace `WEIGHTS`/`BIAS` (or both backends) with your model, and keep the two backends
agreeing (tests/test_model.py compares them whenever torch is installed).
"""

from __future__ import annotations

import importlib
import logging
import math
import operator
from collections.abc import Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)

WEIGHTS: tuple[float, ...] = (0.8, -1.2, 0.5, 2.0)
BIAS = -0.25
FEATURES = len(WEIGHTS)


class Backend(Protocol):
    """What the service needs from a model backend."""

    name: str
    features: int

    def predict(self, instances: Sequence[Sequence[float]]) -> list[float]:
        """One score in [0, 1] per instance."""
        ...


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


class ReferenceBackend:
    """The model in pure Python, on the CPU."""

    name = "cpu-reference"
    features = FEATURES

    def predict(self, instances: Sequence[Sequence[float]]) -> list[float]:
        # map(operator.mul) is the dot product without a Python-level step per feature;
        # rows of another length than WEIGHTS are refused, as zip(strict=True) would. A
        # loop: no generator or comprehension frames on every request.
        scores = []
        for row in instances:
            if len(row) != FEATURES:
                raise ValueError(f"each instance must have {FEATURES} features")
            scores.append(_sigmoid(sum(map(operator.mul, WEIGHTS, row)) + BIAS))
        return scores


class TorchBackend:
    """The model with PyTorch, on ``device`` (a CUDA GPU in production)."""

    features = FEATURES

    def __init__(self, torch: Any, device: str = "cuda") -> None:
        self._torch = torch
        self._device = torch.device(device)
        self.name = f"torch-{self._device.type}"
        self._weights = torch.tensor(WEIGHTS, dtype=torch.float32, device=self._device)
        self._bias = torch.tensor(BIAS, dtype=torch.float32, device=self._device)

    def predict(self, instances: Sequence[Sequence[float]]) -> list[float]:
        torch = self._torch
        with torch.inference_mode():
            batch = torch.tensor(instances, dtype=torch.float32, device=self._device)
            scores = torch.sigmoid(batch @ self._weights + self._bias)
            return [float(score) for score in scores.cpu().tolist()]


def _import_torch() -> Any | None:
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def load_backend(*, require_gpu: bool = False) -> Backend:
    """The GPU backend when torch sees a CUDA device, else the pure-Python reference.

    With ``require_gpu`` a missing GPU is an error: a GPU instance whose driver or
    container runtime is broken should fail its health check, not serve slowly.
    """
    torch = _import_torch()
    if torch is not None and torch.cuda.is_available():
        log.info("serving on %s", torch.cuda.get_device_name(0))
        return TorchBackend(torch, "cuda")
    if require_gpu:
        reason = "torch is not installed" if torch is None else "torch sees no CUDA device"
        raise RuntimeError(f"REQUIRE_GPU is set but {reason}")
    log.warning("no CUDA GPU available: serving with the pure-Python reference model")
    return ReferenceBackend()
