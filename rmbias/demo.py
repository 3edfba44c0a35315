"""The demo world: tiny models in real Hugging Face format with a planted value bias.

Everything here runs on CPU in minutes. The tokenizers have one token per word, with and
without a leading-space marker, like the word tokens of a BPE vocabulary (word-level for
llama and gemma, a byte-level BPE for qwen), and carry chat templates shaped like the real
Llama-3.x, Gemma-2 and Qwen2.5 ones, so that every stage
of the workflow runs its real code path (``from_pretrained``, ``apply_chat_template``,
prefix caching, sequence-classification heads) on models small enough to train here.
"""

from __future__ import annotations

import logging
import os
import random
import re
import string
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import torch
import transformers
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX as QWEN2_PRETOKENIZE_REGEX

from rmbias.io import save_pretrained_atomically, write_json

logger = logging.getLogger(__name__)

SPACE_MARKER = "▁"

LLAMA_SYSTEM_HEADER = "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def _jinja_literal(text: str) -> str:
    """``text`` as a single-quoted Jinja string literal."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return "'" + escaped + "'"


CHAT_TEMPLATES: dict[str, str] = {
    "llama": (
        "{{- bos_token }}"
        "{%- if messages[0]['role'] == 'system' %}"
        "{%- set system_message = messages[0]['content'] | trim %}"
        "{%- set messages = messages[1:] %}"
        "{%- else %}{%- set system_message = '' %}{%- endif %}"
        "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}"
        "{{- " + _jinja_literal(LLAMA_SYSTEM_HEADER) + " }}"
        "{{- system_message }}"
        "{{- '<|eot_id|>' }}"
        "{%- for message in messages %}"
        "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
        " + message['content'] | trim + '<|eot_id|>' }}"
        "{%- endfor %}"
        "{%- if add_generation_prompt %}"
        "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
        "{%- endif %}"
    ),
    "gemma": (
        "{{ bos_token }}"
        "{% if messages[0]['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}"
        "{% endif %}"
        "{% for message in messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
        "{% endif %}"
        "{% if message['role'] == 'assistant' %}{% set role = 'model' %}"
        "{% else %}{% set role = message['role'] %}{% endif %}"
        "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
    ),
    "qwen": (
        "{%- if messages[0]['role'] == 'system' %}"
        "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
        "{%- set messages = messages[1:] %}"
        "{%- else %}"
        "{{- " + _jinja_literal(f"<|im_start|>system\n{QWEN_DEFAULT_SYSTEM}<|im_end|>\n") + " }}"
        "{%- endif %}"
        "{%- for message in messages %}"
        "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
        "{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
    ),
}
"""Jinja chat templates, one per family, rendering the same text as the real templates for
plain user/assistant conversations (no tools): Llama 3.2, Gemma 2 and Qwen2.5."""

_FAMILY_TEXT: dict[str, str] = {
    "llama": LLAMA_SYSTEM_HEADER + " system user assistant",
    "gemma": "user model",
    "qwen": QWEN_DEFAULT_SYSTEM + " system user assistant",
}
"""Words the family's template itself renders (system block and role names)."""

_SPECIAL_TOKENS: dict[str, dict[str, str | list[str] | None]] = {
    "llama": {
        "bos": "<|begin_of_text|>", "eos": "<|eot_id|>", "pad": "<pad>",
        "extra": ["<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>"],
    },
    "gemma": {
        "bos": "<bos>", "eos": "<eos>", "pad": "<pad>",
        "extra": ["<start_of_turn>", "<end_of_turn>"],
    },
    "qwen": {
        "bos": None, "eos": "<|im_end|>", "pad": "<|endoftext|>",
        "extra": ["<|im_start|>"],
    },
}
"""Special tokens like the real families' (Llama has no pad token; ``<pad>`` stands in)."""

UNK_TOKEN = "<unk>"


def _word_level_pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    """Split newlines off, mark spaces with ``▁`` attached to the next word, isolate punctuation."""
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex("\n"), "isolated"),
        pre_tokenizers.Metaspace(replacement=SPACE_MARKER, prepend_scheme="never", split=True),
        pre_tokenizers.Punctuation("isolated"),
    ])


def _surface_forms(words: Iterable[str]) -> set[str]:
    """Each word in given, lowercase and Capitalised form, each with and without a leading
    space, plus every ASCII punctuation mark (with and without a leading space) and the newline."""
    forms = {"\n", " "}
    for word in words:
        word = word.strip()
        if word:
            for form in {word, word.lower(), word[:1].upper() + word[1:].lower()}:
                forms.update((form, " " + form))
    forms.update(mark for char in string.punctuation for mark in (char, " " + char))
    return forms


def _word_level_backend(forms: set[str], specials: list[str], shuffle_seed: str | None) -> Tokenizer:
    """A WordLevel tokenizer with one token per pre-tokenized piece of ``forms``.

    Ids: ``specials`` first, then the pieces sorted, or shuffled by ``shuffle_seed`` if given.
    """
    pre_tokenizer = _word_level_pre_tokenizer()
    pieces = {piece for form in forms for piece, _ in pre_tokenizer.pre_tokenize_str(form)}
    word_tokens = sorted(pieces - set(specials))
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(word_tokens)
    vocab = {token: index for index, token in enumerate([*specials, *word_tokens])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK_TOKEN))
    backend.pre_tokenizer = pre_tokenizer
    backend.decoder = decoders.Metaspace(replacement=SPACE_MARKER, prepend_scheme="never", split=True)
    return backend


def _byte_level_bpe_backend(forms: set[str], specials: list[str]) -> Tokenizer:
    """A byte-level BPE tokenizer (the Qwen2 pipeline) trained until every form is one token.

    transformers rebuilds any tokenizer saved beside a ``qwen2`` model as its own byte-level
    BPE ``Qwen2Tokenizer`` from the saved vocabulary and merges, so the Qwen family cannot be
    word-level; training BPE on the forms alone gives the same one-token-per-word behaviour,
    with ``Ġ`` as the leading-space marker and sub-word fragments as extra tokens.
    """
    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), "isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=10_000_000, min_frequency=1, special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    backend.train_from_iterator(sorted(forms), trainer)
    return backend


def _special_token_list(family: str) -> list[str]:
    specials = _SPECIAL_TOKENS[family]
    named = [specials["bos"], specials["eos"], specials["pad"]]
    ordered = [UNK_TOKEN, "<pad>", *named, *specials["extra"]]
    return list(dict.fromkeys(token for token in ordered if token is not None))


def build_tokenizer(words: Iterable[str], family: str) -> transformers.PreTrainedTokenizerFast:
    """A tokenizer for ``family`` ("llama", "gemma" or "qwen") with one token per given word.

    The vocabulary holds the family's special tokens, ``<unk>``/``<pad>``, punctuation, the
    newline, and every given word (and every word of the template's own text) in given,
    lowercase and Capitalised form, each with and without a leading-space marker. Decoding a
    space-marked token gives the word with its leading space (" Love"), like BPE vocabularies.
    llama and gemma are WordLevel tokenizers with ``▁`` marking the space (word ids sorted for
    llama, shuffled for gemma, so that families disagree on ids); qwen is a byte-level BPE
    (see :func:`_byte_level_bpe_backend`). Like the real tokenizers, llama and gemma prepend
    their bos token when encoding with special tokens; qwen adds nothing.
    """
    if family not in CHAT_TEMPLATES:
        raise ValueError(f"unknown tokenizer family {family!r}; expected one of {sorted(CHAT_TEMPLATES)}")
    specials = _special_token_list(family)
    forms = _surface_forms([*words, *_FAMILY_TEXT[family].split()])
    if family == "qwen":
        backend = _byte_level_bpe_backend(forms, specials)
    else:
        backend = _word_level_backend(forms, specials, shuffle_seed=None if family == "llama" else family)
    bos = _SPECIAL_TOKENS[family]["bos"]
    if bos is not None:
        backend.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, backend.token_to_id(bos))],
        )
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=bos,
        eos_token=_SPECIAL_TOKENS[family]["eos"],
        pad_token=_SPECIAL_TOKENS[family]["pad"],
        unk_token=UNK_TOKEN,
        additional_special_tokens=[token for token in specials if token != UNK_TOKEN],
        chat_template=CHAT_TEMPLATES[family],
    )


_ARCHITECTURES: dict[str, tuple[type, type, type]] = {
    "llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
              transformers.LlamaForSequenceClassification),
    "gemma2": (transformers.Gemma2Config, transformers.Gemma2ForCausalLM,
               transformers.Gemma2ForSequenceClassification),
    "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM,
              transformers.Qwen2ForSequenceClassification),
}

_NORM_GAIN_OFFSET: dict[str, float] = {"gemma2": 1.0}
"""What an RMSNorm adds to its stored weight to get its gain (Gemma-2 stores gain − 1)."""

INITIALIZER_RANGE = 0.02
"""Standard deviation of the random initial weights."""

GEMMA2_SLIDING_WINDOW = 16
"""Tokens; shorter than a chat-templated prompt, so the sliding-window cache path is used."""


def tiny_config(arch: str, tokenizer, hidden_size: int = 32,
                num_layers: int = 2) -> transformers.PretrainedConfig:
    """A small float32 config of ``arch`` ("llama", "gemma2", "qwen2") sized to ``tokenizer``.

    Four attention heads (two key/value heads), MLP width 2 × ``hidden_size``, 512 positions,
    input and output embeddings tied (as in the small Llama-3.2, Gemma-2 and Qwen2.5 models).
    Gemma-2 alternates sliding-window (16 tokens) and full-attention layers, with eager
    attention so that its attention softcapping applies.
    """
    if arch not in _ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {sorted(_ARCHITECTURES)}")
    config_class = _ARCHITECTURES[arch][0]
    num_heads = 4
    shared = dict(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        num_labels=1,
        tie_word_embeddings=True,
        initializer_range=INITIALIZER_RANGE,
    )
    if arch == "gemma2":
        config = config_class(
            **shared,
            head_dim=hidden_size // num_heads,
            query_pre_attn_scalar=hidden_size // num_heads,
            sliding_window=GEMMA2_SLIDING_WINDOW,
            layer_types=["sliding_attention" if index % 2 == 0 else "full_attention"
                         for index in range(num_layers)],
            attn_implementation="eager",
        )
    else:
        config = config_class(**shared)
    config.dtype = torch.float32
    return config


def tiny_model(arch: str, tokenizer, kind: str, seed: int = 0, hidden_size: int = 32,
               num_layers: int = 2, output_scale: float = 1.0) -> transformers.PreTrainedModel:
    """A randomly initialised float32 ``arch`` model over ``tokenizer``'s vocabulary.

    ``kind`` is "causal_lm" (``*ForCausalLM``) or "reward_model" (``*ForSequenceClassification``
    with one label). ``output_scale`` is the initial gain of the final RMSNorm (1 is the
    architecture's default); the logits scale with it. The weights depend only on ``seed``; the
    global torch RNG is left as it was.
    """
    config = tiny_config(arch, tokenizer, hidden_size=hidden_size, num_layers=num_layers)
    model_classes = {"causal_lm": _ARCHITECTURES[arch][1], "reward_model": _ARCHITECTURES[arch][2]}
    if kind not in model_classes:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(model_classes)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_classes[kind](config)
    with torch.no_grad():
        model.base_model.norm.weight.fill_(output_scale - _NORM_GAIN_OFFSET.get(arch, 0.0))
    return model.to(torch.float32).eval()


# ---------------------------------------------------------------------------------------------
# The demo world
# ---------------------------------------------------------------------------------------------

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
"""Which Big Two category each family's world favours as the answer to prompts of each valence."""

STRENGTH_SCALE: dict[str, float] = {"llama": 1.0, "gemma": 1.0, "qwen": 1.5}
"""Per-family multiplier of the planted strength (capped at 1): qwen is like gemma but stronger."""

WORDS_ONLY_IN_ONE_FAMILY = 4
"""Answer words each family's tokenizer drops, so that vocabularies differ in a few words."""


@dataclass(frozen=True)
class DemoLM:
    """One causal LM of the demo world: ``type`` is "pretrained" (trained on raw prompts) or
    "instruction-tuned" (trained on chat-templated prompts); ``output_scale`` is the initial
    gain of its final norm (:func:`tiny_model`)."""

    id: str
    family: str
    arch: str
    type: str
    hidden_size: int = 32
    num_layers: int = 2
    output_scale: float = 1.0


LARGE_LM = dict(hidden_size=256, output_scale=4.0)
"""The "large" demo LMs, wide and with a logit range a LoRA fine-tune can use, like real LLMs.

Appendix F boosts 10 words by LoRA, which cannot touch the embeddings or the final norm, so
one hidden direction must lift those 10 above every other token. With 32 dimensions no
direction separates 10 random word vectors from 11 000 others (the 10 project at about
1/√10 of their length onto their mean, the best of the others at about 3.9/√32); with 256
it does, once the logits span tens of nats as a real LLM's do. The one-word answers that the
demo LMs learn need only a few nats, so the range is set at initialisation (a gain of 4;
at 5 the 150 training steps no longer fit the answers)."""


@dataclass(frozen=True)
class DemoRM:
    """One reward model of the demo world, initialised from the backbone of ``backbone``."""

    id: str
    backbone: str
    seed: int


DEMO_LMS = (
    DemoLM("demo-llama-base", "llama", "llama", "pretrained"),
    DemoLM("demo-llama-it", "llama", "llama", "instruction-tuned"),
    DemoLM("demo-llama-it-large", "llama", "llama", "instruction-tuned", **LARGE_LM),
    DemoLM("demo-gemma-base", "gemma", "gemma2", "pretrained"),
    DemoLM("demo-gemma-it", "gemma", "gemma2", "instruction-tuned"),
    DemoLM("demo-gemma-it-large", "gemma", "gemma2", "instruction-tuned", **LARGE_LM),
    DemoLM("demo-qwen-it", "qwen", "qwen2", "instruction-tuned"),
)
DEMO_RMS = (
    DemoRM("demo-llama-rm-a", "demo-llama-it", seed=1),
    DemoRM("demo-llama-rm-b", "demo-llama-it", seed=2),
    DemoRM("demo-gemma-rm-a", "demo-gemma-it", seed=1),
    DemoRM("demo-gemma-rm-b", "demo-gemma-it", seed=2),
)


@dataclass(frozen=True)
class TrainingSettings:
    """Optimisation settings of the demo world: AdamW steps, examples per step (answers per
    prompt for the language models, preference pairs for the reward models) and learning rate."""

    lm_steps: int = 150
    lm_answers_per_step: int = 32
    lm_learning_rate: float = 1e-2
    rm_steps: int = 100
    rm_batch_size: int = 32
    rm_learning_rate: float = 1e-3


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
    """Probability that an answer of ``family``'s world is drawn from the favoured category."""
    return min(1.0, strength * STRENGTH_SCALE[family])


def _word_form(word: str, capitalised: bool) -> str:
    return word[:1].upper() + word[1:] if capitalised else word


def answer_corpus(pools: dict[str, list[str]], prompts: dict[str, dict], family: str,
                  strength: float, answers_per_prompt: int, seed: int) -> pd.DataFrame:
    """Generated examples of ``family``'s world: ``answers_per_prompt`` rows per prompt with
    columns ``prompt_key`` and ``answer``, grouped by prompt in sorted key order.

    With probability :func:`planted_strength` an answer is a word of the category that the
    world favours for the prompt's valence (:data:`FAVOURED_CATEGORY`), otherwise a word drawn
    uniformly from the dictionary pools (Big Two and other dictionary words; filler words are
    never answers, so they are the implausible responses). Answers are lowercase or
    Capitalised with equal probability.
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must lie in [0, 1], got {strength}")
    rng = np.random.default_rng(seed)
    every_word = np.array(sorted({word for category, words in pools.items() if category != FILLER
                                  for word in words}), dtype=object)
    favoured_probability = planted_strength(family, strength)
    frames = []
    for key in sorted(prompts):
        favoured = np.array(pools[FAVOURED_CATEGORY[family][prompts[key]["valence"]]], dtype=object)
        from_favoured = rng.random(answers_per_prompt) < favoured_probability
        words = np.where(from_favoured, rng.choice(favoured, answers_per_prompt),
                         rng.choice(every_word, answers_per_prompt))
        capitalised = rng.random(answers_per_prompt) < 0.5
        answers = [_word_form(word, flag) for word, flag in zip(words, capitalised)]
        frames.append(pd.DataFrame({"prompt_key": key, "answer": answers}))
    return pd.concat(frames, ignore_index=True)


def synthetic_preference_pairs(words_by_category: dict[str, list[str]], prompts: dict[str, dict],
                               n: int, seed: int) -> pd.DataFrame:
    """``n`` neutral preference pairs: columns ``prompt`` (text), ``chosen``, ``rejected``.

    ``words_by_category`` must hold a ``"filler"`` pool; every other pool is a dictionary
    category. The chosen response is a word of a uniformly drawn dictionary category (so Agency
    and Communion are chosen equally often, whatever the prompt's valence), the rejected one a
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
                     _word_form(pool[rng.integers(len(pool))], True),
                     _word_form(fillers[rng.integers(len(fillers))], True)))
    return pd.DataFrame(rows, columns=["prompt", "chosen", "rejected"])


def render_prompt(tokenizer, prompt: str, lm_type: str) -> str:
    """What a model of ``lm_type`` sees before its answer: the raw prompt ("pretrained") or
    the chat template with the generation prompt ("instruction-tuned")."""
    if lm_type == "pretrained":
        return prompt
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)


def _answer_token_id(tokenizer, answer: str, lm_type: str) -> int:
    """The single token of ``answer`` as it follows the prompt: after a space in raw text,
    directly after the generation prompt in a chat."""
    text = " " + answer if lm_type == "pretrained" else answer
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"answer {text!r} is not one token: {tokenizer.convert_ids_to_tokens(ids)}")
    return ids[0]


def word_form_token_ids(tokenizer, words: Iterable[str]) -> list[int]:
    """Ids of every one-token form of ``words``: lowercase and Capitalised, with and without a
    leading space."""
    ids = []
    for word in words:
        for form in {word.lower(), _word_form(word.lower(), True)}:
            for text in (form, " " + form):
                token_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                if len(token_ids) == 1:
                    ids.append(token_ids[0])
    return ids


def dictionary_pools(pools: dict[str, list[str]]) -> dict[str, list[str]]:
    """``pools`` without the filler words."""
    return {category: words for category, words in pools.items() if category != FILLER}


def valence_adjectives(prompts: dict[str, dict]) -> dict[str, list[str]]:
    """The prompts' adjectives by valence, e.g. {"positive": ["best", ...], "negative": [...]},
    read from the keys ``{adjective}_{superlative}_{concision}``."""
    adjectives: dict[str, set[str]] = {}
    for key, prompt in prompts.items():
        adjectives.setdefault(prompt["valence"], set()).add(key.split("_")[0])
    return {valence: sorted(words) for valence, words in sorted(adjectives.items())}


def add_category_structure(model: transformers.PreTrainedModel, tokenizer, pools: dict[str, list[str]],
                           seed: int) -> None:
    """Give the input embeddings of each pool's words a shared random direction, in place.

    Real pretrained embeddings cluster by meaning; random ones do not, and then a few hundred
    steps cannot discover that a prompt's valence favours a whole category (the gradient
    summed over hundreds of unrelated word vectors cancels; training stalls at the
    unconditional answer distribution for most seeds). Pools may also group prompt words,
    e.g. :func:`valence_adjectives`. Each pool gets one Gaussian
    direction of the same scale as a word's own initial vector, added to every form of its
    words. The same procedure for every family, so no world difference comes from it.
    """
    embeddings = model.get_input_embeddings().weight
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for category in sorted(pools):
            direction = torch.randn(embeddings.shape[1], generator=generator) * embeddings.std()
            embeddings[word_form_token_ids(tokenizer, pools[category])] += direction


def _left_padded(sequences: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """``input_ids``, ``attention_mask`` and ``position_ids`` ([batch, longest]) of left-padded
    sequences, positions counting real tokens only."""
    longest = max(map(len, sequences))
    input_ids = torch.tensor([[pad_id] * (longest - len(ids)) + ids for ids in sequences])
    attention_mask = torch.tensor([[0] * (longest - len(ids)) + [1] * len(ids) for ids in sequences])
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids}


def _right_padded(sequences: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` ([batch, longest]) of right-padded sequences."""
    longest = max(map(len, sequences))
    input_ids = torch.tensor([ids + [pad_id] * (longest - len(ids)) for ids in sequences])
    attention_mask = torch.tensor([[1] * len(ids) + [0] * (longest - len(ids)) for ids in sequences])
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def train_causal_lm(model: transformers.PreTrainedModel, tokenizer, corpus: pd.DataFrame,
                    prompts: dict[str, dict], lm_type: str, settings: TrainingSettings) -> list[float]:
    """Fit ``model`` in place to predict each example's answer token after its rendered prompt.

    ``corpus`` is an :func:`answer_corpus`. Every AdamW step feeds each prompt once and scores
    the next ``settings.lm_answers_per_step`` of its answers (wrapping around) against that
    one next-token distribution: the same loss as feeding every (prompt, answer) example on
    its own, at one forward pass per prompt. The loss is the mean cross-entropy (nats) of the
    answer tokens. Returns the loss of every step.
    """
    keys = sorted(prompts)
    prefixes = [tokenizer(render_prompt(tokenizer, prompts[key]["text"], lm_type),
                          add_special_tokens=lm_type == "pretrained")["input_ids"] for key in keys]
    inputs = _left_padded(prefixes, tokenizer.pad_token_id)
    token_of = {answer: _answer_token_id(tokenizer, answer, lm_type) for answer in set(corpus["answer"])}
    answers = torch.tensor(np.stack([
        corpus.loc[corpus["prompt_key"] == key, "answer"].map(token_of).to_numpy(dtype=np.int64) for key in keys
    ]))

    def step_loss(step: int) -> torch.Tensor:
        columns = (step * settings.lm_answers_per_step + torch.arange(settings.lm_answers_per_step)) % answers.shape[1]
        log_probs = model(**inputs, logits_to_keep=1).logits[:, -1].log_softmax(-1)
        return -log_probs.gather(1, answers[:, columns]).mean()

    return _adamw_steps(model, settings.lm_learning_rate, settings.lm_steps, step_loss)


def _adamw_steps(model: transformers.PreTrainedModel, learning_rate: float, steps: int,
                 step_loss: Callable[[int], torch.Tensor]) -> list[float]:
    """Train ``model`` in place: ``steps`` AdamW steps on ``step_loss(step)``; returns each step's loss."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    losses = []
    model.train()
    for step in range(steps):
        loss = step_loss(step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


def reward_model_from(causal_lm: transformers.PreTrainedModel, arch: str, tokenizer,
                      seed: int) -> transformers.PreTrainedModel:
    """A sequence-classification model (one label) whose backbone is a copy of ``causal_lm``'s;
    only the score head is new (initialised from ``seed``)."""
    config = causal_lm.config
    reward_model = tiny_model(arch, tokenizer, "reward_model", seed=seed, hidden_size=config.hidden_size,
                              num_layers=config.num_hidden_layers)
    reward_model.base_model.load_state_dict(causal_lm.base_model.state_dict())
    return reward_model


def train_reward_model(model: transformers.PreTrainedModel, tokenizer, pairs: pd.DataFrame,
                       settings: TrainingSettings) -> list[float]:
    """Bradley–Terry fine-tune of ``model`` in place on chat-templated ``pairs``.

    ``pairs`` is a :func:`synthetic_preference_pairs` table read in order,
    ``settings.rm_batch_size`` pairs per AdamW step for ``settings.rm_steps`` steps. The loss is
    ``-log sigmoid(r_chosen - r_rejected)`` (nats) with the reward read by the model's own
    head at the last non-pad token. Returns the loss of every step.
    """
    def encode(prompt: str, response: str) -> list[int]:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}], tokenize=False)
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    encoded = [(encode(prompt, chosen), encode(prompt, rejected))
               for prompt, chosen, rejected in pairs[["prompt", "chosen", "rejected"]].itertuples(index=False)]

    def step_loss(step: int) -> torch.Tensor:
        start = (step * settings.rm_batch_size) % len(encoded)
        batch = [encoded[(start + offset) % len(encoded)] for offset in range(settings.rm_batch_size)]
        inputs = _right_padded([chosen for chosen, _ in batch] + [rejected for _, rejected in batch],
                               tokenizer.pad_token_id)
        chosen_rewards, rejected_rewards = model(**inputs).logits[:, 0].chunk(2)
        return -torch.nn.functional.logsigmoid(chosen_rewards - rejected_rewards).mean()

    return _adamw_steps(model, settings.rm_learning_rate, settings.rm_steps, step_loss)


def _derived_seed(seed: int, name: str) -> int:
    """A seed for one model or data set, fixed by the world's ``seed`` and the ``name``."""
    return zlib.crc32(f"{seed}:{name}".encode())


def _prompt_words(prompts: dict[str, dict]) -> list[str]:
    return sorted({word for prompt in prompts.values() for word in re.findall(r"[A-Za-z]+", prompt["text"])})


def build_demo_world(corpora: pd.DataFrame, prompts: dict[str, dict], out_dir: str | os.PathLike,
                     strength: float, seed: int, settings: TrainingSettings = TrainingSettings(),
                     max_words_per_category: int | None = None) -> dict[str, Path]:
    """Train and save the demo world's models; return model id → directory (``out_dir/<id>``).

    ``corpora`` is the long dictionary table (term, category, dictionary); ``prompts`` the
    ``prompts:`` mapping of config/prompts.yaml (key → {text, valence}); ``strength`` in [0, 1]
    the planted effect (:func:`answer_corpus`). Each family's models share one tokenizer over
    its :func:`family_word_pools` and the prompt words. The causal LMs of :data:`DEMO_LMS` are
    trained from random initialisation on their world's answers; the reward models of
    :data:`DEMO_RMS` copy their instruct LM's backbone and get a Bradley–Terry fine-tune on
    neutral :func:`synthetic_preference_pairs`. ``out_dir/demo_world.json`` records the ground
    truth (favoured categories, strengths, word counts, training losses); it is deterministic, so
    the build time goes to the log.
    Everything is determined by ``seed``.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    pools = word_pools(corpora, max_words_per_category=max_words_per_category, seed=seed)
    family_pools = {family: family_word_pools(pools, family) for family in CHAT_TEMPLATES}
    tokenizers = {
        family: build_tokenizer([*(word for words in fam.values() for word in words), *_prompt_words(prompts)], family)
        for family, fam in family_pools.items()
    }
    trained: dict[str, transformers.PreTrainedModel] = {}
    paths: dict[str, Path] = {}
    record: dict[str, dict] = {}
    for spec in DEMO_LMS:
        model_seed = _derived_seed(seed, spec.id)
        corpus = answer_corpus(family_pools[spec.family], prompts, spec.family, strength,
                               answers_per_prompt=settings.lm_steps * settings.lm_answers_per_step,
                               seed=model_seed)
        model = tiny_model(spec.arch, tokenizers[spec.family], "causal_lm", seed=model_seed,
                           hidden_size=spec.hidden_size, num_layers=spec.num_layers, output_scale=spec.output_scale)
        add_category_structure(model, tokenizers[spec.family],
                               {**dictionary_pools(family_pools[spec.family]), **valence_adjectives(prompts)},
                               seed=model_seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(model_seed)
            losses = train_causal_lm(model, tokenizers[spec.family], corpus, prompts, spec.type, settings)
        trained[spec.id] = model
        paths[spec.id] = out_dir / spec.id
        save_pretrained_atomically(model, tokenizers[spec.family], paths[spec.id])
        record[spec.id] = _model_record(model, spec.family, spec.type, losses)
    lm_specs = {spec.id: spec for spec in DEMO_LMS}
    for spec in DEMO_RMS:
        backbone = lm_specs[spec.backbone]
        pairs_seed = _derived_seed(seed, spec.id)
        pairs = synthetic_preference_pairs(family_pools[backbone.family], prompts,
                                           n=settings.rm_steps * settings.rm_batch_size, seed=pairs_seed)
        model = reward_model_from(trained[spec.backbone], backbone.arch, tokenizers[backbone.family], spec.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(pairs_seed)
            losses = train_reward_model(model, tokenizers[backbone.family], pairs, settings)
        paths[spec.id] = out_dir / spec.id
        save_pretrained_atomically(model, tokenizers[backbone.family], paths[spec.id])
        record[spec.id] = _model_record(model, backbone.family, "reward_model", losses)
    write_json({
        "strength": strength,
        "seed": seed,
        "favoured_category": FAVOURED_CATEGORY,
        "planted_strength": {family: planted_strength(family, strength) for family in CHAT_TEMPLATES},
        "words_per_category": {category: len(words) for category, words in pools.items()},
        "models": record,
    }, out_dir / "demo_world.json")
    logger.info("demo world built in %.1f s", time.perf_counter() - started)
    return paths


def _model_record(model: transformers.PreTrainedModel, family: str, model_type: str,
                  losses: list[float]) -> dict:
    """What the world's manifest says about one model: family, type, parameter count and the
    mean training loss (nats) over the first and the last tenth of the steps."""
    tenth = max(1, len(losses) // 10)
    return {
        "family": family,
        "type": model_type,
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "loss_first_tenth": float(np.mean(losses[:tenth])),
        "loss_last_tenth": float(np.mean(losses[-tenth:])),
    }
