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


def test_conditioning_view_reads_the_prepared_summary() -> None:
    from counterfactual.report.edits import conditioning_view

    assert conditioning_view({"kind": "latent_direction"}) is None
    view = conditioning_view(
        {
            "conditioning": {
                "alpha": 2.0,
                "cosine_with_raw": 0.8,
                "others": {
                    "gender": {
                        "cosine_raw": -0.6,
                        "cosine_conditioned": 1e-17,
                        "leakage_sd_raw": -1.02,
                        "leakage_sd_conditioned": 2e-17,
                    }
                },
                "target_shift_sd_raw": 1.9,
                "target_shift_sd_conditioned": 1.5,
            }
        }
    )
    assert view is not None
    assert view["rows"] == [
        {"scorer": "gender", "raw": -1.02, "conditioned": 0.0, "cosine_raw": -0.6}
    ]
    assert (view["target_raw"], view["target_conditioned"]) == (1.9, 1.5)


def test_level_edit_sentence_says_faces_move_only_up_to_the_level() -> None:
    _, sentence = describe_edit(
        "gender", {"kind": "latent_direction", "level_sd": 1.5, "alpha": 2.0}
    )
    assert "up to 1.5 SD" in sentence and "unchanged" in sentence
