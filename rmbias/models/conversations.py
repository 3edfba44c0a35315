"""The one renderer: what text a model sees for a prompt (and a response), and its token ids.

A prompt is plain text (one user turn) or a message list (multi-turn, as in preference data).
``chat=True`` renders it with the tokenizer's chat template: with a response, the response is
the closing assistant turn; without one, the text ends with the generation prompt (the prefix
the assistant's answer follows). ``chat=False`` is plain running text for pretrained models:
the prompt, then one space and the response.

Every stage renders through this module: log-probabilities, exhaustive token search,
reward-model training, the authority SFT and the demo build.

A model entry's rendering options travel with its tokenizer (:func:`set_rendering_options`,
called by :func:`rmbias.models.loading.load_tokenizer`), so every render and encode through that
tokenizer honours them: the chat template's variables (``chat_template_kwargs``, e.g. a pinned
``date_string`` for the Llama 3.x templates, which otherwise print the day of the run) and the
BOS mode (``bos``: ``single``, the template's own BOS; ``double_as_published``, the tokenizer's
special tokens added to the rendered chat as well, as the authors' FAccT scoring code did, so
Llama-3 and Gemma-2 see two BOS tokens).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from rmbias.io import InputError, read_text_utf8

Prompt = str | Sequence[Mapping[str, str]]
JINJA_TAGS = ("{{", "{%")
BOS_MODES = ("single", "double_as_published")
"""``bos`` of a model entry: the chat template's BOS only, or the published double BOS."""


def other_bos_mode(bos: str) -> str:
    """The BOS mode of :data:`BOS_MODES` that is not ``bos`` (the reproduction check scores under both)."""
    if bos not in BOS_MODES:
        raise InputError(f"bos: {bos!r} is not one of {', '.join(BOS_MODES)}")
    return next(mode for mode in BOS_MODES if mode != bos)


_TEMPLATE_VARIABLES = "rmbias_chat_template_kwargs"
_BOS_MODE = "rmbias_bos"


def set_rendering_options(tokenizer: Any, template_variables: Mapping[str, Any] | None = None,
                          bos: str = BOS_MODES[0]) -> Any:
    """Attach an entry's rendering options to ``tokenizer`` (returned): ``template_variables``
    go to every ``apply_chat_template`` call, ``bos`` (one of :data:`BOS_MODES`) decides whether
    :func:`encode` adds special tokens to chat-rendered text."""
    if bos not in BOS_MODES:
        raise InputError(f"bos: {bos!r} is not one of {', '.join(BOS_MODES)}")
    setattr(tokenizer, _TEMPLATE_VARIABLES, dict(template_variables or {}))
    setattr(tokenizer, _BOS_MODE, bos)
    return tokenizer


def rendering_options(tokenizer: Any) -> tuple[dict[str, Any], str]:
    """(template variables, BOS mode) of ``tokenizer``: what :func:`set_rendering_options` attached, else none and ``single``."""
    return dict(getattr(tokenizer, _TEMPLATE_VARIABLES, {})), getattr(tokenizer, _BOS_MODE, BOS_MODES[0])


def _apply_chat_template(tokenizer: Any, conversations: Any, *, add_generation_prompt: bool) -> Any:
    """The one ``apply_chat_template`` call (text, not ids), with the tokenizer's template variables."""
    require_chat_template(tokenizer, "render")
    variables, _ = rendering_options(tokenizer)
    return tokenizer.apply_chat_template(conversations, tokenize=False, add_generation_prompt=add_generation_prompt,
                                         **variables)


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
    return _apply_chat_template(tokenizer, prompt_messages(prompt), add_generation_prompt=True)


def render_responses(tokenizer: Any, prompt: Prompt, responses: Sequence[str], *, chat: bool) -> list[str]:
    """:func:`render` of ``prompt`` with each of ``responses``, the chat template applied in one batched call."""
    if not chat:
        text = _plain_prompt(prompt)
        return [f"{text} {response}" for response in responses]
    messages = prompt_messages(prompt)
    conversations = [[*messages, {"role": "assistant", "content": response}] for response in responses]
    return _apply_chat_template(tokenizer, conversations, add_generation_prompt=False) if conversations else []


def encode(tokenizer: Any, texts: Sequence[str], *, chat: bool) -> list[list[int]]:
    """Token ids of rendered ``texts``.

    A chat template already writes the special tokens it wants (e.g. ``<bos>``), so the
    tokenizer adds them only to plain text, unless the tokenizer's BOS mode is
    ``double_as_published`` (:func:`set_rendering_options`): then to chat text too.
    """
    _, bos = rendering_options(tokenizer)
    return tokenizer(list(texts), add_special_tokens=not chat or bos == "double_as_published")["input_ids"]


def encode_rendered(tokenizer: Any, prompt: Prompt, response: str | None = None, *, chat: bool) -> list[int]:
    """Token ids of :func:`render` of one ``prompt`` (and ``response``)."""
    return encode(tokenizer, [render(tokenizer, prompt, response, chat=chat)], chat=chat)[0]
