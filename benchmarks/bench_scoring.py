"""Naive vs prefix-cached exhaustive token search: speed against the FLOP-ratio limit, agreement, memory.

The prefix method computes only each candidate's suffix S (response + closing template tokens)
on top of a cached prompt prefix P, so its gain over one full forward per candidate is bounded
by the FLOP ratio ``limit = Σ(|P| + |S_i|) / Σ|S_i|`` over the candidates i. Every mode scores
the same candidates by both methods in one run and prints per model one line
``<name> speedup <x> limit <x> fraction_of_limit <f> max_abs_diff <d>``, plus candidates/s of
each method and the achieved FLOP/s beside this device's own matmul FLOP/s measured in the run.
The naive method scores the first ``--naive-candidates`` of them (it is the slow one); the
methods alternate for ``--rounds`` and each keeps its fastest. On a CPU the time is this
process's CPU time (``--threads 1``, the default), so other jobs on shared cores do not skew it.

Modes:

- synthetic (default): Llama- and Gemma-2-architecture reward models with random weights and
  demo tokenizers carrying the families' chat templates, over their whole (small) vocabulary.
  ``python benchmarks/bench_scoring.py``
- config entries: ``--configfile FILE --model ID`` (``--model`` repeatable), an entry of the
  config's ``models`` or ``reward_models``, validated as the workflow validates the config
  (``rules/common.smk``) and loaded as the workflow loads it (``rmbias.models.loading.load_model``):
  a ``reward_models`` entry with its own head; a ``models`` entry (a base) with a random
  one-output score head (seeded) and the tokenizer's pad token, as the RMs trained from it are
  scored; in the entry's ``dtype`` unless ``--dtype`` is given. A fixed sample of ``--candidates``
  vocabulary tokens is scored as responses to one prompt rendered by the entry's renderer (its
  chat template, ``chat_template_kwargs`` and ``bos``; the rendered prompt is printed). Relative
  ``hf`` paths are read in ``--directory``, the workflow's ``--directory``. The real-model world
  (``make run-real``) converts its GGUF models into ``runs/real/results/models/<id>``; Gemma-3-270M
  is a pretrained base whose entry gives the Gemma-3 turn format (``config/templates/gemma3.jinja``):
  ``python benchmarks/bench_scoring.py --configfile config/real.yaml --directory runs/real
  --model smollm2-135m-instruct --model gemma-3-270m``
- presets: ``--preset gemma2-27b|llama3.1-8b|gemma2-2b`` (repeatable) builds a random-weight reward
  model with the published architecture config (no download) directly on the device, and scores
  random token ids shaped like the family's chat template (prefix and suffix token counts). It
  also prints the fraction of the device's dense peak (``--peak-tflops``) and the projected
  wall time of one reward model's vocabulary × prompts job (``--project-candidates``,
  ``--project-prompts``). ``--scale tiny`` shrinks depth and width (same architecture class and
  template shape) so the code path runs on a CPU.
  GPU: ``python benchmarks/bench_scoring.py --device cuda --batch-size auto --candidates 16384
  --naive-candidates 2048 --preset gemma2-27b --preset llama3.1-8b --preset gemma2-2b``
- memory: ``--memory`` runs a vocab-scope ``score_candidates`` job of a small reward model for
  each of ``--memory-candidates`` (default 10k and 250k) in a fresh process and prints its peak
  memory (resident set on a CPU, max allocated on CUDA); the two should be about equal.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import string
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import transformers

from rmbias import demo
from rmbias.config import load_prompts, load_yaml, validate_config
from rmbias.corpora.tokens import token_table
from rmbias.io import InputError
from rmbias.models.conversations import Renderer, chat_template_text
from rmbias.models.loading import DTYPES, ModelSpec, load_model
from rmbias.scoring.search import (
    BatchSizer,
    CandidateTokens,
    head_pad_token_id,
    rewards_naive,
    rewards_prefix,
    score_candidates,
    score_prompt,
    tokenize_candidates,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURES = (("llama", "llama"), ("gemma2", "gemma"))
PROMPT = "What, in one word, is the best thing ever?"
"""The first of the paper's 54 prompts (config/prompts.yaml: best_ever_one)."""


@dataclass(frozen=True)
class Preset:
    """A published reward model's architecture and its family's template shape.

    ``config`` holds the values of the base model's published ``config.json`` (source in
    ``source``); ``prefix_tokens``/``suffix_tokens`` are the token counts of the rendered prompt
    (up to the response) and of the response plus closing template tokens for a one-token answer
    to :data:`PROMPT`; ``closing`` the closing template token ids; ``peak_tflops`` the dense bf16
    peak of an H200 (989 TFLOP/s), the GPU the projections are for.
    """

    model_type: str
    config: dict
    source: str
    prefix_tokens: int
    closing: tuple[int, ...]
    pad_token_id: int
    peak_tflops: float = 989.0

    @property
    def suffix_tokens(self) -> int:
        return 1 + len(self.closing)


GEMMA2_COMMON = {"attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0, "hidden_activation": "gelu_pytorch_tanh",
                 "max_position_embeddings": 8192, "rms_norm_eps": 1e-06, "rope_theta": 10000.0, "sliding_window": 4096,
                 "vocab_size": 256000, "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
                 "attention_bias": False}
# Gemma-2 turn format: "<bos><start_of_turn>user\n{prompt}<end_of_turn>\n<start_of_turn>model\n" is
# 21 tokens for PROMPT (counted with the Gemma-3 tokenizer, the same SentencePiece vocabulary
# plus image tokens), "{response}<end_of_turn>\n" 3; <end_of_turn> = 107, "\n" = 108, <pad> = 0.
PRESETS = {
    "gemma2-27b": Preset(
        "gemma2", {**GEMMA2_COMMON, "hidden_size": 4608, "intermediate_size": 36864, "num_hidden_layers": 46,
                   "num_attention_heads": 32, "num_key_value_heads": 16, "head_dim": 128,
                   "query_pre_attn_scalar": 144},
        "https://huggingface.co/google/gemma-2-27b-it/blob/main/config.json (base of Skywork-Reward-Gemma-2-27B)",
        prefix_tokens=21, closing=(107, 108), pad_token_id=0),
    "gemma2-2b": Preset(
        "gemma2", {**GEMMA2_COMMON, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
                   "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                   "query_pre_attn_scalar": 256},
        "https://huggingface.co/google/gemma-2-2b-it/blob/main/config.json",
        prefix_tokens=21, closing=(107, 108), pad_token_id=0),
    # Llama-3.1 template: "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting
    # Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user
    # <|end_header_id|>\n\n{prompt}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" is
    # 55 tokens for PROMPT, "{response}<|eot_id|>" 2; <|eot_id|> = 128009, the pad token
    # <|finetune_right_pad_id|> = 128004.
    "llama3.1-8b": Preset(
        "llama", {"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                  "num_key_value_heads": 8, "head_dim": 128, "hidden_act": "silu", "max_position_embeddings": 131072,
                  "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "vocab_size": 128256, "attention_bias": False,
                  "mlp_bias": False, "tie_word_embeddings": False, "bos_token_id": 128000,
                  "eos_token_id": [128001, 128008, 128009], "pad_token_id": 128004,
                  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                   "original_max_position_embeddings": 8192, "rope_type": "llama3"}},
        "https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/blob/main/config.json "
        "(base of Skywork-Reward-Llama-3.1-8B)",
        prefix_tokens=55, closing=(128009,), pad_token_id=128004),
}
TINY_SCALE = {"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
              "num_key_value_heads": 2, "head_dim": 16, "query_pre_attn_scalar": 16}
"""``--scale tiny``: depth and width for a CPU run of a preset's code path (vocabulary and template kept)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, choices=sorted(DTYPES),
                        help="default float32, bfloat16 for presets, the entry's for --model")
    parser.add_argument("--configfile", default=None, help="config-entry mode: a workflow config")
    parser.add_argument("--model", action="append", default=[], help="config-entry mode: id of a model entry of --configfile")
    parser.add_argument("--directory", default=".", help="config-entry mode: where the workflow ran (its relative hf paths)")
    parser.add_argument("--preset", action="append", default=[], choices=sorted(PRESETS))
    parser.add_argument("--scale", default="full", choices=("full", "tiny"))
    parser.add_argument("--memory", action="store_true", help="memory mode")
    parser.add_argument("--memory-candidates", type=int, nargs="+", default=[10_000, 250_000])
    parser.add_argument("--candidates", type=int, default=512,
                        help="real templates: vocabulary sample size; presets: candidates scored by the prefix method")
    parser.add_argument("--naive-candidates", type=int, default=128,
                        help="the first this many candidates are also scored by the naive method")
    parser.add_argument("--rounds", type=int, default=2, help="alternating timing rounds; each method keeps its best")
    parser.add_argument("--peak-tflops", type=float, default=None, help="dense peak of the device (preset default: H200)")
    parser.add_argument("--project-candidates", type=int, default=256_000)
    parser.add_argument("--project-prompts", type=int, default=54)
    parser.add_argument("--hidden", type=int, default=512, help="synthetic: hidden size of the reward models")
    parser.add_argument("--layers", type=int, default=4, help="synthetic: number of decoder layers")
    parser.add_argument("--batch-size", default="256", help="candidates per forward pass, or 'auto'")
    parser.add_argument("--words", type=int, default=600, help="synthetic: random words in the vocabulary")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 keeps timings stable when other jobs share the cores")
    parser.add_argument("--prompt", default=PROMPT)
    args = parser.parse_args(argv)
    if bool(args.model) != (args.configfile is not None):
        parser.error("--model and --configfile go together")
    return args


def random_words(count: int, seed: int = 0) -> list[str]:
    """``count`` distinct lowercase pseudo-words of 4 to 9 letters."""
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 9))))
    return sorted(words)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function: Callable[[], object], device: torch.device) -> tuple[float, object]:
    """Seconds taken by ``function()`` and its result: on a CPU this process's CPU time (other jobs
    on shared cores do not count; run with ``--threads 1``), on a GPU wall time to completion."""
    clock = time.process_time if device.type == "cpu" else time.perf_counter
    synchronize(device)
    start = clock()
    result = function()
    synchronize(device)
    return clock() - start, result


def matmul_flops_per_second(device: torch.device, dtype: torch.dtype, size: int, repeats: int = 5) -> float:
    """This device's dense matmul throughput in FLOP/s: ``size × size`` products in ``dtype``, best of ``repeats``."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    best = min(timed(lambda: a @ b, device)[0] for _ in range(repeats))
    return 2 * size ** 3 / best


def linear_parameters(model: torch.nn.Module) -> int:
    """Weights of every ``nn.Linear`` (the projections and the score head): 2 FLOP each per token."""
    return sum(module.weight.numel() for module in model.modules() if isinstance(module, torch.nn.Linear))


def forward_flops(model: torch.nn.Module, context: int, n_new: int) -> float:
    """FLOP of ``n_new`` tokens attending to ``context`` earlier ones and themselves (causal):
    the linear layers (2 per weight per token) plus attention scores and mixing (4 per head
    dimension per key per query per layer)."""
    config = model.config.get_text_config()
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    keys = n_new * context + n_new * (n_new + 1) / 2
    return 2 * linear_parameters(model) * n_new + 4 * config.num_hidden_layers * config.num_attention_heads * head_dim * keys


@dataclass(frozen=True)
class Comparison:
    """Both methods on the same candidates: seconds, candidates, FLOP, the largest |Δ reward|, and
    the model's dtype (the matmul it is set beside runs in it)."""

    name: str
    dtype: torch.dtype
    n_naive: int
    n_prefix: int
    naive_seconds: float
    prefix_seconds: float
    naive_flops: float
    prefix_flops: float
    limit: float
    max_abs_diff: float

    @property
    def naive_rate(self) -> float:
        return self.n_naive / self.naive_seconds

    @property
    def prefix_rate(self) -> float:
        return self.n_prefix / self.prefix_seconds

    @property
    def speedup(self) -> float:
        return self.prefix_rate / self.naive_rate

    def lines(self, matmul_flops: float, peak_flops: float | None = None) -> list[str]:
        """The report: rates, achieved FLOP/s against the measured matmul (and the peak), the summary line."""
        naive_achieved, prefix_achieved = self.naive_flops / self.naive_seconds, self.prefix_flops / self.prefix_seconds
        lines = [
            (f"{self.name}: naive {self.naive_rate:.1f} candidates/s ({self.naive_seconds:.3g} s), "
             f"prefix {self.prefix_rate:.1f} candidates/s ({self.prefix_seconds:.3g} s)"),
            (f"{self.name}: achieved naive {naive_achieved / 1e9:.1f} GFLOP/s ({naive_achieved / matmul_flops:.2f} of "
             f"matmul), prefix {prefix_achieved / 1e9:.1f} GFLOP/s ({prefix_achieved / matmul_flops:.2f} of matmul); "
             f"matmul {matmul_flops / 1e9:.1f} GFLOP/s"),
        ]
        if peak_flops:
            lines.append(f"{self.name}: prefix {prefix_achieved / 1e12:.1f} TFLOP/s = "
                         f"{prefix_achieved / peak_flops:.3f} of peak {peak_flops / 1e12:.0f} TFLOP/s, "
                         f"naive {naive_achieved / peak_flops:.3f} of peak")
        lines.append(f"{self.name} speedup {self.speedup:.2f}x limit {self.limit:.2f}x "
                     f"fraction_of_limit {self.speedup / self.limit:.3f} max_abs_diff {self.max_abs_diff:.3g}")
        return lines


def token_flops(model: torch.nn.Module, tokens: CandidateTokens) -> tuple[float, float]:
    """(naive FLOP, prefix-method FLOP) of scoring every candidate of ``tokens``: a full forward
    each, or only each suffix on top of the cached tokens it shares with the prefix."""
    naive = sum(forward_flops(model, 0, len(ids)) for ids in tokens.full)
    cached = sum(forward_flops(model, n, len(ids) - n) for ids, n in zip(tokens.full, tokens.shared))
    return naive, cached


def compare_methods(name: str, model: torch.nn.Module, tokens: CandidateTokens,
                    run: Callable[[str, int], np.ndarray], n_naive: int, rounds: int) -> Comparison:
    """Time ``run(method, n)`` (rewards of the first n candidates of ``tokens``) by both methods,
    each after a warm-up; the prefix method scores all candidates, the naive one the first
    ``n_naive``. The methods alternate for ``rounds`` rounds and each keeps its fastest, so load
    from other jobs on shared cores slows both alike or neither."""
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    n_params = sum(parameter.numel() for parameter in model.parameters())
    n_prefix = len(tokens.full)
    lengths = sorted({len(ids) - n for ids, n in zip(tokens.full, tokens.shared)})
    n_split = sum(n == len(tokens.prefix) for n in tokens.shared)
    print(f"{name}: {type(model).__name__} {n_params / 1e6:.1f}M parameters, {device} {dtype}, "
          f"{n_prefix} candidates ({n_split} split at the prefix), prefix {len(tokens.prefix)} tokens, "
          f"suffix lengths {lengths}")
    for method in ("naive", "prefix"):
        run(method, min(n_naive, 16))
    naive_times, prefix_times = [], []
    for _ in range(rounds):
        seconds, naive = timed(lambda: run("naive", n_naive), device)
        naive_times.append(seconds)
        seconds, prefix = timed(lambda: run("prefix", n_prefix), device)
        prefix_times.append(seconds)
    naive_seconds, prefix_seconds = min(naive_times), min(prefix_times)
    print(f"{name}: rewards range {float(np.min(prefix)):.4g} .. {float(np.max(prefix)):.4g}")
    naive_flops, prefix_flops = token_flops(model, tokens)
    return Comparison(name, dtype, n_naive, n_prefix, naive_seconds, prefix_seconds, naive_flops * n_naive / n_prefix,
                      prefix_flops, tokens.limit(), float(np.max(np.abs(prefix[:n_naive] - naive))))


def bench_responses(name: str, model: torch.nn.Module, renderer: Renderer, spec: ModelSpec, responses: list[str],
                    args: argparse.Namespace) -> Comparison:
    """Both methods of the engine (:func:`score_prompt`, rendering by ``renderer`` included) on
    ``responses`` to the prompt, which is printed as rendered."""
    print(f"{name}: prompt renders as {renderer.render(args.prompt)!r}")
    pad_token_id = head_pad_token_id(spec, model)
    tokens = tokenize_candidates(renderer, args.prompt, responses, pad_token_id)
    batch = BatchSizer.resolve(args.batch_size, next(model.parameters()).device, len(responses))

    def run(method: str, n: int) -> np.ndarray:
        return score_prompt(model, renderer, spec, args.prompt, responses[:n], method, batch).rewards

    return compare_methods(name, model, tokens, run, min(args.naive_candidates, len(responses)), args.rounds)


def bench_synthetic(arch: str, family: str, args: argparse.Namespace) -> Comparison:
    """Every token of a demo vocabulary, scored by a random Llama- or Gemma-2-architecture reward model."""
    tokenizer = demo.build_tokenizer([*random_words(args.words), *args.prompt.split()], family)
    model = demo.tiny_model(arch, tokenizer, "reward_model", hidden_size=args.hidden, num_layers=args.layers)
    model = model.to(device=args.device, dtype=DTYPES[args.dtype or "float32"])
    spec = ModelSpec.from_entry({"id": f"bench-{arch}", "hf": "(in memory)", "family": family,
                                 "kind": "reward_model", "type": "instruction-tuned"})
    return bench_responses(arch, model, Renderer(tokenizer, chat=spec.chat), spec,
                           token_table(tokenizer)["decoded"].tolist(), args)


def vocabulary_sample(tokenizer, size: int, seed: int = 0) -> list[str]:
    """``size`` decoded vocabulary tokens drawn without replacement (fixed seed), in vocabulary order."""
    decoded = token_table(tokenizer)["decoded"].tolist()
    picks = np.sort(np.random.default_rng(seed).choice(len(decoded), size=min(size, len(decoded)), replace=False))
    return [decoded[index] for index in picks]


def config_entry(configfile: str, model_id: str, directory: str = ".") -> dict:
    """The entry ``model_id`` of the config's ``models`` or ``reward_models``, after the validation
    the workflow runs (``rules/common.smk``: schema, defaults, cross-references, the
    ``chat_template`` file read from the repository root); a relative ``hf`` that exists in
    ``directory`` (the workflow's ``--directory``) is read from there."""
    config = load_yaml(configfile)
    prompts = load_prompts(REPO_ROOT / "config" / "prompts.yaml", load_yaml(REPO_ROOT / "config" / "prompts_schema.yaml"))
    validate_config(config, load_yaml(REPO_ROOT / "config" / "schema.yaml"), prompts)
    entries = {entry["id"]: entry for entry in [*config["models"], *config["reward_models"]]}
    if model_id not in entries:
        raise InputError(f"{configfile}: no model {model_id!r} in models or reward_models")
    entry = dict(entries[model_id])
    if entry.get("chat_template") is not None:
        entry["chat_template"] = chat_template_text(entry["chat_template"], REPO_ROOT)
    local = Path(directory) / entry["hf"]
    if local.exists():
        entry["hf"] = str(local)
    return entry


def bench_config_model(entry: dict, args: argparse.Namespace) -> Comparison:
    """A config entry's model loaded as the workflow scores it (a base with a random score head,
    seeded, and the tokenizer's pad token), rendered by its renderer, on a vocabulary sample."""
    spec = ModelSpec.from_entry(entry)
    torch.manual_seed(0)
    renderer, model = load_model(spec, args.device, head="reward_model", dtype=DTYPES[args.dtype] if args.dtype else None,
                                 pad_from_tokenizer=spec.kind != "reward_model")
    return bench_responses(spec.id, model, renderer, spec, vocabulary_sample(renderer.tokenizer, args.candidates), args)


def preset_model(preset: Preset, scale: str, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """A random-weight sequence classifier (one output) of ``preset``'s architecture, built on ``device``."""
    values = {**preset.config, **(TINY_SCALE if scale == "tiny" else {}), "num_labels": 1}
    config = transformers.AutoConfig.for_model(preset.model_type, **values)
    attention = "eager" if getattr(config, "attn_logit_softcapping", None) else "sdpa"
    torch.manual_seed(0)
    with torch.device(device):
        model = transformers.AutoModelForSequenceClassification.from_config(config, dtype=dtype,
                                                                           attn_implementation=attention)
    return model.eval()


def preset_tokens(preset: Preset, n_candidates: int, seed: int = 0) -> CandidateTokens:
    """A random prefix of the preset's length and one suffix per candidate token: the token, then the closing tokens."""
    rng = np.random.default_rng(seed)
    vocab = preset.config["vocab_size"]
    reserved = {preset.pad_token_id, *preset.closing}
    draws = [int(token) for token in rng.integers(1000, vocab, size=preset.prefix_tokens + n_candidates)
             if int(token) not in reserved]
    prefix, candidates = draws[:preset.prefix_tokens], draws[preset.prefix_tokens:]
    full = [[*prefix, token, *preset.closing] for token in candidates]
    return CandidateTokens(prefix, full, [len(prefix)] * len(full))


def bench_preset(name: str, args: argparse.Namespace) -> list[str]:
    """The preset's comparison lines and its projected job time."""
    preset = PRESETS[name]
    device = torch.device(args.device)
    dtype = DTYPES[args.dtype or "bfloat16"]
    model = preset_model(preset, args.scale, device, dtype)
    spec = ModelSpec.from_entry({"id": name, "hf": "(in memory)", "family": preset.model_type,
                                 "kind": "reward_model", "type": "instruction-tuned", "dtype": str(dtype).split(".")[1]})
    print(f"{name}: {preset.source}, scale {args.scale}")
    tokens = preset_tokens(preset, args.candidates)
    batch = BatchSizer.resolve(args.batch_size, device, len(tokens.full))

    def run(method: str, n: int) -> np.ndarray:
        if method == "naive":
            return rewards_naive(model, spec, tokens.full[:n], batch, preset.pad_token_id)
        return rewards_prefix(model, spec, tokens.prefix, [tokens.suffix(i) for i in range(n)], batch,
                              preset.pad_token_id)

    comparison = compare_methods(name, model, tokens, run, min(args.naive_candidates, len(tokens.full)), args.rounds)
    print(f"{name}: batch size {batch.size}")
    matmul = matmul_flops_per_second(device, dtype, 4096 if device.type == "cuda" else 1024)
    peak = (args.peak_tflops or preset.peak_tflops) * 1e12
    job = args.project_candidates * args.project_prompts
    lines = comparison.lines(matmul, peak)
    lines.append(f"{name}: projected {args.project_candidates} candidates x {args.project_prompts} prompts: "
                 f"prefix {job / comparison.prefix_rate / 3600:.2f} h, naive {job / comparison.naive_rate / 3600:.2f} h")
    return lines


def memory_job(n_candidates: int, device: str, batch_size: str) -> float:
    """Peak memory in MiB of a vocab-scope ``score_candidates`` job over ``n_candidates`` (run in a fresh process)."""
    torch.set_num_threads(1)
    tokenizer = demo.build_tokenizer([*random_words(600), *PROMPT.split()], "llama")
    with tempfile.TemporaryDirectory() as tmp:
        model = demo.tiny_model("llama", tokenizer, "reward_model", hidden_size=64, num_layers=2)
        model.save_pretrained(Path(tmp) / "rm")
        tokenizer.save_pretrained(Path(tmp) / "rm")
        entry = {"id": "memory-rm", "hf": str(Path(tmp) / "rm"), "family": "llama", "kind": "reward_model",
                 "type": "instruction-tuned"}
        table = token_table(tokenizer)
        rows = np.arange(n_candidates) % len(table)
        candidates = pd.DataFrame({"response": table["decoded"].to_numpy()[rows],
                                   "token_id": table["token_id"].to_numpy()[rows]})
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        score_candidates(entry, {"p": PROMPT}, candidates, Path(tmp) / "shards", device=device, batch_size=batch_size)
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_memory(args: argparse.Namespace) -> list[str]:
    """Peak memory of one vocab-scope job per candidate count, each in its own process."""
    context = multiprocessing.get_context("spawn")
    what = "cuda max allocated" if args.device.startswith("cuda") else "peak RSS"
    peaks = {}
    for n_candidates in args.memory_candidates:
        with context.Pool(1) as pool:
            peaks[n_candidates] = pool.apply(memory_job, (n_candidates, args.device, args.batch_size))
    smallest = min(args.memory_candidates)
    return [f"memory {n} candidates: {what} {mib:.0f} MiB ({mib / peaks[smallest]:.2f}x of {smallest})"
            for n, mib in peaks.items()]


def main(argv: list[str] | None = None) -> list[str]:
    """Run the chosen mode; print and return its report lines."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    lines: list[str] = []
    if args.memory:
        lines += bench_memory(args)
    for name in args.preset:
        lines += bench_preset(name, args)
    if args.model or not (args.memory or args.preset):
        device = torch.device(args.device)
        comparisons = ([bench_config_model(config_entry(args.configfile, model_id, args.directory), args)
                        for model_id in args.model] if args.model
                       else [bench_synthetic(arch, family, args) for arch, family in ARCHITECTURES])
        matmul = {dtype: matmul_flops_per_second(device, dtype, 1024) for dtype in {c.dtype for c in comparisons}}
        for comparison in comparisons:
            lines += comparison.lines(matmul[comparison.dtype])
    for line in lines:
        print(line)
    return lines


if __name__ == "__main__":
    try:
        main()
    except InputError as err:
        sys.exit(f"bench_scoring: {err}")
