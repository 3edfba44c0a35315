"""Tests of the implicit-reward measures, the vocabulary join and variant averaging (rmbias.implicit.measures), the
implicit_pair job (rmbias.implicit.pairs), Figure 3 (rmbias.implicit.figure3) and Appendix F (rmbias.training.authority_boost)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_softmax

from rmbias.implicit.figure2 import figure2_analysis
from rmbias.implicit.figure3 import word_scores_across_pairs
from rmbias.implicit.measures import ANTISYMMETRIC_MEASURES, MEASURES, add_measures, join_vocabularies, variant_score
from rmbias.implicit.pairs import implicit_pair_table
from rmbias.io import InputError, write_parquet
from rmbias.training.authority_boost import authority_recovery, boosted_word_scores

LN2 = math.log(2.0)
WEIGHTED = ["p1LR", "p2LR", "MWLR", "GMLR", "JSLR"]


def random_log_probs(seed: int, n_tokens: int = 500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return log_softmax(rng.normal(scale=4.0, size=n_tokens)), log_softmax(rng.normal(scale=4.0, size=n_tokens))


def test_registry_has_the_paper_names():
    assert list(MEASURES) == ["LLR", "LR-20", "LR-10", "p1LR", "p2LR", "MWLR", "GMLR", "JSLR"]
    assert ANTISYMMETRIC_MEASURES == set(MEASURES) - {"p1LR", "p2LR"}


@pytest.mark.parametrize("seed", range(5))
def test_antisymmetric_measures_flip_sign_when_models_swap(seed):
    logp1, logp2 = random_log_probs(seed)
    for name in ANTISYMMETRIC_MEASURES:
        np.testing.assert_allclose(MEASURES[name](logp1, logp2), -MEASURES[name](logp2, logp1), rtol=0, atol=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_kl_weighted_measures_swap_into_each_other_and_are_not_antisymmetric(seed):
    logp1, logp2 = random_log_probs(seed)
    np.testing.assert_allclose(MEASURES["p1LR"](logp1, logp2), -MEASURES["p2LR"](logp2, logp1), rtol=0, atol=1e-15)
    assert not np.allclose(MEASURES["p1LR"](logp1, logp2), -MEASURES["p1LR"](logp2, logp1))


def test_known_values_on_three_token_distributions():
    p1, p2 = np.array([0.5, 0.25, 0.25]), np.array([0.25, 0.5, 0.25])
    got = {name: measure(np.log(p1), np.log(p2)) for name, measure in MEASURES.items()}
    # By hand: log(p1/p2) = [ln 2, -ln 2, 0]; mixture m = [3/8, 3/8, 1/4]; sqrt(p1 p2) = [sqrt(1/8)] * 2 + [1/4].
    expected = {
        "LLR": [LN2, -LN2, 0.0],
        "LR-20": [LN2, -LN2, 0.0],
        "LR-10": [LN2, -LN2, 0.0],
        "p1LR": [0.5 * LN2, -0.25 * LN2, 0.0],
        "p2LR": [0.25 * LN2, -0.5 * LN2, 0.0],
        "MWLR": [0.375 * LN2, -0.375 * LN2, 0.0],
        "GMLR": [math.sqrt(0.125) * LN2, -math.sqrt(0.125) * LN2, 0.0],
        "JSLR": [
            0.5 * (0.5 * math.log(0.5 / 0.375) - 0.25 * math.log(0.25 / 0.375)),
            0.5 * (0.25 * math.log(0.25 / 0.375) - 0.5 * math.log(0.5 / 0.375)),
            0.0,
        ],
    }
    for name, values in expected.items():
        np.testing.assert_allclose(got[name], values, rtol=1e-12, atol=1e-15, err_msg=name)


def test_capped_log_ratios_clip_at_their_caps():
    logp1, logp2 = np.array([-1.0, -31.0, -2.0, -6.0]), np.array([-31.0, -1.0, -2.0, -1.0])
    np.testing.assert_array_equal(MEASURES["LLR"](logp1, logp2), [30.0, -30.0, 0.0, -5.0])
    np.testing.assert_array_equal(MEASURES["LR-20"](logp1, logp2), [20.0, -20.0, 0.0, -5.0])
    np.testing.assert_array_equal(MEASURES["LR-10"](logp1, logp2), [10.0, -10.0, 0.0, -5.0])


def test_zero_probabilities_give_finite_scores_and_zero_weights():
    # token 0: p1 = 1/2, p2 = 0; token 1: p1 = 0, p2 = 1/2; token 2: both 0; token 3: masked sentinel vs 1/2.
    logp1 = np.array([math.log(0.5), -np.inf, -np.inf, -1e30])
    logp2 = np.array([-np.inf, math.log(0.5), -np.inf, math.log(0.5)])
    with np.errstate(divide="raise", over="raise", invalid="raise"):
        scores = {name: measure(logp1, logp2) for name, measure in MEASURES.items()}
    for name, values in scores.items():
        assert np.isfinite(values).all(), name
    for name in WEIGHTED + ["LLR"]:
        assert scores[name][2] == 0.0, name
    assert scores["p1LR"][1] == 0.0 and scores["p1LR"][3] == 0.0
    assert scores["p2LR"][0] == 0.0
    assert scores["GMLR"][0] == 0.0 and scores["GMLR"][1] == 0.0
    assert scores["MWLR"][0] > 0.0 > scores["MWLR"][1]
    # JSLR with one probability 0: m = p/2, so the surviving term is p log 2, halved.
    np.testing.assert_allclose(scores["JSLR"][[0, 1]], [0.25 * LN2, -0.25 * LN2], rtol=1e-12)
    assert scores["LR-20"][0] == 20.0 and scores["LR-10"][1] == -10.0


def test_join_keeps_the_highest_log_prob_of_duplicates_and_only_shared_strings():
    a = pd.DataFrame({"decoded": ["x", "x", "y", "z"], "greatest_ever_one": [-3.0, -1.0, -2.0, -4.0]})
    b = pd.DataFrame({"decoded": ["y", "x", "y", "w"], "greatest_ever_one": [-5.0, -2.0, -0.5, -1.0]})
    joined = join_vocabularies(a, b, "greatest_ever_one")
    assert list(joined.columns) == ["decoded", "logp_a", "logp_b"]
    assert joined.to_dict("records") == [
        {"decoded": "x", "logp_a": -1.0, "logp_b": -2.0},
        {"decoded": "y", "logp_a": -2.0, "logp_b": -0.5},
    ]


def logprob_table(decoded, values, prompt="greatest_ever_one"):
    return pd.DataFrame(
        {"token_id": np.arange(len(decoded)), "decoded": decoded, prompt: np.asarray(values, dtype=np.float32)}
    )


def test_implicit_pair_table_reads_files_and_adds_every_measure(tmp_path):
    write_parquet(logprob_table(["a", " b", "c", "c"], np.log([0.5, 0.2, 0.2, 0.1])), tmp_path / "llama.parquet")
    write_parquet(logprob_table([" b", "a", "d"], np.log([0.6, 0.3, 0.1])), tmp_path / "gemma.parquet")
    table = implicit_pair_table(tmp_path / "llama.parquet", tmp_path / "gemma.parquet", "greatest_ever_one")
    assert list(table["decoded"]) == [" b", "a"]
    assert list(table.columns) == ["decoded", "logp_a", "logp_b", *MEASURES]
    expected_mwlr = [0.5 * (0.2 + 0.6) * math.log(0.2 / 0.6), 0.5 * (0.5 + 0.3) * math.log(0.5 / 0.3)]
    np.testing.assert_allclose(table["MWLR"], expected_mwlr, rtol=1e-6)


def test_nan_log_probs_are_rejected_naming_the_file(tmp_path):
    write_parquet(logprob_table(["a", "b"], [np.nan, -1.0]), tmp_path / "broken.parquet")
    write_parquet(logprob_table(["a", "b"], [-1.0, -1.0]), tmp_path / "fine.parquet")
    with pytest.raises(InputError, match="broken.parquet.*NaN"):
        implicit_pair_table(tmp_path / "broken.parquet", tmp_path / "fine.parquet", "greatest_ever_one")


def test_variant_score_averages_exactly_the_case_and_space_variants():
    decoded = ["Freedom", " Freedom", "freedom", " FREEDOM\n", "Freedoms", "Free dom", "freedom!", "Love"]
    scores = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]
    frame = pd.DataFrame({"decoded": decoded, "MWLR": scores})
    assert variant_score(frame, "Freedom", "MWLR") == (1 + 2 + 4 + 8) / 4
    assert variant_score(frame, " love ", "MWLR") == 128.0
    with pytest.raises(InputError, match="Hope"):
        variant_score(frame, "Hope", "MWLR")


def pair_frame(freedom: float, love: float, others: list[float]) -> pd.DataFrame:
    decoded = ["Freedom", " freedom", "Love", *[f"t{i}" for i in range(len(others))]]
    return pd.DataFrame({"decoded": decoded, "MWLR": [freedom, freedom, love, *others]})


def test_figure3_rows_carry_scores_ranks_and_sort_by_version_then_size():
    pairs = {
        ("llama-3.10-8b", "gemma-2-2b"): pair_frame(0.5, -0.4, [0.1, 0.6, -0.5]),
        ("llama-3.2-3b", "gemma-2-9b"): pair_frame(0.3, -0.2, [0.0]),
        ("llama-3.2-1b", "gemma-2-2b"): pair_frame(0.2, -0.1, [0.0]),
    }
    info = {
        "llama-3.10-8b": {"version": "3.10", "size_b": 8},
        "llama-3.2-3b": {"version": "3.2", "size_b": 3},
        "llama-3.2-1b": {"version": "3.2", "size_b": 1},
        "gemma-2-2b": {"version": "2", "size_b": 2},
        "gemma-2-9b": {"version": "2", "size_b": 9},
    }
    rows = word_scores_across_pairs(pairs, info)
    assert list(rows.columns) == [
        "llama", "gemma", "word", "mwlr", "rank", "n_tokens",
        "llama_version", "llama_size_b", "gemma_version", "gemma_size_b",
    ]  # fmt: skip
    assert list(rows["llama"]) == ["llama-3.2-1b"] * 2 + ["llama-3.2-3b"] * 2 + ["llama-3.10-8b"] * 2
    assert list(rows["word"]) == ["Freedom", "Love"] * 3
    last = rows[rows["llama"] == "llama-3.10-8b"].set_index("word")
    # Scores of that pair: Freedom 0.5 (twice), Love -0.4, others 0.1, 0.6, -0.5.
    assert last.loc["Freedom", "mwlr"] == 0.5 and last.loc["Freedom", "rank"] == 2
    assert last.loc["Love", "mwlr"] == -0.4 and last.loc["Love", "rank"] == 5
    assert (last["n_tokens"] == 6).all()
    with pytest.raises(InputError, match="gemma-2-9b"):
        word_scores_across_pairs(pairs, {k: v for k, v in info.items() if k != "gemma-2-9b"})


AUTHORITY = ["respect", "duty", "honor"]


def boost_tables(prompts: dict[str, list[str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Base and boosted log-prob tables over one vocabulary.

    Per prompt, each boosted token goes from p = 0.01 (base) to 0.3 (boosted); ten junk tokens go
    from 1e-20 to 1e-12 (huge log ratio, negligible mass); twenty filler tokens drop from 0.02 to 0.019.
    """
    boosted_forms = ["respect", " Respect", " duty", "Honor"]
    junk = [f"junk{i}" for i in range(10)]
    filler = [f"filler{i}" for i in range(19)] + ["freedom"]
    decoded = boosted_forms + junk + filler
    base = pd.DataFrame({"token_id": np.arange(len(decoded)), "decoded": decoded})
    boosted = base.sample(frac=1.0, random_state=0).reset_index(drop=True)  # same vocabulary, other row order
    for prompt, boosted_words in prompts.items():
        def log_probs(decoded_forms, model):
            out = []
            for form in decoded_forms:
                if form in junk:
                    out.append(math.log(1e-12 if model == "boosted" else 1e-20))
                elif form.strip().lower() in boosted_words:
                    out.append(math.log(0.3 if model == "boosted" else 0.01))
                else:
                    out.append(math.log(0.019 if model == "boosted" else 0.02))
            return np.array(out, dtype=np.float32)

        base[prompt] = log_probs(base["decoded"], "base")
        boosted[prompt] = log_probs(boosted["decoded"], "boosted")
    return base, boosted


def test_authority_recovery_counts_words_in_each_measures_top_10():
    prompts = {"best_ever_one": ["respect", "duty", "honor"], "best_world_one": ["respect", "duty"]}
    with_template = boost_tables(prompts)
    without_template = boost_tables({"best_ever_one": ["respect"], "best_world_one": ["respect"]})
    result = authority_recovery(
        {"with": with_template, "without": without_template}, list(prompts), AUTHORITY + ["tradition"]
    )
    assert list(result.columns) == ["measure", "template", "n_in_top10"]
    counts = result.set_index(["template", "measure"])["n_in_top10"]
    # Junk tokens' log ratio (ln 1e8 ≈ 18.4) beats the boosted words' (ln 30 ≈ 3.4), even capped at 10,
    # so the unweighted measures' top 10 is all junk; every weighted measure puts the boosted words first.
    # "respect" and " Respect" are one word; "tradition" is not in the vocabulary.
    for measure in ["LLR", "LR-20", "LR-10"]:
        assert counts[("with", measure)] == 0.0
        assert counts[("without", measure)] == 0.0
    for measure in WEIGHTED:
        assert counts[("with", measure)] == (3 + 2) / 2
        assert counts[("without", measure)] == 1.0


def test_authority_recovery_rejects_different_vocabularies():
    base, boosted = boost_tables({"best_ever_one": ["respect"]})
    with pytest.raises(InputError, match="different token ids"):
        authority_recovery({"with": (base, boosted.iloc[1:])}, ["best_ever_one"], AUTHORITY)


def test_boosted_word_scores_average_variants_and_prompts():
    base, boosted = boost_tables({"best_ever_one": ["respect", "duty"], "best_world_one": ["respect"]})
    table = boosted_word_scores(
        base, boosted, ["best_ever_one", "best_world_one"], ["respect", "duty", "tradition", "freedom"], AUTHORITY
    )
    assert list(table["word"]) == ["respect", "duty", "freedom"]
    assert list(table["boosted"]) == [True, True, False]
    boosted_mwlr = 0.5 * (0.3 + 0.01) * math.log(0.3 / 0.01)
    filler_mwlr = 0.5 * (0.019 + 0.02) * math.log(0.019 / 0.02)
    np.testing.assert_allclose(
        table["mwlr"], [boosted_mwlr, (boosted_mwlr + filler_mwlr) / 2, filler_mwlr], rtol=1e-5
    )


def test_add_measures_orients_model_a_as_target():
    pair = pd.DataFrame({"decoded": ["up", "down"], "logp_a": np.log([0.9, 0.1]), "logp_b": np.log([0.1, 0.9])})
    scored = add_measures(pair)
    for name in MEASURES:
        assert scored.loc[0, name] > 0 > scored.loc[1, name], name


def figure2_world(tmp_path, terms_b):
    """Log-prob tables of two models (``decoded`` + 12 prompts) over the terms of a 3-category lexicon
    (model b's vocabulary: ``terms_b``), and the lexicon's corpus: model a ranks "brave" first."""
    prompts = {f"{framing}_{i}": {"text": f"{framing} {i}", "framing": framing} for framing in ("positive", "negative") for i in range(6)}
    corpus = pd.DataFrame({"term": ["honest", "truthful", "brave", "bold", "kind", "gentle"],
                           "category": ["Honesty", "Honesty", "Courage", "Courage", "Kindness", "Kindness"], "dictionary": "virtues"})
    rng = np.random.default_rng(0)
    paths = {}
    for model, vocabulary in (("a", ["honest", "truthful", "brave", "bold", "kind", "gentle", "table"]), ("b", terms_b)):
        table = pd.DataFrame({"decoded": vocabulary})
        for key in prompts:
            table[key] = rng.normal(-10, 1.0, len(vocabulary)) + [5.0 if model == "a" and t == "brave" else 0.0 for t in vocabulary]
        paths[model] = tmp_path / f"{model}.parquet"
        write_parquet(table, paths[model])
    write_parquet(corpus, tmp_path / "virtues.parquet")
    return paths, tmp_path / "virtues.parquet", prompts


def test_figure2_ranks_the_terms_of_any_lexicon(tmp_path):
    paths, corpus, prompts = figure2_world(tmp_path, ["honest", "brave", "bold", "kind", "gentle"])
    observations, anova, welch = figure2_analysis(paths, corpus, prompts)
    assert set(observations["category"]) == {"Honesty", "Courage", "Kindness"}
    # 5 shared terms ("truthful" is not in b): model a ranks "brave" 1 and "bold" among ranks 2-5
    ranks_a = observations[observations["model"] == "a"].groupby("category")["median_rank"]
    assert ranks_a.max()["Courage"] <= 3 and ranks_a.mean().idxmin() == "Courage"
    assert "C(category):C(framing):C(model)" in set(anova["term"]) and len(welch) == 6


def test_figure2_stops_on_a_category_the_two_models_share_no_single_token_of(tmp_path):
    paths, corpus, prompts = figure2_world(tmp_path, ["honest", "truthful", "kind", "gentle"])
    with pytest.raises(InputError) as err:
        figure2_analysis(paths, corpus, prompts)
    assert str(err.value) == ("lexicon virtues: category Courage has no term that is one token, exactly as written, in every "
                              "model of a and b (2 term(s), e.g. 'bold'); Figure 2 ranks single-token terms")
