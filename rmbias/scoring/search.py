"""Exhaustive token search: the reward of every candidate response to every prompt (design §4).

Two methods give the same numbers:

- ``naive``: one full sequence (rendered prompt + response) per candidate, batched with right
  padding; the reference implementation, as the published code does it.
- ``prefix`` (default): the rendered chat splits into a prefix P, identical for all candidates
  (everything before the response), and a suffix S(r) (the response's tokens and the closing
  template tokens). P's keys and values are computed once per prompt and only read after that;
  candidates are scored in batches that feed only S(r), right-padded, with positions continuing
  from |P|, and attend over P by :func:`rmbias.scoring.prefix_attention.shared_prefix_attention`: P's keys and values stay one
  row (never copied per batch or per row, never extended), and the scores of every row's
  queries against them are one matrix product per key/value head. The attention implementation
  is switched to it only for those forwards, and a forward in which not every layer attended
  through it is refused (a model whose attention bypasses transformers' attention interface
  would otherwise ignore P silently). A candidate whose full tokenization does not start with
  P's exact tokens (a merge across the boundary: "\n" + " " → "\n "), or whose suffix would
  hold nothing but pad tokens, is scored on the longest start of P it shares
  (:func:`shared_length`; one more prefix forward per distinct length), and by the naive
  path only when it shares none.

Batch sizes: ``batch_size`` candidates per forward pass, or ``"auto"``: on a CUDA device the
largest that fits (a pass starts at the shard size and halves on out-of-memory), on a CPU
:data:`CPU_BATCH_SIZE`. Any out-of-memory error halves the size for the rest of the run.

The reward is read where the model's sequence-classification head reads it: the last token
that is not ``pad_token_id`` (a model whose pad token is its end-of-turn token is read at the
response token). :func:`reward_read_position` records which token that is.

Work is sharded by (prompt, block of candidates). Each shard is written atomically under a
name carrying a fingerprint of everything that determines its numbers, so a rerun reuses
finished shards, recomputes truncated or stale ones, and assembles the same table.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from rmbias.config import prompt_texts, schema_defaults
from rmbias.io import InputError, read_parquet, read_wide_scores, write_parquet
from rmbias.models.batching import right_pad
from rmbias.models.conversations import Renderer, other_bos_mode
from rmbias.models.loading import ModelSpec, input_device, load_model, load_renderer, read_reward
from rmbias.scoring.prefix_attention import SharedPrefix, attention_over_shared_prefix
from rmbias.scoring.reproduction import sample_responses
from rmbias.scoring.shards import Shard, plan_shards, read_shard

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


def shared_length(prefix_ids: Sequence[int], full_ids: Sequence[int], pad_token_id: int) -> int:
    """How many leading tokens of ``full_ids`` can be read from the cache of ``prefix_ids``: the
    length of their common start, cut so that the rest of ``full_ids`` keeps a token other than
    the pad token (the one the reward head reads)."""
    common = 0
    for prefix_token, token in zip(prefix_ids, full_ids):
        if prefix_token != token:
            break
        common += 1
    read_index = next((index for index in range(len(full_ids) - 1, -1, -1) if full_ids[index] != pad_token_id), 0)
    return min(common, read_index)


@dataclass(frozen=True)
class CandidateTokens:
    """One prompt's candidates as token ids: the rendered prompt ``prefix`` (up to the response),
    each candidate's ``full`` sequence, and how many of its leading tokens are ``shared`` with
    the prefix (:func:`shared_length`); its suffix is the rest."""

    prefix: list[int]
    full: list[list[int]]
    shared: list[int]

    def suffix(self, index: int) -> list[int]:
        return self.full[index][self.shared[index]:]

    def limit(self) -> float:
        """The FLOP ratio of a full forward per candidate to its suffix only: Σ|full| / Σ|suffix|."""
        return sum(map(len, self.full)) / sum(len(ids) - n for ids, n in zip(self.full, self.shared))


def tokenize_candidates(renderer: Renderer, prompt: str, responses: Sequence[str],
                        pad_token_id: int) -> CandidateTokens:
    """:class:`CandidateTokens` of ``responses`` to ``prompt``, rendered by ``renderer``."""
    full = renderer.encode(renderer.render_responses(prompt, responses))
    prefix = renderer.encode_rendered(prompt)
    return CandidateTokens(prefix, full, [shared_length(prefix, ids, pad_token_id) for ids in full])


class BatchSizer:
    """Candidates per forward pass, shared by every batch of a run: after an out-of-memory error
    the size halves and the smaller size is kept for the batches that follow."""

    def __init__(self, size: int):
        if size < 1:
            raise InputError(f"scoring batch size must be positive, got {size}")
        self.size = size

    @classmethod
    def resolve(cls, requested: int | str, device: torch.device, n_max: int) -> "BatchSizer":
        """``requested`` candidates per pass; ``"auto"`` is the largest that fits on a CUDA device
        (start at ``n_max``, the most one pass can hold, and back off), :data:`CPU_BATCH_SIZE` on a CPU."""
        if requested != "auto":
            return cls(int(requested))
        return cls(max(1, n_max) if device.type == "cuda" else CPU_BATCH_SIZE)

    def back_off(self) -> None:
        """Halve the size after an out-of-memory error and release the failed pass's cached blocks."""
        self.size = max(1, self.size // 2)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        logger.warning("out of memory: scoring batch size backs off to %d", self.size)


CPU_BATCH_SIZE = 256
"""Candidates per forward pass on a CPU for ``batch_size="auto"``."""


def score_in_batches(lengths: Sequence[int], batch: BatchSizer,
                     score_rows: Callable[[np.ndarray], torch.Tensor]) -> np.ndarray:
    """Float32 rewards, shape ``[len(lengths)]``: ``score_rows(rows)`` (rewards ``[len(rows)]``) over
    row batches of at most ``batch.size``, rows of similar length together, retrying a batch
    at a smaller size after an out-of-memory error.

    Rows are taken in stable order of length, so the batching is a deterministic function of
    the lengths and the batch size, and padding is kept small.
    """
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    rewards = np.empty(len(order), dtype=np.float32)
    start = 0
    while start < len(order):
        rows = order[start:start + batch.size]
        try:
            rewards[rows] = score_rows(rows).float().cpu().numpy()
        except torch.OutOfMemoryError:
            if batch.size == 1:
                raise
        else:
            start += len(rows)
            continue
        batch.back_off()  # outside the except block: the failed pass's tensors are released first
    return rewards


@torch.no_grad()
def rewards_naive(model: torch.nn.Module, spec: ModelSpec, sequences: list[list[int]], batch: BatchSizer,
                  pad_token_id: int) -> np.ndarray:
    """Float32 reward per full token sequence, shape ``[len(sequences)]``, one forward row per sequence."""
    device = input_device(model)

    def score_rows(rows: np.ndarray) -> torch.Tensor:
        padded = right_pad([sequences[index] for index in rows], pad_token_id, device=device)
        return read_reward(spec, model(**padded, use_cache=False))

    return score_in_batches([len(sequence) for sequence in sequences], batch, score_rows)


@torch.no_grad()
def prefix_cache(model: torch.nn.Module, spec: ModelSpec, prefix_ids: list[int]) -> Any:
    """The key/value cache of ``prefix_ids`` (batch of one), only read, never extended."""
    input_ids = torch.tensor([prefix_ids], dtype=torch.long, device=input_device(model))
    cache = model(input_ids=input_ids, use_cache=True).cache
    if cache is None:
        raise InputError(f"model {spec.id}: returns no key/value cache; use scoring method 'naive'")
    return cache


@torch.no_grad()
def rewards_prefix(model: torch.nn.Module, spec: ModelSpec, prefix_ids: list[int], suffixes: list[list[int]],
                   batch: BatchSizer, pad_token_id: int) -> np.ndarray:
    """Float32 reward of each ``prefix_ids + suffix``, shape ``[len(suffixes)]``, reusing the prefix's cache.

    The prefix's keys and values are computed once; each batch feeds only the right-padded
    suffixes, with positions continuing from ``len(prefix_ids)``, and attends over the prefix by
    :func:`rmbias.scoring.prefix_attention.shared_prefix_attention` (which checks that every layer did).
    """
    if not suffixes:
        return np.empty(0, dtype=np.float32)
    device = input_device(model)
    n_prefix = len(prefix_ids)
    prefix = SharedPrefix(prefix_cache(model, spec, prefix_ids), n_prefix)

    def score_rows(rows: np.ndarray) -> torch.Tensor:
        input_ids = right_pad([suffixes[index] for index in rows], pad_token_id, device=device)["input_ids"]
        n_rows, width = input_ids.shape
        positions = torch.arange(n_prefix, n_prefix + width, device=device).unsqueeze(0).expand(n_rows, -1)
        prefix.calls = 0
        outputs = model(input_ids=input_ids, position_ids=positions, use_cache=False, shared_prefix=prefix)
        if prefix.calls != len(prefix.layers):
            raise InputError(f"model {spec.id}: {prefix.calls} of its {len(prefix.layers)} attention layers "
                             "attended to the shared prefix; use scoring method 'naive'")
        return read_reward(spec, outputs)

    with attention_over_shared_prefix(model):
        return score_in_batches([len(suffix) for suffix in suffixes], batch, score_rows)


@dataclass(frozen=True)
class PromptScores:
    """Rewards of one prompt's candidates (float32, ``[n_candidates]``) and how many did not split at
    the full prefix (the fallback: a shorter shared prefix, or the naive path)."""

    rewards: np.ndarray
    n_fallback: int


def score_prompt(model: torch.nn.Module, renderer: Renderer, spec: ModelSpec, prompt: str, responses: list[str],
                 method: str, batch: BatchSizer) -> PromptScores:
    """The reward of each response to ``prompt`` (rendered by ``renderer``) by ``method`` ("prefix" or "naive")."""
    tokens = tokenize_candidates(renderer, prompt, responses, head_pad_token_id(spec, model))
    return score_tokens(model, spec, tokens, method, batch)


def score_tokens(model: torch.nn.Module, spec: ModelSpec, tokens: CandidateTokens, method: str,
                 batch: BatchSizer) -> PromptScores:
    """The reward of each candidate of ``tokens`` (one prompt's, :func:`tokenize_candidates`) by
    ``method`` ("prefix" or "naive"); rewards in candidate order, shape ``[len(tokens.full)]``."""
    if method not in METHODS:
        raise InputError(f"unknown scoring method {method!r}; expected one of {', '.join(METHODS)}")
    pad_token_id = head_pad_token_id(spec, model)
    if method == "naive":
        return PromptScores(rewards_naive(model, spec, tokens.full, batch, pad_token_id), 0)
    rewards = np.empty(len(tokens.full), dtype=np.float32)
    shared = np.asarray(tokens.shared)
    for n_shared in np.unique(shared):
        rows = np.flatnonzero(shared == n_shared)
        if n_shared == 0:
            rewards[rows] = rewards_naive(model, spec, [tokens.full[i] for i in rows], batch, pad_token_id)
        else:
            rewards[rows] = rewards_prefix(model, spec, tokens.prefix[:n_shared], [tokens.suffix(i) for i in rows],
                                           batch, pad_token_id)
    return PromptScores(rewards, int(np.sum(shared < len(tokens.prefix))))


def reward_read_position(renderer: Renderer, pad_token_id: int, prompt: str, response: str) -> dict[str, Any]:
    """Where the reward head reads ``prompt`` + ``response`` (rendered by ``renderer``): the token
    and how many tokens follow it.

    ``tokens_after_read`` is 0 when the head reads the sequence's last token; it is larger when
    trailing tokens equal the pad token (e.g. pad = end-of-turn: the response token is read).
    """
    ids = renderer.encode_rendered(prompt, response)
    read_index = max(index for index, token in enumerate(ids) if token != pad_token_id)
    return {
        "pad_token_id": pad_token_id,
        "pad_token": renderer.tokenizer.convert_ids_to_tokens(pad_token_id),
        "read_token": renderer.tokenizer.convert_ids_to_tokens(ids[read_index]),
        "tokens_after_read": len(ids) - 1 - read_index,
        "example_response": response,
    }


@dataclass
class ScoringReport:
    """What a scoring run did: shards computed, reused, found corrupt; candidates that did not split at
    the full prefix (:class:`PromptScores`); the batch size last used."""

    computed: int = 0
    reused: int = 0
    corrupt: int = 0
    fallback: int = 0
    batch_size: int | None = None
    read_position: dict[str, Any] = field(default_factory=dict)


def load_reward_model(spec: ModelSpec, device: str | torch.device) -> torch.nn.Module:
    """The reward model of a ``reward_model`` entry, by the one loader."""
    return load_model(spec, device, head="reward_model")[1]


def score_candidates(entry: Mapping[str, Any], prompts: Mapping[str, Any], candidates: pd.DataFrame,
                     shard_dir: str | os.PathLike, *, method: str = "prefix", batch_size: int | str | None = None,
                     shard_size: int | None = None, device: str = "auto",
                     after_shard: Callable[[Shard], None] | None = None,
                     model_loader: Callable[[str | torch.device], torch.nn.Module] | None = None,
                     extra_identity: Sequence[Any] = (),
                     token_cache: dict[tuple, CandidateTokens] | None = None) -> tuple[pd.DataFrame, ScoringReport]:
    """Score every candidate response to every prompt with the reward model of ``entry``, by shards.

    ``candidates`` has a ``response`` column and optionally ``token_id``. Returns the wide table
    (``response``, ``token_id`` if given, one float32 column per prompt key in ``prompts``
    order, rows in ``candidates`` order) and a :class:`ScoringReport`. Finished shards under
    ``shard_dir`` are reused; the model is loaded only when a shard must be computed.
    ``after_shard`` is called with each shard right after it is written. ``model_loader`` replaces
    loading the entry's reward model (e.g. a base model with a LoRA checkpoint merged in), and
    ``extra_identity`` then names what distinguishes that model in the shard fingerprints.
    ``token_cache`` keeps each shard's :class:`CandidateTokens` for later calls with the same
    entry, prompts and candidates (e.g. every checkpoint of one training run), which then skip
    rendering and tokenizing: on CPU the larger part of a small model's search.
    ``batch_size`` (default the entry's ``scoring_batch_size``) is candidates per forward pass or
    ``"auto"`` (:meth:`BatchSizer.resolve`); after an out-of-memory error it backs off for the rest
    of the run, and the size last used is in the report.
    """
    if method not in METHODS:
        raise InputError(f"unknown scoring method {method!r}; expected one of {', '.join(METHODS)}")
    spec = ModelSpec.from_entry(entry)
    texts = prompt_texts(prompts)
    responses = candidates["response"].astype(str).tolist()
    renderer = load_renderer(spec)
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
                batch = BatchSizer.resolve(batch_size or spec.scoring_batch_size, input_device(model), shard_size)
                report.read_position = reward_read_position(
                    renderer, head_pad_token_id(spec, model), texts[shard.prompt_key], READ_POSITION_EXAMPLE)
                logger.info("%s: reward head reads %s", spec.id, report.read_position)
            scores = score_tokens(model, spec, shard_tokens(renderer, spec, model, texts[shard.prompt_key],
                                                            responses, shard, token_cache), method, batch)
            rewards = scores.rewards
            report.fallback += scores.n_fallback
            report.batch_size = batch.size
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


def shard_tokens(renderer: Renderer, spec: ModelSpec, model: torch.nn.Module, prompt: str, responses: Sequence[str],
                 shard: Shard, token_cache: dict[tuple, CandidateTokens] | None) -> CandidateTokens:
    """:func:`tokenize_candidates` of the shard's responses to ``prompt``, from ``token_cache`` when it holds them."""
    pad_token_id = head_pad_token_id(spec, model)
    key = (prompt, shard.start, shard.stop, pad_token_id)
    if token_cache is not None and key in token_cache:
        return token_cache[key]
    tokens = tokenize_candidates(renderer, prompt, responses[shard.start:shard.stop], pad_token_id)
    if token_cache is not None:
        token_cache[key] = tokens
    return tokens


def candidates_from_table(table: pd.DataFrame, scope: str) -> pd.DataFrame:
    """Candidate responses for ``scope``: ``vocab`` takes a token table (response = decoded, token_id);
    any other scope takes a corpus table and its distinct terms, sorted (response)."""
    if scope == "vocab":
        return table[["decoded", "token_id"]].rename(columns={"decoded": "response"}).reset_index(drop=True)
    return pd.DataFrame({"response": sorted(table["term"].astype(str).unique())})


def write_rm_scores(entry: Mapping[str, Any], prompts: Mapping[str, Any], candidates_path: str | os.PathLike,
                    scope: str, out_path: str | os.PathLike, shard_dir: str | os.PathLike, *,
                    method: str = "prefix", batch_size: int | str | None = None, shard_size: int | None = None,
                    device: str = "auto", threads: int = 1) -> None:
    """Score the candidates of ``scope`` (read from ``candidates_path``) and write the wide table to ``out_path``."""
    torch.set_num_threads(threads)
    candidates = candidates_from_table(read_parquet(candidates_path), scope)
    wide, _ = score_candidates(entry, prompts, candidates, shard_dir, method=method, batch_size=batch_size,
                               shard_size=shard_size, device=device)
    write_parquet(wide, out_path)


def write_other_bos_scores(entry: Mapping[str, Any], prompts: Mapping[str, Any], published_path: str | os.PathLike,
                           n_responses: int, out_path: str | os.PathLike, shard_dir: str | os.PathLike, *,
                           method: str = "prefix", shard_size: int | None = None, device: str = "auto",
                           threads: int = 1) -> None:
    """Score ``n_responses`` of the published responses (:func:`rmbias.scoring.reproduction.sample_responses`)
    on every prompt with the RM of ``entry`` under the other BOS mode than the entry's, and write
    the wide table to ``out_path``: the reproduction check's second tokenization."""
    torch.set_num_threads(threads)
    spec = ModelSpec.from_entry(entry)
    candidates = sample_responses(read_wide_scores(published_path), n_responses)
    wide, _ = score_candidates({**entry, "bos": other_bos_mode(spec.bos)}, prompts, candidates, shard_dir,
                               method=method, shard_size=shard_size, device=device)
    write_parquet(wide, out_path)
