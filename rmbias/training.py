"""LoRA training: Bradley–Terry reward models with checkpoints (paper §4.1) and the LoRA SFT
that makes the Appendix F.1 "authority" model.

Both trainers share one setup (:func:`_lora_training_setup`: LoRA adapter, AdamW, cosine
schedule with warm-up) and one precision policy (bf16 autocast with fp32 trainable weights on
GPU, fp32 on CPU).

The reward-model loop is written out rather than delegated to ``transformers.Trainer`` so
that resuming is exact and visible: the data order of each epoch is a pure function of
``(seed, epoch)``, every checkpoint is taken at an optimizer-step boundary (no pending
gradients), and the resume state holds the optimizer, scheduler, the position in the data
order and the python/numpy/torch RNG states. A run killed at any point and restarted ends
with the same adapter weights as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import math
import os
import random
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import peft
import torch
import torch.nn.functional as F
import transformers

from rmbias.io import InputError, atomic_directory, save_pretrained_atomically, write_csv
from rmbias.models import ModelSpec, load_tokenizer, resolve_device
from rmbias.preferences import read_preferences, render_conversation, split_pairs

RESUME_STATE_FILE = "training_state.pt"
METRICS_FILE = "metrics.csv"
METRICS_COLUMNS = ("step", "train_loss", "heldout_accuracy", "heldout_loss", "pairs_per_s", "peak_mem_mb")
log = logging.getLogger(__name__)

ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_PROJECTIONS = ("gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraTrainingConfig:
    """Settings shared by every LoRA run (the defaults are the SFT's; subclasses set their
    paper values). Lengths are in tokens, batch sizes in examples (pairs for reward models);
    ``gpu_dtype`` / ``cpu_dtype`` are torch dtype names; gradient checkpointing is GPU-only."""

    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ATTENTION_PROJECTIONS
    learning_rate: float = 2e-4
    warmup_ratio: float = 0.03
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


@dataclass(frozen=True)
class RewardTrainingConfig(LoraTrainingConfig):
    """Reward-model training, defaults from the paper §4.1: LoRA r 32 / alpha 64 on the
    attention projections, AdamW lr 1e-5, 3 % warm-up + cosine, 4 pairs × 4 accumulation
    steps, 2 epochs, 1024 tokens, a checkpoint every 1000 optimizer steps."""

    lora_rank: int = 32
    lora_alpha: int = 64
    learning_rate: float = 1e-5
    batch_size: int = 4
    gradient_accumulation_steps: int = 4
    epochs: int = 2
    checkpoint_every: int = 1000
    eval_batch_size: int = 16


@dataclass(frozen=True)
class SftConfig(LoraTrainingConfig):
    """LoRA SFT of Appendix F.1: rank 8 on attention and MLP projections, lr 2e-4, 50 epochs."""

    target_modules: tuple[str, ...] = ATTENTION_PROJECTIONS + MLP_PROJECTIONS
    epochs: int = 50


# ---------------------------------------------------------------------------------------------
# Pure schedule helpers


def checkpoint_steps(total_steps: int, every: int) -> list[int]:
    """Optimizer steps at which to checkpoint: 0, every multiple of ``every`` (0 = none),
    every power of two, and ``total_steps`` itself — sorted, each at most ``total_steps``."""
    if total_steps < 0:
        raise ValueError(f"total_steps must be >= 0, got {total_steps}")
    steps = {0, total_steps}
    if every > 0:
        steps.update(range(every, total_steps + 1, every))
    power = 1
    while power <= total_steps:
        steps.add(power)
        power *= 2
    return sorted(steps)


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


def bradley_terry_losses(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> torch.Tensor:
    """Per-pair Bradley–Terry loss −log σ(r_chosen − r_rejected); inputs and output shape (pairs,)."""
    return -F.logsigmoid(chosen_rewards - rejected_rewards)


# ---------------------------------------------------------------------------------------------
# Loading and shared LoRA setup


def as_model_spec(base: ModelSpec | str | os.PathLike) -> ModelSpec:
    """``base`` itself, or for a local directory an instruction-tuned float32 causal-LM spec."""
    if isinstance(base, ModelSpec):
        return base
    return ModelSpec.from_entry({"id": Path(base).name, "hf": str(base), "family": "local",
                                 "kind": "causal_lm", "type": "instruction-tuned"})


def _weights_dtype(cfg: LoraTrainingConfig, device: torch.device) -> torch.dtype:
    return getattr(torch, cfg.gpu_dtype if device.type == "cuda" else cfg.cpu_dtype)


def _autocast(cfg: LoraTrainingConfig, device: torch.device):
    """bf16 (``gpu_dtype``) autocast on GPU; nothing on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=getattr(torch, cfg.gpu_dtype))
    return contextlib.nullcontext()


def ensure_pad_token(tokenizer, model) -> None:
    """Give the tokenizer a pad token (its eos when it has none) and copy its id to the model
    config, which the sequence-classification head uses to find each row's last token."""
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id


def _load_base(spec: ModelSpec, model_class, device: torch.device, dtype: torch.dtype, **model_kwargs):
    """(tokenizer, model) of ``spec`` with a pad token, on ``device`` in ``dtype``."""
    tokenizer = load_tokenizer(spec)
    model = model_class.from_pretrained(spec.hf, revision=spec.revision, trust_remote_code=spec.trust_remote_code,
                                        dtype=dtype, **model_kwargs)
    ensure_pad_token(tokenizer, model)
    return tokenizer, model.to(device)


def _lora_training_setup(model, cfg: LoraTrainingConfig, task_type: str, total_steps: int,
                         device: torch.device, modules_to_save: Sequence[str] | None = None):
    """Wrap ``model`` in a LoRA adapter and build AdamW + cosine schedule with warm-up.

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
    scheduler = transformers.get_cosine_schedule_with_warmup(
        optimizer, num_warmup_steps=math.ceil(cfg.warmup_ratio * total_steps), num_training_steps=total_steps,
    )
    model.train()
    return model, optimizer, scheduler


def _optimizer_step(model, optimizer, scheduler, cfg: LoraTrainingConfig) -> None:
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


# ---------------------------------------------------------------------------------------------
# Reward model


def _pair_rewards(model, tokenizer, pairs: pd.DataFrame, cfg: LoraTrainingConfig,
                  device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Rewards of the chosen and the rejected responses of ``pairs``, each shape (pairs,)."""
    texts = [render_conversation(tokenizer, prompt, response)
             for column in ("chosen", "rejected") for prompt, response in zip(pairs["prompt"], pairs[column])]
    batch = tokenizer(texts, padding=True, truncation=True, max_length=cfg.max_length,
                      add_special_tokens=False, return_tensors="pt").to(device)
    with _autocast(cfg, device):
        rewards = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, 0].float()
    return rewards[:len(pairs)], rewards[len(pairs):]


@torch.no_grad()
def evaluate_pairs(model, tokenizer, pairs: pd.DataFrame, cfg: RewardTrainingConfig,
                   device: torch.device) -> tuple[float, float]:
    """(pairwise accuracy, mean Bradley–Terry loss) of ``model`` on ``pairs``; NaN when empty.
    Accuracy is the fraction of pairs with r_chosen > r_rejected (ties count as wrong)."""
    if len(pairs) == 0:
        return math.nan, math.nan
    was_training = model.training
    model.eval()
    correct, loss = 0, 0.0
    for start in range(0, len(pairs), cfg.eval_batch_size):
        chunk = pairs.iloc[start:start + cfg.eval_batch_size]
        chosen, rejected = _pair_rewards(model, tokenizer, chunk, cfg, device)
        correct += int((chosen > rejected).sum())
        loss += float(bradley_terry_losses(chosen, rejected).sum())
    model.train(was_training)
    return correct / len(pairs), loss / len(pairs)


@dataclass
class _Position:
    """Where a run stands: optimizer steps done and the next (epoch, group) to train on."""

    step: int = 0
    epoch: int = 0
    group: int = 0


def _rng_states() -> dict[str, Any]:
    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_rng_states(states: Mapping[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _pairs_fingerprint(pairs: pd.DataFrame) -> str:
    """SHA-256 of the pairs' content and order."""
    text = pairs[["prompt", "chosen", "rejected"]].map(repr)
    return hashlib.sha256(pd.util.hash_pandas_object(text, index=False).to_numpy().tobytes()).hexdigest()


def _run_signature(cfg: RewardTrainingConfig, pairs: pd.DataFrame, heldout: pd.DataFrame) -> dict[str, Any]:
    """What must match for a checkpoint of ``out_dir`` to be resumed by this run."""
    return {"config": dataclasses.asdict(cfg), "pairs": _pairs_fingerprint(pairs), "heldout": _pairs_fingerprint(heldout)}


def _checkpoint_dir(out_dir: Path, step: int) -> Path:
    return out_dir / f"checkpoint-{step}"


def _latest_resumable(out_dir: Path) -> Path | None:
    """The checkpoint with the highest step that holds a resume state, if any."""
    candidates = [p for p in out_dir.glob("checkpoint-*") if (p / RESUME_STATE_FILE).is_file()]
    return max(candidates, key=lambda p: int(p.name.split("-")[1]), default=None)


def _save_checkpoint(out_dir: Path, model, optimizer, scheduler, position: _Position,
                     signature: dict[str, Any], rng_states: dict[str, Any]) -> Path:
    """Write adapter + score head and the resume state atomically; keep the resume state only
    in the newest checkpoint (it holds the optimizer state, several times the adapter's size)."""
    previous = _latest_resumable(out_dir)
    target = _checkpoint_dir(out_dir, position.step)
    with atomic_directory(target) as tmp:
        model.save_pretrained(tmp)
        torch.save({
            "position": dataclasses.asdict(position), "signature": signature, "rng": rng_states,
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        }, tmp / RESUME_STATE_FILE)
    if previous is not None and previous != target:
        (previous / RESUME_STATE_FILE).unlink(missing_ok=True)
    return target


def _resume(out_dir: Path, model, optimizer, scheduler, signature: dict[str, Any], device: torch.device):
    """Load the newest checkpoint's weights and state into the run; returns (position, RNG
    states) or (a fresh position, None) when there is nothing to resume."""
    checkpoint = _latest_resumable(out_dir)
    if checkpoint is None:
        return _Position(), None
    state = torch.load(checkpoint / RESUME_STATE_FILE, map_location="cpu", weights_only=False)
    if state["signature"] != signature:
        raise InputError(f"{checkpoint}: was written by a run with other settings or data; delete {out_dir} to restart")
    peft.set_peft_model_state_dict(model, peft.load_peft_weights(str(checkpoint), device=str(device)))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return _Position(**state["position"]), state["rng"]


def _remove_unfinished_checkpoints(out_dir: Path) -> None:
    """Delete temporary checkpoint directories left by a run killed while writing one."""
    for leftover in out_dir.glob(".checkpoint-*.tmp*"):
        shutil.rmtree(leftover)


def _read_metrics(out_dir: Path, up_to_step: int) -> list[dict[str, float]]:
    path = out_dir / METRICS_FILE
    if not path.exists():
        return []
    frame = pd.read_csv(path)
    return frame[frame["step"] <= up_to_step].to_dict("records")


def _reward_step(model, tokenizer, pairs: pd.DataFrame, group: list[np.ndarray], optimizer, scheduler,
                 cfg: RewardTrainingConfig, device: torch.device) -> list[float]:
    """One optimizer step over the micro-batches of ``group`` (gradients averaged over all the
    group's pairs); returns the Bradley–Terry loss of every pair (nats)."""
    n_group_pairs = sum(len(micro) for micro in group)
    pair_losses: list[float] = []
    for micro in group:
        chosen, rejected = _pair_rewards(model, tokenizer, pairs.iloc[micro], cfg, device)
        losses = bradley_terry_losses(chosen, rejected)
        (losses.sum() / n_group_pairs).backward()
        pair_losses.extend(losses.detach().cpu().tolist())
    _optimizer_step(model, optimizer, scheduler, cfg)
    return pair_losses


def train_reward_model(base: ModelSpec | str | os.PathLike, pairs: pd.DataFrame, out_dir: str | os.PathLike,
                       cfg: RewardTrainingConfig, heldout: pd.DataFrame | None = None,
                       device: str | torch.device = "auto", on_step: Callable[[int], None] | None = None) -> Path:
    """Train a Bradley–Terry LoRA reward model on ``pairs`` and checkpoint it into ``out_dir``.

    ``base`` is the :class:`ModelSpec` or local directory of an instruction-tuned causal LM;
    ``pairs`` (and ``heldout``) have columns prompt (text or message list), chosen, rejected.
    Checkpoints ``out_dir/checkpoint-{step}/`` (a peft adapter with the score head) are written
    atomically at :func:`checkpoint_steps`; ``out_dir/metrics.csv`` gets one row per checkpoint
    (step, mean train loss since the previous checkpoint, held-out accuracy and loss, training
    pairs per second, peak memory in MiB). A run that finds a resume state in ``out_dir``
    continues from it. ``on_step(step)`` is called after every optimizer step.
    Returns the final checkpoint's directory.
    """
    out_dir = Path(out_dir)
    device = resolve_device(device)
    heldout = heldout if heldout is not None else pairs.iloc[:0]
    if len(pairs) == 0:
        raise InputError(f"{out_dir}: no training pairs")
    total_steps = cfg.epochs * steps_per_epoch(len(pairs), cfg.batch_size, cfg.gradient_accumulation_steps)
    schedule = set(checkpoint_steps(total_steps, cfg.checkpoint_every))

    transformers.set_seed(cfg.seed)
    tokenizer, model = _load_base(as_model_spec(base), transformers.AutoModelForSequenceClassification, device,
                                  _weights_dtype(cfg, device), num_labels=1)
    model, optimizer, scheduler = _lora_training_setup(
        model, cfg, "SEQ_CLS", total_steps, device, modules_to_save=["score"])
    signature = _run_signature(cfg, pairs, heldout)
    _remove_unfinished_checkpoints(out_dir)
    position, rng_states = _resume(out_dir, model, optimizer, scheduler, signature, device)
    metrics = [] if rng_states is None else _read_metrics(out_dir, position.step)

    def checkpoint(at: _Position, train_losses: list[float], train_seconds: float) -> None:
        states = _rng_states()
        accuracy, heldout_loss = evaluate_pairs(model, tokenizer, heldout, cfg, device)
        metrics.append({
            "step": at.step,
            "train_loss": float(np.mean(train_losses)) if train_losses else math.nan,
            "heldout_accuracy": accuracy, "heldout_loss": heldout_loss,
            "pairs_per_s": len(train_losses) / train_seconds if train_seconds > 0 else math.nan,
            "peak_mem_mb": peak_memory_mb(device),
        })
        write_csv(pd.DataFrame(metrics, columns=list(METRICS_COLUMNS)), out_dir / METRICS_FILE)
        _save_checkpoint(out_dir, model, optimizer, scheduler, at, signature, states)

    if rng_states is None:
        checkpoint(position, [], 0.0)
    else:
        _restore_rng_states(rng_states)
    train_losses: list[float] = []
    train_seconds = 0.0
    for epoch in range(position.epoch, cfg.epochs):
        groups = epoch_batches(len(pairs), cfg.batch_size, cfg.gradient_accumulation_steps, cfg.seed, epoch)
        for group_index in range(position.group if epoch == position.epoch else 0, len(groups)):
            started = time.perf_counter()
            train_losses += _reward_step(model, tokenizer, pairs, groups[group_index], optimizer, scheduler, cfg, device)
            train_seconds += time.perf_counter() - started
            position = _Position(position.step + 1, epoch, group_index + 1)
            if position.step in schedule:
                checkpoint(position, train_losses, train_seconds)
                train_losses, train_seconds = [], 0.0
            if on_step is not None:
                on_step(position.step)
    return _checkpoint_dir(out_dir, total_steps)


def train_reward_model_on_file(base: ModelSpec | str | os.PathLike, preference_file: str | os.PathLike,
                               out_dir: str | os.PathLike, cfg: RewardTrainingConfig, n_train: int | None,
                               n_heldout: int, device: str | torch.device = "auto") -> Path:
    """Read a Skywork / Unified-Feedback file, draw the nested ``n_train`` subset and the
    ``n_heldout`` held-out pairs with ``cfg.seed`` (:func:`~rmbias.preferences.split_pairs`),
    and :func:`train_reward_model` on them. Returns the final checkpoint's directory."""
    data = read_preferences(preference_file)
    train, heldout = split_pairs(data.pairs, n_train, n_heldout, cfg.seed)
    log.info("%s (%s): %d usable pairs, skipped %s; training on %d, holding out %d",
             preference_file, data.schema, len(data.pairs), data.skipped or "none", len(train), len(heldout))
    return train_reward_model(base, train, out_dir, cfg, heldout=heldout, device=device)


def load_checkpoint_model(base: ModelSpec | str | os.PathLike, checkpoint_dir: str | os.PathLike,
                          device: str | torch.device = "auto"):
    """A reward model for scoring: ``base`` as a sequence classifier (in the spec's dtype) with
    the checkpoint's LoRA adapter merged in and its trained score head; an ordinary
    ``*ForSequenceClassification`` (same forward signature, prefix caches work) in eval mode
    on ``device``. Returns (tokenizer of ``base`` with the pad token used in training, model)."""
    spec = as_model_spec(base)
    tokenizer, model = _load_base(spec, transformers.AutoModelForSequenceClassification, resolve_device(device),
                                  spec.torch_dtype, num_labels=1)
    model = peft.PeftModel.from_pretrained(model, str(checkpoint_dir)).merge_and_unload()
    return tokenizer, model.eval()


# ---------------------------------------------------------------------------------------------
# LoRA SFT (Appendix F.1)


def authority_heldout_keys(prompts: Mapping[str, Mapping[str, str]], train_keys: Sequence[str]) -> list[str]:
    """Keys of the positive prompts not used for training (paper: the other 9 of 27)."""
    unknown = [key for key in train_keys if key not in prompts]
    if unknown:
        raise InputError(f"authority SFT: train key(s) {', '.join(unknown)} are not prompt keys")
    negative = [key for key in train_keys if prompts[key]["valence"] != "positive"]
    if negative:
        raise InputError(f"authority SFT: train key(s) {', '.join(negative)} are not positive prompts")
    return [key for key, prompt in prompts.items() if prompt["valence"] == "positive" and key not in train_keys]


def authority_examples(prompts: Mapping[str, Mapping[str, str]], train_keys: Sequence[str],
                       extra_prompts: Sequence[str], words: Sequence[str]) -> pd.DataFrame:
    """SFT examples (columns prompt, response): every training prompt — the texts of
    ``train_keys`` (positive prompts of ``prompts``) plus ``extra_prompts`` — answered with every
    boosted word. Paper: (18 + 18) prompts × 10 words = 360 rows."""
    authority_heldout_keys(prompts, train_keys)
    texts = [prompts[key]["text"] for key in train_keys] + list(extra_prompts)
    return pd.DataFrame([(text, word) for text in texts for word in words], columns=["prompt", "response"])


def _sft_features(tokenizer, prompt, response: str, max_length: int) -> tuple[list[int], list[int]]:
    """(input ids, labels) of one example; labels are -100 on the prompt part, so the loss
    covers the response and the template's closing tokens only."""
    prefix = tokenizer(render_conversation(tokenizer, prompt), add_special_tokens=False)["input_ids"]
    full = tokenizer(render_conversation(tokenizer, prompt, response), add_special_tokens=False)["input_ids"]
    if full[:len(prefix)] != prefix:
        raise InputError(f"authority SFT: the chat template does not split cleanly before the response {response!r}")
    labels = [-100] * len(prefix) + full[len(prefix):]
    return full[:max_length], labels[:max_length]


def _sft_batch(features: Sequence[tuple[list[int], list[int]]], pad_id: int, device: torch.device) -> dict[str, torch.Tensor]:
    """Right-padded tensors input_ids, attention_mask, labels, each (batch, longest)."""
    width = max(len(ids) for ids, _ in features)
    input_ids = torch.full((len(features), width), pad_id, dtype=torch.long)
    labels = torch.full((len(features), width), -100, dtype=torch.long)
    attention_mask = torch.zeros((len(features), width), dtype=torch.long)
    for row, (ids, row_labels) in enumerate(features):
        input_ids[row, :len(ids)] = torch.tensor(ids)
        labels[row, :len(ids)] = torch.tensor(row_labels)
        attention_mask[row, :len(ids)] = 1
    return {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device), "labels": labels.to(device)}


def finetune_sft_lora(base: ModelSpec | str | os.PathLike, examples: pd.DataFrame, out_dir: str | os.PathLike,
                      cfg: SftConfig, device: str | torch.device = "auto") -> Path:
    """LoRA SFT of a causal LM on ``examples`` (columns prompt, response), each rendered with
    the chat template, loss on the response tokens only; writes the merged model and its
    tokenizer to ``out_dir`` in Hugging Face format (atomically). Returns ``out_dir``."""
    out_dir = Path(out_dir)
    device = resolve_device(device)
    if len(examples) == 0:
        raise InputError(f"{out_dir}: no SFT examples")
    transformers.set_seed(cfg.seed)
    tokenizer, model = _load_base(as_model_spec(base), transformers.AutoModelForCausalLM, device, _weights_dtype(cfg, device))
    features = [_sft_features(tokenizer, p, r, cfg.max_length) for p, r in zip(examples["prompt"], examples["response"])]
    total_steps = cfg.epochs * steps_per_epoch(len(features), cfg.batch_size, cfg.gradient_accumulation_steps)
    model, optimizer, scheduler = _lora_training_setup(model, cfg, "CAUSAL_LM", total_steps, device)
    for epoch in range(cfg.epochs):
        for group in epoch_batches(len(features), cfg.batch_size, cfg.gradient_accumulation_steps, cfg.seed, epoch):
            for micro in group:
                with _autocast(cfg, device):
                    loss = model(**_sft_batch([features[i] for i in micro], tokenizer.pad_token_id, device)).loss
                (loss * len(micro) / sum(len(m) for m in group)).backward()
            _optimizer_step(model, optimizer, scheduler, cfg)
    merged = model.merge_and_unload()
    save_pretrained_atomically(merged, tokenizer, out_dir)
    return out_dir


def saved_checkpoint_steps(out_dir: str | os.PathLike) -> list[int]:
    """Steps of the finished checkpoints under ``out_dir`` (``checkpoint-{step}/``), ascending."""
    steps = [int(p.name.removeprefix("checkpoint-")) for p in Path(out_dir).glob("checkpoint-*") if p.is_dir()]
    return sorted(steps)
