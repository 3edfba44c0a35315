"""Exhaustive token search: the reward of every candidate response to every prompt (design §4).

Two methods give the same numbers:

- ``naive``: one full sequence (rendered prompt + response) per candidate, batched with right
  padding; the reference implementation, as the published code does it.
- ``prefix`` (default): the rendered chat splits into a prefix P, identical for all candidates
  (everything before the response), and a suffix S(r) (the response's tokens and the closing
  template tokens). P's key/value cache is computed once per prompt; candidates are scored in
  batches that feed only S(r), right-padded, with positions continuing from |P|, an attention
  mask over prefix + suffix, and a fresh copy of the prefix cache per batch (a dynamic cache
  grows in place). Candidates whose full tokenization does not start with P's exact tokens, or
  whose suffix holds nothing but pad tokens, take the naive path.

The reward is read where the model's sequence-classification head reads it: the last token
that is not ``pad_token_id`` (a model whose pad token is its end-of-turn token is read at the
response token). :func:`reward_read_position` records which token that is.

Work is sharded by (prompt, block of candidates). Each shard is written atomically under a
name carrying a fingerprint of everything that determines its numbers, so a rerun reuses
finished shards, recomputes truncated or stale ones, and assembles the same table.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.stats
import torch
from tqdm import tqdm

from rmbias.batching import right_pad
from rmbias.config import schema_defaults
from rmbias.conversations import encode, encode_rendered, render_responses
from rmbias.io import InputError, parquet_is_complete, read_parquet, read_wide_scores, write_csv, write_parquet
from rmbias.models import ModelSpec, load_model, load_tokenizer, prompt_texts, read_reward

logger = logging.getLogger(__name__)

METHODS = ("prefix", "naive")
READ_POSITION_EXAMPLE = "Love"
"""The response rendered to find (and log) which token each reward model's head reads."""


def head_pad_token_id(spec: ModelSpec, model: torch.nn.Module) -> int:
    """The pad token id the reward head skips when it looks for the last token of a row."""
    pad_token_id = getattr(model.config.get_text_config(), "pad_token_id", None)
    if pad_token_id is None:
        raise InputError(
            f"model {spec.id}: its config has no pad_token_id, so the reward head cannot find each "
            "row's last token in a padded batch; set pad_token_id in the model's config.json"
        )
    return int(pad_token_id)


def split_suffix(prefix_ids: list[int], full_ids: list[int], pad_token_id: int) -> list[int] | None:
    """The tokens of ``full_ids`` after ``prefix_ids``, or None when ``full_ids`` does not start
    with exactly ``prefix_ids`` or the remainder holds no token other than the pad token."""
    n_prefix = len(prefix_ids)
    if full_ids[:n_prefix] != prefix_ids:
        return None
    suffix = full_ids[n_prefix:]
    if all(token == pad_token_id for token in suffix):
        return None
    return suffix


def length_sorted_batches(lengths: list[int], batch_size: int) -> list[np.ndarray]:
    """Row indices in batches of at most ``batch_size``, rows of similar length together.

    Rows are taken in stable order of length, so the batching is a deterministic function of
    the lengths and padding is kept small.
    """
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def rewards_naive(model: torch.nn.Module, spec: ModelSpec, sequences: list[list[int]], batch_size: int,
                  pad_token_id: int) -> np.ndarray:
    """Float32 reward per full token sequence, shape ``[len(sequences)]``, one forward row per sequence."""
    rewards = np.empty(len(sequences), dtype=np.float32)
    device = _device_of(model)
    for batch in length_sorted_batches([len(sequence) for sequence in sequences], batch_size):
        padded = right_pad([sequences[index] for index in batch], pad_token_id, device=device)
        outputs = model(**padded, use_cache=False)
        rewards[batch] = read_reward(spec, outputs).float().cpu().numpy()
    return rewards


@torch.no_grad()
def prefix_cache(model: torch.nn.Module, spec: ModelSpec, prefix_ids: list[int]) -> Any:
    """The key/value cache of ``prefix_ids`` (batch of one), to be copied, never extended in place."""
    input_ids = torch.tensor([prefix_ids], dtype=torch.long, device=_device_of(model))
    cache = model(input_ids=input_ids, use_cache=True).past_key_values
    if cache is None:
        raise InputError(f"model {spec.id}: returns no key/value cache; use scoring method 'naive'")
    return cache


@torch.no_grad()
def rewards_prefix(model: torch.nn.Module, spec: ModelSpec, prefix_ids: list[int], suffixes: list[list[int]],
                   batch_size: int, pad_token_id: int) -> np.ndarray:
    """Float32 reward of each ``prefix_ids + suffix``, shape ``[len(suffixes)]``, reusing the prefix's cache.

    Each batch gets its own deep copy of the prefix cache, repeated over the batch rows;
    positions continue from ``len(prefix_ids)`` and the attention mask spans prefix and suffix.
    """
    rewards = np.empty(len(suffixes), dtype=np.float32)
    if not suffixes:
        return rewards
    device = _device_of(model)
    shared_cache = prefix_cache(model, spec, prefix_ids)
    n_prefix = len(prefix_ids)
    for batch in length_sorted_batches([len(suffix) for suffix in suffixes], batch_size):
        padded = right_pad([suffixes[index] for index in batch], pad_token_id, device=device)
        input_ids, suffix_mask = padded["input_ids"], padded["attention_mask"]
        n_rows, width = input_ids.shape
        cache = copy.deepcopy(shared_cache)
        cache.batch_repeat_interleave(n_rows)
        mask = torch.cat([torch.ones((n_rows, n_prefix), dtype=torch.long, device=device), suffix_mask], dim=1)
        positions = torch.arange(n_prefix, n_prefix + width, device=device).unsqueeze(0).expand(n_rows, -1)
        outputs = model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                        past_key_values=cache, use_cache=True)
        rewards[batch] = read_reward(spec, outputs).float().cpu().numpy()
    return rewards


@dataclass(frozen=True)
class PromptScores:
    """Rewards of one prompt's candidates (float32, ``[n_candidates]``) and how many took the naive fallback."""

    rewards: np.ndarray
    n_fallback: int


def score_prompt(model: torch.nn.Module, tokenizer: Any, spec: ModelSpec, prompt: str, responses: list[str],
                 method: str, batch_size: int) -> PromptScores:
    """The reward of each response to ``prompt`` by ``method`` ("prefix" or "naive")."""
    if method not in METHODS:
        raise InputError(f"unknown scoring method {method!r}; expected one of {', '.join(METHODS)}")
    pad_token_id = head_pad_token_id(spec, model)
    full = encode(tokenizer, render_responses(tokenizer, prompt, responses, chat=spec.chat), chat=spec.chat)
    if method == "naive":
        return PromptScores(rewards_naive(model, spec, full, batch_size, pad_token_id), 0)
    prefix_ids = encode_rendered(tokenizer, prompt, chat=spec.chat)
    suffixes = [split_suffix(prefix_ids, ids, pad_token_id) for ids in full]
    clean = [index for index, suffix in enumerate(suffixes) if suffix is not None]
    fallback = [index for index, suffix in enumerate(suffixes) if suffix is None]
    rewards = np.empty(len(responses), dtype=np.float32)
    rewards[clean] = rewards_prefix(model, spec, prefix_ids, [suffixes[i] for i in clean], batch_size, pad_token_id)
    if fallback:
        rewards[fallback] = rewards_naive(model, spec, [full[i] for i in fallback], batch_size, pad_token_id)
    return PromptScores(rewards, len(fallback))


def reward_read_position(tokenizer: Any, spec: ModelSpec, pad_token_id: int, prompt: str,
                         response: str) -> dict[str, Any]:
    """Where the reward head reads ``prompt`` + ``response``: the token and how many tokens follow it.

    ``tokens_after_read`` is 0 when the head reads the sequence's last token; it is larger when
    trailing tokens equal the pad token (e.g. pad = end-of-turn: the response token is read).
    """
    ids = encode_rendered(tokenizer, prompt, response, chat=spec.chat)
    read_index = max(index for index, token in enumerate(ids) if token != pad_token_id)
    return {
        "pad_token_id": pad_token_id,
        "pad_token": tokenizer.convert_ids_to_tokens(pad_token_id),
        "read_token": tokenizer.convert_ids_to_tokens(ids[read_index]),
        "tokens_after_read": len(ids) - 1 - read_index,
        "example_response": response,
    }


@dataclass(frozen=True)
class Shard:
    """Candidates ``[start, stop)`` of one prompt, stored at ``path`` (one float32 column ``reward``)."""

    prompt_key: str
    start: int
    stop: int
    path: Path


def directory_identity(directory: str | os.PathLike) -> list[Any]:
    """Each file's name, size and modification time under ``directory`` (empty if it is no directory)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return [[str(path.relative_to(directory)), path.stat().st_size, path.stat().st_mtime_ns]
            for path in sorted(directory.rglob("*")) if path.is_file()]


def model_identity(spec: ModelSpec) -> list[Any]:
    """What determines a model's rewards besides the prompt and response: its entry's hf, revision,
    dtype, type and score, and, for a local directory, :func:`directory_identity` (so a model
    rebuilt at the same path is a different model)."""
    return [spec.hf, spec.revision, spec.dtype, spec.type, spec.score, *directory_identity(spec.hf)]


def plan_shards(shard_dir: str | os.PathLike, spec: ModelSpec, method: str, prompts: Mapping[str, str],
                responses: list[str], shard_size: int, extra_identity: Sequence[Any] = ()) -> list[Shard]:
    """Every shard of the run, prompt by prompt, block by block.

    A shard's file name holds a fingerprint of :func:`model_identity`, the method, the prompt text
    and the block's responses, so a shard left by a run with other inputs is never taken for
    this run's. ``extra_identity`` adds what else determines the rewards (e.g. a LoRA checkpoint's files).
    """
    identity = [model_identity(spec), method, *extra_identity]
    shards = []
    for prompt_key, prompt in prompts.items():
        for block, start in enumerate(range(0, len(responses), shard_size)):
            stop = min(start + shard_size, len(responses))
            content = json.dumps([identity, prompt, responses[start:stop]], ensure_ascii=True)
            fingerprint = hashlib.sha256(content.encode("ascii")).hexdigest()[:16]
            path = Path(shard_dir) / prompt_key / f"{block:06d}-{fingerprint}.parquet"
            shards.append(Shard(prompt_key, start, stop, path))
    return shards


def read_shard(shard: Shard) -> np.ndarray | None:
    """The shard's rewards, or None when its file is missing, truncated, corrupt or of the wrong length."""
    if not shard.path.exists():
        return None
    if parquet_is_complete(shard.path):
        table = read_parquet(shard.path)
        if list(table.columns) == ["reward"] and len(table) == shard.stop - shard.start:
            return table["reward"].to_numpy(dtype=np.float32)
    logger.warning("shard %s is truncated or malformed; recomputing it", shard.path)
    return None


@dataclass
class ScoringReport:
    """What a scoring run did: shards computed, reused, found corrupt; candidates on the naive fallback."""

    computed: int = 0
    reused: int = 0
    corrupt: int = 0
    fallback: int = 0
    read_position: dict[str, Any] = field(default_factory=dict)


def load_reward_model(spec: ModelSpec, device: str | torch.device) -> torch.nn.Module:
    """The reward model of a ``reward_model`` entry, by the one loader."""
    return load_model(spec, device, head="reward_model")[1]


def score_candidates(entry: Mapping[str, Any], prompts: Mapping[str, Any], candidates: pd.DataFrame,
                     shard_dir: str | os.PathLike, *, method: str = "prefix", batch_size: int | None = None,
                     shard_size: int | None = None, device: str = "auto",
                     after_shard: Callable[[Shard], None] | None = None,
                     model_loader: Callable[[str | torch.device], torch.nn.Module] | None = None,
                     extra_identity: Sequence[Any] = ()) -> tuple[pd.DataFrame, ScoringReport]:
    """Score every candidate response to every prompt with the reward model of ``entry``, by shards.

    ``candidates`` has a ``response`` column and optionally ``token_id``. Returns the wide table
    (``response``, ``token_id`` if given, one float32 column per prompt key in ``prompts``
    order, rows in ``candidates`` order) and a :class:`ScoringReport`. Finished shards under
    ``shard_dir`` are reused; the model is loaded only when a shard must be computed.
    ``after_shard`` is called with each shard right after it is written. ``model_loader`` replaces
    loading the entry's reward model (e.g. a base model with a LoRA checkpoint merged in), and
    ``extra_identity`` then names what distinguishes that model in the shard fingerprints.
    """
    if method not in METHODS:
        raise InputError(f"unknown scoring method {method!r}; expected one of {', '.join(METHODS)}")
    spec = ModelSpec.from_entry(entry)
    texts = prompt_texts(prompts)
    responses = candidates["response"].astype(str).tolist()
    tokenizer = load_tokenizer(spec)
    batch_size = batch_size or spec.scoring_batch_size
    shard_size = shard_size or schema_defaults("scoring")["shard_size"]
    report = ScoringReport()
    model: torch.nn.Module | None = None
    columns: dict[str, list[np.ndarray]] = {key: [] for key in texts}
    shards = plan_shards(shard_dir, spec, method, texts, responses, shard_size, extra_identity)
    progress = tqdm(shards, desc=spec.id, unit="shard", mininterval=5)
    for shard in progress:
        progress.set_postfix_str(shard.prompt_key, refresh=False)
        rewards = read_shard(shard)
        if rewards is not None:
            report.reused += 1
        else:
            report.corrupt += int(shard.path.exists())
            if model is None:
                model = model_loader(device) if model_loader else load_reward_model(spec, device)
                report.read_position = reward_read_position(
                    tokenizer, spec, head_pad_token_id(spec, model), texts[shard.prompt_key], READ_POSITION_EXAMPLE)
                logger.info("%s: reward head reads %s", spec.id, report.read_position)
            scores = score_prompt(model, tokenizer, spec, texts[shard.prompt_key],
                                  responses[shard.start:shard.stop], method, batch_size)
            rewards = scores.rewards
            report.fallback += scores.n_fallback
            write_parquet(pd.DataFrame({"reward": rewards}), shard.path)
            report.computed += 1
            if after_shard is not None:
                after_shard(shard)
        columns[shard.prompt_key].append(rewards)
    wide = candidates[["response", *(["token_id"] if "token_id" in candidates else [])]].reset_index(drop=True)
    scores_by_prompt = pd.DataFrame({key: np.concatenate(blocks) if blocks else np.empty(0, np.float32)
                                     for key, blocks in columns.items()})
    logger.info("%s: %s", spec.id, report)
    return pd.concat([wide, scores_by_prompt], axis=1), report


def candidates_from_table(table: pd.DataFrame, scope: str) -> pd.DataFrame:
    """Candidate responses for ``scope``: ``vocab`` takes a token table (response = decoded, token_id);
    any other scope takes a corpus table and its distinct terms, sorted (response)."""
    if scope == "vocab":
        return table[["decoded", "token_id"]].rename(columns={"decoded": "response"}).reset_index(drop=True)
    return pd.DataFrame({"response": sorted(table["term"].astype(str).unique())})


def write_rm_scores(entry: Mapping[str, Any], prompts: Mapping[str, Any], candidates_path: str | os.PathLike,
                    scope: str, out_path: str | os.PathLike, shard_dir: str | os.PathLike, *,
                    method: str = "prefix", batch_size: int | None = None, shard_size: int | None = None,
                    device: str = "auto", threads: int = 1) -> None:
    """Score the candidates of ``scope`` (read from ``candidates_path``) and write the wide table to ``out_path``."""
    torch.set_num_threads(threads)
    candidates = candidates_from_table(read_parquet(candidates_path), scope)
    wide, _ = score_candidates(entry, prompts, candidates, shard_dir, method=method, batch_size=batch_size,
                               shard_size=shard_size, device=device)
    write_parquet(wide, out_path)


def compare_scores(ours: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Per prompt column both tables share: n shared responses, Spearman rho and max |ours − published|.

    Responses are matched by their exact string (the first row of a repeated response counts);
    rows with a missing score on either side are left out of that prompt.
    """
    prompt_keys = [column for column in ours.columns if column in published.columns
                   and column not in ("response", "token_id")]
    joined = ours.drop_duplicates("response").merge(published.drop_duplicates("response"), on="response",
                                                    suffixes=("_ours", "_published"))
    rows = []
    for key in prompt_keys:
        pair = joined[[f"{key}_ours", f"{key}_published"]].astype(float).dropna()
        ours_scores, published_scores = pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy()
        rho = scipy.stats.spearmanr(ours_scores, published_scores).statistic if len(pair) > 1 else np.nan
        diff = float(np.max(np.abs(ours_scores - published_scores))) if len(pair) else np.nan
        rows.append({"prompt": key, "n": len(pair), "spearman": float(rho), "max_abs_diff": diff})
    return pd.DataFrame(rows, columns=["prompt", "n", "spearman", "max_abs_diff"])


def write_reproduction_check(ours_path: str | os.PathLike, published_path: str | os.PathLike,
                             out_path: str | os.PathLike) -> None:
    """Compare our score parquet with a published score CSV and write :func:`compare_scores` as CSV."""
    comparison = compare_scores(read_parquet(ours_path), read_wide_scores(published_path))
    logger.info("reproduction check %s vs %s: min spearman %.4f, max |diff| %.4g over %d prompts",
                ours_path, published_path, comparison["spearman"].min(), comparison["max_abs_diff"].max(),
                len(comparison))
    write_csv(comparison, out_path)
