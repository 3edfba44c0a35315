"""The one renderer: what text a model sees for a prompt (and a response), and its token ids.

A prompt is plain text (one user turn) or a message list (multi-turn, as in preference data).
A :class:`Renderer` holds everything that decides the rendering of one model entry: its
tokenizer, whether it renders through the chat template (``chat``), the template's variables
(``chat_template_kwargs``, e.g. a pinned ``date_string`` for the Llama 3.x templates, which
otherwise print the day of the run) and the BOS mode (``bos``, one of :data:`BOS_MODES`:
``single``, the template's own BOS; ``double_as_published``, the tokenizer's special tokens
added to the rendered chat as well, as the authors' FAccT scoring code did, so Llama-3 and
Gemma-2 see two BOS tokens).

With ``chat`` a prompt renders through the chat template: with a response, the response is the
closing assistant turn; without one, the text ends with the generation prompt (the prefix the
assistant's answer follows). Without ``chat`` it is plain running text for pretrained models:
the prompt, then one space and the response.

Every stage renders through a :class:`Renderer`: log-probabilities, exhaustive token search,
reward-model training, the authority SFT and the demo build. A model entry's renderer comes
from :func:`rmbias.models.loading.load_renderer`; renderers over one tokenizer object render
independently of each other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from rmbias.io import InputError, read_text_utf8

Prompt = str | Sequence[Mapping[str, str]]
JINJA_TAGS = ("{{", "{%")
BOS_MODES = ("single", "double_as_published")
"""``bos`` of a model entry: the chat template's BOS only, or the published double BOS."""


def require_bos_mode(bos: str) -> None:
    """Raise an :class:`InputError` when ``bos`` is not one of :data:`BOS_MODES`."""
    if bos not in BOS_MODES:
        raise InputError(f"bos: {bos!r} is not one of {', '.join(BOS_MODES)}")


def other_bos_mode(bos: str) -> str:
    """The BOS mode of :data:`BOS_MODES` that is not ``bos`` (the reproduction check scores under both)."""
    require_bos_mode(bos)
    return next(mode for mode in BOS_MODES if mode != bos)


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


@dataclass(frozen=True)
class Renderer:
    """How one model entry renders and encodes a conversation (see the module docstring).

    ``tokenizer`` is a Hugging Face tokenizer (with the entry's chat template when ``chat``);
    ``chat_template_kwargs`` are handed to every ``apply_chat_template`` call (kept as a
    read-only copy); ``bos`` is one of :data:`BOS_MODES`.
    """

    tokenizer: Any = field(repr=False)
    chat: bool
    chat_template_kwargs: Mapping[str, Any] = field(default_factory=dict)
    bos: str = BOS_MODES[0]

    def __post_init__(self) -> None:
        require_bos_mode(self.bos)
        object.__setattr__(self, "chat_template_kwargs", MappingProxyType(dict(self.chat_template_kwargs)))

    def _apply_chat_template(self, conversations: Any, *, add_generation_prompt: bool) -> Any:
        """The one ``apply_chat_template`` call (text, not ids), with the template variables."""
        require_chat_template(self.tokenizer, "render")
        return self.tokenizer.apply_chat_template(conversations, tokenize=False,
                                                  add_generation_prompt=add_generation_prompt,
                                                  **self.chat_template_kwargs)

    def render(self, prompt: Prompt, response: str | None = None) -> str:
        """The text the model sees for ``prompt`` (and ``response``); see the module docstring."""
        if response is not None:
            return self.render_responses(prompt, [response])[0]
        if not self.chat:
            return _plain_prompt(prompt)
        return self._apply_chat_template(prompt_messages(prompt), add_generation_prompt=True)

    def render_responses(self, prompt: Prompt, responses: Sequence[str]) -> list[str]:
        """:meth:`render` of ``prompt`` with each of ``responses``, the chat template applied in one batched call."""
        if not self.chat:
            text = _plain_prompt(prompt)
            return [f"{text} {response}" for response in responses]
        messages = prompt_messages(prompt)
        conversations = [[*messages, {"role": "assistant", "content": response}] for response in responses]
        return self._apply_chat_template(conversations, add_generation_prompt=False) if conversations else []

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of rendered ``texts``, one list per text.

        A chat template already writes the special tokens it wants (e.g. ``<bos>``), so the
        tokenizer adds them only to plain text, unless ``bos`` is ``double_as_published``: then
        to chat text too.
        """
        add_special_tokens = not self.chat or self.bos == "double_as_published"
        return self.tokenizer(list(texts), add_special_tokens=add_special_tokens)["input_ids"]

    def encode_rendered(self, prompt: Prompt, response: str | None = None) -> list[int]:
        """Token ids of :meth:`render` of one ``prompt`` (and ``response``)."""
        return self.encode([self.render(prompt, response)])[0]
