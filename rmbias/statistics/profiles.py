"""Value profiles of reward models and how well they identify an RM's base-model family.

A *profile* is one RM's Figure 1 result per dictionary x category x framing: the median over
prompts of its median rank (:func:`rm_profiles`). Ranks are compared on a scale that does not
depend on how many terms were ranked: the *rank fraction* = median rank / number of terms
ranked for that RM and prompt (0 = best, 1 = worst), medianed over prompts.

*Family identifiability* (:func:`family_identifiability`): the profile vectors of the
published RMs (features = rank fractions centred within each RM's (dictionary, framing), so an
RM-level offset cancels) are standardized by their pooled within-family SD, and a diagonal
linear discriminant (:class:`DiagonalDiscriminant`) projects each RM on the standardized
``Llama - Gemma`` mean difference, threshold at the midpoint of the two family means. Its
leave-one-out accuracy over the published RMs says how far a profile identifies the family;
each configured RM gets the predicted family and its score (> 0: Llama side).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from rmbias.frames import require_columns
from rmbias.io import InputError, read_parquet
from rmbias.records import statistics_record, write_statistics
from rmbias.statistics.figure1 import CONTRAST

logger = logging.getLogger(__name__)

SOURCES = ("published", "configured")
PROFILE_KEYS = ["dictionary", "category", "framing"]
PROFILE_COLUMNS = [
    "source", "rm", "base_model", *PROFILE_KEYS, "median_rank", "n_ranked", "rank_fraction",
    *(f"percentile_among_published_{family.lower()}" for family in CONTRAST),
]
N_TOP_FEATURES = 3


def rm_profiles(observations: Mapping[tuple[str, str], pd.DataFrame]) -> pd.DataFrame:
    """One profile row per (source, RM, dictionary, category, framing).

    ``observations``: (source, dictionary) -> Figure 1 observations (``rm, base_model, prompt,
    framing, category, median_rank, n_ranked``; source ``published`` or ``configured``).
    Per row: ``median_rank`` (median over prompts, rank units), ``n_ranked`` (median over
    prompts of the terms ranked), ``rank_fraction`` (median over prompts of median_rank /
    n_ranked, unitless in (0, 1]) and, for each family of :data:`CONTRAST`, the percentile
    (0-100, ties counted half) of the rank fraction among that family's published RMs in the
    same (dictionary, category, framing): 100 = ranks the category worse than every one of them.
    """
    frames = []
    for (source, dictionary), obs in observations.items():
        require_columns(obs, ["rm", "base_model", "prompt", "framing", "category", "median_rank", "n_ranked"], f"{source} {dictionary} observations")
        if source not in SOURCES:
            raise InputError(f"profile source {source!r} is not one of {', '.join(SOURCES)}")
        frames.append(obs.assign(source=source, dictionary=dictionary, rank_fraction=obs["median_rank"] / obs["n_ranked"]))
    long = pd.concat(frames, ignore_index=True)
    profiles = (
        long.groupby(["source", "rm", "base_model", *PROFILE_KEYS], as_index=False)[["median_rank", "n_ranked", "rank_fraction"]]
        .median()
    )
    published = profiles[profiles["source"] == "published"]
    for family in CONTRAST:
        reference = published[published["base_model"] == family].groupby(PROFILE_KEYS)["rank_fraction"].apply(np.asarray)
        profiles[f"percentile_among_published_{family.lower()}"] = [
            stats.percentileofscore(reference[key], value, kind="mean") if key in reference.index else np.nan
            for key, value in zip(profiles[PROFILE_KEYS].itertuples(index=False, name=None), profiles["rank_fraction"])
        ]
    order = {source: index for index, source in enumerate(SOURCES)}
    profiles = profiles.sort_values(["source", "base_model", "rm", *PROFILE_KEYS], key=lambda c: c.map(order) if c.name == "source" else c)
    return profiles[PROFILE_COLUMNS].reset_index(drop=True)


def profile_features(profiles: pd.DataFrame) -> pd.DataFrame:
    """The feature matrix of the classifier: one row per RM (index ``rm``), one column per
    ``dictionary:framing:category``, the RM's rank fraction minus its mean over the categories
    of that (dictionary, framing). Features some RM lacks are dropped."""
    require_columns(profiles, ["rm", *PROFILE_KEYS, "rank_fraction"], "profiles")
    centred = profiles.assign(
        feature=profiles["rank_fraction"] - profiles.groupby(["rm", "dictionary", "framing"])["rank_fraction"].transform("mean"),
        name=profiles["dictionary"] + ":" + profiles["framing"] + ":" + profiles["category"],
    )
    return centred.pivot(index="rm", columns="name", values="feature").dropna(axis=1).sort_index(axis=1)


@dataclass(frozen=True)
class DiagonalDiscriminant:
    """Diagonal linear discriminant between two families, in standardized feature units.

    ``scale``: pooled within-family SD of each feature (units of the features); ``midpoint``:
    mean of the two family means; ``weights``: standardized mean difference ``(mean[levels[1]]
    - mean[levels[0]]) / scale`` per feature. :meth:`score` of a profile = Σ weights ·
    (x - midpoint) / scale; > 0 predicts ``levels[1]``.
    """

    levels: tuple[str, str]
    midpoint: pd.Series
    scale: pd.Series
    weights: pd.Series

    def score(self, features: pd.DataFrame) -> pd.Series:
        standardized = (features[self.weights.index] - self.midpoint) / self.scale
        return standardized @ self.weights

    def predict(self, features: pd.DataFrame) -> pd.Series:
        return self.score(features).map(lambda s: self.levels[1] if s > 0 else self.levels[0])


def fit_discriminant(features: pd.DataFrame, families: pd.Series, levels: tuple[str, str] = CONTRAST) -> DiagonalDiscriminant:
    """Fit :class:`DiagonalDiscriminant` on ``features`` (RM x feature) with ``families`` (label per
    RM, same index). Needs at least 2 RMs per family; features with no within-family spread are
    left out (their SD is 0)."""
    counts = families.value_counts()
    if any(counts.get(level, 0) < 2 for level in levels):
        raise InputError(f"family classifier: needs at least 2 RMs of each of {', '.join(levels)} (have {counts.to_dict()})")
    means = features.groupby(families).mean().loc[list(levels)]
    residual = features - means.loc[families].set_axis(features.index)
    scale = np.sqrt((residual**2).sum() / (len(features) - len(levels)))
    kept = scale.index[scale > 0]
    return DiagonalDiscriminant(
        levels=levels,
        midpoint=means[kept].mean(),
        scale=scale[kept],
        weights=(means.loc[levels[1], kept] - means.loc[levels[0], kept]) / scale[kept],
    )


def leave_one_out(features: pd.DataFrame, families: pd.Series, levels: tuple[str, str] = CONTRAST) -> pd.DataFrame:
    """Leave-one-out predictions: each RM scored by the discriminant fitted on the others.
    Returns ``rm, base_model, predicted, score, correct``."""
    rows = []
    for rm in features.index:
        others = features.index != rm
        model = fit_discriminant(features[others], families[others], levels)
        score = float(model.score(features.loc[[rm]]).iloc[0])
        predicted = levels[1] if score > 0 else levels[0]
        rows.append({"rm": rm, "base_model": families[rm], "predicted": predicted, "score": score, "correct": predicted == families[rm]})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Identifiability:
    """The classifier fitted on the published RMs, its leave-one-out check and the configured RMs' predictions."""

    model: DiagonalDiscriminant
    loo: pd.DataFrame
    configured: pd.DataFrame
    top_features: pd.DataFrame


def family_identifiability(profiles: pd.DataFrame, n_top: int = N_TOP_FEATURES) -> Identifiability:
    """Fit the family classifier on the published profiles, check it leave-one-out, apply it to the
    configured RMs. ``configured`` has ``rm, base_model, predicted, score, correct``;
    ``top_features`` the ``n_top`` features with the largest |standardized difference|
    (``feature, standardized_difference, mean_<family>``)."""
    features = profile_features(profiles)
    family_of = profiles.drop_duplicates("rm").set_index("rm")["base_model"]
    source_of = profiles.drop_duplicates("rm").set_index("rm")["source"]
    published = features.loc[source_of[features.index] == "published"]
    configured = features.loc[source_of[features.index] == "configured"]
    model = fit_discriminant(published, family_of[published.index])
    scores = model.score(configured)
    predicted = model.predict(configured)
    configured_table = pd.DataFrame(
        {"rm": configured.index, "base_model": family_of[configured.index].to_numpy(), "predicted": predicted.to_numpy(), "score": scores.to_numpy()}
    )
    configured_table["correct"] = configured_table["predicted"] == configured_table["base_model"]
    means = published.groupby(family_of[published.index]).mean()
    top = model.weights.abs().sort_values(ascending=False).index[:n_top]
    top_features = pd.DataFrame(
        {
            "feature": top,
            "standardized_difference": model.weights[top].to_numpy(),
            **{f"mean_{level}": means.loc[level, top].to_numpy() for level in model.levels},
        }
    )
    return Identifiability(model, leave_one_out(published, family_of[published.index]), configured_table, top_features)


def check_families(observations: Mapping[str, pd.DataFrame], known: Sequence[str] = CONTRAST) -> None:
    """Raise :class:`InputError` naming the file when a configured RM's family is not one the
    profile classifier knows (``known``: the published RMs' families). ``observations``: path -> frame."""
    for path, obs in observations.items():
        unknown = sorted(set(obs["base_model"]) - set(known))
        if unknown:
            rm = obs.loc[obs["base_model"] == unknown[0], "rm"].iloc[0]
            raise InputError(f"{path}: RM {rm!r} has family {unknown[0]!r}; the profiles know only {', '.join(known)}")


def write_rm_profiles(
    published: Mapping[str, str | Path],
    configured: Mapping[str, str | Path],
    profiles_csv: str | Path,
    identifiability_json: str | Path,
) -> Identifiability:
    """The ``rm_profiles`` job: ``published`` / ``configured`` map a dictionary (big2, mfd) to its
    Figure 1 observations (parquet); writes the profiles (:func:`rm_profiles`) and the
    identifiability record (:func:`family_identifiability`). Nothing is written on bad input."""
    own = {path: read_parquet(path) for path in configured.values()}
    check_families(own)
    frames = {("published", dictionary): read_parquet(path) for dictionary, path in published.items()}
    frames.update({("configured", dictionary): own[path] for dictionary, path in configured.items()})
    profiles = rm_profiles(frames)
    result = family_identifiability(profiles)
    accuracy = float(result.loo["correct"].mean())
    record = statistics_record(
        "family_identifiability",
        "diagonal linear discriminant of the base family (Llama vs Gemma) over RM value profiles "
        "(rank fraction per dictionary x framing x category, centred within the RM's dictionary x framing, "
        "standardized by the published RMs' pooled within-family SD), fitted on the published RMs",
        [],
        features=list(result.model.weights.index),
        loo_accuracy=accuracy,
        loo=result.loo.to_dict(orient="records"),
        configured=result.configured.to_dict(orient="records"),
        top_features=result.top_features.to_dict(orient="records"),
    )
    write_statistics(record, identifiability_json, {profiles_csv: profiles})
    logger.info("leave-one-out accuracy over %d published RMs: %.2f", len(result.loo), accuracy)
    for row in result.configured.itertuples():
        logger.info("%s (%s): predicted %s, score %.2f", row.rm, row.base_model, row.predicted, row.score)
    return result

