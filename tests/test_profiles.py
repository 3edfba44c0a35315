"""Value profiles and family identifiability (rmbias.statistics.profiles) on synthetic Figure 1 observations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rmbias.io import InputError, write_parquet
from rmbias.statistics.profiles import family_identifiability, fit_discriminant, leave_one_out, profile_features, rm_profiles, write_rm_profiles

CATEGORIES = ("Agency", "Communion", "Care")
PROMPTS = {"p_pos_1": "positive", "p_pos_2": "positive", "p_neg_1": "negative", "p_neg_2": "negative"}


def observations(families: dict[str, str], shift: float, seed: int = 0, n_ranked: int = 200) -> pd.DataFrame:
    """Median ranks of ``families`` (rm -> label) among ``n_ranked`` terms: Llama RMs rank Agency
    ``shift`` * n_ranked better under positive prompts; every RM has its own offset and noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for rm, family in families.items():
        offset = rng.normal(0, 0.025)
        for prompt, framing in PROMPTS.items():
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
    # planted: Llama ranks Agency under positive prompts far better than every published Gemma RM
    assert row["percentile_among_published_gemma"] == 0
    gemma_rows = profiles.query("source == 'published' and base_model == 'Gemma' and category == 'Agency' and framing == 'positive'")
    assert sorted(gemma_rows["percentile_among_published_gemma"]) == [12.5, 37.5, 62.5, 87.5]


def test_separable_families_are_identified_leave_one_out():
    profiles = profiles_of(observations(PUBLISHED, shift=0.2))
    features = profile_features(profiles)
    families = profiles.drop_duplicates("rm").set_index("rm")["base_model"]
    loo = leave_one_out(features, families[features.index])
    assert loo["correct"].all()


def test_shuffled_families_are_not_identified():
    published = observations(PUBLISHED, shift=0.0, seed=3)
    profiles = profiles_of(published)
    features = profile_features(profiles)
    families = profiles.drop_duplicates("rm").set_index("rm")["base_model"]
    loo = leave_one_out(features, families[features.index])
    assert loo["correct"].mean() < 1


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


def test_unknown_family_of_a_configured_rm_stops_naming_the_file(tmp_path):
    published = tmp_path / "published.parquet"
    own = tmp_path / "own.parquet"
    write_parquet(observations(PUBLISHED, shift=0.2), published)
    write_parquet(observations({"own-qwen": "Qwen", "own-llama": "Llama"}, shift=0.2), own)
    out_csv, out_json = tmp_path / "rm_profiles.csv", tmp_path / "family_identifiability.json"
    with pytest.raises(InputError) as error:
        write_rm_profiles({"big2": published}, {"big2": own}, out_csv, out_json)
    message = str(error.value)
    assert str(own) in message and "own-qwen" in message and "Qwen" in message and "\n" not in message
    assert set(tmp_path.iterdir()) == {published, own}
