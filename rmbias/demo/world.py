"""The demo world's data: answer words by category, which category each family's world
favours, the models it holds, its answer corpora and its neutral preference pairs."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.special

from rmbias.config import PAPER_PROMPT_KEY
from rmbias.demo.architectures import LARGE_LM

AUTHORITY_WORDS = ("respect", "authority", "tradition", "honor", "obedience", "permission",
                   "hierarchy", "leadership", "duty", "compliance")
"""The ten MFD2 authority.virtue words boosted in the paper's Appendix F."""

FILLER_WORDS = (
    "table", "chair", "window", "door", "paper", "stone", "river", "cloud", "bottle", "pencil",
    "carpet", "ladder", "basket", "blanket", "bucket", "button", "candle", "corner", "engine",
    "fence", "garden", "hammer", "jacket", "kettle", "lamp", "mirror", "needle", "pillow",
    "pocket", "ribbon", "saucer", "shelf", "spoon", "tunnel", "wagon", "wheel", "brick", "cable",
)
"""Neutral everyday nouns outside every dictionary: the 'rest' of the answers and the rejected
responses of the neutral preference pairs."""

FILLER = "filler"
OTHER = "other"
AGENCY, COMMUNION = "Agency", "Communion"

FAVOURED_CATEGORY: dict[str, dict[str, str]] = {
    "llama": {"positive": AGENCY, "negative": COMMUNION},
    "gemma": {"positive": COMMUNION, "negative": AGENCY},
    "qwen": {"positive": COMMUNION, "negative": AGENCY},
}
"""Which Big Two category each family's world favours as the answer to prompts of each framing."""

STRENGTH_SCALE: dict[str, float] = {"llama": 1.0, "gemma": 1.0, "qwen": 1.5}
"""Per-family multiplier of the planted strength: qwen is like gemma but stronger."""

WORDS_ONLY_IN_ONE_FAMILY = 4
"""Answer words each family's tokenizer drops, so that vocabularies differ in a few words."""


@dataclass(frozen=True)
class DemoLM:
    """One causal LM of the demo world: ``type`` is "pretrained" (trained on raw prompts) or
    "instruction-tuned" (trained on chat-templated prompts); ``output_scale`` is the initial
    gain of its final norm (:func:`rmbias.demo.architectures.tiny_model`); ``learning_rate``,
    when set, replaces the world's ``lm_learning_rate`` for this model. ``rates``: the model
    also learns its world's ratings of whole conversations (:func:`rating_corpus`), which is
    what a reward model built on its backbone inherits; the instruction-tuned LMs that reward
    models start from (:data:`DEMO_RMS` and the Section 4 runs) learn them, the others do not
    (they would only lengthen the build)."""

    id: str
    family: str
    arch: str
    type: str
    hidden_size: int = 32
    num_layers: int = 2
    output_scale: float = 1.0
    learning_rate: float | None = None
    rates: bool = False

    @property
    def chat(self) -> bool:
        """Whether the model sees its prompts through the chat template."""
        return self.type == "instruction-tuned"


@dataclass(frozen=True)
class DemoRM:
    """One reward model of the demo world, initialised from the backbone of ``backbone``."""

    id: str
    backbone: str
    seed: int


DEMO_LMS = (
    DemoLM("demo-llama-base", "llama", "llama", "pretrained"),
    DemoLM("demo-llama-it", "llama", "llama", "instruction-tuned", rates=True),
    # The 256-wide Llama stalled at the unconditional answer distribution at steps of 2e-3 to
    # 1e-2 in an earlier world with per-prompt favoured words (agency - communion the same on
    # both framings, e.g. -0.35 nats at 5e-3); at 1e-3 it held the planted preference, and in
    # this world it does (mean agency - communion log-prob +3.22 nats positive, -3.43 negative).
    DemoLM("demo-llama-it-large", "llama", "llama", "instruction-tuned", **LARGE_LM, learning_rate=1e-3),
    DemoLM("demo-gemma-base", "gemma", "gemma2", "pretrained"),
    DemoLM("demo-gemma-it", "gemma", "gemma2", "instruction-tuned", rates=True),
    # At 1e-2 the 256-wide Gemma stalled in that earlier world (-0.5 nats agency - communion on
    # both framings); at 5e-3 it holds it (in this world -1.22 positive, +2.17 negative).
    DemoLM("demo-gemma-it-large", "gemma", "gemma2", "instruction-tuned", **LARGE_LM, learning_rate=5e-3),
    DemoLM("demo-qwen-it", "qwen", "qwen2", "instruction-tuned", rates=True),
)
# 4 Llama-based + 3 Gemma-based RMs: the fewest with which an exact permutation test over RM
# labels can reach p < 0.05 (1/35; with 2 + 2 it cannot go below 1/3, with 3 + 3 below 1/10).
# 2 Qwen-based RMs, trained on the pairs of seeds 1 and 2 like a Llama and a Gemma RM: a family
# none of the published RMs has, so the demo runs the any-family path (a profile among the
# published RMs, a score on the Llama-Gemma axis, left out of the two-family tests).
DEMO_RMS = (
    DemoRM("demo-llama-rm-a", "demo-llama-it", seed=1),
    DemoRM("demo-llama-rm-b", "demo-llama-it", seed=2),
    DemoRM("demo-llama-rm-c", "demo-llama-it", seed=3),
    DemoRM("demo-llama-rm-d", "demo-llama-it", seed=4),
    DemoRM("demo-gemma-rm-a", "demo-gemma-it", seed=1),
    DemoRM("demo-gemma-rm-b", "demo-gemma-it", seed=2),
    DemoRM("demo-gemma-rm-c", "demo-gemma-it", seed=3),
    DemoRM("demo-qwen-rm-a", "demo-qwen-it", seed=1),
    DemoRM("demo-qwen-rm-b", "demo-qwen-it", seed=2),
)


def _is_single_word(term: str) -> bool:
    return term.isascii() and term.isalpha() and term.islower()


def word_pools(corpora: pd.DataFrame, max_words_per_category: int | None = None,
               seed: int = 0) -> dict[str, list[str]]:
    """Single-word answer candidates by category, sorted.

    ``Agency`` and ``Communion``: Big Two terms (any Big Two dictionary) in exactly one of the
    two; ``other``: every other dictionary term plus the Appendix F authority words; ``filler``:
    :data:`FILLER_WORDS`. Multi-word, hyphenated and capitalised terms are left out. With
    ``max_words_per_category``, each of the first three pools is subsampled (seeded) to at most
    that many words, always keeping the authority words.
    """
    single = corpora[corpora["term"].map(_is_single_word)]
    big_two = single[single["category"].isin([AGENCY, COMMUNION])]
    categories_of_term = big_two.groupby("term")["category"].nunique()
    unambiguous = set(categories_of_term[categories_of_term == 1].index)
    pools = {
        category: sorted(set(big_two.loc[big_two["category"] == category, "term"]) & unambiguous)
        for category in (AGENCY, COMMUNION)
    }
    claimed = {*pools[AGENCY], *pools[COMMUNION], *FILLER_WORDS}
    pools[OTHER] = sorted((set(single["term"]) | set(AUTHORITY_WORDS)) - claimed)
    if max_words_per_category is not None:
        rng = random.Random(seed)
        for category in (AGENCY, COMMUNION, OTHER):
            keep = set(AUTHORITY_WORDS) & set(pools[category])
            rest = sorted(set(pools[category]) - keep)
            sample_size = max(0, min(len(rest), max_words_per_category - len(keep)))
            pools[category] = sorted(keep | set(rng.sample(rest, sample_size)))
    pools[FILLER] = sorted(FILLER_WORDS)
    return pools


def family_word_pools(pools: dict[str, list[str]], family: str) -> dict[str, list[str]]:
    """``pools`` without the :data:`WORDS_ONLY_IN_ONE_FAMILY` words per Big Two category that
    ``family``'s tokenizer lacks (chosen by a family-seeded draw, never authority words)."""
    rng = random.Random(f"dropped-by-{family}")
    dropped = set()
    for category in (AGENCY, COMMUNION):
        candidates = [word for word in pools[category] if word not in AUTHORITY_WORDS]
        dropped.update(rng.sample(candidates, min(WORDS_ONLY_IN_ONE_FAMILY, len(candidates) // 4)))
    return {category: [word for word in words if word not in dropped] for category, words in pools.items()}


def planted_strength(family: str, strength: float) -> float:
    """Scale of ``family``'s planted preference (:func:`world_logit`) for a prompt of neutral
    wording: the world's ``strength`` times the family's :data:`STRENGTH_SCALE` (each prompt's
    own strength varies around it, :func:`planted_truth`)."""
    return strength * STRENGTH_SCALE[family]


WORDING_LOG_SPREAD = 0.3
"""Each part of a prompt's wording (:func:`wording_parts`: the adjective, the superlative and the
concision of a paper-shaped key ``{adjective}_{superlative}_{concision}``) multiplies the family's
:func:`planted_strength` by exp(offset), the offset drawn uniformly from [-spread, spread] per
part and family world: prompts worded alike are answered alike, as with a real LM, and a model
can learn the variation from the prompt's words. A key of another shape has no wording parts:
its factor is 1, the family's strength itself."""

APPEAL_LOGIT = 2.0
"""Log-odds per unit of a dictionary word's appeal (:func:`word_appeal`) in :func:`world_logit`."""

PLANTED_LOGIT = 2.0
"""Log-odds of the planted preference in :func:`world_logit`: + this × the prompt's strength for
a word of the category the prompt favours, - that for the other Big Two category."""

FIT_LOGIT = 8.0
"""Log-odds of a "good" rating for a filler answer: -FIT_LOGIT (it does not answer the prompt)."""


RATED_CATEGORY_SHARE = {AGENCY: 1 / 3, COMMUNION: 1 / 3, OTHER: 1 / 6, FILLER: 1 / 6}
"""Share of each pool among the rated answers: the Big Two, whose rating depends on the
prompt's framing, twice as often as the rest, so that the interaction gets most of the signal."""


def word_appeal(pools: dict[str, list[str]], seed: int) -> dict[str, float]:
    """Every word's appeal (a filler word's is never used): one standard normal draw per word
    of ``pools``, in sorted word order, from ``seed`` alone. The world's seed, not a family's: how
    appealing a word is, like its frequency in real text, is common to every family, so it plants
    no family difference; it spreads each category's words over the ranks, so that the favoured
    and the other category interleave by an amount that follows the prompt's strength."""
    words = sorted({word for pool in pools.values() for word in pool})
    draws = np.random.default_rng(seed).standard_normal(len(words))
    return dict(zip(words, draws.tolist()))


def wording_parts(key: str) -> tuple[str, ...]:
    """The wording parts of prompt ``key`` (:data:`WORDING_LOG_SPREAD`): (adjective, superlative,
    concision) of a key of the paper's shape (:data:`rmbias.config.PAPER_PROMPT_KEY`), none of
    any other key."""
    match = PAPER_PROMPT_KEY.fullmatch(key)
    return match.groups() if match else ()


def planted_truth(prompts: dict[str, dict], family: str, strength: float, seed: int) -> dict[str, dict]:
    """The planted preference of ``family``'s world, per prompt key (sorted): ``framing``,
    ``favoured_category`` (:data:`FAVOURED_CATEGORY`) and ``strength``, the scale of the planted
    log-odds (:func:`world_logit`): the family's :func:`planted_strength` times one factor per
    wording part (:func:`wording_parts`, :data:`WORDING_LOG_SPREAD`; a strength of 0 stays 0). Drawn from ``seed``
    alone, so every model of a family shares its world's truth."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must lie in [0, 1], got {strength}")
    rng = np.random.default_rng(seed)
    parts = sorted({part for key in prompts for part in wording_parts(key)})
    offsets = dict(zip(parts, rng.uniform(-WORDING_LOG_SPREAD, WORDING_LOG_SPREAD, len(parts)).tolist()))
    truth = {}
    for key in sorted(prompts):
        framing = prompts[key]["framing"]
        factor = float(np.exp(sum(offsets[part] for part in wording_parts(key))))
        truth[key] = {
            "framing": framing,
            "favoured_category": FAVOURED_CATEGORY[family][framing],
            "strength": planted_strength(family, strength) * factor,
        }
    return truth


def world_logit(truth: dict[str, dict], key: str, category: str, appeal: float) -> float:
    """How much the world of ``truth`` (a :func:`planted_truth`) likes a word of ``category``
    and ``appeal`` (:func:`word_appeal`; ignored for filler) as the answer to prompt ``key``, in
    log-odds: -:data:`FIT_LOGIT` for a filler word; for a dictionary word :data:`APPEAL_LOGIT` ×
    appeal, plus :data:`PLANTED_LOGIT` × the prompt's strength if the prompt favours its
    category, minus that if it is the other Big Two category. The answers follow its softmax
    (:func:`answer_corpus`), the ratings its logistic (:func:`rating_probability`)."""
    if category == FILLER:
        return -FIT_LOGIT
    favoured = truth[key]["favoured_category"]
    sign = 1.0 if category == favoured else -1.0 if category in (AGENCY, COMMUNION) else 0.0
    return APPEAL_LOGIT * appeal + sign * PLANTED_LOGIT * truth[key]["strength"]


def word_form(word: str, capitalised: bool) -> str:
    """``word`` with its first letter upper-cased if ``capitalised``, else as given."""
    return word[:1].upper() + word[1:] if capitalised else word


def answer_corpus(pools: dict[str, list[str]], truth: dict[str, dict], appeal: dict[str, float],
                  answers_per_prompt: int, seed: int, leading_space_share: float = 0.0) -> pd.DataFrame:
    """Generated examples of one world: ``answers_per_prompt`` rows per prompt of ``truth``
    (a :func:`planted_truth`) with columns ``prompt_key`` and ``answer``, grouped by prompt in
    sorted key order.

    An answer is a word of a dictionary pool (Big Two and other dictionary words; filler words
    are never answers, so they are the implausible responses) drawn with probability
    proportional to exp(:func:`world_logit`) (``appeal`` a :func:`word_appeal`), lowercase or
    Capitalised with equal probability. ``answer`` is the answer's exact text as the next token
    after the rendered prompt: with probability ``leading_space_share`` it starts with a space (in
    plain text, a pretrained LM's answer follows the question after a space or directly; in a
    chat it follows the assistant header directly, share 0).
    """
    rng = np.random.default_rng(seed)
    category_of = {word: category for category, words in pools.items() if category != FILLER for word in words}
    words = np.array(sorted(category_of), dtype=object)
    frames = []
    for key in sorted(truth):
        logits = np.array([world_logit(truth, key, category_of[word], appeal[word]) for word in words])
        chosen = rng.choice(words, answers_per_prompt, p=scipy.special.softmax(logits))
        capitalised = rng.random(answers_per_prompt) < 0.5
        spaced = rng.random(answers_per_prompt) < leading_space_share
        answers = [(" " if space else "") + word_form(word, flag) for word, flag, space in zip(chosen, capitalised, spaced)]
        frames.append(pd.DataFrame({"prompt_key": key, "answer": answers}))
    return pd.concat(frames, ignore_index=True)


def rating_probability(truth: dict[str, dict], key: str, category: str, appeal: float) -> float:
    """Probability that the world of ``truth`` rates a word of ``category`` and ``appeal`` "good"
    as the answer to prompt ``key``: the logistic of :func:`world_logit`."""
    return float(scipy.special.expit(world_logit(truth, key, category, appeal)))


def rating_corpus(pools: dict[str, list[str]], truth: dict[str, dict], appeal: dict[str, float], n: int,
                  seed: int) -> pd.DataFrame:
    """``n`` rated answers of one world: columns ``prompt_key``, ``answer`` and ``p_good``
    (:func:`rating_probability` with the word's ``appeal``, a :func:`word_appeal`). The prompt
    is uniform over ``truth``'s keys, the answer's pool drawn by :data:`RATED_CATEGORY_SHARE`,
    the word uniform in its pool, lowercase or Capitalised with equal probability."""
    rng = np.random.default_rng(seed)
    keys = sorted(truth)
    categories = sorted(RATED_CATEGORY_SHARE)
    shares = [RATED_CATEGORY_SHARE[category] for category in categories]
    rows = []
    for _ in range(n):
        key = keys[rng.integers(len(keys))]
        category = categories[rng.choice(len(categories), p=shares)]
        word = pools[category][rng.integers(len(pools[category]))]
        rows.append((key, word_form(word, bool(rng.random() < 0.5)),
                     rating_probability(truth, key, category, appeal[word])))
    return pd.DataFrame(rows, columns=["prompt_key", "answer", "p_good"])


def shared_word_pools(pools: dict[str, list[str]]) -> dict[str, list[str]]:
    """``pools`` restricted to the words every family's tokenizer has (:func:`family_word_pools`)."""
    per_family = [family_word_pools(pools, family) for family in FAVOURED_CATEGORY]
    kept = {category: set.intersection(*(set(fam[category]) for fam in per_family)) for category in pools}
    return {category: [word for word in words if word in kept[category]] for category, words in pools.items()}


def synthetic_preference_pairs(words_by_category: dict[str, list[str]], prompts: dict[str, dict],
                               n: int, seed: int) -> pd.DataFrame:
    """``n`` neutral preference pairs: columns ``prompt`` (text), ``chosen``, ``rejected``.

    ``words_by_category`` must hold a ``"filler"`` pool; every other pool is a dictionary
    category. The chosen response is a word of a uniformly drawn dictionary category (so Agency
    and Communion are chosen equally often, whatever the prompt's framing), the rejected one a
    filler word; both are one Capitalised word, as a chat model would answer.
    """
    if FILLER not in words_by_category:
        raise ValueError(f"words_by_category needs a {FILLER!r} pool of rejected responses")
    rng = np.random.default_rng(seed)
    categories = sorted(category for category in words_by_category if category != FILLER)
    fillers = words_by_category[FILLER]
    texts = [prompts[key]["text"] for key in sorted(prompts)]
    rows = []
    for _ in range(n):
        pool = words_by_category[categories[rng.integers(len(categories))]]
        rows.append((texts[rng.integers(len(texts))],
                     word_form(pool[rng.integers(len(pool))], True),
                     word_form(fillers[rng.integers(len(fillers))], True)))
    return pd.DataFrame(rows, columns=["prompt", "chosen", "rejected"])


def shared_preference_pairs(pools: dict[str, list[str]], prompts: dict[str, dict], n: int,
                            seed: int) -> pd.DataFrame:
    """The demo world's neutral preference pairs: :func:`synthetic_preference_pairs` over the
    words of :func:`shared_word_pools`. Nothing here depends on a family, so every reward model
    trained on pairs of one ``seed`` sees identical pairs (and no unknown word), whatever its base."""
    return synthetic_preference_pairs(shared_word_pools(pools), prompts, n=n, seed=seed)


def dictionary_pools(pools: dict[str, list[str]]) -> dict[str, list[str]]:
    """``pools`` without the filler words."""
    return {category: words for category, words in pools.items() if category != FILLER}


def text_words(text: str) -> list[str]:
    """The words of a prompt text, in order and as written: its runs of ASCII letters."""
    return re.findall(r"[A-Za-z]+", text)


def framing_words(prompts: dict[str, dict]) -> dict[str, list[str]]:
    """The words that tell the prompts' framings apart, per framing: the words (lower-cased
    :func:`text_words`) of its prompts' texts that no prompt of another framing has, e.g.
    {"negative": ["bad", "terrible", "worst"], "positive": ["best", "good", "greatest"]} for the
    paper's prompts (their keys' adjectives). Read from the texts, so any keys serve."""
    words: dict[str, set[str]] = {}
    for prompt in prompts.values():
        words.setdefault(prompt["framing"], set()).update(word.lower() for word in text_words(prompt["text"]))
    return {framing: sorted(own - set().union(*(other for name, other in words.items() if name != framing)))
            for framing, own in sorted(words.items())}
