"""What every LoRA run of the workflow shares: the data order, the adapter, optimizer and
schedule, and one precision policy (bf16 autocast with fp32 trainable weights on
GPU, fp32 on CPU). Used by Bradley–Terry reward-model training (:mod:`rmbias.training.reward_training`)
and the Appendix F SFT (:mod:`rmbias.training.sft`); their settings are
:class:`rmbias.models.lora_settings.LoraTrainingConfig`.

The data order of each epoch is a pure function of ``(seed, epoch)``, so a resumed run sees
the same batches as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import math
import resource
from typing import Sequence

import numpy as np
import peft
import torch
import transformers

from rmbias.models.lora_settings import LoraTrainingConfig


def epoch_batches(n_examples: int, batch_size: int, accumulation: int, seed: int, epoch: int) -> list[list[np.ndarray]]:
    """The optimizer steps of one epoch: a list of groups of ``accumulation`` micro-batches,
    each an array of example indices, from a permutation that depends only on (seed, epoch).
    The last micro-batch and the last group may be short."""
    order = np.random.default_rng([seed, epoch]).permutation(n_examples)
    micro = [order[i:i + batch_size] for i in range(0, n_examples, batch_size)]
    return [micro[i:i + accumulation] for i in range(0, len(micro), accumulation)]


def steps_per_epoch(n_examples: int, batch_size: int, accumulation: int) -> int:
    """Optimizer steps in one epoch of ``n_examples``."""
    return math.ceil(math.ceil(n_examples / batch_size) / accumulation)


def weights_dtype(cfg: LoraTrainingConfig, device: torch.device) -> torch.dtype:
    return getattr(torch, cfg.gpu_dtype if device.type == "cuda" else cfg.cpu_dtype)


def autocast(cfg: LoraTrainingConfig, device: torch.device):
    """``gpu_dtype`` (bf16) autocast on GPU; nothing on CPU or when ``gpu_dtype`` is float32."""
    if device.type == "cuda" and cfg.gpu_dtype != "float32":
        return torch.autocast("cuda", dtype=getattr(torch, cfg.gpu_dtype))
    return contextlib.nullcontext()


def lora_training_setup(model, cfg: LoraTrainingConfig, task_type: str, total_steps: int,
                         device: torch.device, modules_to_save: Sequence[str] | None = None):
    """Wrap ``model`` in a LoRA adapter and build AdamW + the ``lr_schedule`` with warm-up.

    Trainable weights are kept in fp32 (the frozen base may be bf16 on GPU). Gradient
    checkpointing is switched on for GPU runs when the config asks for it.
    Returns (peft model in train mode, optimizer, scheduler).
    """
    if device.type == "cuda" and cfg.gpu_gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    lora = peft.LoraConfig(
        r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.target_modules), task_type=task_type,
        modules_to_save=list(modules_to_save) if modules_to_save else None,
    )
    model = peft.get_peft_model(model, lora)
    for parameter in model.parameters():
        if parameter.requires_grad:
            parameter.data = parameter.data.float()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    warmup = cfg.warmup_steps if cfg.warmup_steps is not None else math.ceil(cfg.warmup_ratio * total_steps)
    scheduler = transformers.get_scheduler(
        cfg.lr_schedule, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps,
    )
    model.train()
    return model, optimizer, scheduler


def optimizer_step(model, optimizer, scheduler, cfg: LoraTrainingConfig) -> None:
    if cfg.max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], cfg.max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory in MiB: ``torch.cuda.max_memory_allocated`` on GPU, max RSS on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
