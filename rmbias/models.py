"""Model entries from the config: validation, loading, prompt rendering and reward reading.

A model entry (design §2) is a dict from the config; :class:`ModelSpec` is its validated,
immutable form. Everything that depends on how a model was published (its dtype, whether it
uses a chat template, how its scalar reward is read) is decided here, so that the scoring and
log-probability code treats every model alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

import torch
import transformers

from rmbias.io import InputError

KINDS = ("causal_lm", "reward_model")
TYPES = ("pretrained", "instruction-tuned")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DEFAULT_SCORE = "logits[:, 0]"

_LOGITS_COLUMN = re.compile(r"^logits\[\s*:\s*,\s*(\d+)\s*\]$")
_ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class ModelSpec:
    """One validated model entry.

    ``score`` (reward models only) is ``"logits[:, i]"`` (column ``i`` of the output logits)
    or the name of an output attribute holding the reward (e.g. ``"score"``).
    ``batch_size`` is None when the entry leaves it to the caller.
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
    batch_size: int | None

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
        dtype = entry.get("dtype") or "float32"
        _require_choice(model_id, "dtype", dtype, tuple(DTYPES))
        revision = entry.get("revision")
        trust_remote_code = bool(entry.get("trust_remote_code", False))
        if trust_remote_code and not (isinstance(revision, str) and _COMMIT.match(revision)):
            raise InputError(
                f"model {model_id}: trust_remote_code is true but 'revision' is {revision!r}; "
                "pin it to a 40-character commit hash so the remote code cannot change"
            )
        score = None
        if entry["kind"] == "reward_model":
            score = entry.get("score") or DEFAULT_SCORE
            parse_score(model_id, score)
        batch_size = entry.get("batch_size")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise InputError(f"model {model_id}: 'batch_size' must be a positive integer, got {batch_size!r}")
        return cls(
            id=model_id, hf=entry["hf"], revision=revision, family=entry["family"],
            kind=entry["kind"], type=entry["type"], dtype=dtype,
            device_map=entry.get("device_map"), trust_remote_code=trust_remote_code,
            score=score, batch_size=batch_size,
        )

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


def prompt_texts(prompts: Mapping[str, Any]) -> dict[str, str]:
    """Prompt key → text, from either ``{key: text}`` or the ``prompts.yaml`` form ``{key: {text: ...}}``."""
    return {key: value["text"] if isinstance(value, Mapping) else value for key, value in prompts.items()}


def resolve_device(device: str) -> torch.device:
    """``"auto"`` → the first CUDA device when one is available, else the CPU; anything else as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _pretrained_kwargs(spec: ModelSpec) -> dict[str, Any]:
    return {"revision": spec.revision, "trust_remote_code": spec.trust_remote_code}


def load_tokenizer(spec: ModelSpec) -> transformers.PreTrainedTokenizerBase:
    """The model's tokenizer; an instruction-tuned entry must come with a chat template."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(spec.hf, **_pretrained_kwargs(spec))
    if spec.type == "instruction-tuned":
        _require_chat_template(tokenizer, spec)
    return tokenizer


def _require_chat_template(tokenizer: Any, spec: ModelSpec) -> None:
    if not tokenizer.chat_template:
        raise InputError(
            f"{spec.id}: tokenizer at {spec.hf} has no chat template; "
            "set type: pretrained or give a tokenizer with a template"
        )


def _load(auto_class: type, spec: ModelSpec, device: torch.device) -> torch.nn.Module:
    """Load weights in the entry's dtype, in eval mode, on ``device`` (or spread by ``device_map``).

    Models with attention-logit softcapping (Gemma-2) are loaded with eager attention, the
    only implementation that applies the softcap.
    """
    kwargs = _pretrained_kwargs(spec)
    config = transformers.AutoConfig.from_pretrained(spec.hf, **kwargs)
    if getattr(config.get_text_config(), "attn_logit_softcapping", None):
        kwargs["attn_implementation"] = "eager"
    if spec.device_map is not None:
        kwargs["device_map"] = spec.device_map
    model = auto_class.from_pretrained(spec.hf, dtype=spec.torch_dtype, **kwargs)
    if spec.device_map is None:
        model = model.to(device)
    return model.eval()


def load_causal_lm(spec: ModelSpec, device: torch.device) -> torch.nn.Module:
    """The causal language model of a ``causal_lm`` entry, ready for inference."""
    if spec.kind != "causal_lm":
        raise InputError(f"model {spec.id}: kind is {spec.kind}, not causal_lm")
    return _load(transformers.AutoModelForCausalLM, spec, device)


def load_reward_model(spec: ModelSpec, device: torch.device) -> torch.nn.Module:
    """The sequence-classification reward model of a ``reward_model`` entry, ready for inference."""
    if spec.kind != "reward_model":
        raise InputError(f"model {spec.id}: kind is {spec.kind}, not reward_model")
    return _load(transformers.AutoModelForSequenceClassification, spec, device)


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


def render(tokenizer: Any, spec: ModelSpec, prompt: str, response: str | None = None) -> str:
    """The text a model sees for ``prompt`` (and ``response``).

    Instruction-tuned models: the tokenizer's chat template with the prompt as the user turn and
    the response as the assistant turn; without a response, the generation prompt is appended.
    Pretrained models: the raw prompt, followed by one space and the response when given (the
    separator a pretrained reward model would see in plain running text).
    """
    if response is not None:
        return render_responses(tokenizer, spec, prompt, [response])[0]
    if spec.type == "pretrained":
        return prompt
    _require_chat_template(tokenizer, spec)
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)


def render_responses(tokenizer: Any, spec: ModelSpec, prompt: str, responses: list[str]) -> list[str]:
    """:func:`render` of ``prompt`` with each of ``responses``, the chat template applied in one batched call."""
    if spec.type == "pretrained":
        return [f"{prompt} {response}" for response in responses]
    _require_chat_template(tokenizer, spec)
    user = {"role": "user", "content": prompt}
    conversations = [[user, {"role": "assistant", "content": response}] for response in responses]
    return tokenizer.apply_chat_template(conversations, tokenize=False) if conversations else []


def encode(tokenizer: Any, spec: ModelSpec, texts: list[str]) -> list[list[int]]:
    """Token ids of rendered ``texts``.

    A chat template already writes the special tokens it wants (e.g. ``<bos>``), so they are
    added by the tokenizer only for pretrained models fed raw text.
    """
    return tokenizer(texts, add_special_tokens=spec.type == "pretrained")["input_ids"]
