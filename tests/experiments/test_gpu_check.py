"""experiments/gpu_check.py: without CUDA it fails with one clear message (exit 2)."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from helpers.paths import ROOT

SCRIPT = ROOT / "experiments" / "gpu_check.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_gpu_check_refuses_without_cuda(capsys):
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    ok, msg = module.images_close(torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 2e-4))
    assert not ok and "float max err 2.00e-04" in msg
