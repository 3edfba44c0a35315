"""The settings every LoRA run of the workflow shares (:class:`LoraTrainingConfig`), apart from
the code that trains with them (:mod:`rmbias.models.lora`): the config is checked against these
fields when it is read, before the DAG is built, without importing torch, transformers or peft.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from rmbias.io import InputError

ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_PROJECTIONS = ("gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraTrainingConfig:
    """Settings shared by every LoRA run (the defaults are the SFT's; subclasses set their
    paper values). Lengths are in tokens, batch sizes in examples (pairs for reward models);
    ``lr_schedule`` is a :func:`transformers.get_scheduler` name (``cosine``, ``linear``, ...);
    ``warmup_steps`` (optimizer steps) replaces ``warmup_ratio`` (of all steps) when set;
    ``gpu_dtype`` / ``cpu_dtype`` are torch dtype names; gradient checkpointing is GPU-only.
    ``log_every_steps`` (>= 1) is how often the run logs a progress line
    (:class:`rmbias.logs.TrainingProgress`); it changes the log only, not the trained weights
    (:meth:`trained_settings`)."""

    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ATTENTION_PROJECTIONS
    learning_rate: float = 2e-4
    lr_schedule: str = "cosine"
    warmup_ratio: float = 0.03
    warmup_steps: int | None = None
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    epochs: int = 1
    max_length: int = 1024
    seed: int = 42
    gpu_dtype: str = "bfloat16"
    cpu_dtype: str = "float32"
    gpu_gradient_checkpointing: bool = True
    log_every_steps: int = 10

    def __post_init__(self):
        if self.log_every_steps < 1:
            raise InputError(f"{type(self).__name__}: log_every_steps must be at least 1, got {self.log_every_steps}")

    def trained_settings(self) -> dict[str, Any]:
        """The settings that determine the trained weights: every field but ``log_every_steps``."""
        return {name: value for name, value in dataclasses.asdict(self).items() if name != "log_every_steps"}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]):
        """Build from a config mapping; unknown keys are an :class:`InputError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InputError(f"{cls.__name__}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        settings = dict(values)
        if "target_modules" in settings:
            settings["target_modules"] = tuple(settings["target_modules"])
        return cls(**settings)
