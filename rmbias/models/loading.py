"""The model-access layer: config entries, the one loader, and reward reading.

A model entry (docs/architecture.md) is a dict from the config; :class:`ModelSpec` is its
validated, immutable form. Everything that depends on how a model was published (its dtype,
attention implementation, device placement, pad token, whether it uses a chat template, how
its scalar reward is read) is decided here, so that log-probabilities, exhaustive search,
training, checkpoint scoring and the authority SFT treat every model alike. An entry's
:class:`~rmbias.models.conversations.Renderer` (:func:`load_renderer`) renders its conversations;
padding lives in :mod:`rmbias.models.batching`.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
import transformers

from rmbias.config import require_pinned_revision, schema_defaults
from rmbias.io import InputError
from rmbias.models.conversations import (
    BOS_MODES,
    Renderer,
    chat_template_text,
    renders_chat,
    require_chat_template,
)

logger = logging.getLogger(__name__)

KINDS = ("causal_lm", "reward_model")
TYPES = ("pretrained", "instruction-tuned")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DEFAULT_SCORE = "logits[:, 0]"

_LOGITS_COLUMN = re.compile(r"^logits\[\s*:\s*,\s*(\d+)\s*\]$")
_ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ModelSpec:
    """One validated model entry.

    ``score`` (reward models only) is ``"logits[:, i]"`` (column ``i`` of the output logits)
    or the name of an output attribute holding the reward (e.g. ``"score"``).
    ``logprob_batch_size`` is prompts per forward pass (LLMs), ``scoring_batch_size`` candidates
    per forward pass (RMs, and checkpoints trained from this base); both default to the schema's.
    ``chat_template`` is the Jinja text that replaces the tokenizer's (the entry's inline
    template, or its file read relative to the working directory). ``gguf_file`` names a GGUF
    file inside the directory ``hf`` to load instead of a Hugging Face checkpoint; only the GGUF
    conversion (:mod:`rmbias.models.gguf`) sets it, a config entry's ``gguf`` key being its source.
    ``chat_template_kwargs`` are variables handed to the chat template at every render (e.g.
    ``{"date_string": "26 Jul 2024"}``); ``bos`` is the BOS mode of
    :data:`rmbias.models.conversations.BOS_MODES`. Both are fields of the entry's
    :class:`~rmbias.models.conversations.Renderer` (:func:`load_renderer`).
    """

    id: str
    hf: str
    revision: str | None
    family: str
    kind: str
    type: str
    dtype: str
    device_map: str | None
    trust_remote_code: bool
    score: str | None
    logprob_batch_size: int
    scoring_batch_size: int
    chat_template: str | None = None
    gguf_file: str | None = None
    chat_template_kwargs: Mapping[str, Any] = field(default_factory=dict)
    bos: str = BOS_MODES[0]

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> "ModelSpec":
        """Validate a config entry; raise :class:`InputError` naming the model id and the key."""
        model_id = entry.get("id")
        if not isinstance(model_id, str) or not model_id:
            raise InputError(f"model entry {dict(entry)!r}: 'id' must be a non-empty string")
        for key in ("hf", "family", "kind", "type"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise InputError(f"model {model_id}: '{key}' must be a non-empty string")
        _require_choice(model_id, "kind", entry["kind"], KINDS)
        _require_choice(model_id, "type", entry["type"], TYPES)
        defaults = schema_defaults("definitions", "model")
        dtype = entry.get("dtype") or defaults["dtype"]
        _require_choice(model_id, "dtype", dtype, tuple(DTYPES))
        revision = entry.get("revision")
        trust_remote_code = bool(entry.get("trust_remote_code", False))
        require_pinned_revision(entry, f"model {model_id}")
        score = None
        if entry["kind"] == "reward_model":
            score = entry.get("score") or DEFAULT_SCORE
            parse_score(model_id, score)
        batch_sizes = {key: entry.get(key, defaults[key]) for key in ("logprob_batch_size", "scoring_batch_size")}
        for key, value in batch_sizes.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"model {model_id}: '{key}' must be a positive integer, got {value!r}")
        chat_template = entry.get("chat_template")
        if chat_template is not None:
            chat_template = chat_template_text(chat_template)
        chat_template_kwargs = entry.get("chat_template_kwargs") or {}
        if not isinstance(chat_template_kwargs, Mapping):
            raise InputError(f"model {model_id}: 'chat_template_kwargs' must be a mapping of template variables")
        bos = entry.get("bos") or defaults["bos"]
        _require_choice(model_id, "bos", bos, BOS_MODES)
        return cls(
            id=model_id, hf=entry["hf"], revision=revision, family=entry["family"],
            kind=entry["kind"], type=entry["type"], dtype=dtype,
            device_map=entry.get("device_map"), trust_remote_code=trust_remote_code,
            score=score, chat_template=chat_template, chat_template_kwargs=dict(chat_template_kwargs), bos=bos,
            **batch_sizes,
        )

    @property
    def chat(self) -> bool:
        """Whether the model reads a chat template (instruction-tuned, or given ``chat_template``) or plain text."""
        return renders_chat(self.type, self.chat_template)

    @property
    def torch_dtype(self) -> torch.dtype:
        """The torch dtype the weights are loaded in."""
        return DTYPES[self.dtype]


def _require_choice(model_id: str, key: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(f"model {model_id}: '{key}' is {value!r}; expected one of {', '.join(choices)}")


def parse_score(model_id: str, score: str) -> tuple[str, int | str]:
    """Parse a ``score`` spec into ``("logits", column)`` or ``("attribute", name)``."""
    column = _LOGITS_COLUMN.match(score)
    if column:
        return "logits", int(column.group(1))
    if _ATTRIBUTE.match(score):
        return "attribute", score
    raise InputError(
        f"model {model_id}: 'score' is {score!r}; expected 'logits[:, i]' or an output attribute name such as 'score'"
    )


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → the first CUDA device when one is available, else the CPU; anything else as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _pretrained_kwargs(spec: ModelSpec) -> dict[str, Any]:
    kwargs = {"revision": spec.revision, "trust_remote_code": spec.trust_remote_code}
    if spec.gguf_file is not None:
        kwargs["gguf_file"] = spec.gguf_file
    return kwargs


def load_tokenizer(spec: ModelSpec) -> transformers.PreTrainedTokenizerBase:
    """The model's tokenizer, with the entry's ``chat_template`` when it gives one."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(spec.hf, **_pretrained_kwargs(spec))
    if spec.chat_template is not None:
        tokenizer.chat_template = spec.chat_template
    return tokenizer


def load_renderer(spec: ModelSpec) -> Renderer:
    """The entry's :class:`~rmbias.models.conversations.Renderer`: its tokenizer
    (:func:`load_tokenizer`), whether it renders through a chat template, the template's variables
    and the BOS mode. An entry that renders with a chat template must come with one."""
    tokenizer = load_tokenizer(spec)
    if spec.chat:
        require_chat_template(tokenizer, spec.id)
    return Renderer(tokenizer, chat=spec.chat, chat_template_kwargs=spec.chat_template_kwargs, bos=spec.bos)


def load_model(spec: ModelSpec, device: str | torch.device, *, head: str | None = None,
               dtype: torch.dtype | None = None, adapter: str | os.PathLike | None = None,
               pad_from_tokenizer: bool = False) -> tuple[Renderer, torch.nn.Module]:
    """(renderer, model) of ``spec``: the one place model weights are loaded; the renderer is
    :func:`load_renderer`'s.

    ``head`` is ``"causal_lm"`` or ``"reward_model"`` (a sequence classifier; default
    ``spec.kind``; a causal LM loaded as one gets a new one-output score head). Decided here
    for every stage alike: the dtype (``spec.dtype`` unless ``dtype`` is given, e.g. fp32
    trainable weights on a CPU), the attention implementation (eager for models with
    attention-logit softcapping such as Gemma-2, the only one that applies the softcap), the
    device placement (``spec.device_map`` spreads the weights, otherwise all go to ``device``),
    and the pad token: a published model keeps its config's; with ``pad_from_tokenizer`` (the
    models this workflow trains, and their checkpoints when scored) the tokenizer's pad token,
    or its end-of-sequence token when it has none, is written to the model config, where the
    reward head looks for each row's last token. ``adapter`` is a LoRA checkpoint directory
    whose adapter is merged into the weights (its saved modules, such as a trained score head,
    replace the base's). A GGUF file (``spec.gguf_file``) is dequantized into plain weights of
    ``dtype``, a dense model that ``save_pretrained`` writes as safetensors. The model is in
    eval mode; one log line records these decisions.
    """
    head = head or spec.kind
    renderer = load_renderer(spec)
    tokenizer = renderer.tokenizer
    kwargs = _pretrained_kwargs(spec)
    config = transformers.AutoConfig.from_pretrained(spec.hf, **kwargs)
    if getattr(config.get_text_config(), "attn_logit_softcapping", None):
        kwargs["attn_implementation"] = "eager"
    if spec.device_map is not None:
        kwargs["device_map"] = spec.device_map
    if head == "reward_model" and spec.kind != "reward_model":
        kwargs["num_labels"] = 1
    if spec.gguf_file is not None:
        kwargs["quantization_config"] = transformers.GgufConfig(dequantize=True)
    dtype = dtype or spec.torch_dtype
    model = _AUTO_CLASSES[head].from_pretrained(spec.hf, dtype=dtype, **kwargs)
    if pad_from_tokenizer:
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model.config.pad_token_id = tokenizer.pad_token_id
    if adapter is not None:
        import peft  # imported here: it costs seconds per job, and most jobs load no adapter

        model = peft.PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    if spec.device_map is None:
        model = model.to(resolve_device(device))
    logger.info("%s: %s", spec.id, describe_loaded(model, adapter))
    return renderer, model.eval()


_AUTO_CLASSES = {"causal_lm": transformers.AutoModelForCausalLM,
                 "reward_model": transformers.AutoModelForSequenceClassification}


def input_device(model: torch.nn.Module) -> torch.device:
    """The device a model's input ids go to: that of its first parameter (the input embedding,
    also when ``device_map`` spreads the weights)."""
    return next(model.parameters()).device


def describe_loaded(model: torch.nn.Module, adapter: str | os.PathLike | None = None) -> str:
    """How a loaded model runs: class, dtype, attention implementation, device placement, adapter."""
    placement = getattr(model, "hf_device_map", None) or str(input_device(model))
    return (f"{type(model).__name__} dtype={next(model.parameters()).dtype} "
            f"attention={model.config._attn_implementation} device={placement}"
            + (f" adapter={adapter}" if adapter is not None else ""))


def read_reward(spec: ModelSpec, outputs: Any) -> torch.Tensor:
    """The scalar reward per row, shape ``[batch]``, read from a reward model's ``outputs`` per ``spec.score``."""
    how, which = parse_score(spec.id, spec.score or DEFAULT_SCORE)
    if how == "logits":
        logits = outputs.logits
        if logits.shape[-1] <= which:
            raise InputError(f"model {spec.id}: score {spec.score!r} but the logits have {logits.shape[-1]} column(s)")
        return logits[:, which]
    reward = getattr(outputs, which, None)
    if not isinstance(reward, torch.Tensor):
        raise InputError(f"model {spec.id}: score {spec.score!r} but the model output has no tensor attribute {which!r}")
    if reward.dim() == 2 and reward.shape[1] == 1:
        reward = reward[:, 0]
    if reward.dim() != 1:
        raise InputError(f"model {spec.id}: output attribute {which!r} has shape {tuple(reward.shape)}, not [batch]")
    return reward
