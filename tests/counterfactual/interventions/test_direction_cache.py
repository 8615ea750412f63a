"""A learned edit's cached direction and calibration: corrupt or truncated entries are
detected and recomputed (to the same values), never used and never fatal."""

from __future__ import annotations

import pytest

from counterfactual.interventions.attributes import LatentEdit
from helpers.intervention_standins import Brightness, ToyGAN


def _edit(scorer):
    return LatentEdit(
        "bright",
        scorer=scorer,
        shift=30.0,
        n_samples=200,
        quantile=0.25,
        calibration_n=16,
        calibration_tolerance=2.0,
    )


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupt_cached_direction_and_calibration_are_recomputed(tmp_path, damage):
    gen = ToyGAN(z_dim=8)
    first = _edit(Brightness())
    first.prepare(gen, tmp_path)
    (npy,) = (tmp_path / "directions").glob("*.npy")
    (cal,) = (tmp_path / "calibration").glob("*.json")
    data = bytearray(npy.read_bytes())
    if damage == "flip":
        data[-3] ^= 0xFF  # inside the float data
        npy.write_bytes(bytes(data))
        cal.write_text(cal.read_text().replace('"alpha"', '"alpah"'))
    else:
        npy.write_bytes(bytes(data[: len(data) // 2]))
        cal.write_text(cal.read_text()[:20])
    scorer = Brightness()
    again = _edit(scorer)
    with pytest.warns(UserWarning, match="corrupt|unreadable"):
        again.prepare(gen, tmp_path)
    assert scorer.calls > 0  # really recomputed
    assert again.direction.sha256 == first.direction.sha256  # deterministic: same result
    assert again.alpha == pytest.approx(first.alpha)
    clean = _edit(Brightness())
    clean.prepare(gen, tmp_path)  # and now cached again
    assert clean.direction.sha256 == first.direction.sha256
