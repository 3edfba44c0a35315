"""Implicit reward models: token-level scores of how much one LLM prefers a token over another.

For two next-token distributions ``p1`` (model 1, the *target*, e.g. Llama) and ``p2``
(model 2, the *source*, e.g. Gemma) over the same tokens, every measure below is a vector of
per-token scores, positive where model 1 favours the token (paper §3.2, Appendix F,
Table A1). All inputs are natural-log probabilities, shape ``[n_tokens]``; all arithmetic is
float64; outputs are float64 of shape ``[n_tokens]``, in nats (the weighted measures in
probability × nats).

Underflow: a probability that underflowed to 0 arrives as ``log p = -inf`` (or a large
negative sentinel such as ``-1e30``). Weights (``p1``, ``p2``, the mixture, the geometric mean)
are ``np.exp`` of the raw log-probabilities, so they are exactly 0 there. Log ratios use
log-probabilities floored at :data:`LOG_PROB_FLOOR`, the log of the smallest positive float64,
so a weight of 0 multiplies a finite number and ``0 · (−inf)`` becomes 0, never NaN. The floor
only moves probabilities that float64 cannot represent at all; it also makes the unweighted
LLR finite (at most about ±744 nats) and 0 where both models give probability 0.

Beyond the measures, this module joins two models' vocabularies by decoded string, averages a
score over a word's spelling variants (Figure 3) and scores the Appendix F authority-boost
validation.
"""

from __future__ import annotations

import math
import os
from typing import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from rmbias.io import InputError, read_parquet

LOG_PROB_FLOOR: float = math.log(np.nextafter(0.0, 1.0))
"""ln of the smallest positive float64 (≈ −744.44): the floor applied to log-probabilities in log ratios."""

TOP_K = 10
"""Appendix F counts boosted words among each measure's top 10 tokens."""

_LN2 = math.log(2.0)

Measure = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _as_log_probs(logp: npt.ArrayLike) -> np.ndarray:
    return np.asarray(logp, dtype=np.float64)


def _floored(logp: np.ndarray) -> np.ndarray:
    return np.maximum(logp, LOG_PROB_FLOOR)


def _log_mixture(logp1: np.ndarray, logp2: np.ndarray) -> np.ndarray:
    """log m with m = ½(p1 + p2), computed as logaddexp(log p1, log p2) − ln 2."""
    return np.logaddexp(logp1, logp2) - _LN2


def llr(logp1: npt.ArrayLike, logp2: npt.ArrayLike) -> np.ndarray:
    """Log likelihood ratio: LLR = log p1 − log p2 (nats; log-probs floored at LOG_PROB_FLOOR)."""
    return _floored(_as_log_probs(logp1)) - _floored(_as_log_probs(logp2))


def lr_20(logp1: npt.ArrayLike, logp2: npt.ArrayLike) -> np.ndarray:
    """Log ratio capped at ±20: LR-20 = clip(log p1 − log p2, −20, 20) (nats)."""
    return np.clip(llr(logp1, logp2), -20.0, 20.0)


def lr_10(logp1: npt.ArrayLike, logp2: npt.ArrayLike) -> np.ndarray:
    """Log ratio capped at ±10: LR-10 = clip(log p1 − log p2, −10, 10) (nats)."""
    return np.clip(llr(logp1, logp2), -10.0, 10.0)


def p1_weighted_lr(logp1: npt.ArrayLike, logp2: npt.ArrayLike) -> np.ndarray:
    """p1-weighted log ratio: p1LR = p1 · (log p1 − log p2), the integrand of KL(p1 ‖ p2)."""
    return np.exp(_as_log_probs(logp1)) * llr(logp1, logp2)


def p2_weighted_lr(logp1: npt.ArrayLike, logp2: npt.ArrayLike) -> np.ndarray:
    """p2-weighted log ratio: p2LR = p2 · (log p1 − log p2), minus the integrand of KL(p2 ‖ p1)."""
    return np.exp(_as_log_probs(logp2)) * llr(logp1, logp2)


def mixture_weighted_lr(logp1: npt.ArrayLike, logp2: npt.ArrayLike) -> np.ndarray:
    """Mixture-weighted log ratio (paper eq. 1): MWLR = ½(p1 + p2) · (log p1 − log p2)."""
    logp1, logp2 = _as_log_probs(logp1), _as_log_probs(logp2)
    return np.exp(_log_mixture(logp1, logp2)) * llr(logp1, logp2)


def geometric_mean_weighted_lr(logp1: npt.ArrayLike, logp2: npt.ArrayLike) -> np.ndarray:
    """Geometric-mean-weighted log ratio: GMLR = sqrt(p1 · p2) · (log p1 − log p2).

    The weight is exp(½(log p1 + log p2)), exactly 0 when either probability is 0.
    """
    logp1, logp2 = _as_log_probs(logp1), _as_log_probs(logp2)
    return np.exp(0.5 * (logp1 + logp2)) * llr(logp1, logp2)


def jensen_shannon_lr(logp1: npt.ArrayLike, logp2: npt.ArrayLike) -> np.ndarray:
    """Jensen–Shannon log ratio: JSLR = ½[p1 · log(p1/m) − p2 · log(p2/m)], m = ½(p1 + p2).

    The two terms are each token's contributions to KL(p1 ‖ m) and KL(p2 ‖ m), whose halves sum
    to the Jensen–Shannon divergence; JSLR is their difference. Because m is symmetric in the
    two models, swapping them exchanges the two terms and flips the sign: JSLR is
    antisymmetric. A term whose probability is 0 is 0 (the limit of x log x as x → 0).
    """
    logp1, logp2 = _as_log_probs(logp1), _as_log_probs(logp2)
    log_m = _floored(_log_mixture(logp1, logp2))
    term1 = np.exp(logp1) * (_floored(logp1) - log_m)
    term2 = np.exp(logp2) * (_floored(logp2) - log_m)
    return 0.5 * (term1 - term2)


MEASURES: dict[str, Measure] = {
    "LLR": llr,
    "LR-20": lr_20,
    "LR-10": lr_10,
    "p1LR": p1_weighted_lr,
    "p2LR": p2_weighted_lr,
    "MWLR": mixture_weighted_lr,
    "GMLR": geometric_mean_weighted_lr,
    "JSLR": jensen_shannon_lr,
}
"""The candidate implicit-reward measures of Table A1, by the paper's names."""

ANTISYMMETRIC_MEASURES: frozenset[str] = frozenset({"LLR", "LR-20", "LR-10", "MWLR", "GMLR", "JSLR"})
"""Measures with score(model 1, model 2) = −score(model 2, model 1); p1LR and p2LR swap into each other instead."""


def add_measures(pair: pd.DataFrame) -> pd.DataFrame:
    """Return ``pair`` (columns ``decoded``, ``logp_a``, ``logp_b``) plus one float64 column per measure.

    Model a is model 1 (the target): positive scores are tokens that a favours.
    """
    scored = pair.copy()
    for name, measure in MEASURES.items():
        scored[name] = measure(pair["logp_a"].to_numpy(), pair["logp_b"].to_numpy())
    return scored


def best_log_prob_per_string(table: pd.DataFrame, prompt: str) -> pd.Series:
    """Highest log-prob of each decoded string (several token ids can decode alike), indexed by ``decoded``."""
    return table.groupby("decoded", sort=True)[prompt].max()


def dictionary_log_probs(tables: Mapping[str, pd.DataFrame], corpus: pd.DataFrame, prompts: Sequence[str]) -> pd.DataFrame:
    """Log-probabilities of the dictionary terms that are single tokens in every model (Figure 2).

    ``tables`` maps model id → wide log-prob table (``decoded`` + one column per prompt key);
    ``corpus`` is a long dictionary table (``term``, ``category``). A term counts when some
    token of each model decodes exactly to it (the bare, lowercase form that follows the chat
    template's assistant header); duplicates keep their highest log-prob. Returns the long frame
    ``model, prompt, term, category, logprob`` (terms a model lacks are absent for that model;
    :func:`rmbias.stats.logprob_median_ranks` keeps the terms every model has).
    """
    terms = corpus[["term", "category"]].drop_duplicates()
    per_model = []
    for model, table in tables.items():
        best = table[table["decoded"].isin(terms["term"])].groupby("decoded")[list(prompts)].max()
        long = best.rename_axis("term").reset_index().melt(id_vars="term", var_name="prompt", value_name="logprob")
        long.insert(0, "model", model)
        per_model.append(long)
    frame = pd.concat(per_model, ignore_index=True)
    return frame.merge(terms, on="term")[["model", "prompt", "term", "category", "logprob"]]


def join_vocabularies(a: pd.DataFrame, b: pd.DataFrame, prompt: str) -> pd.DataFrame:
    """Inner-join two models' log-prob tables on decoded string for one prompt.

    ``a`` and ``b`` hold ``decoded`` and the ``prompt`` column (natural-log probabilities). Per
    model, duplicate decoded strings keep their highest log-prob (as the paper does). Returns
    columns ``decoded``, ``logp_a``, ``logp_b`` (float64), one row per string in both
    vocabularies, sorted by ``decoded``.
    """
    joined = pd.concat(
        {"logp_a": best_log_prob_per_string(a, prompt), "logp_b": best_log_prob_per_string(b, prompt)},
        axis=1,
        join="inner",
    )
    joined = joined.sort_index().astype(np.float64)
    joined.index.name = "decoded"
    return joined.reset_index()


def read_prompt_log_probs(path: str | os.PathLike, prompt: str, columns: Sequence[str] = ("decoded",)) -> pd.DataFrame:
    """Read ``columns`` and one prompt's column from a log-prob table, checking the values.

    Raises :class:`InputError` naming the file when a decoded string is missing or a
    log-prob is NaN or +inf.
    """
    table = read_parquet(path, columns=[*columns, prompt])
    if "decoded" in table and table["decoded"].isna().any():
        raise InputError(f"{path}: column decoded has {int(table['decoded'].isna().sum())} missing value(s)")
    values = table[prompt].to_numpy(dtype=np.float64)
    bad = np.isnan(values) | np.isposinf(values)
    if bad.any():
        raise InputError(f"{path}: column {prompt} has {int(bad.sum())} NaN or +inf log-prob(s)")
    return table


def implicit_pair_table(logprobs_a: str | os.PathLike, logprobs_b: str | os.PathLike, prompt: str) -> pd.DataFrame:
    """The file ``results/implicit/{prompt}/{a}__{b}.parquet``: joined vocabularies plus every measure."""
    a = read_prompt_log_probs(logprobs_a, prompt)
    b = read_prompt_log_probs(logprobs_b, prompt)
    return add_measures(join_vocabularies(a, b, prompt))


def variant_key(decoded: pd.Series) -> pd.Series:
    """The form that spelling variants share: the decoded string stripped of whitespace and lowercased."""
    return decoded.str.strip().str.lower()


def variant_scores(frame: pd.DataFrame, words: Sequence[str], measure: str) -> pd.Series:
    """Mean ``measure`` over each word's variants, indexed by word (words without a variant are absent).

    A variant of ``word`` is any decoded string whose :func:`variant_key` equals
    ``word.strip().lower()``: "Freedom", " Freedom", "freedom", " FREEDOM\\n" all count. The
    average is unweighted: each distinct decoded string counts once, whatever its probability.
    """
    keys = {word: word.strip().lower() for word in words}
    means = frame[measure].groupby(variant_key(frame["decoded"])).mean()
    return pd.Series({word: means[key] for word, key in keys.items() if key in means.index}, dtype=np.float64)


def variant_score(frame: pd.DataFrame, word: str, measure: str) -> float:
    """Mean ``measure`` over the variants of one word (see :func:`variant_scores`).

    Raises :class:`InputError` when no decoded string in ``frame`` is a variant of ``word``.
    """
    scores = variant_scores(frame, [word], measure)
    if scores.empty:
        raise InputError(f"word {word!r}: no decoded token strips and lowercases to {word.strip().lower()!r}")
    return float(scores[word])


def rank_among(scores: np.ndarray, value: float) -> int:
    """Rank that ``value`` takes among ``scores`` in descending order: 1 + number of scores strictly above it."""
    return 1 + int(np.count_nonzero(np.asarray(scores) > value))


def _version_key(model: str, version: object) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(version).split("."))
    except ValueError as err:
        raise InputError(f"model {model}: version {version!r} is not dotted integers like 3.2") from err


def _model_metadata(model_info: Mapping[str, Mapping[str, object]], model: str) -> tuple[object, float]:
    if model not in model_info or not {"version", "size_b"} <= set(model_info[model]):
        raise InputError(f"model {model}: metadata needs keys version and size_b")
    return model_info[model]["version"], float(model_info[model]["size_b"])


def _model_sort_key(model_info: Mapping[str, Mapping[str, object]], model: str) -> tuple[tuple[int, ...], float]:
    version, size_b = _model_metadata(model_info, model)
    return _version_key(model, version), size_b


def word_scores_across_pairs(
    pairs: Mapping[tuple[str, str], pd.DataFrame],
    model_info: Mapping[str, Mapping[str, object]],
    words: Sequence[str] = ("Freedom", "Love"),
    measure: str = "MWLR",
) -> pd.DataFrame:
    """Figure 3 data: each word's variant-averaged score in each (llama, gemma) comparison.

    ``pairs`` maps (llama model id, gemma model id) to that pair's implicit table for one
    prompt (llama = model 1, so positive = favoured by Llama). ``model_info`` maps every model
    id to ``{"version": "3.2", "size_b": 3.0}``. ``rank`` is :func:`rank_among` the pair's
    per-token scores (1 = highest), ``n_tokens`` the size of the joined vocabulary. Rows are
    sorted by Llama version, Llama size, Gemma version, Gemma size (ascending), then word order.
    Columns: llama, gemma, word, mwlr (the ``measure`` score), rank, n_tokens, llama_version,
    llama_size_b, gemma_version, gemma_size_b.
    """
    ordered_pairs = sorted(
        pairs, key=lambda pair: (_model_sort_key(model_info, pair[0]), _model_sort_key(model_info, pair[1]))
    )
    rows = []
    for llama, gemma in ordered_pairs:
        frame = pairs[(llama, gemma)]
        llama_version, llama_size = _model_metadata(model_info, llama)
        gemma_version, gemma_size = _model_metadata(model_info, gemma)
        token_scores = frame[measure].to_numpy()
        for word in words:
            score = variant_score(frame, word, measure)
            rows.append(
                {
                    "llama": llama,
                    "gemma": gemma,
                    "word": word,
                    "mwlr": score,
                    "rank": rank_among(token_scores, score),
                    "n_tokens": len(frame),
                    "llama_version": llama_version,
                    "llama_size_b": llama_size,
                    "gemma_version": gemma_version,
                    "gemma_size_b": gemma_size,
                }
            )
    return pd.DataFrame(rows)


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
