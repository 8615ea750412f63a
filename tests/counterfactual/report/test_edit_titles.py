"""Section titles of the report's edits read as words, not identifiers."""

from __future__ import annotations

from counterfactual.report.edits import describe_edit


def test_latent_edit_title_spells_the_attribute_as_words() -> None:
    title, sentence = describe_edit("hair_length", {"kind": "latent_direction", "alpha": 2.0})
    assert title.startswith("Hair length edit")
    assert "hair_length scorer" in sentence  # the scorer keeps its identifier


def test_region_titles_and_unknown_kinds() -> None:
    assert describe_edit("blur:eyes", {"kind": "region_blur", "region": "eyes"})[0] == (
        "Eyes blurred (region distortion)"
    )
    assert describe_edit("blur:all", {"kind": "region_blur", "region": "all"})[0].startswith(
        "Whole image blurred"
    )
    assert describe_edit("skin_tone", None)[0] == "Skin tone edit"
