"""Top-k (Section 2): the category make-up of each reward model's k best-scoring tokens.

:func:`top_k_by_category` is the pure count; :func:`topk_statistics` is the ``topk`` job that
reads the vocabulary-scope scores, restricts them to the shared vocabulary and writes the counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from rmbias.corpora.dictionaries import normalize_term
from rmbias.corpora.vocabulary import read_categories_by_term, read_shared_decoded
from rmbias.frames import require_columns
from rmbias.io import read_parquet
from rmbias.models.families import family_of_published_rm
from rmbias.records import statistics_record, write_statistics


def top_k_by_category(
    scores: pd.DataFrame, categories_by_token: Mapping[str, Sequence[str]], k: int = 10, families: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Category make-up of each RM's k top-scoring tokens, and its base-model average.

    ``scores``: ``rm, decoded, score``; ``categories_by_token``: normalized token
    (:func:`normalize_term`) -> its categories (a token counts in each); ``families``: RM -> family label (``"Llama"``) of each
    configured RM, from its config entry. An RM not in ``families`` is a published one, whose
    family is read from its name (:func:`family_of_published_rm`). Per RM the tokens are sorted by score (highest
    first, position 1..k); for each category: ``count`` of top-k tokens whose normalized form
    is in that category, and their ``mean_rank`` (mean position, NaN when none).
    Returns (per RM: ``rm, base_model, category, count, mean_rank``; per base model:
    ``base_model, category, mean_count, mean_rank, n_rms, rms`` = mean of counts, NaN-ignoring
    mean of the per-RM mean ranks, and how many and which RMs (ids joined by ``;``) entered
    those means).
    """
    require_columns(scores, ["rm", "decoded", "score"], "top-k input")
    categories = sorted({category for members in categories_by_token.values() for category in members})
    families = families or {}
    rows = []
    for rm, rm_scores in scores.groupby("rm", sort=True):
        top = rm_scores.sort_values("score", ascending=False, kind="stable").head(k)
        top_categories = [categories_by_token.get(normalize_term(token), ()) for token in top["decoded"]]
        positions = np.arange(1, len(top) + 1)
        for category in categories:
            in_category = positions[[category in members for members in top_categories]]
            rows.append(
                {
                    "rm": rm,
                    "base_model": families[rm] if rm in families else family_of_published_rm(rm),
                    "category": category,
                    "count": len(in_category),
                    "mean_rank": in_category.mean() if len(in_category) else np.nan,
                }
            )
    per_rm = pd.DataFrame(rows)
    per_family = per_rm.groupby(["base_model", "category"], as_index=False).agg(
        mean_count=("count", "mean"), mean_rank=("mean_rank", "mean"), n_rms=("rm", "nunique"),
        rms=("rm", lambda rms: ";".join(sorted(set(rms)))),
    )
    return per_rm, per_family


def paper_rm_coverage(paper_rms: Sequence[str], published_name_of: Mapping[str, str | None]) -> dict[str, object]:
    """Which of the paper's RMs the top-k means cover.

    ``paper_rms``: the published RM names (the paper's RMs); ``published_name_of``: configured
    RM id → the published name it reproduces (its ``published_scores``), or None. Returns
    ``{"paper_rms": n, "averaged": [{rm, published}], "not_averaged": [published names no
    configured RM reproduces]}``.
    """
    covered = {name for name in published_name_of.values() if name is not None}
    return {
        "paper_rms": len(paper_rms),
        "averaged": [{"rm": rm, "published": name} for rm, name in sorted(published_name_of.items())],
        "not_averaged": sorted(set(paper_rms) - covered),
    }


def topk_analysis(
    score_paths: Mapping[str, str | Path],
    token_table_paths: Sequence[str | Path],
    corpus_path: str | Path,
    prompt: str,
    k: int,
    families: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Top-k (Section 2): category make-up of each RM's k best tokens over the shared vocabulary.

    ``score_paths``: RM id → vocab-scope score parquet; ``families``: RM id → family label (see
    :func:`top_k_by_category`); the candidate tokens are restricted to
    the decoded strings present in every tokenizer of ``token_table_paths`` (the paper's
    Gemma ∩ Llama vocabulary); categories come from the lexicon at ``corpus_path`` (the paper:
    the expanded Big Two dictionary) matched on the normalized token (ascii-folded, stripped,
    lowercased), a token of several categories counting in each.
    """
    shared = read_shared_decoded(token_table_paths)
    scores = []
    for rm, path in score_paths.items():
        table = read_parquet(path, columns=["response", prompt])
        table = table[table["response"].isin(shared)]
        scores.append(pd.DataFrame({"rm": rm, "decoded": table["response"], "score": table[prompt]}))
    return top_k_by_category(pd.concat(scores, ignore_index=True), read_categories_by_term(corpus_path), k=k, families=families)


def topk_statistics(per_rm_csv: str | Path, per_family_csv: str | Path, json_path: str | Path,
                    paper_rms: Sequence[str] = (), published_name_of: Mapping[str, str | None] | None = None,
                    **analysis: object) -> None:
    """The ``topk`` job: :func:`topk_analysis` (``analysis`` are its arguments), written as two CSVs
    and a record (no test) whose ``per_rm`` and ``per_family`` hold the same rows, ``parameters``
    the prompt and k, ``rms_per_family`` the RMs each family's means average and
    ``paper_rm_coverage`` :func:`paper_rm_coverage` of ``paper_rms`` and ``published_name_of``
    (default: no configured RM reproduces a published one)."""
    per_rm, per_family = topk_analysis(**analysis)
    published_name_of = published_name_of or dict.fromkeys(analysis["score_paths"])
    record = statistics_record(
        "topk",
        f"category counts among each RM's top {analysis['k']} shared-vocabulary tokens for prompt {analysis['prompt']} (no test)",
        [],
        parameters={"prompt": analysis["prompt"], "k": analysis["k"]},
        rms_per_family={family: sorted(rms["rm"].unique()) for family, rms in per_rm.groupby("base_model")},
        paper_rm_coverage=paper_rm_coverage(paper_rms, published_name_of),
        per_rm=per_rm.to_dict(orient="records"),
        per_family=per_family.to_dict(orient="records"),
    )
    write_statistics(record, json_path, {per_rm_csv: per_rm, per_family_csv: per_family})
