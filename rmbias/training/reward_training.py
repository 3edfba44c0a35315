"""Bradley–Terry reward models trained with LoRA from a base LLM, checkpointed (paper §4.1).

The loop is written out rather than delegated to ``transformers.Trainer`` so that resuming is
exact and visible: every checkpoint is taken at an optimizer-step boundary (no pending
gradients), and the resume state holds the optimizer, scheduler, the position in the data
order (:func:`rmbias.models.lora.epoch_batches`) and the python/numpy/torch RNG states. A run killed
at any point and restarted ends with the same adapter weights as an uninterrupted run.
The base is loaded by the one loader (:func:`rmbias.models.loading.load_model`), pairs are rendered by
:mod:`rmbias.models.conversations` and padded by :mod:`rmbias.models.batching`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
import peft
import torch
import torch.nn.functional as F
import transformers

from rmbias.io import InputError, atomic_directory, write_csv, write_json
from rmbias.logs import TrainingProgress
from rmbias.models.batching import right_pad
from rmbias.models.conversations import Renderer
from rmbias.models.loading import ModelSpec, load_model, resolve_device
from rmbias.models.lora import (
    autocast,
    epoch_batches,
    lora_training_setup,
    optimizer_step,
    peak_memory_mb,
    steps_per_epoch,
    weights_dtype,
)
from rmbias.models.lora_settings import LoraTrainingConfig
from rmbias.training.preferences import read_preferences, split_pairs
from rmbias.training.settings import RewardTrainingConfig

RESUME_STATE_FILE = "training_state.pt"
METRICS_FILE = "metrics.csv"
METRICS_COLUMNS = ("step", "train_loss", "heldout_accuracy", "heldout_loss", "pairs_per_s", "peak_mem_mb")
log = logging.getLogger(__name__)


def checkpoint_steps(total_steps: int, every: int, powers_of_two: bool = True) -> list[int]:
    """Optimizer steps at which to checkpoint: 0, every multiple of ``every`` (0 = none),
    every power of two (with ``powers_of_two``), and ``total_steps`` itself — sorted, each at
    most ``total_steps``."""
    if total_steps < 0:
        raise ValueError(f"total_steps must be >= 0, got {total_steps}")
    steps = {0, total_steps}
    if every > 0:
        steps.update(range(every, total_steps + 1, every))
    power = 1
    while powers_of_two and power <= total_steps:
        steps.add(power)
        power *= 2
    return sorted(steps)


def bradley_terry_losses(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> torch.Tensor:
    """Per-pair Bradley–Terry loss −log σ(r_chosen − r_rejected); inputs and output shape (pairs,)."""
    return -F.logsigmoid(chosen_rewards - rejected_rewards)


def _pair_rewards(model, renderer: Renderer, pairs: pd.DataFrame, cfg: LoraTrainingConfig,
                  device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Rewards of the chosen and the rejected responses of ``pairs``, each shape (pairs,);
    each conversation rendered by ``renderer``."""
    sequences = [renderer.encode_rendered(prompt, response)[:cfg.max_length]
                 for column in ("chosen", "rejected") for prompt, response in zip(pairs["prompt"], pairs[column])]
    batch = right_pad(sequences, model.config.pad_token_id, device=device)
    with autocast(cfg, device):
        rewards = model(**batch).logits[:, 0].float()
    return rewards[:len(pairs)], rewards[len(pairs):]


@torch.no_grad()
def evaluate_pairs(model, renderer: Renderer, pairs: pd.DataFrame, cfg: RewardTrainingConfig,
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
        chosen, rejected = _pair_rewards(model, renderer, chunk, cfg, device)
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


def _weights_fingerprint(module: torch.nn.Module, values_per_parameter: int = 64) -> str:
    """SHA-256 of ``module``'s weights as loaded: every parameter's name, shape and dtype and
    the bytes of an evenly strided sample of up to ``values_per_parameter`` of its values.
    Exact (no floating-point reduction), so a device or a reload does not change it; a rebuilt
    or retrained model does (every trained weight moves). Moves only the samples off the device."""
    digest = hashlib.sha256()
    for name, parameter in sorted(module.named_parameters()):
        flat = parameter.detach().reshape(-1)
        sample = flat[:: max(1, flat.numel() // values_per_parameter)][:values_per_parameter]
        digest.update(f"{name}:{tuple(parameter.shape)}:{parameter.dtype}".encode())
        digest.update(sample.cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _run_signature(cfg: RewardTrainingConfig, pairs: pd.DataFrame, heldout: pd.DataFrame,
                   backbone: torch.nn.Module) -> dict[str, Any]:
    """What must match for a checkpoint of ``out_dir`` to be resumed by this run: the settings,
    the pairs and the base model's weights (``backbone``: the loaded base without its new score
    head), so that a base rebuilt at the same path is refused instead of resuming stale adapters."""
    return {"config": cfg.trained_settings(), "pairs": _pairs_fingerprint(pairs), "heldout": _pairs_fingerprint(heldout),
            "base_weights": _weights_fingerprint(backbone)}


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
        raise InputError(f"{checkpoint}: was written by a run with other settings, data or base model weights; "
                         f"delete {out_dir} to restart")
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


def _reward_step(model, renderer: Renderer, pairs: pd.DataFrame, group: list[np.ndarray], optimizer, scheduler,
                 cfg: RewardTrainingConfig, device: torch.device) -> list[float]:
    """One optimizer step over the micro-batches of ``group`` (gradients averaged over all the
    group's pairs); returns the Bradley–Terry loss of every pair (nats)."""
    n_group_pairs = sum(len(micro) for micro in group)
    pair_losses: list[float] = []
    for micro in group:
        chosen, rejected = _pair_rewards(model, renderer, pairs.iloc[micro], cfg, device)
        losses = bradley_terry_losses(chosen, rejected)
        (losses.sum() / n_group_pairs).backward()
        pair_losses.extend(losses.detach().cpu().tolist())
    optimizer_step(model, optimizer, scheduler, cfg)
    return pair_losses


def train_reward_model(base: ModelSpec, pairs: pd.DataFrame, out_dir: str | os.PathLike,
                       cfg: RewardTrainingConfig, heldout: pd.DataFrame | None = None,
                       device: str | torch.device = "auto", on_step: Callable[[int], None] | None = None) -> Path:
    """Train a Bradley–Terry LoRA reward model on ``pairs`` and checkpoint it into ``out_dir``.

    ``base`` is the :class:`ModelSpec` of a causal LM (its chat template renders the pairs
    when it is instruction-tuned, plain text otherwise); a one-output score head is added;
    ``pairs`` (and ``heldout``) have columns prompt (text or message list), chosen, rejected.
    Checkpoints ``out_dir/checkpoint-{step}/`` (a peft adapter with the score head) are written
    atomically at :func:`checkpoint_steps`; ``out_dir/metrics.csv`` gets one row per checkpoint
    (step, mean train loss since the previous checkpoint, held-out accuracy and loss, training
    pairs per second, peak memory in MiB). A run that finds a resume state in ``out_dir``
    continues from it. ``on_step(step)`` is called after every optimizer step.
    The log gets the plan (or the step the run resumes from), a progress line every
    ``cfg.log_every_steps`` optimizer steps (:class:`rmbias.logs.TrainingProgress`) and a line per
    checkpoint written (step, directory, held-out accuracy and loss).
    Returns the final checkpoint's directory.
    """
    out_dir = Path(out_dir)
    device = resolve_device(device)
    heldout = heldout if heldout is not None else pairs.iloc[:0]
    if len(pairs) == 0:
        raise InputError(f"{out_dir}: no training pairs")
    total_steps = cfg.epochs * steps_per_epoch(len(pairs), cfg.batch_size, cfg.gradient_accumulation_steps)
    schedule = set(checkpoint_steps(total_steps, cfg.checkpoint_every, cfg.checkpoint_powers_of_two))

    transformers.set_seed(cfg.seed)
    renderer, model = load_model(base, device, head="reward_model", dtype=weights_dtype(cfg, device), pad_from_tokenizer=True)
    signature = _run_signature(cfg, pairs, heldout, model.base_model)
    model, optimizer, scheduler = lora_training_setup(
        model, cfg, "SEQ_CLS", total_steps, device, modules_to_save=["score"])
    _remove_unfinished_checkpoints(out_dir)
    position, rng_states = _resume(out_dir, model, optimizer, scheduler, signature, device)
    metrics = [] if rng_states is None else _read_metrics(out_dir, position.step)
    progress = TrainingProgress(log, total_steps, cfg.log_every_steps)

    def checkpoint(at: _Position, train_losses: list[float], train_seconds: float) -> None:
        states = _rng_states()
        accuracy, heldout_loss = evaluate_pairs(model, renderer, heldout, cfg, device)
        metrics.append({
            "step": at.step,
            "train_loss": float(np.mean(train_losses)) if train_losses else math.nan,
            "heldout_accuracy": accuracy, "heldout_loss": heldout_loss,
            "pairs_per_s": len(train_losses) / train_seconds if train_seconds > 0 else math.nan,
            "peak_mem_mb": peak_memory_mb(device),
        })
        write_csv(pd.DataFrame(metrics, columns=list(METRICS_COLUMNS)), out_dir / METRICS_FILE)
        saved = _save_checkpoint(out_dir, model, optimizer, scheduler, at, signature, states)
        log.info("checkpoint step %d/%d saved to %s; held-out accuracy %.4f loss %.4f",
                 at.step, total_steps, saved, accuracy, heldout_loss)

    if rng_states is None:
        log.info("training %d pairs for %d optimizer steps (%d pairs each); checkpoints at steps %s",
                 len(pairs), total_steps, cfg.batch_size * cfg.gradient_accumulation_steps,
                 ", ".join(map(str, sorted(schedule))))
        checkpoint(position, [], 0.0)
    else:
        log.info("resuming from %s at step %d/%d", _checkpoint_dir(out_dir, position.step), position.step, total_steps)
        _restore_rng_states(rng_states)
    train_losses: list[float] = []
    train_seconds = 0.0
    for epoch in range(position.epoch, cfg.epochs):
        groups = epoch_batches(len(pairs), cfg.batch_size, cfg.gradient_accumulation_steps, cfg.seed, epoch)
        for group_index in range(position.group if epoch == position.epoch else 0, len(groups)):
            started = time.perf_counter()
            learning_rate = scheduler.get_last_lr()[0]
            step_losses = _reward_step(model, renderer, pairs, groups[group_index], optimizer, scheduler, cfg, device)
            step_seconds = time.perf_counter() - started
            train_losses += step_losses
            train_seconds += step_seconds
            position = _Position(position.step + 1, epoch, group_index + 1)
            progress.step(position.step, float(np.mean(step_losses)), len(step_losses), step_seconds, learning_rate)
            if position.step in schedule:
                checkpoint(position, train_losses, train_seconds)
                train_losses, train_seconds = [], 0.0
            if on_step is not None:
                on_step(position.step)
    return _checkpoint_dir(out_dir, total_steps)


def train_reward_model_on_file(base: ModelSpec, preference_file: str | os.PathLike, out_dir: str | os.PathLike,
                               cfg: RewardTrainingConfig, n_train: int | None, n_heldout: int,
                               device: str | torch.device = "auto") -> Path:
    """Read a Skywork / Unified-Feedback file, draw the nested ``n_train`` subset and the
    ``n_heldout`` held-out pairs with ``cfg.seed`` (:func:`~rmbias.training.preferences.split_pairs`),
    and :func:`train_reward_model` on them. Returns the final checkpoint's directory."""
    data = read_preferences(preference_file)
    train, heldout = split_pairs(data.pairs, n_train, n_heldout, cfg.seed)
    log.info("%s (%s): %d usable pairs, skipped %s; training on %d, holding out %d",
             preference_file, data.schema, len(data.pairs), data.skipped or "none", len(train), len(heldout))
    return train_reward_model(base, train, out_dir, cfg, heldout=heldout, device=device)


def write_training_run(base_entry: Mapping[str, Any], preference_file: str | os.PathLike,
                       checkpoint_dir: str | os.PathLike, settings: Mapping[str, Any], n_train: int | None,
                       n_heldout: int, manifest_path: str | os.PathLike, device: str = "auto",
                       threads: int = 1) -> None:
    """One training run of the workflow: :func:`train_reward_model_on_file` from the base's config
    entry with ``settings`` (:class:`RewardTrainingConfig` fields) on ``threads`` CPU threads, then
    a JSON manifest at ``manifest_path``: checkpoint_dir, the saved steps, the metrics file."""
    torch.set_num_threads(threads)
    final = train_reward_model_on_file(ModelSpec.from_entry(base_entry), preference_file, checkpoint_dir,
                                       RewardTrainingConfig.from_mapping(settings), n_train, n_heldout, device)
    steps = saved_checkpoint_steps(checkpoint_dir)
    log.info("final checkpoint %s; %d checkpoints", final, len(steps))
    write_json({"checkpoint_dir": str(checkpoint_dir), "steps": steps,
                "metrics": f"{checkpoint_dir}/{METRICS_FILE}"}, manifest_path)


def saved_checkpoint_steps(out_dir: str | os.PathLike) -> list[int]:
    """Steps of the finished checkpoints under ``out_dir`` (``checkpoint-{step}/``), ascending."""
    steps = [int(p.name.removeprefix("checkpoint-")) for p in Path(out_dir).glob("checkpoint-*") if p.is_dir()]
    return sorted(steps)
