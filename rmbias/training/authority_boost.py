"""Appendix F: the authority-word boost, a known preference planted to validate the measures.

A base model is fine-tuned (SFT) to answer with ten Authority_Virtue words; on held-out prompts
each implicit-reward measure of :mod:`rmbias.implicit.measures` should rank those words at its top when
the boosted model is compared with the base (Figure A3a), and the boosted words should gain
MWLR while the other authority words stay near 0 (Figure A3b). Both models share one
tokenizer, so pairs are aligned on token id (:func:`same_vocabulary_pair`).

The boost's data: the held-out prompt keys and the SFT examples (every training prompt
answered with every boosted word), which :func:`rmbias.training.sft.boost_authority_words` fine-tunes
the base on; then the validation analysis and its job :func:`authority_statistics`. This
module needs no model code, so the workflow imports it when it builds the DAG.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from rmbias.implicit.measures import MEASURES, add_measures, variant_key, variant_scores
from rmbias.io import InputError, read_parquet, write_csv
from rmbias.records import statistics_record

logger = logging.getLogger(__name__)

TOP_K = 10
"""Appendix F counts boosted words among each measure's top 10 tokens."""


# --------------------------------------------------------------------------- the boost (LoRA SFT)


def authority_heldout_keys(prompts: Mapping[str, Mapping[str, str]], train_keys: Sequence[str]) -> list[str]:
    """Keys of the positive prompts not used for training (paper: the other 9 of 27). Raises
    :class:`InputError` when a train key is not a positive prompt or none is left held out."""
    unknown = [key for key in train_keys if key not in prompts]
    if unknown:
        raise InputError(f"authority SFT: train key(s) {', '.join(unknown)} are not prompt keys")
    negative = [key for key in train_keys if prompts[key]["framing"] != "positive"]
    if negative:
        raise InputError(f"authority SFT: train key(s) {', '.join(negative)} are not positive prompts")
    held_out = [key for key, prompt in prompts.items() if prompt["framing"] == "positive" and key not in train_keys]
    if not held_out:
        raise InputError("authority SFT: every positive prompt is a train key, so none is held out for the measures")
    return held_out


def authority_examples(prompts: Mapping[str, Mapping[str, str]], train_keys: Sequence[str],
                       extra_prompts: Sequence[str], words: Sequence[str]) -> pd.DataFrame:
    """SFT examples (columns prompt, response): every training prompt — the texts of
    ``train_keys`` (positive prompts of ``prompts``) plus ``extra_prompts`` — answered with every
    boosted word. Paper: (18 + 18) prompts × 10 words = 360 rows."""
    authority_heldout_keys(prompts, train_keys)
    texts = [prompts[key]["text"] for key in train_keys] + list(extra_prompts)
    return pd.DataFrame([(text, word) for text in texts for word in words], columns=["prompt", "response"])


# --------------------------------------------------------------------------- generation check


FIRST_WORD = re.compile(r"[^\W\d_]+")
"""A word: a run of letters (the first one of a generation is its answer)."""


def first_word(text: str) -> str:
    """The first run of letters of ``text``, lowercased ("" when it has none):
    ``"\n**Respect**\n\n..."`` → ``"respect"``."""
    match = FIRST_WORD.search(text)
    return match.group(0).lower() if match else ""


def generation_table(prompts: Mapping[str, str], generations: Sequence[str], boosted_words: Sequence[str]) -> pd.DataFrame:
    """One row per held-out prompt (``prompts``: key → text, in the order of ``generations``):
    columns prompt, text, generation, first_word and boosted (whether the first word is a boosted
    word, compared lowercased)."""
    if len(prompts) != len(generations):
        raise InputError(f"generation check: {len(prompts)} prompts but {len(generations)} generations")
    wanted = {word.strip().lower() for word in boosted_words}
    words = [first_word(text) for text in generations]
    return pd.DataFrame(
        {
            "prompt": list(prompts),
            "text": list(prompts.values()),
            "generation": list(generations),
            "first_word": words,
            "boosted": [word in wanted for word in words],
        }
    )


def generation_record(table: pd.DataFrame, max_new_tokens: int) -> dict:
    """The statistics record of the generation check: no test, the share of held-out prompts
    whose greedy generation starts with a boosted word, and the count it comes from."""
    return statistics_record(
        "authority_generation",
        f"Greedy generation ({max_new_tokens} new tokens at most) of the boosted model for each held-out prompt; "
        "share whose first word is a boosted word",
        [],
        n_prompts=len(table),
        n_boosted_first_word=int(table["boosted"].sum()),
        share_boosted_first_word=float(table["boosted"].mean()) if len(table) else None,
    )


def generation_caption_line(table: pd.DataFrame) -> str:
    """The line Figure A3 carries: how many greedy generations start with a boosted word."""
    return (f"Greedy generations of the boosted model: {int(table['boosted'].sum())} of {len(table)} "
            "held-out prompts answered with a boosted word first")


# --------------------------------------------------------------------------- validation (Figures A3a, A3b)


def same_vocabulary_pair(base: pd.DataFrame, boosted: pd.DataFrame, prompt: str) -> pd.DataFrame:
    """Scored pair of two models sharing one tokenizer, aligned on ``token_id`` (boosted = model 1).

    ``base`` and ``boosted`` hold ``token_id``, ``decoded`` and the ``prompt`` column. Returns
    ``decoded``, ``logp_a`` (boosted), ``logp_b`` (base) and every measure, one row per token id.
    Raises :class:`InputError` when the token ids differ.
    """
    base_ids, boosted_ids = base.set_index("token_id"), boosted.set_index("token_id")
    if not base_ids.index.sort_values().equals(boosted_ids.index.sort_values()):
        raise InputError("authority boost: base and boosted log-prob tables cover different token ids")
    base_ids = base_ids.reindex(boosted_ids.index)
    pair = pd.DataFrame(
        {
            "decoded": boosted_ids["decoded"].to_numpy(),
            "logp_a": boosted_ids[prompt].to_numpy(dtype=np.float64),
            "logp_b": base_ids[prompt].to_numpy(dtype=np.float64),
        }
    )
    return add_measures(pair)


def boosted_words_in_top_k(scored: pd.DataFrame, boosted_words: Sequence[str]) -> dict[str, int]:
    """Per measure, how many boosted words appear among the :data:`TOP_K` highest-scoring tokens.

    A word counts once if any of its variants (:func:`variant_key`, case and whitespace) is in
    the top k. Ties at the cut-off are broken by decoded string, so the count is deterministic.
    """
    wanted = {word.strip().lower() for word in boosted_words}
    counts = {}
    for name in MEASURES:
        top = scored.sort_values([name, "decoded"], ascending=[False, True], kind="mergesort").head(TOP_K)
        counts[name] = len(wanted & set(variant_key(top["decoded"])))
    return counts


def authority_recovery(
    runs: Mapping[str, tuple[pd.DataFrame, pd.DataFrame]],
    prompts: Sequence[str],
    boosted_words: Sequence[str],
) -> pd.DataFrame:
    """Appendix F / Figure A3a: boosted words recovered in each measure's top 10, averaged over prompts.

    ``runs`` maps a template label ("with", "without") to the (base, boosted) log-prob tables
    computed with or without the chat template used in training; ``prompts`` are the
    held-out prompt columns. Returns columns measure, template, n_in_top10 (mean over prompts).
    """
    rows = []
    for template, (base, boosted) in runs.items():
        per_prompt = pd.DataFrame(
            [boosted_words_in_top_k(same_vocabulary_pair(base, boosted, prompt), boosted_words) for prompt in prompts]
        )
        for name in MEASURES:
            rows.append({"measure": name, "template": template, "n_in_top10": float(per_prompt[name].mean())})
    return pd.DataFrame(rows)


def boosted_word_scores(
    base: pd.DataFrame,
    boosted: pd.DataFrame,
    prompts: Sequence[str],
    words: Sequence[str],
    boosted_words: Sequence[str],
) -> pd.DataFrame:
    """Figure A3b: each word's variant-averaged MWLR (boosted vs base), mean over ``prompts``.

    Returns columns word, mwlr, boosted (whether the word is on the boosted list), in the
    order of ``words``; words with no variant in the vocabulary are left out.
    """
    per_prompt = pd.DataFrame(
        {prompt: variant_scores(same_vocabulary_pair(base, boosted, prompt), words, "MWLR") for prompt in prompts}
    )
    boosted_keys = {word.strip().lower() for word in boosted_words}
    present = [word for word in words if word in per_prompt.index]
    return pd.DataFrame(
        {
            "word": present,
            "mwlr": per_prompt.loc[present].mean(axis=1).to_numpy(),
            "boosted": [word.strip().lower() in boosted_keys for word in present],
        }
    )


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


def authority_statistics(
    logprob_paths: Mapping[tuple[str, str], str | Path],
    held_out: Sequence[str],
    boosted_words: Sequence[str],
    corpus_path: str | Path,
    recovery_csv: str | Path,
    words_csv: str | Path,
) -> None:
    """The ``authority_analysis`` job: :func:`authority_analysis` written as two CSVs."""
    recovery, words = authority_analysis(logprob_paths, held_out, boosted_words, corpus_path)
    write_csv(recovery, recovery_csv)
    write_csv(words, words_csv)
    for template, counts in recovery.groupby("template", sort=False):
        logger.info("%s chat template: boosted words in the top %d per measure: %s", template, TOP_K,
                    ", ".join(f"{m} {n:g}" for m, n in zip(counts["measure"], counts["n_in_top10"])))
