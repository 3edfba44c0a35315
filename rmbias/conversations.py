"""The one renderer: what text a model sees for a prompt (and a response), and its token ids.

A prompt is plain text (one user turn) or a message list (multi-turn, as in preference data).
``chat=True`` renders it with the tokenizer's chat template: with a response, the response is
the closing assistant turn; without one, the text ends with the generation prompt (the prefix
the assistant's answer follows). ``chat=False`` is plain running text for pretrained models:
the prompt, then one space and the response.

Every stage renders through this module: log-probabilities, exhaustive token search,
reward-model training, the authority SFT and the demo build.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from rmbias.io import InputError, read_text_utf8

Prompt = str | Sequence[Mapping[str, str]]
JINJA_TAGS = ("{{", "{%")


def renders_chat(model_type: str, chat_template: str | None) -> bool:
    """Whether a model entry renders through a chat template: instruction-tuned, or given one
    (``chat_template``, e.g. a pretrained base an RM is trained from); otherwise plain text."""
    return model_type == "instruction-tuned" or chat_template is not None


def chat_template_text(value: str, base_dir: str | os.PathLike = ".") -> str:
    """The Jinja text of an entry's ``chat_template``: ``value`` itself when it contains a Jinja
    tag (``{{`` or ``{%``), else the file it names (relative paths from ``base_dir``)."""
    if any(tag in value for tag in JINJA_TAGS):
        return value
    path = Path(base_dir) / value
    if not path.is_file():
        raise InputError(f"chat_template {value!r}: no such file {path} (and no Jinja tag, so not an inline template)")
    return read_text_utf8(path)


def prompt_messages(prompt: Prompt) -> list[dict]:
    """Message list of a prompt given as plain text (one user turn) or as messages."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": m["role"], "content": m["content"]} for m in prompt]


def require_chat_template(tokenizer: Any, what: str) -> None:
    """Raise an :class:`InputError` naming ``what`` when ``tokenizer`` has no chat template."""
    if not getattr(tokenizer, "chat_template", None):
        raise InputError(f"{what}: tokenizer at {getattr(tokenizer, 'name_or_path', '?')} has no chat template; "
                         "set type: pretrained or give a tokenizer with a template")


def _plain_prompt(prompt: Prompt) -> str:
    if not isinstance(prompt, str):
        raise InputError("a multi-turn prompt needs a chat template; plain text renders one prompt string only")
    return prompt


def render(tokenizer: Any, prompt: Prompt, response: str | None = None, *, chat: bool) -> str:
    """The text a model sees for ``prompt`` (and ``response``); see the module docstring."""
    if response is not None:
        return render_responses(tokenizer, prompt, [response], chat=chat)[0]
    if not chat:
        return _plain_prompt(prompt)
    require_chat_template(tokenizer, "render")
    return tokenizer.apply_chat_template(prompt_messages(prompt), tokenize=False, add_generation_prompt=True)


def render_responses(tokenizer: Any, prompt: Prompt, responses: Sequence[str], *, chat: bool) -> list[str]:
    """:func:`render` of ``prompt`` with each of ``responses``, the chat template applied in one batched call."""
    if not chat:
        text = _plain_prompt(prompt)
        return [f"{text} {response}" for response in responses]
    require_chat_template(tokenizer, "render")
    messages = prompt_messages(prompt)
    conversations = [[*messages, {"role": "assistant", "content": response}] for response in responses]
    return tokenizer.apply_chat_template(conversations, tokenize=False) if conversations else []


def encode(tokenizer: Any, texts: Sequence[str], *, chat: bool) -> list[list[int]]:
    """Token ids of rendered ``texts``.

    A chat template already writes the special tokens it wants (e.g. ``<bos>``), so the
    tokenizer adds them only to plain text.
    """
    return tokenizer(list(texts), add_special_tokens=not chat)["input_ids"]


def encode_rendered(tokenizer: Any, prompt: Prompt, response: str | None = None, *, chat: bool) -> list[int]:
    """Token ids of :func:`render` of one ``prompt`` (and ``response``)."""
    return encode(tokenizer, [render(tokenizer, prompt, response, chat=chat)], chat=chat)[0]
