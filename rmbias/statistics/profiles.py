"""Value profiles of reward models and how well they identify an RM's base-model family.

A *profile* is one RM's Figure 1 result per dictionary x category x framing: the median over
prompts of its median rank (:func:`rm_profiles`). Ranks are compared on a scale that does not
depend on how many terms were ranked: the *rank fraction* = median rank / number of terms
ranked for that RM and prompt (0 = best, 1 = worst), medianed over prompts. Every RM, of any
family, is placed among the published RMs (:func:`derived_features`): its percentile among all
of them, and among those of its own family where the published RMs hold that family (NaN
where they hold none, e.g. for a Qwen RM beside the paper's Gemma and Llama RMs).

*Family identifiability* (:func:`family_identifiability`): the profile vectors of the
published RMs (features = rank fractions centred within each RM's (dictionary, framing), so an
RM-level offset cancels) are standardized by their pooled within-family SD, and a diagonal
linear discriminant (:class:`DiagonalDiscriminant`) projects each RM on the standardized
``Llama - Gemma`` mean difference, threshold at the midpoint of the two family means. Its
leave-one-out accuracy over the published RMs says how far a profile identifies the family,
against two yardsticks: the majority-class baseline (:func:`majority_baseline`) and a
permutation p (:func:`loo_permutation_test`: the same accuracy under every relabelling of the
published RMs that keeps the family sizes). The classifier is fitted on the published RMs of
the two compared families (:data:`rmbias.models.families.CONTRAST_FAMILIES`; published RMs of
any other family are left out of the fit and named). Each configured RM gets its score (its
position on the Llama-Gemma axis, standardized units; > 0: Llama side); an RM of Gemma or Llama
also its predicted family and whether that is right, while an RM of another family is flagged
outside the fitted families (``in_fitted_families`` false) and gets no prediction (``predicted``
and ``correct`` null): the classifier cannot name a family it was not fitted on. The
uncertainty of all of it over prompts is :mod:`rmbias.statistics.profile_uncertainty`'s.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rmbias.frames import require_columns
from rmbias.io import InputError
from rmbias.models.families import outside_contrast
from rmbias.statistics.figure1 import CONTRAST

SOURCES = ("published", "configured")
PROFILE_KEYS = ["dictionary", "category", "framing"]
OBSERVATION_COLUMNS = ["rm", "base_model", "prompt", "framing", "category", "median_rank", "n_ranked"]
MEDIANED = ["median_rank", "n_ranked", "rank_fraction"]
"""The columns of a profile that are medians over prompts."""
PERCENTILE_COLUMNS = ["percentile_among_published", "percentile_among_own_family"]
"""The rank fraction's percentile among all published RMs and among the published RMs of the row's family (:func:`derived_features`)."""
PROFILE_FEATURES = ["median_rank", "rank_fraction", "centred_rank_fraction", *PERCENTILE_COLUMNS]
"""The profile columns that describe the RM (``n_ranked`` describes its dictionary)."""
PROFILE_COLUMNS = ["source", "rm", "base_model", *PROFILE_KEYS, *MEDIANED, "centred_rank_fraction", *PERCENTILE_COLUMNS]
N_TOP_FEATURES = 3
SD_FLOOR = 1e-12
"""Pooled within-family SDs at or below this (rank-fraction units) count as no spread: the feature is left out."""
RELABELLING_CHUNK = 1024
"""Relabellings scored at once by :func:`loo_permutation_test` (bounds its memory)."""


def long_observations(observations: Mapping[tuple[str, str], pd.DataFrame]) -> pd.DataFrame:
    """All observations of :func:`rm_profiles` in one table, with ``source``, ``dictionary`` and
    ``rank_fraction`` (median_rank / n_ranked) added; checked."""
    frames = []
    for (source, dictionary), obs in observations.items():
        require_columns(obs, OBSERVATION_COLUMNS, f"{source} {dictionary} observations")
        if source not in SOURCES:
            raise InputError(f"profile source {source!r} is not one of {', '.join(SOURCES)}")
        frames.append(obs.assign(source=source, dictionary=dictionary, rank_fraction=obs["median_rank"] / obs["n_ranked"]))
    return pd.concat(frames, ignore_index=True)


def rm_profiles(observations: Mapping[tuple[str, str], pd.DataFrame]) -> pd.DataFrame:
    """One profile row per (source, RM, dictionary, category, framing).

    ``observations``: (source, dictionary) -> Figure 1 observations (``rm, base_model, prompt,
    framing, category, median_rank, n_ranked``; source ``published`` or ``configured``).
    Per row: ``median_rank`` (median over prompts, rank units), ``n_ranked`` (median over
    prompts of the terms ranked), ``rank_fraction`` (median over prompts of median_rank /
    n_ranked, unitless in (0, 1]) and the columns of :func:`derived_features`:
    ``centred_rank_fraction`` and the percentiles among the published RMs (all of them, those of
    the RM's own family).
    """
    profiles = (
        long_observations(observations)
        .groupby(["source", "rm", "base_model", *PROFILE_KEYS], as_index=False)[MEDIANED]
        .median()
    )
    order = {source: index for index, source in enumerate(SOURCES)}
    profiles = profiles.sort_values(["source", "base_model", "rm", *PROFILE_KEYS], key=lambda c: c.map(order) if c.name == "source" else c)
    profiles = profiles.reset_index(drop=True)
    for column, values in derived_features(profiles, profiles["rank_fraction"].to_numpy()[None, :]).items():
        profiles[column] = values[0]
    return profiles[PROFILE_COLUMNS]


def percentile_among(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Percentile (0-100, ties counted half) of each of ``values`` (..., m) among ``reference``
    (..., r), batched over the leading axes: 100 x (#below + #equal / 2) / r."""
    below = (reference[..., None, :] < values[..., None]).sum(-1)
    equal = (reference[..., None, :] == values[..., None]).sum(-1)
    return 100 * (below + equal / 2) / reference.shape[-1]


def derived_features(rows: pd.DataFrame, rank_fraction: np.ndarray) -> dict[str, np.ndarray]:
    """The profile columns computed from the rank fractions of all RMs at once.

    ``rows``: one profile row per column of ``rank_fraction`` (``source, rm, base_model,
    dictionary, category, framing``); ``rank_fraction``: (draws, rows), the point estimate being
    one draw. Returns (draws, rows) arrays: ``centred_rank_fraction`` (the rank fraction minus
    the RM's mean over the categories of its dictionary x framing, what the classifier reads),
    ``percentile_among_published`` (percentile, 0-100, of the rank fraction among every
    published RM in the same (dictionary, category, framing) of the same draw; 100 = ranks the
    category worse than every one of them) and ``percentile_among_own_family`` (the same among
    the published RMs of the row's ``base_model`` only; NaN where the published RMs hold no RM
    of that family there, e.g. a Qwen RM beside Gemma and Llama ones). A published RM is among
    its own reference RMs (counted half, as a tie).
    """
    groups = rows.groupby(["rm", "dictionary", "framing"], sort=False).ngroup().to_numpy()
    members = np.equal.outer(groups, np.arange(groups.max() + 1)).astype(float)
    group_means = (rank_fraction @ members) / members.sum(0)
    keys = rows.groupby(PROFILE_KEYS, sort=False).ngroup().to_numpy()
    published = (rows["source"] == "published").to_numpy()
    families = rows["base_model"].to_numpy()
    among_published, among_family = np.full(rank_fraction.shape, np.nan), np.full(rank_fraction.shape, np.nan)
    for key in np.unique(keys):
        cells = keys == key
        if (published & cells).any():
            among_published[:, cells] = percentile_among(rank_fraction[:, published & cells], rank_fraction[:, cells])
        for family in np.unique(families[cells]):
            rated, reference = cells & (families == family), published & cells & (families == family)
            if reference.any():
                among_family[:, rated] = percentile_among(rank_fraction[:, reference], rank_fraction[:, rated])
    return {
        "centred_rank_fraction": rank_fraction - group_means[:, groups],
        "percentile_among_published": among_published,
        "percentile_among_own_family": among_family,
    }


def feature_names(profiles: pd.DataFrame) -> pd.Series:
    """The classifier's name of each profile row's feature: ``dictionary:framing:category``."""
    return profiles["dictionary"] + ":" + profiles["framing"] + ":" + profiles["category"]


def profile_features(profiles: pd.DataFrame) -> pd.DataFrame:
    """The feature matrix of the classifier: one row per RM (index ``rm``), one column per
    :func:`feature_names`, the RM's ``centred_rank_fraction``. Features some RM lacks are dropped."""
    require_columns(profiles, ["rm", *PROFILE_KEYS, "centred_rank_fraction"], "profiles")
    named = profiles.assign(name=feature_names(profiles))
    return named.pivot(index="rm", columns="name", values="centred_rank_fraction").dropna(axis=1).sort_index(axis=1)


def discriminant_parts(train: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The diagonal linear discriminant fitted on ``train`` (..., n RMs, F features) with labels
    ``second`` (..., n; True = the second family), batched over the leading axes.

    Returns (..., F) arrays: ``midpoint`` (mean of the two family means), ``scale`` (pooled
    within-family SD, n - 2 df; 1 where it is at most :data:`SD_FLOOR`), ``weights``
    (standardized second - first mean difference; 0 for a feature without spread) and ``kept``
    (the features with spread).
    """
    in_second = second[..., None].astype(float)
    in_first = 1 - in_second
    mean_second = (in_second * train).sum(-2) / in_second.sum(-2)
    mean_first = (in_first * train).sum(-2) / in_first.sum(-2)
    residual = train - in_second * mean_second[..., None, :] - in_first * mean_first[..., None, :]
    sd = np.sqrt((residual**2).sum(-2) / (train.shape[-2] - 2))
    kept = sd > SD_FLOOR
    scale = np.where(kept, sd, 1.0)
    weights = np.where(kept, (mean_second - mean_first) / scale, 0.0)
    return (mean_first + mean_second) / 2, scale, weights, kept


def project(x: np.ndarray, midpoint: np.ndarray, scale: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Discriminant score Σ weights · (x - midpoint) / scale over the last (feature) axis; broadcasts."""
    return (((x - midpoint) / scale) * weights).sum(-1)


def discriminant_scores(train: np.ndarray, second: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Scores (..., m) of ``test`` (..., m, F) under the discriminant of :func:`discriminant_parts`
    fitted on ``train``/``second``; > 0 predicts the second family."""
    midpoint, scale, weights, _ = discriminant_parts(train, second)
    return project(test, midpoint[..., None, :], scale[..., None, :], weights[..., None, :])


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
        x = features[self.weights.index].to_numpy(dtype=float)
        return pd.Series(project(x, self.midpoint.to_numpy(), self.scale.to_numpy(), self.weights.to_numpy()), index=features.index)

    def predict(self, features: pd.DataFrame) -> pd.Series:
        return self.score(features).map(lambda s: self.levels[1] if s > 0 else self.levels[0])


def family_labels(families: pd.Series, levels: tuple[str, str], minimum: int, what: str) -> np.ndarray:
    """``families`` as booleans (True = ``levels[1]``); :class:`InputError` unless every label is one
    of ``levels`` and each level has at least ``minimum`` RMs."""
    counts = families.value_counts()
    if not set(counts.index) <= set(levels) or any(counts.get(level, 0) < minimum for level in levels):
        raise InputError(f"{what}: needs at least {minimum} RMs of each of {', '.join(levels)} and no other family (have {counts.to_dict()})")
    return (families == levels[1]).to_numpy()


def fit_discriminant(features: pd.DataFrame, families: pd.Series, levels: tuple[str, str] = CONTRAST) -> DiagonalDiscriminant:
    """Fit :class:`DiagonalDiscriminant` on ``features`` (RM x feature) with ``families`` (label per
    RM, same index). Needs at least 2 RMs per family; features with no within-family spread are
    left out (their SD is at most :data:`SD_FLOOR`)."""
    second = family_labels(families.loc[features.index], levels, 2, "family classifier")
    midpoint, scale, weights, kept = discriminant_parts(features.to_numpy(dtype=float), second)
    names = features.columns[kept]
    return DiagonalDiscriminant(
        levels=levels,
        midpoint=pd.Series(midpoint[kept], index=names),
        scale=pd.Series(scale[kept], index=names),
        weights=pd.Series(weights[kept], index=names),
    )


def loo_scores(features: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Leave-one-out scores (..., n): RM i (row of ``features``, n x F) scored by the discriminant
    fitted on the other n - 1 RMs, for each labelling of ``second`` (..., n booleans)."""
    n = features.shape[0]
    others = np.array([np.delete(np.arange(n), i) for i in range(n)])
    midpoint, scale, weights, _ = discriminant_parts(features[others], second[..., others])
    return project(features, midpoint, scale, weights)


def leave_one_out(features: pd.DataFrame, families: pd.Series, levels: tuple[str, str] = CONTRAST) -> pd.DataFrame:
    """Leave-one-out predictions: each RM scored by the discriminant fitted on the others (so at
    least 3 RMs per family). Returns ``rm, base_model, predicted, score, correct``."""
    families = families.loc[features.index]
    second = family_labels(families, levels, 3, "leave-one-out family classifier")
    scores = loo_scores(features.to_numpy(dtype=float), second)
    predicted = np.where(scores > 0, levels[1], levels[0])
    return pd.DataFrame(
        {"rm": features.index, "base_model": families.to_numpy(), "predicted": predicted, "score": scores, "correct": predicted == families.to_numpy()}
    )


def majority_baseline(families: pd.Series) -> float:
    """Accuracy of predicting the most common family for every RM: its share of ``families``."""
    return float(families.value_counts().max() / len(families))


@dataclass(frozen=True)
class RelabellingTest:
    """Permutation test of the leave-one-out accuracy over relabellings of the RMs' families.

    ``n_correct``: RMs the observed labelling's leave-one-out predictions get right;
    ``n_relabellings``: labellings scored, the observed one included; ``n_at_least``: those
    whose leave-one-out predictions get at least ``n_correct`` right; ``exhaustive``: every
    labelling with the observed family sizes was scored (else a seeded Monte Carlo sample).
    """

    n_correct: int
    n_relabellings: int
    n_at_least: int
    exhaustive: bool

    @property
    def p(self) -> float:
        return self.n_at_least / self.n_relabellings


def relabellings(second: np.ndarray, max_relabellings: int, seed: int) -> tuple[np.ndarray, bool]:
    """Labellings (rows of booleans) with as many True as ``second``: all of them, in
    lexicographic order, when there are at most ``max_relabellings``; else ``second`` followed by
    ``max_relabellings`` uniform shuffles of it (generator seeded by ``seed``). Second value:
    whether the rows are exhaustive."""
    n, k = len(second), int(second.sum())
    if math.comb(n, k) <= max_relabellings:
        rows = np.zeros((math.comb(n, k), n), dtype=bool)
        for row, chosen in zip(rows, itertools.combinations(range(n), k)):
            row[list(chosen)] = True
        return rows, True
    shuffled = np.random.default_rng(seed).permuted(np.tile(second, (max_relabellings, 1)), axis=1)
    return np.vstack([second, shuffled]), False


def loo_permutation_test(
    features: pd.DataFrame, families: pd.Series, levels: tuple[str, str] = CONTRAST, max_relabellings: int = 9999, seed: int = 0
) -> RelabellingTest:
    """How often a relabelling of the RMs' families (sizes kept, :func:`relabellings`) is
    identified leave-one-out at least as well as the observed labels; p = that share, the
    observed labelling counted (so p >= 1 / n_relabellings)."""
    second = family_labels(families.loc[features.index], levels, 3, "family permutation test")
    x = features.to_numpy(dtype=float)
    observed = int(((loo_scores(x, second) > 0) == second).sum())
    labellings, exhaustive = relabellings(second, max_relabellings, seed)
    n_correct = np.concatenate(
        [((loo_scores(x, chunk) > 0) == chunk).sum(-1) for chunk in np.array_split(labellings, -(-len(labellings) // RELABELLING_CHUNK))]
    )
    return RelabellingTest(observed, len(labellings), int((n_correct >= observed).sum()), exhaustive)


CONFIGURED_COLUMNS = ["rm", "base_model", "in_fitted_families", "predicted", "score", "correct"]
"""Columns of :attr:`Identifiability.configured`."""


@dataclass(frozen=True)
class Identifiability:
    """The classifier fitted on the published RMs of the compared families, its leave-one-out
    check against the majority baseline and the permutation test, the configured RMs' scores
    and predictions (:data:`CONFIGURED_COLUMNS`), and the published RMs left out of the fit
    (``published_left_out``: family label -> RMs)."""

    model: DiagonalDiscriminant
    loo: pd.DataFrame
    permutation: RelabellingTest
    majority_baseline: float
    n_per_family: dict[str, int]
    configured: pd.DataFrame
    top_features: pd.DataFrame
    published_left_out: dict[str, list[str]]


def configured_predictions(model: DiagonalDiscriminant, configured: pd.DataFrame, families: pd.Series) -> pd.DataFrame:
    """The configured RMs' rows of :data:`CONFIGURED_COLUMNS`: ``score`` (:meth:`DiagonalDiscriminant.score`
    of each row of ``configured``, RM x feature; standardized units, > 0: ``model.levels[1]``
    side) for every RM; for an RM whose family (``families``, label per RM) is one of
    ``model.levels`` (``in_fitted_families``) the ``predicted`` family and whether it is
    ``correct``, for any other RM both None (no prediction of a family the classifier was not
    fitted on)."""
    fitted = families.loc[configured.index].isin(model.levels).to_numpy()
    predicted = np.where(fitted, model.predict(configured).to_numpy(), None)
    family = families.loc[configured.index].to_numpy()
    return pd.DataFrame(
        {
            "rm": configured.index,
            "base_model": family,
            "in_fitted_families": fitted,
            "predicted": predicted,
            "score": model.score(configured).to_numpy(),
            "correct": np.where(fitted, predicted == family, None),
        },
        columns=CONFIGURED_COLUMNS,
    )


def family_identifiability(
    profiles: pd.DataFrame, n_top: int = N_TOP_FEATURES, max_relabellings: int = 9999, seed: int = 0, levels: tuple[str, str] = CONTRAST
) -> Identifiability:
    """Fit the family classifier on the published profiles of the ``levels`` families, check it
    leave-one-out (with the majority baseline and :func:`loo_permutation_test`,
    ``max_relabellings``/``seed``), apply it to the configured RMs of every family
    (:func:`configured_predictions`). ``top_features``: the ``n_top`` features with the largest
    |standardized difference| (``feature, standardized_difference, mean_<family>``);
    ``n_per_family``: the published RMs per family the classifier was fitted on;
    ``published_left_out``: the published RMs of other families, not fitted on."""
    features = profile_features(profiles)
    family_of = profiles.drop_duplicates("rm").set_index("rm")["base_model"]
    source_of = profiles.drop_duplicates("rm").set_index("rm")["source"]
    all_published = features.loc[source_of[features.index] == "published"]
    published = all_published.loc[family_of[all_published.index].isin(levels)]
    configured = features.loc[source_of[features.index] == "configured"]
    published_families = family_of[published.index]
    model = fit_discriminant(published, published_families, levels)
    means = published.groupby(published_families).mean()
    top = model.weights.abs().sort_values(ascending=False).index[:n_top]
    top_features = pd.DataFrame(
        {
            "feature": top,
            "standardized_difference": model.weights[top].to_numpy(),
            **{f"mean_{level}": means.loc[level, top].to_numpy() for level in model.levels},
        }
    )
    return Identifiability(
        model=model,
        loo=leave_one_out(published, published_families, levels),
        permutation=loo_permutation_test(published, published_families, levels, max_relabellings=max_relabellings, seed=seed),
        majority_baseline=majority_baseline(published_families),
        n_per_family={level: int((published_families == level).sum()) for level in model.levels},
        configured=configured_predictions(model, configured, family_of),
        top_features=top_features,
        published_left_out=outside_contrast(family_of[all_published.index].to_dict(), levels),
    )
