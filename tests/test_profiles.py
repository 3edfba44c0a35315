"""Value profiles, family identifiability and their uncertainty (rmbias.statistics.profiles,
rmbias.statistics.profile_uncertainty) on synthetic Figure 1 observations and on the published ones."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from rmbias.corpora.dictionaries import read_dictionary
from rmbias.io import InputError, read_wide_scores, write_parquet
from rmbias.models.families import family_of_published_rm, published_rm_name
from rmbias.statistics.figure1 import analysis_corpus, figure1_observations
from rmbias.statistics.profile_uncertainty import (
    INTERVAL_COLUMNS,
    bootstrap_family_scores,
    bootstrap_profiles,
    profile_intervals,
    prompt_draws,
    write_rm_profiles,
)
from rmbias.figures.reward_models import plot_rm_profiles
from rmbias.statistics.profiles import (
    CONFIGURED_COLUMNS,
    PROFILE_COLUMNS,
    PROFILE_FEATURES,
    family_identifiability,
    fit_discriminant,
    leave_one_out,
    loo_permutation_test,
    majority_baseline,
    profile_features,
    relabellings,
    rm_profiles,
)

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = ("Agency", "Communion", "Care")
PROMPTS = {"p_pos_1": "positive", "p_pos_2": "positive", "p_neg_1": "negative", "p_neg_2": "negative"}
MANY_PROMPTS = {f"p_{framing[:3]}_{i}": framing for framing in ("positive", "negative") for i in range(9)}


def observations(families: dict[str, str], shift: float, seed: int = 0, n_ranked: int = 200, prompts: dict[str, str] = PROMPTS) -> pd.DataFrame:
    """Median ranks of ``families`` (rm -> label) among ``n_ranked`` terms on ``prompts`` (key ->
    framing): Llama RMs rank Agency ``shift`` * n_ranked better under positive prompts; every RM
    has its own offset and noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for rm, family in families.items():
        offset = rng.normal(0, 0.025)
        for prompt, framing in prompts.items():
            for category in CATEGORIES:
                planted = -shift if (family == "Llama" and category == "Agency" and framing == "positive") else 0.0
                rank = n_ranked * (0.5 + offset + planted + rng.normal(0, 0.01))
                rows.append((rm, family, prompt, framing, category, rank, n_ranked))
    return pd.DataFrame(rows, columns=["rm", "base_model", "prompt", "framing", "category", "median_rank", "n_ranked"])


PUBLISHED = {f"pub-gemma-{i}": "Gemma" for i in range(4)} | {f"pub-llama-{i}": "Llama" for i in range(6)}


def profiles_of(published: pd.DataFrame, configured: pd.DataFrame | None = None) -> pd.DataFrame:
    frames = {("published", "big2"): published}
    if configured is not None:
        frames[("configured", "big2")] = configured
    return rm_profiles(frames)


def test_profile_rows_rank_fraction_and_percentiles():
    published = observations(PUBLISHED, shift=0.2)
    own = observations({"own-llama": "Llama"}, shift=0.2, seed=1, n_ranked=100)
    profiles = profiles_of(published, own)
    assert len(profiles) == (len(PUBLISHED) + 1) * len(CATEGORIES) * 2
    assert set(profiles["source"]) == {"published", "configured"}
    row = profiles.query("rm == 'own-llama' and category == 'Agency' and framing == 'positive'").iloc[0]
    # rank fraction: median over prompts of median_rank / n_ranked, so the 100 ranked terms scale it
    expected = np.median(own.query("category == 'Agency' and framing == 'positive'")["median_rank"] / 100)
    assert row["rank_fraction"] == pytest.approx(expected)
    assert row["n_ranked"] == 100
    # planted: Llama ranks Agency under positive prompts far better than every published Gemma RM,
    # so at most the 6 published Llama RMs of the 10 rank it better
    assert row["percentile_among_published"] <= 60
    gemma_rows = profiles.query("source == 'published' and base_model == 'Gemma' and category == 'Agency' and framing == 'positive'")
    # each published Gemma RM among the 4 of its family (itself a tie, counted half) and behind the 6 Llama RMs of all 10
    assert sorted(gemma_rows["percentile_among_own_family"]) == [12.5, 37.5, 62.5, 87.5]
    assert sorted(gemma_rows["percentile_among_published"]) == [65, 75, 85, 95]


def test_separable_families_are_identified_leave_one_out():
    profiles = profiles_of(observations(PUBLISHED, shift=0.2))
    features = profile_features(profiles)
    families = profiles.drop_duplicates("rm").set_index("rm")["base_model"]
    loo = leave_one_out(features, families[features.index])
    assert loo["correct"].all()


NULL_WORLDS = 100
"""Seeded worlds without any family difference over which the null classifier's accuracy is averaged."""


def test_families_without_a_difference_are_identified_at_chance_level():
    accuracies = []
    for seed in range(NULL_WORLDS):
        profiles = profiles_of(observations(PUBLISHED, shift=0.0, seed=seed))
        features = profile_features(profiles)
        families = profiles.drop_duplicates("rm").set_index("rm")["base_model"]
        accuracies.append(leave_one_out(features, families[features.index])["correct"].mean())
    # each world's accuracy lies in [0, 1] and the worlds are independent, so by Hoeffding's
    # inequality their mean strays 0.2 from its expectation (chance, 0.5, or a little below it:
    # leave-one-out under the null) with probability <= exp(-2 * 100 * 0.2^2) = exp(-8) < 4e-4;
    # a classifier right 90% of the time on noise fails the upper bound
    assert 0.3 <= np.mean(accuracies) <= 0.7


def test_configured_copy_of_a_published_rm_gets_its_family_and_top_features_are_the_planted_framing():
    published = observations(PUBLISHED, shift=0.2)
    copies = pd.concat(
        [published[published["rm"] == rm].assign(rm=f"copy-of-{rm}") for rm in ("pub-gemma-0", "pub-llama-0")]
    )
    result = family_identifiability(profiles_of(published, copies))
    predicted = result.configured.set_index("rm")["predicted"]
    assert predicted["copy-of-pub-gemma-0"] == "Gemma" and predicted["copy-of-pub-llama-0"] == "Llama"
    assert result.configured["correct"].all()
    assert (result.loo["correct"]).all()
    # centring within (dictionary, framing) spreads the planted Agency shift over the framing's categories
    top = result.top_features.set_index("feature")["standardized_difference"]
    assert set(top.index) == {f"big2:positive:{category}" for category in CATEGORIES}
    assert top["big2:positive:Agency"] < 0 < top["big2:positive:Communion"]


def test_classifier_needs_two_rms_per_family():
    profiles = profiles_of(observations({"g": "Gemma", "l1": "Llama", "l2": "Llama"}, shift=0.2))
    features = profile_features(profiles)
    with pytest.raises(InputError, match="at least 2 RMs"):
        fit_discriminant(features, profiles.drop_duplicates("rm").set_index("rm")["base_model"][features.index])


def test_a_configured_rm_of_an_unfitted_family_is_placed_among_the_published_rms_without_a_predicted_family(tmp_path):
    # the same profile twice, as a Gemma RM and as a Qwen RM: the same percentile among the
    # published RMs and the same score, but the Qwen RM has no published family to be placed in
    # and no family the classifier could predict
    published = observations(PUBLISHED, shift=0.2, prompts=MANY_PROMPTS)
    copy = published[published["rm"] == "pub-gemma-0"]
    own = pd.concat([copy.assign(rm="own-gemma"), copy.assign(rm="own-qwen", base_model="Qwen"),
                     published[published["rm"] == "pub-llama-0"].assign(rm="own-llama")])
    write_parquet(published, tmp_path / "published.parquet")
    write_parquet(own, tmp_path / "own.parquet")
    out_csv, out_json, figure = tmp_path / "rm_profiles.csv", tmp_path / "family_identifiability.json", tmp_path / "rm_profiles"
    write_rm_profiles({"big2": tmp_path / "published.parquet"}, {"big2": tmp_path / "own.parquet"}, out_csv, out_json, n_bootstrap=50)
    profiles = pd.read_csv(out_csv).set_index(["rm", "category", "framing"]).sort_index()
    pd.testing.assert_series_equal(profiles.loc["own-qwen", "percentile_among_published"], profiles.loc["pub-gemma-0", "percentile_among_published"])
    pd.testing.assert_series_equal(profiles.loc["own-gemma", "percentile_among_own_family"], profiles.loc["pub-gemma-0", "percentile_among_own_family"])
    pd.testing.assert_series_equal(profiles.loc["own-llama", "percentile_among_own_family"], profiles.loc["pub-llama-0", "percentile_among_own_family"])
    own_family = ["percentile_among_own_family", "percentile_among_own_family_low", "percentile_among_own_family_high"]
    assert profiles.loc["own-qwen", own_family].isna().all().all()
    assert profiles.drop(index="own-qwen", level="rm")[own_family].notna().all().all()
    record = json.loads(out_json.read_text())
    configured = {row["rm"]: row for row in record["configured"]}
    qwen, gemma, llama = configured["own-qwen"], configured["own-gemma"], configured["own-llama"]
    assert (qwen["in_fitted_families"], qwen["predicted"], qwen["correct"]) == (False, None, None)
    assert (gemma["in_fitted_families"], gemma["predicted"], gemma["correct"]) == (True, "Gemma", True)
    assert (llama["in_fitted_families"], llama["predicted"], llama["correct"]) == (True, "Llama", True)
    # its position on the Llama-Gemma axis: a Gemma profile's, on the Gemma side in every draw
    assert qwen["score"] == pytest.approx(gemma["score"]) and qwen["score_low"] <= qwen["score"] <= qwen["score_high"] < 0
    assert qwen["bootstrap_agreement"] == 1
    assert record["fitted_families"] == ["Gemma", "Llama"] and record["n_published_per_family"] == {"Gemma": 4, "Llama": 6}
    assert record["published_left_out"] == {}
    plot_rm_profiles(pd.read_csv(out_csv), figure.with_suffix(".pdf"), figure.with_suffix(".png"))
    assert figure.with_suffix(".png").stat().st_size > 0


def test_a_lexicon_no_published_rm_was_scored_on_profiles_the_configured_rms_and_leaves_the_classifier_be(tmp_path):
    published = observations(PUBLISHED, shift=0.2, prompts=MANY_PROMPTS)
    own = pd.concat([published[published["rm"] == "pub-gemma-0"].assign(rm="own-gemma"),
                     published[published["rm"] == "pub-llama-0"].assign(rm="own-llama")])
    virtues = observations({"own-gemma": "Gemma", "own-llama": "Llama"}, shift=0.3, seed=5, n_ranked=40, prompts=MANY_PROMPTS)
    for name, frame in (("published", published), ("own", own), ("virtues", virtues)):
        write_parquet(frame, tmp_path / f"{name}.parquet")
    paths = {name: tmp_path / f"{name}.parquet" for name in ("published", "own", "virtues")}
    alone, with_lexicon = tmp_path / "alone", tmp_path / "with_lexicon"
    for out, configured in ((alone, {"big2": paths["own"]}), (with_lexicon, {"big2": paths["own"], "virtues": paths["virtues"]})):
        out.mkdir()
        write_rm_profiles({"big2": paths["published"]}, configured, out / "rm_profiles.csv", out / "family_identifiability.json", n_bootstrap=50)
    profiles = pd.read_csv(with_lexicon / "rm_profiles.csv")
    rows = profiles[profiles["dictionary"] == "virtues"]
    # the configured RMs' profile on the lexicon: one row per RM x category x framing, its rank
    # fractions over the 40 terms ranked, and no percentile among published RMs (none was scored on it)
    assert set(rows["source"]) == {"configured"} and len(rows) == 2 * len(CATEGORIES) * 2
    expected = np.median(virtues.query("rm == 'own-llama' and category == 'Agency' and framing == 'positive'")["median_rank"] / 40)
    assert rows.query("rm == 'own-llama' and category == 'Agency' and framing == 'positive'")["rank_fraction"].iloc[0] == pytest.approx(expected)
    assert rows[["percentile_among_published", "percentile_among_own_family"]].isna().all().all()
    assert rows["rank_fraction_low"].notna().all()
    # the classifier reads the features the published RMs have: adding the lexicon changes no score
    scores = [{row["rm"]: row["score"] for row in json.loads((out / "family_identifiability.json").read_text())["configured"]}
              for out in (alone, with_lexicon)]
    assert scores[0] == pytest.approx(scores[1])
    plot_rm_profiles(profiles, tmp_path / "f.pdf", tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 0


def test_a_published_rm_of_a_third_family_is_left_out_of_the_fit_and_is_its_familys_reference():
    published = observations({**PUBLISHED, "pub-qwen-0": "Qwen", "pub-qwen-1": "Qwen"}, shift=0.2)
    own = observations({"own-qwen": "Qwen"}, shift=0.2, seed=1)
    profiles = profiles_of(published, own)
    result = family_identifiability(profiles)
    assert result.published_left_out == {"Qwen": ["pub-qwen-0", "pub-qwen-1"]}
    assert len(result.loo) == 10 and result.n_per_family == {"Gemma": 4, "Llama": 6}
    assert list(result.configured.columns) == CONFIGURED_COLUMNS
    (row,) = result.configured.to_dict(orient="records")
    assert not row["in_fitted_families"] and row["predicted"] is None and row["correct"] is None and math.isfinite(row["score"])
    # the published Qwen RMs are the Qwen RM's own family: a percentile among the 2 of them
    own_rows = profiles[profiles["rm"] == "own-qwen"]
    assert own_rows["percentile_among_own_family"].isin([0, 25, 50, 75, 100]).all()


# --------------------------------------------------------------------------- bootstrap over prompts


def test_bootstrap_is_seeded_and_its_intervals_cover_the_point_estimate():
    frames = {
        ("published", "big2"): observations(PUBLISHED, shift=0.2, prompts=MANY_PROMPTS),
        ("configured", "big2"): observations({"own-llama": "Llama", "own-gemma": "Gemma"}, shift=0.2, seed=1, prompts=MANY_PROMPTS),
    }
    profiles = rm_profiles(frames)
    first, again, other = (bootstrap_profiles(frames, profiles, 200, seed) for seed in (7, 7, 8))
    intervals, intervals_again, intervals_other = (profile_intervals(boot, 0.95) for boot in (first, again, other))
    pd.testing.assert_frame_equal(intervals, intervals_again)
    assert not intervals["rank_fraction_low"].equals(intervals_other["rank_fraction_low"])
    assert list(intervals.columns) == INTERVAL_COLUMNS
    for feature in PROFILE_FEATURES:
        assert (intervals[f"{feature}_low"] <= profiles[feature]).all() and (profiles[feature] <= intervals[f"{feature}_high"]).all(), feature
    # a draw is a resample, not the sample: the intervals have width
    assert (intervals["rank_fraction_high"] > intervals["rank_fraction_low"]).all()
    # a wider level gives a wider interval
    wide = profile_intervals(first, 0.99)
    assert (wide["median_rank_low"] <= intervals["median_rank_low"]).all() and (wide["median_rank_high"] >= intervals["median_rank_high"]).all()


def test_a_draw_resamples_prompts_within_framing_shared_by_every_dictionary_and_category():
    # each prompt's median rank encodes the prompt (1..9 positive, 101..109 negative) plus an
    # offset per category, so a draw's medians show which prompts it drew for each category
    offsets = {("big2", "Agency"): 0, ("big2", "Communion"): 1000, ("mfd", "Care"): 2000}
    value = {prompt: int(prompt.rsplit("_", 1)[1]) + 1 + (100 if framing == "negative" else 0) for prompt, framing in MANY_PROMPTS.items()}
    frames = {
        ("configured", dictionary): pd.DataFrame(
            [("rm-x", "Llama", prompt, framing, category, value[prompt] + offset, 10_000)
             for (d, category), offset in offsets.items() if d == dictionary for prompt, framing in MANY_PROMPTS.items()],
            columns=["rm", "base_model", "prompt", "framing", "category", "median_rank", "n_ranked"],
        )
        for dictionary in ("big2", "mfd")
    }
    profiles = rm_profiles(frames)
    boot = bootstrap_profiles(frames, profiles, 50, seed=3)
    draws = prompt_draws({"negative": 9, "positive": 9}, 50, 3, "configured:rm-x")
    for framing, positions in draws.items():
        prompts = sorted(prompt for prompt, f in MANY_PROMPTS.items() if f == framing)
        drawn = np.median(np.array([value[p] for p in prompts])[positions], axis=1)
        assert len(np.unique(drawn)) > 1  # the draws differ
        for (dictionary, category), offset in offsets.items():
            row = profiles.index[(profiles["dictionary"] == dictionary) & (profiles["category"] == category) & (profiles["framing"] == framing)][0]
            np.testing.assert_array_equal(boot["median_rank"][:, row], drawn + offset)
        # within framing: a positive draw only holds positive prompts (values 1..9)
        assert (drawn < 100).all() == (framing == "positive")
    # another RM gets its own draws
    assert not np.array_equal(prompt_draws({"positive": 9}, 50, 3, "configured:rm-y")["positive"], draws["positive"])


def test_a_prompt_missing_in_one_category_stops_the_bootstrap():
    obs = observations({"own-llama": "Llama"}, shift=0.2, prompts=MANY_PROMPTS)
    frames = {("configured", "big2"): obs.drop(obs.index[(obs["prompt"] == "p_pos_3") & (obs["category"] == "Care")])}
    with pytest.raises(InputError, match="'own-llama': prompt 'p_pos_3' has no big2 Care observation"):
        bootstrap_profiles(frames, rm_profiles(frames), 10, seed=0)


def test_family_scores_of_copies_agree_over_draws():
    published = observations(PUBLISHED, shift=0.2, prompts=MANY_PROMPTS)
    copies = pd.concat([published[published["rm"] == rm].assign(rm=f"copy-of-{rm}") for rm in ("pub-gemma-0", "pub-llama-0")])
    frames = {("published", "big2"): published, ("configured", "big2"): copies}
    profiles = rm_profiles(frames)
    result = family_identifiability(profiles)
    scores = bootstrap_family_scores(profiles, bootstrap_profiles(frames, profiles, 100, seed=0)["centred_rank_fraction"], result)
    assert scores.shape == (100, 2)
    point = result.configured.set_index("rm")["score"]
    assert (scores[:, 0] < 0).all() and (scores[:, 1] > 0).all()  # copy of a Gemma RM, copy of a Llama RM
    assert np.quantile(scores[:, 0], 0.025) <= point["copy-of-pub-gemma-0"] <= np.quantile(scores[:, 0], 0.975)


# --------------------------------------------------------------------------- identifiability yardsticks


def test_majority_baseline_is_the_largest_familys_share():
    assert majority_baseline(pd.Series(["Gemma"] * 3 + ["Llama"] * 7)) == pytest.approx(0.7)
    assert majority_baseline(pd.Series(["Gemma"] * 6 + ["Llama"] * 4)) == pytest.approx(0.6)
    result = family_identifiability(profiles_of(observations(PUBLISHED, shift=0.2)))
    assert result.majority_baseline == pytest.approx(0.6) and result.n_per_family == {"Gemma": 4, "Llama": 6}


def test_relabellings_enumerate_every_labelling_of_the_family_sizes_or_draw_seeded_ones():
    observed = np.array([True, False, True, False, False])
    rows, exhaustive = relabellings(observed, 10, seed=0)
    assert exhaustive and len(rows) == math.comb(5, 2) and len({tuple(r) for r in rows}) == 10 and (rows.sum(1) == 2).all()
    assert {tuple(np.flatnonzero(r)) for r in rows} == set(itertools.combinations(range(5), 2))
    sampled, exhaustive = relabellings(observed, 9, seed=0)
    assert not exhaustive and len(sampled) == 10 and (sampled[0] == observed).all() and (sampled.sum(1) == 2).all()
    np.testing.assert_array_equal(sampled, relabellings(observed, 9, seed=0)[0])


def features_of(x: np.ndarray) -> tuple[pd.DataFrame, pd.Series]:
    rms = list(PUBLISHED)
    return pd.DataFrame(x, index=rms, columns=[f"f{j}" for j in range(x.shape[1])]), pd.Series(PUBLISHED)[rms]


def test_permutation_p_is_one_without_any_family_difference():
    features, families = features_of(np.tile(np.random.default_rng(0).normal(size=6), (10, 1)))
    exact = loo_permutation_test(features, families)
    assert exact.exhaustive and exact.n_relabellings == math.comb(10, 4) and exact.p == 1
    sampled = loo_permutation_test(features, families, max_relabellings=99, seed=1)
    assert not sampled.exhaustive and sampled.n_relabellings == 100 and sampled.p == 1


def test_permutation_p_holds_its_level_when_profiles_differ_only_by_noise():
    rng = np.random.default_rng(11)
    p = np.array([loo_permutation_test(*features_of(rng.normal(size=(10, 6)))).p for _ in range(20)])
    # exact under the null: P(p <= 0.05) <= 0.05, and p is large on average
    assert (p <= 0.05).sum() <= 3 and p.mean() > 0.4


def test_permutation_p_is_small_with_a_clear_family_signal():
    profiles = profiles_of(observations(PUBLISHED, shift=0.2))
    features = profile_features(profiles)
    test = loo_permutation_test(features, profiles.drop_duplicates("rm").set_index("rm")["base_model"])
    assert test.n_correct == 10 and test.exhaustive and test.n_relabellings == 210
    assert test.n_at_least <= 2 and test.p < 0.01


# --------------------------------------------------------------------------- the job on the published data

PUBLISHED_SOURCES = {  # dictionary -> (corpus file, corpus name, score folder, MFD scheme of the workflow's default)
    "big2": ("dict_big2_nouns.csv", "big2_nouns", "dict_big2_nouns", None),
    "mfd": ("moral-foundations-dictionary-20.dicx", "mfd2", "dict_MFD_20", "published_script"),
}


@pytest.fixture(scope="module")
def published_observations(reference_data) -> dict[str, pd.DataFrame]:
    """The published RMs' Figure 1 observations of both dictionaries, through the workflow's path."""
    prompts = yaml.safe_load((ROOT / "config" / "prompts.yaml").read_text())["prompts"]
    result = {}
    for dictionary, (file, name, folder, scheme) in PUBLISHED_SOURCES.items():
        corpus, categories = analysis_corpus(read_dictionary(reference_data / "corpora" / file, name), scheme)
        wide = {
            published_rm_name(str(path)): read_wide_scores(path, list(prompts))
            for path in sorted((reference_data / "reward_model_scores" / folder).glob("*.csv"))
        }
        result[dictionary] = figure1_observations(wide, {rm: family_of_published_rm(rm) for rm in wide}, corpus, prompts, categories)
    return result


def plain_leave_one_out_correct(observations_by_dictionary: dict[str, pd.DataFrame]) -> int:
    """How many published RMs the family classifier's rule gets right leave-one-out, recomputed
    here with a plain loop: per RM and (dictionary, category, framing) the median over prompts of
    median_rank / n_ranked, centred on the RM's mean over the categories of its (dictionary,
    framing); each RM in turn held out, the others give per feature the two family means and the
    pooled within-family SD (n - 2 df; features without spread left out), and the held-out RM is
    called Llama when sum((mean_Llama - mean_Gemma) / sd * (x - midpoint) / sd) > 0."""
    rows = []
    for dictionary, obs in observations_by_dictionary.items():
        fractions = obs.assign(fraction=obs["median_rank"] / obs["n_ranked"])
        medians = fractions.groupby(["rm", "base_model", "framing", "category"], as_index=False)["fraction"].median()
        medians["centred"] = medians["fraction"] - medians.groupby(["rm", "framing"])["fraction"].transform("mean")
        rows.append(medians.assign(feature=dictionary + ":" + medians["framing"] + ":" + medians["category"]))
    long = pd.concat(rows)
    features = long.pivot(index="rm", columns="feature", values="centred").dropna(axis=1)
    families = long.drop_duplicates("rm").set_index("rm")["base_model"]
    correct = 0
    for held_out in features.index:
        train = features.drop(index=held_out)
        gemma, llama = (train[families[train.index] == family] for family in ("Gemma", "Llama"))
        residuals = pd.concat([gemma - gemma.mean(), llama - llama.mean()])
        sd = np.sqrt((residuals**2).sum() / (len(train) - 2))
        spread = sd > 1e-12
        midpoint = (gemma.mean() + llama.mean()) / 2
        weights = (llama.mean() - gemma.mean()) / sd
        score = (weights * (features.loc[held_out] - midpoint) / sd)[spread].sum()
        correct += ("Llama" if score > 0 else "Gemma") == families[held_out]
    return correct


def test_published_classifier_reports_its_permutation_p_with_its_count(published_observations, tmp_path):
    paths = {}
    for dictionary, obs in published_observations.items():
        paths[dictionary] = tmp_path / f"{dictionary}.parquet"
        write_parquet(obs, paths[dictionary])
        own = obs[obs["rm"].isin(["Skywork_Skywork-Reward-Gemma-2-27B", "Skywork_Skywork-Reward-Llama-3.1-8B-v0.2"])]
        write_parquet(own.assign(rm="own-" + own["rm"]), tmp_path / f"own_{dictionary}.parquet")
    out_csv, out_json = tmp_path / "rm_profiles.csv", tmp_path / "family_identifiability.json"
    write_rm_profiles(paths, {d: tmp_path / f"own_{d}.parquet" for d in paths}, out_csv, out_json, n_bootstrap=200, seed=5)
    record = json.loads(out_json.read_text())
    (test,) = record["tests"]
    inputs = test["inputs"]
    assert record["n_published_per_family"] == {"Gemma": 4, "Llama": 6} and inputs["n_Gemma"] == 4 and inputs["n_Llama"] == 6
    # C(10, 4) relabellings, all enumerated; p = share at least as accurate, the observed one included
    assert inputs["relabellings"] == "all" and inputs["n_relabellings"] == 210
    assert test["p"] == pytest.approx(inputs["n_at_least"] / 210) and inputs["n_at_least"] >= 1
    # the leave-one-out accuracy is the one a plain loop over the published RMs' profiles gets
    n_correct = plain_leave_one_out_correct(published_observations)
    assert test["statistic"] == record["loo_accuracy"] == pytest.approx(n_correct / 10) and inputs["n_correct"] == n_correct
    assert record["majority_baseline"] == inputs["majority_baseline"] == pytest.approx(0.6)
    # the published numbers: 9 of 10 RMs identified leave-one-out, 6 of the 210 labellings do as well
    assert (inputs["n_correct"], inputs["n_at_least"]) == (9, 6)
    assert record["bootstrap"]["n_bootstrap"] == 200 and record["bootstrap"]["level"] == 0.95
    for row in record["configured"]:
        assert row["score_low"] <= row["score"] <= row["score_high"] and 0.5 <= row["bootstrap_agreement"] <= 1
    profiles = pd.read_csv(out_csv)
    assert list(profiles.columns) == PROFILE_COLUMNS + INTERVAL_COLUMNS
    assert len(profiles) == 12 * 2 * (2 + 5)  # 10 published + 2 configured RMs, 2 framings, Big Two + 5 foundations
