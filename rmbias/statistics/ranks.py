"""Rank primitives: terms ranked by reward or log-probability, then summarised per category.

Units: a *rank* is a position among the terms scored for one (model, prompt): 1 = highest
reward (or log-probability), ties get the average of the positions they span. A *median rank*
is the median of those ranks over the terms of one category; one median rank per
(model, prompt, category) is one observation of Figure 1 (:func:`rm_median_ranks`) and
Figure 2 (:func:`logprob_median_ranks`).
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from rmbias.frames import require_columns
from rmbias.io import InputError


def _framing_of(prompts: pd.Series, framing_by_prompt: Mapping[str, str]) -> pd.Series:
    """The framing of each prompt key of ``prompts`` (a prompt's ``framing`` in the prompts file)."""
    unknown = sorted(set(prompts) - set(framing_by_prompt))
    if unknown:
        raise InputError(f"prompt {unknown[0]!r}: no framing in the prompt metadata")
    return prompts.map(framing_by_prompt)


def long_scores(wide: pd.DataFrame, rm: str, corpus: pd.DataFrame) -> pd.DataFrame:
    """Melt a published wide score table and attach each response's dictionary categories.

    ``wide``: column ``response`` plus one reward column per prompt key (the published layout).
    ``corpus``: long table with ``term``, ``category``, ``dictionary``. Responses not in the
    corpus are dropped; a term in several categories appears once per category.
    Returns columns ``rm, prompt, term, category, dictionary, score`` (score = reward, float).
    """
    require_columns(wide, ["response"], f"scores of {rm}")
    require_columns(corpus, ["term", "category", "dictionary"], "corpus")
    melted = wide.melt(id_vars="response", var_name="prompt", value_name="score").rename(columns={"response": "term"})
    joined = melted.merge(corpus[["term", "category", "dictionary"]], on="term", how="inner")
    joined.insert(0, "rm", rm)
    return joined[["rm", "prompt", "term", "category", "dictionary", "score"]].reset_index(drop=True)


def median_category_ranks(frame: pd.DataFrame, unit: str, value: str) -> pd.DataFrame:
    """Median rank per (unit, prompt, category) of the terms, ranked within each (unit, prompt).

    ``frame`` is long: ``unit`` (model column), ``prompt``, ``term``, ``category``, ``value``.
    Each (unit, prompt) ranks every distinct term of the frame once (rank 1 = highest
    ``value``, ties averaged), whatever its categories; the median is then taken over the
    terms of each category. So the caller decides the ranking universe by what it passes
    (for MFD2: every term, virtue and vice) and, afterwards, which categories it analyses.
    Returns columns ``unit, prompt, category, median_rank`` (rank units, 1 = best).
    """
    require_columns(frame, [unit, "prompt", "term", "category", value], "rank input")
    keys = [unit, "prompt", "term"]
    if frame.groupby(keys)[value].nunique(dropna=False).gt(1).any():
        raise InputError(f"rank input: a term has different {value} values in different categories")
    distinct = frame.drop_duplicates(keys)[keys + [value]].copy()
    distinct["rank"] = distinct.groupby([unit, "prompt"])[value].rank(ascending=False, method="average")
    ranked = frame[keys + ["category"]].merge(distinct[keys + ["rank"]], on=keys)
    medians = ranked.groupby([unit, "prompt", "category"], as_index=False)["rank"].median()
    return medians.rename(columns={"rank": "median_rank"})


def rm_median_ranks(
    scores: pd.DataFrame, framing_by_prompt: Mapping[str, str], family_by_rm: Mapping[str, str]
) -> pd.DataFrame:
    """Figure 1 observations: one median rank per (rm, prompt, category).

    ``scores``: long frame ``rm, prompt, term, category, score`` (see :func:`long_scores`);
    ranking is over every term of the frame (see :func:`median_category_ranks`).
    ``family_by_rm``: RM name -> base-model family label (``"Gemma"``), for every RM of ``scores``.
    Returns ``rm, base_model, prompt, framing, category, median_rank, n_ranked``; ``n_ranked``
    is the number of distinct terms ranked for that (rm, prompt), the largest possible rank.
    """
    unknown = sorted(set(scores["rm"]) - set(family_by_rm))
    if unknown:
        raise InputError(f"RM {unknown[0]!r}: no base-model family given")
    medians = median_category_ranks(scores, unit="rm", value="score")
    n_ranked = scores.groupby(["rm", "prompt"])["term"].nunique().rename("n_ranked").reset_index()
    medians = medians.merge(n_ranked, on=["rm", "prompt"])
    medians["base_model"] = medians["rm"].map(family_by_rm)
    medians["framing"] = _framing_of(medians["prompt"], framing_by_prompt)
    return medians[["rm", "base_model", "prompt", "framing", "category", "median_rank", "n_ranked"]]


def logprob_median_ranks(logprobs: pd.DataFrame, framing_by_prompt: Mapping[str, str]) -> pd.DataFrame:
    """Figure 2 observations: one median log-prob rank per (model, prompt, category).

    ``logprobs``: long frame ``model, prompt, term, category, logprob``. Only terms that have a
    log-prob for every model are kept (the paper's "present in both vocabularies"); ranks are
    within (model, prompt), rank 1 = highest log-prob.
    Returns ``model, prompt, framing, category, median_rank``.
    """
    require_columns(logprobs, ["model", "prompt", "term", "category", "logprob"], "log-prob input")
    present = logprobs.dropna(subset=["logprob"])
    models_per_term = present.groupby("term")["model"].nunique()
    shared = models_per_term.index[models_per_term == present["model"].nunique()]
    medians = median_category_ranks(present[present["term"].isin(shared)], unit="model", value="logprob")
    medians["framing"] = _framing_of(medians["prompt"], framing_by_prompt)
    return medians[["model", "prompt", "framing", "category", "median_rank"]]
