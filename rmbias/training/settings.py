"""The settings of the workflow's two LoRA trainings, as dataclasses free of torch: Bradley–Terry
reward-model training (:class:`RewardTrainingConfig`, config key ``training.settings``,
:mod:`rmbias.training.reward_training`) and the Appendix F SFT (:class:`SftConfig`,
``authority_boost.settings``, :mod:`rmbias.training.sft`). The config is checked against their
fields when it is read (:mod:`rmbias.training.config_checks`), before the DAG is built.
"""

from __future__ import annotations

from dataclasses import dataclass

from rmbias.io import InputError
from rmbias.models.lora_settings import ATTENTION_PROJECTIONS, MLP_PROJECTIONS, LoraTrainingConfig


@dataclass(frozen=True)
class RewardTrainingConfig(LoraTrainingConfig):
    """Reward-model training, defaults from the paper §4.1: LoRA r 32 / alpha 64 on the
    attention projections, AdamW lr 1e-5, 3 % warm-up + cosine, 4 pairs × 4 accumulation
    steps, 2 epochs, 1024 tokens, a checkpoint every 1000 optimizer steps (and, with
    ``checkpoint_powers_of_two``, at every power of two: denser early checkpoints)."""

    lora_rank: int = 32
    lora_alpha: int = 64
    learning_rate: float = 1e-5
    batch_size: int = 4
    gradient_accumulation_steps: int = 4
    epochs: int = 2
    checkpoint_every: int = 1000
    checkpoint_powers_of_two: bool = True
    eval_batch_size: int = 16


@dataclass(frozen=True)
class SftConfig(LoraTrainingConfig):
    """LoRA SFT of Appendix F.1: rank 8 on attention and MLP projections, lr 2e-4, 50 epochs.

    ``max_steps`` (optimizer steps) replaces ``epochs`` when set: training stops after that
    many steps, mid-epoch if need be (the authors' script: 50 steps of 4 examples, part of one
    epoch of 360). ``loss_on``: ``response`` (the response and the template's closing tokens)
    or ``text`` (every token of the rendered example, as TRL's ``SFTTrainer`` on a formatted text)."""

    target_modules: tuple[str, ...] = ATTENTION_PROJECTIONS + MLP_PROJECTIONS
    epochs: int = 50
    max_steps: int | None = None
    loss_on: str = "response"

    def __post_init__(self):
        super().__post_init__()
        if self.loss_on not in LOSS_SPANS:
            raise InputError(f"SftConfig: loss_on must be one of {', '.join(LOSS_SPANS)}, got {self.loss_on!r}")


LOSS_SPANS = ("response", "text")
