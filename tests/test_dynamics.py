import pandas as pd
import pytest

from rmbias.config import load_yaml
from rmbias.io import InputError, write_parquet
from rmbias.statistics.published_ablations import PUBLISHED_ABLATIONS
from rmbias.training.checkpoints import dictionary_tokens
from rmbias.training.dynamics import (
    checkpoint_ranks,
    compared_steps,
    final_checkpoint_ranks,
    matched_tokens,
    median_category_ranks_by_step,
    rank_changes,
    training_dynamics,
    word_scores,
)

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


def test_word_scores_average_each_words_variants_and_rank_changes_take_the_chosen_steps():
    matched = matched_tokens(scores(), scores()["decoded"], CATEGORIES)
    words = word_scores(matched).set_index("decoded")
    assert sorted(words.index) == ["family", "freedom", "love", "success"]
    assert words.loc["love", "step-0"] == 4.5 and words.loc["love", "step-4"] == 1.5
    assert words.loc["love", "category"] == "Communion"
    ranks = checkpoint_ranks(words.reset_index())
    # step 0: love 1, freedom 2, success 3, family 4; step 2: love 1, ...; step 4: freedom 1, success 2, family 3, love 4
    changes = rank_changes(ranks, first_step=0).set_index("token")
    assert changes.loc["love", "rank_change"] == -3 and changes.loc["freedom", "rank_change"] == 1
    assert rank_changes(ranks, first_step=0, final_step=2).set_index("token").loc["love", "rank_change"] == 0


def test_compared_steps_default_to_the_first_saved_and_the_last_checkpoint():
    assert compared_steps([0, 1000, 2000, 9578]) == (1000, 9578)
    assert compared_steps([0, 1, 2, 4], first_step=2) == (2, 4)
    with pytest.raises(InputError, match="no checkpoint at step 1000 \\(checkpoints: 0, 1, 2, 4\\)"):
        compared_steps([0, 1, 2, 4], first_step=1000)
    with pytest.raises(InputError, match="must precede"):
        compared_steps([0, 1, 2, 4], first_step=4)


def test_training_dynamics_rank_changes_on_another_dictionary_per_word(tmp_path):
    """The authors' Figure 5 choices: the nouns dictionary, variants averaged, a chosen early
    step; the Figure 4a ranks keep the expanded dictionary, and every item's ranks over
    checkpoints form the trajectories table."""
    write_parquet(scores(), tmp_path / "run.parquet")
    write_parquet(pd.DataFrame({"decoded": scores()["decoded"].iloc[:6], "token_id": range(6)}), tmp_path / "tokens.parquet")
    expanded = pd.DataFrame({"term": list(CATEGORIES), "category": list(CATEGORIES.values())})
    write_parquet(expanded, tmp_path / "expanded.parquet")
    write_parquet(expanded[expanded["term"] != "success"], tmp_path / "nouns.parquet")
    meta = {"run": "r", "base_model": "Gemma", "data_source": "synthetic", "data_size_k": 1.0}
    frames = training_dynamics({"r": tmp_path / "run.parquet"}, [tmp_path / "tokens.parquet"], tmp_path / "expanded.parquet",
                               [meta], rank_change_corpus_path=tmp_path / "nouns.parquet", first_step=0, per_word=True)
    assert sorted(frames["changes"]["token"]) == ["family", "freedom", "love"]
    assert frames["changes"].set_index("token").loc["love", "rank_change"] == -2
    assert frames["ranks"]["step"].nunique() == 3
    assert len(frames["trajectories"]) == 3 * 3 and set(frames["trajectories"]["step"]) == {0, 2, 4}
    love = frames["trajectories"].query("token == 'love'").sort_values("step")["rank"].tolist()
    assert love == [1.0, 1.0, 3.0]


def test_external_runs_are_read_from_the_published_ablation_file(tmp_path, reference_mirror):
    """Figure 4b's GRM points come from the fetched ``rank_results_grm_80k.csv`` (its final
    checkpoint per model and category), at the data size and source the paper states."""
    write_parquet(scores(), tmp_path / "run.parquet")
    write_parquet(pd.DataFrame({"decoded": scores()["decoded"].iloc[:6], "token_id": range(6)}), tmp_path / "tokens.parquet")
    write_parquet(pd.DataFrame({"term": list(CATEGORIES), "category": list(CATEGORIES.values())}), tmp_path / "corpus.parquet")
    grm = reference_mirror / "data" / "reward_model_training" / "rank_results_grm_80k.csv"
    meta = {"run": "r", "base_model": "Gemma", "data_source": "synthetic", "data_size_k": 1.0}
    frames = training_dynamics({"r": tmp_path / "run.parquet"}, [tmp_path / "tokens.parquet"], tmp_path / "corpus.parquet",
                               [meta], external_runs={"grm_80k": grm})
    external = frames["final"].query("run == 'external'").set_index(["base_model", "category"])
    published = pd.read_csv(grm).set_index(["base_model", "Category"])["sum_value"]
    assert len(external) == len(published) == 4
    for key, median_rank in published.items():
        assert external.loc[key, "median_rank"] == median_rank
    assert set(external["data_size_k"]) == {PUBLISHED_ABLATIONS["grm_80k"].data_size_k}
    assert set(external["data_source"]) == {"uf+skywork (GRM)"}


def test_schema_offers_exactly_the_published_ablation_runs_as_external_runs(repo_root):
    schema = load_yaml(repo_root / "config" / "schema.yaml")
    labels = schema["properties"]["training"]["properties"]["external_runs"]["items"]["enum"]
    assert sorted(labels) == sorted(PUBLISHED_ABLATIONS)
