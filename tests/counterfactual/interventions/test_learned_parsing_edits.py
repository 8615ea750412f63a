"""Acceptance: the learned hair_length and hat edits work on the DCGAN out of the box.

Directions are learned from the parsing scorers on 300 samples (InterFaceGAN, default alpha),
applied to 32 evaluation faces and verified with the real scorers and ArcFace identity.
Slow (about 400 parser passes): run with `pytest -m slow tests/counterfactual/interventions/test_learned_parsing_edits.py`.
"""

from __future__ import annotations

import pytest

from helpers.faces import dcgan_faces

SEEDS = list(range(32))
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    from extractors.scorers import identity_similarity, load_scorer
    from generators import load_generator

    base = dcgan_faces(SEEDS)
    scorers = {k: load_scorer(k) for k in ("hair_length", "hat", "gender", "age")}
    return (
        load_generator("dcgan-digiface"),
        base,
        scorers,
        identity_similarity,
        tmp_path_factory.mktemp("edits"),
    )


@pytest.mark.parametrize("attribute", ["hair_length", "hat"])
def test_learned_parsing_edit_moves_its_score_and_keeps_identity(setting, attribute):
    from counterfactual.interventions import build_intervention, verify_intervention

    gen, base, scorers, identity, workdir = setting
    edit = build_intervention(attribute, n_samples=300)
    edit.prepare(gen, workdir)
    twins = edit.counterfactual(gen, SEEDS, base)
    result = verify_intervention(base, twins, scorers, attribute, identity)
    assert result.target_shift.effect >= 0.5, result.to_dict()
    assert result.target_shift.ci_low > 0
    assert result.identity.mean >= 0.3
    assert edit.describe()["direction"]["provenance"]["scorer"] == attribute
