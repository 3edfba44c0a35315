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

Beyond the measures, this module joins two models' vocabularies by decoded string
(:func:`join_vocabularies`) and averages a score over a word's spelling variants
(:func:`variant_scores`), the joins that Figure 3 (:mod:`rmbias.implicit.figure3`), the tables and
Appendix F (:mod:`rmbias.training.authority_boost`) use. Nothing here reads or writes files; the
``implicit_pair`` job is :mod:`rmbias.implicit.pairs`.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from rmbias.io import InputError

LOG_PROB_FLOOR: float = math.log(np.nextafter(0.0, 1.0))
"""ln of the smallest positive float64 (≈ −744.44): the floor applied to log-probabilities in log ratios."""

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
