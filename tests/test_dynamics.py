import pandas as pd
import pytest

from rmbias.checkpoints import dictionary_tokens
from rmbias.dynamics import checkpoint_ranks, final_checkpoint_ranks, matched_tokens, median_category_ranks_by_step, rank_changes
from rmbias.io import InputError

CATEGORIES = {"love": "Communion", "freedom": "Agency", "success": "Agency", "family": "Communion"}


def scores():
    return pd.DataFrame(
        {
            "decoded": ["Love", " love", "Freedom", "success", "Family", "table", "Only-in-one"],
            "token_id": range(7),
            "step-0": [5.0, 4.0, 3.0, 2.0, 1.0, 9.0, 8.0],
            "step-4": [1.0, 2.0, 5.0, 4.0, 3.0, 9.0, 8.0],
            "step-2": [4.0, 5.0, 3.0, 2.0, 1.0, 9.0, 8.0],
        }
    )


def test_matching_keeps_shared_dictionary_tokens_and_ranks_within_each_checkpoint():
    shared = ["Love", " love", "Freedom", "success", "Family", "table"]
    matched = matched_tokens(scores(), shared, CATEGORIES)
    assert list(matched["decoded"]) == ["Love", " love", "Freedom", "success", "Family"]
    assert list(matched["category"]) == ["Communion", "Communion", "Agency", "Agency", "Communion"]
    ranks = checkpoint_ranks(matched)
    at = {(r.step, r.decoded): r.rank for r in ranks.itertuples()}
    assert at[(0, "Love")] == 1 and at[(0, "Family")] == 5
    assert at[(4, "Freedom")] == 1 and at[(4, "Love")] == 5
    medians = median_category_ranks_by_step(ranks)
    step4 = medians[medians["step"] == 4].set_index("category")["median_rank"]
    # step-4 ranks: Freedom 1, success 2, Family 3, love 4, Love 5
    assert step4["Agency"] == 1.5 and step4["Communion"] == 4
    assert list(final_checkpoint_ranks(medians)["step"].unique()) == [4]


def test_rank_changes_compare_first_saved_checkpoint_with_final():
    matched = matched_tokens(scores(), scores()["decoded"], CATEGORIES)
    changes = rank_changes(checkpoint_ranks(matched))
    # first saved checkpoint is step 2 (step 0 is the initialisation): ranks " love" 1, Love 2,
    # Freedom 3, success 4, Family 5; final (step 4): Freedom 1, success 2, Family 3, love 4, Love 5
    by_token = changes.set_index("token")
    assert by_token.loc["Freedom", "rank_change"] == 2
    assert by_token.loc[" love", "rank_change"] == -3
    assert changes["token"].iloc[0] in ("Freedom", "Family", "success")
    assert changes["rank_change"].is_monotonic_decreasing


def test_no_step_columns_is_a_clear_error():
    with pytest.raises(InputError, match="no step-"):
        checkpoint_ranks(pd.DataFrame({"decoded": ["a"], "category": ["Agency"], "score": [1.0]}))


def test_dictionary_scope_keeps_every_token_the_dynamics_rank():
    """Scoring a checkpoint only on the base's dictionary tokens (training.checkpoint_scope:
    dictionary) leaves the ranks of Figures 4a/5/G1 exactly as over the whole vocabulary."""
    table = scores()
    shared = ["Love", " love", "Freedom", "success", "Family", "table"]
    kept = dictionary_tokens(table, ["Love", "freedom", "Success", "family"])
    assert list(kept["decoded"]) == ["Love", " love", "Freedom", "success", "Family"]
    whole = checkpoint_ranks(matched_tokens(table, shared, CATEGORIES))
    dictionary_only = checkpoint_ranks(matched_tokens(kept, shared, CATEGORIES))
    pd.testing.assert_frame_equal(whole, dictionary_only)
