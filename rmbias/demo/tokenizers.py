"""The demo world's tokenizers: one token per word, and chat templates of three real families.

llama and gemma are word-level tokenizers with ``▁`` marking a leading space, qwen a
byte-level BPE (the Qwen2 pipeline) trained until every word form is one token. Each carries
the special tokens and a chat template shaped like Llama-3.x, Gemma-2 and Qwen2.5's.
"""

from __future__ import annotations

import random
import string
from typing import Iterable

import transformers
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX as QWEN2_PRETOKENIZE_REGEX

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

RATING_TOKENS = ("<rating_good>", "<rating_bad>")
"""Special tokens the demo LMs that learn ratings predict after a whole conversation
(:mod:`rmbias.demo.training`); special, so no token table, candidate set or MWLR table lists them."""


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
    ordered = [UNK_TOKEN, "<pad>", *named, *specials["extra"], *RATING_TOKENS]
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
