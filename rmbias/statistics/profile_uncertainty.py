"""How sure one RM's value profile is: a bootstrap over prompts, and the ``rm_profiles`` job.

A profile (:mod:`rmbias.statistics.profiles`) is a median over the prompts of each framing,
so its uncertainty is that of the prompt sample. Each bootstrap draw resamples, for every RM
on its own, the prompts of each framing with replacement (:func:`prompt_draws`): the same
drawn prompts for every dictionary and category of that RM, because its categories are
ranked on the same prompts. Every profile feature is recomputed on the draw
(:func:`bootstrap_profiles`; the percentiles among the published RMs and the centred features
from the draw's published RMs), and so is each configured RM's family score: the classifier
is refitted on the draw's published profiles and scores the draw's configured ones
(:func:`bootstrap_family_scores`), so the score's interval carries the prompt sampling of
both. Intervals are percentile intervals of the draws (:func:`percentile_interval`); a
configured RM's ``bootstrap_agreement`` is the share of draws whose score falls on the side of
the Llama-Gemma threshold its point score falls on (for an RM of Gemma or Llama: the share
predicting the same family; for an RM of another family, which gets no prediction: how
stable its side of the axis is).
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from rmbias.io import InputError, read_parquet
from rmbias.records import statistic_entry, statistics_record, write_statistics
from rmbias.statistics.profiles import (
    MEDIANED,
    PROFILE_COLUMNS,
    PROFILE_FEATURES,
    Identifiability,
    derived_features,
    discriminant_scores,
    family_identifiability,
    feature_names,
    long_observations,
    profile_features,
    rm_profiles,
)

logger = logging.getLogger(__name__)

INTERVAL_COLUMNS = [f"{feature}_{end}" for feature in PROFILE_FEATURES for end in ("low", "high")]
"""The interval columns :func:`write_rm_profiles` adds to the profiles: ``<feature>_low``/``_high``."""
RESAMPLING = "prompts with replacement within framing, one draw per RM shared by all its dictionaries and categories"


def prompt_draws(n_prompts: Mapping[str, int], n_bootstrap: int, seed: int, rm: str) -> dict[str, np.ndarray]:
    """One RM's bootstrap draws: per framing, an (n_bootstrap, n_prompts[framing]) array of
    positions among that framing's prompts (in sorted order), drawn with replacement. The
    generator is seeded by ``seed`` and the RM's name, so an RM's draws do not depend on which
    other RMs are profiled; framings are drawn in sorted order."""
    rng = np.random.default_rng([seed, zlib.crc32(rm.encode())])
    return {framing: rng.integers(0, n, size=(n_bootstrap, n)) for framing, n in sorted(n_prompts.items())}


def rm_cells(obs: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """One RM's observations of one framing as an array (prompts in sorted order, :data:`MEDIANED`,
    cells) and its cells ((dictionary, category) pairs); :class:`InputError` when a prompt lacks
    a cell another prompt has."""
    wide = obs.pivot(index="prompt", columns=["dictionary", "category"], values=MEDIANED).sort_index()
    missing = np.argwhere(wide.isna().to_numpy())
    if len(missing):
        (prompt_at, column_at), *_ = missing
        _, dictionary, category = wide.columns[column_at]
        raise InputError(
            f"RM {obs['rm'].iloc[0]!r}: prompt {wide.index[prompt_at]!r} has no {dictionary} {category} observation; "
            "the bootstrap draws prompts shared by every category"
        )
    cells = list(wide[MEDIANED[0]].columns)
    return wide[MEDIANED].to_numpy().reshape(len(wide), len(MEDIANED), len(cells)), cells


def bootstrap_profiles(observations: Mapping[tuple[str, str], pd.DataFrame], profiles: pd.DataFrame, n_bootstrap: int, seed: int) -> dict[str, np.ndarray]:
    """The profile columns of every bootstrap draw: (n_bootstrap, rows of ``profiles``) arrays.

    ``observations`` as in :func:`rmbias.statistics.profiles.rm_profiles`, ``profiles`` its
    result. Per draw: :data:`MEDIANED` (medians over the RM's drawn prompts, :func:`prompt_draws` keyed ``source:rm``)
    and the columns of :func:`derived_features` computed from the draw's rank fractions.
    """
    long = long_observations(observations)
    keys = profiles[["source", "rm", "dictionary", "category", "framing"]].itertuples(index=False, name=None)
    row = {key: position for position, key in enumerate(keys)}
    medians = np.full((n_bootstrap, len(MEDIANED), len(profiles)), np.nan)
    for (source, rm), obs in long.groupby(["source", "rm"], sort=True):
        cells = {framing: rm_cells(part) for framing, part in obs.groupby("framing")}
        n_prompts = {framing: len(values) for framing, (values, _) in cells.items()}
        for framing, positions in prompt_draws(n_prompts, n_bootstrap, seed, f"{source}:{rm}").items():
            values, names = cells[framing]
            rows = [row[(source, rm, dictionary, category, framing)] for dictionary, category in names]
            medians[:, :, rows] = np.median(values[positions], axis=1)
    boot = {column: medians[:, index] for index, column in enumerate(MEDIANED)}
    return boot | derived_features(profiles, boot["rank_fraction"])


def percentile_interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The (1 - level) / 2 and (1 + level) / 2 quantiles of ``draws`` over its first axis
    (NaN where a draw is NaN). ``level`` in (0, 1), e.g. 0.95."""
    if not 0 < level < 1:
        raise InputError(f"profile interval level {level} is not in (0, 1)")
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return low, high


def profile_intervals(boot: Mapping[str, np.ndarray], level: float) -> pd.DataFrame:
    """:data:`INTERVAL_COLUMNS`: :func:`percentile_interval` of each profile feature's draws."""
    columns = {}
    for feature in PROFILE_FEATURES:
        columns[f"{feature}_low"], columns[f"{feature}_high"] = percentile_interval(boot[feature], level)
    return pd.DataFrame(columns)[INTERVAL_COLUMNS]


def bootstrap_family_scores(profiles: pd.DataFrame, centred: np.ndarray, result: Identifiability) -> np.ndarray:
    """Family scores (draws, RMs of ``result.configured`` in its order): in each draw, the
    classifier refitted on the published RMs of ``result.loo`` (their families) scores the
    configured RMs. ``centred``: (draws, rows of ``profiles``) centred rank fractions; the
    features are those of :func:`profile_features`."""
    columns = {name: j for j, name in enumerate(profile_features(profiles).columns)}
    rms = {rm: i for i, rm in enumerate([*result.loo["rm"], *result.configured["rm"]])}
    names = feature_names(profiles).to_numpy()
    used = np.flatnonzero([rm in rms and name in columns for rm, name in zip(profiles["rm"], names)])
    tensor = np.full((centred.shape[0], len(rms), len(columns)), np.nan)
    tensor[:, [rms[rm] for rm in profiles["rm"].to_numpy()[used]], [columns[name] for name in names[used]]] = centred[:, used]
    second = (result.loo["base_model"] == result.model.levels[1]).to_numpy()
    n_published = len(result.loo)
    return discriminant_scores(tensor[:, :n_published], second, tensor[:, n_published:])


def configured_score_intervals(result: Identifiability, scores: np.ndarray, level: float) -> pd.DataFrame:
    """``result.configured`` with ``score_low``/``score_high`` (:func:`percentile_interval` of
    ``scores``, draws x configured RMs) and ``bootstrap_agreement``: the share of draws whose
    score is on the point score's side of the threshold (> 0 or not; for an RM of a fitted
    family, the share whose predicted family is the point estimate's)."""
    low, high = percentile_interval(scores, level)
    agrees = (scores > 0) == (result.configured["score"].to_numpy() > 0)
    return result.configured.assign(score_low=low, score_high=high, bootstrap_agreement=agrees.mean(axis=0))


def identifiability_record(result: Identifiability, configured: pd.DataFrame, bootstrap: Mapping[str, object], seed: int) -> dict:
    """The ``family_identifiability`` record: the permutation test of the leave-one-out accuracy
    as its one test, the classifier's fit, its check and the configured RMs' predictions."""
    test = result.permutation
    levels = result.model.levels
    accuracy = float(result.loo["correct"].mean())
    entry = statistic_entry(
        "permutation of the published RMs' family labels (leave-one-out accuracy, family sizes kept)",
        accuracy,
        test.p,
        inputs={
            **{f"n_{level}": result.n_per_family[level] for level in levels},
            "n_correct": test.n_correct,
            "n_at_least": test.n_at_least,
            "n_relabellings": test.n_relabellings,
            "relabellings": "all" if test.exhaustive else f"observed + {test.n_relabellings - 1} seeded shuffles (seed {seed})",
            "majority_baseline": result.majority_baseline,
        },
    )
    return statistics_record(
        "family_identifiability",
        f"diagonal linear discriminant of the base family ({levels[1]} vs {levels[0]}) over RM value profiles "
        "(rank fraction per dictionary x framing x category, centred within the RM's dictionary x framing, "
        f"standardized by the published RMs' pooled within-family SD), fitted on the published {levels[0]} and {levels[1]} RMs; "
        "its leave-one-out accuracy tested against relabellings of their families. Configured RMs of another family "
        "are scored (their side of the axis) but get no predicted family (in_fitted_families false)",
        [entry],
        fitted_families=list(levels),
        n_published_per_family=result.n_per_family,
        published_left_out=result.published_left_out,
        features=list(result.model.weights.index),
        loo_accuracy=accuracy,
        majority_baseline=result.majority_baseline,
        loo=result.loo.to_dict(orient="records"),
        configured=configured.to_dict(orient="records"),
        top_features=result.top_features.to_dict(orient="records"),
        bootstrap=dict(bootstrap),
    )


def write_rm_profiles(
    published: Mapping[str, str | Path],
    configured: Mapping[str, str | Path],
    profiles_csv: str | Path,
    identifiability_json: str | Path,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    max_relabellings: int = 9999,
) -> Identifiability:
    """The ``rm_profiles`` job: ``published`` / ``configured`` map a dictionary (the published
    RMs: big2, mfd; the configured ones: those and any other lexicon they were searched on, whose
    rows have no percentile among published RMs and no classifier feature) to its Figure 1
    observations (parquet); writes the profiles (:func:`rm_profiles`) with their
    ``level`` percentile intervals over ``n_bootstrap`` draws (:data:`INTERVAL_COLUMNS`) and the
    identifiability record (:func:`family_identifiability` with ``max_relabellings``; the
    configured RMs' score intervals and bootstrap agreement). ``seed`` seeds the bootstrap and
    a Monte Carlo permutation test. Nothing is written on bad input."""
    frames = {("published", dictionary): read_parquet(path) for dictionary, path in published.items()}
    frames.update({("configured", dictionary): read_parquet(path) for dictionary, path in configured.items()})
    profiles = rm_profiles(frames)
    result = family_identifiability(profiles, max_relabellings=max_relabellings, seed=seed)
    started = time.perf_counter()
    boot = bootstrap_profiles(frames, profiles, n_bootstrap, seed)
    configured_table = configured_score_intervals(result, bootstrap_family_scores(profiles, boot["centred_rank_fraction"], result), level)
    logger.info("bootstrap of %d RMs' profiles and family scores, %d draws: %.2f s", profiles["rm"].nunique(), n_bootstrap, time.perf_counter() - started)
    table = pd.concat([profiles[PROFILE_COLUMNS], profile_intervals(boot, level)], axis=1)
    settings = {"n_bootstrap": n_bootstrap, "level": level, "seed": seed, "resampling": RESAMPLING}
    write_statistics(identifiability_record(result, configured_table, settings, seed), identifiability_json, {profiles_csv: table})
    test = result.permutation
    logger.info(
        "leave-one-out accuracy over %d published RMs: %.2f (majority baseline %.2f; permutation p = %d/%d)",
        len(result.loo), test.n_correct / len(result.loo), result.majority_baseline, test.n_at_least, test.n_relabellings,
    )
    for row in configured_table.itertuples():
        verdict = f"predicted {row.predicted}" if row.in_fitted_families else f"outside the fitted families ({', '.join(result.model.levels)})"
        logger.info(
            "%s (%s): %s, score %.2f [%.2f, %.2f] (> 0: %s side), %.0f%% of draws on its side",
            row.rm, row.base_model, verdict, row.score, row.score_low, row.score_high, result.model.levels[1], 100 * row.bootstrap_agreement,
        )
    return result
