"""Section 3 and the top-k analysis, end to end: read the workflow's parquet outputs, analyse.

Thin orchestration over :mod:`rmbias.implicit` and :mod:`rmbias.stats`, so that each
Snakemake script is one call plus its writers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from rmbias.corpora import normalize_term
from rmbias.implicit import authority_recovery, boosted_word_scores, dictionary_log_probs, word_scores_across_pairs
from rmbias.io import read_parquet
from rmbias.stats import logprob_median_ranks, model_cell_welch_tests, three_way_anova, top_k_by_category


def read_shared_decoded(token_table_paths: Sequence[str | Path]) -> set[str]:
    """The decoded strings present in every token table (the paper's shared vocabulary)."""
    tables = [set(read_parquet(path, columns=["decoded"])["decoded"]) for path in token_table_paths]
    return set.intersection(*tables) if tables else set()


def read_category_by_term(corpus_path: str | Path) -> dict[str, str]:
    """Normalized dictionary term (:func:`~rmbias.corpora.normalize_term`) → category."""
    corpus = read_parquet(corpus_path, columns=["term", "category"])
    return {normalize_term(term): category for term, category in zip(corpus["term"], corpus["category"])}


def figure2_analysis(
    logprob_paths: Mapping[str, str | Path], corpus_path: str | Path, prompts: Mapping[str, Mapping[str, str]]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Figure 2: median log-prob rank of the Big Two nouns per (model, prompt, category).

    ``logprob_paths`` maps the two model ids to their log-prob parquet. Returns
    (observations ``model, prompt, valence, category, median_rank``; the type-II 3-way ANOVA
    ``median_rank ~ category * valence * model``; Welch t per (valence, category) cell with
    Benjamini–Hochberg FDR).
    """
    keys = list(prompts)
    tables = {model: read_parquet(path, columns=["decoded", *keys]) for model, path in logprob_paths.items()}
    corpus = read_parquet(corpus_path, columns=["term", "category"])
    observations = logprob_median_ranks(
        dictionary_log_probs(tables, corpus, keys), {key: p["valence"] for key, p in prompts.items()}
    )
    return observations, three_way_anova(observations), model_cell_welch_tests(observations)


def figure3_data(
    pair_paths: Mapping[tuple[str, str], str | Path],
    model_info: Mapping[str, Mapping[str, object]],
    words: Sequence[str],
) -> pd.DataFrame:
    """Figure 3: variant-averaged MWLR of ``words`` for every (llama, gemma) implicit pair file."""
    pairs = {pair: read_parquet(path) for pair, path in pair_paths.items()}
    return word_scores_across_pairs(pairs, model_info, words=tuple(words), measure="MWLR")


def topk_analysis(
    score_paths: Mapping[str, str | Path],
    token_table_paths: Sequence[str | Path],
    corpus_path: str | Path,
    prompt: str,
    k: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Top-k (Section 2): category make-up of each RM's k best tokens over the shared vocabulary.

    ``score_paths``: RM id → vocab-scope score parquet; the candidate tokens are restricted to
    the decoded strings present in every tokenizer of ``token_table_paths`` (the paper's
    Gemma ∩ Llama vocabulary); categories come from the expanded Big Two dictionary matched on
    the normalized token (ascii-folded, stripped, lowercased).
    """
    shared = read_shared_decoded(token_table_paths)
    scores = []
    for rm, path in score_paths.items():
        table = read_parquet(path, columns=["response", prompt])
        table = table[table["response"].isin(shared)]
        scores.append(pd.DataFrame({"rm": rm, "decoded": table["response"], "score": table[prompt]}))
    return top_k_by_category(pd.concat(scores, ignore_index=True), read_category_by_term(corpus_path), k=k)


def authority_analysis(
    logprob_paths: Mapping[tuple[str, str], str | Path],
    held_out: Sequence[str],
    boosted_words: Sequence[str],
    corpus_path: str | Path,
    n_other_words: int = 20,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Appendix F: how well each candidate measure recovers the boosted words (Figure A3a),
    and the MWLR of boosted vs other authority.virtue words (Figure A3b).

    ``logprob_paths`` maps (variant, template) — variant ``base``/``boosted``, template
    ``with``/``without`` the chat template — to log-prob parquets over the held-out prompts.
    Figure A3b scores the boosted words and the first ``n_other_words`` (alphabetical) other
    single-word MFD2 Authority_Virtue terms.
    """
    keys = list(held_out)
    tables = {label: read_parquet(path, columns=["token_id", "decoded", *keys]) for label, path in logprob_paths.items()}
    runs = {template: (tables[("base", template)], tables[("boosted", template)]) for template in ("with", "without")}
    recovery = authority_recovery(runs, keys, boosted_words)
    corpus = read_parquet(corpus_path, columns=["term", "category"])
    authority = corpus.loc[corpus["category"] == "Authority_Virtue", "term"]
    boosted = set(boosted_words)
    others = sorted(t for t in authority.unique() if t.isalpha() and t not in boosted)[:n_other_words]
    words = boosted_word_scores(*runs["with"], keys, [*boosted_words, *others], boosted_words)
    return recovery, words
