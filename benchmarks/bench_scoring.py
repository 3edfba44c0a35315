"""Naive vs prefix-cached exhaustive token search on the same reward model and candidates.

For a Llama- and a Gemma-2-architecture reward model (random weights, demo tokenizers with the
families' chat templates) this scores every vocabulary token as a response to one prompt by
both methods and prints candidates/s of each, the speed ratio and the largest absolute
difference between the two methods' rewards. The last lines are one per architecture:
``<arch> speedup <ratio>x max_abs_diff <value>``.

CPU (default, under 3 minutes on 2 cores): ``python benchmarks/bench_scoring.py``
GPU, ~100M parameters: ``python benchmarks/bench_scoring.py --device cuda --dtype bfloat16 --hidden 1024 --layers 12``
"""

from __future__ import annotations

import argparse
import random
import string
import time

import numpy as np
import torch

from rmbias import demo
from rmbias.conversations import encode_rendered
from rmbias.models import DTYPES, ModelSpec
from rmbias.scoring import score_prompt
from rmbias.tokens import token_table

ARCHITECTURES = (("llama", "llama"), ("gemma2", "gemma"))
PROMPT = "What, in a single word, is the most terrible thing in the world? Please answer in one word only."


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    parser.add_argument("--hidden", type=int, default=512, help="hidden size of the reward models")
    parser.add_argument("--layers", type=int, default=4, help="number of decoder layers")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--words", type=int, default=600, help="random words in the vocabulary (~6 tokens each)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 keeps timings stable when other jobs share the cores")
    parser.add_argument("--prompt", default=PROMPT)
    return parser.parse_args()


def random_words(count: int, seed: int = 0) -> list[str]:
    """``count`` distinct lowercase pseudo-words of 4 to 9 letters."""
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 9))))
    return sorted(words)


def timed(function) -> tuple[float, object]:
    """Seconds taken by ``function()`` and its result."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def bench_architecture(arch: str, family: str, args: argparse.Namespace) -> tuple[float, float]:
    """Score the whole vocabulary by both methods; return (prefix speed / naive speed, max |Δ|)."""
    tokenizer = demo.build_tokenizer([*random_words(args.words), *args.prompt.split()], family)
    model = demo.tiny_model(arch, tokenizer, "reward_model", hidden_size=args.hidden, num_layers=args.layers)
    model = model.to(device=args.device, dtype=DTYPES[args.dtype])
    spec = ModelSpec.from_entry({"id": f"bench-{arch}", "hf": "(in memory)", "family": family,
                                 "kind": "reward_model", "type": "instruction-tuned", "dtype": args.dtype})
    responses = token_table(tokenizer)["decoded"].tolist()
    prefix_ids = encode_rendered(tokenizer, args.prompt, chat=spec.chat)
    full_ids = encode_rendered(tokenizer, args.prompt, responses[len(responses) // 2], chat=spec.chat)
    n_params = sum(parameter.numel() for parameter in model.parameters())
    print(f"{arch}: {n_params / 1e6:.1f}M parameters, {len(responses)} candidates, prefix {len(prefix_ids)} tokens, "
          f"suffix e.g. {len(full_ids) - len(prefix_ids)} tokens, batch {args.batch_size}, {args.device} {args.dtype}")

    def run(method: str, candidates: list[str]) -> np.ndarray:
        return score_prompt(model, tokenizer, spec, args.prompt, candidates, method, args.batch_size).rewards

    for method in ("naive", "prefix"):
        run(method, responses[:args.batch_size])  # warm-up: kernels, allocator
    naive_seconds, naive = timed(lambda: run("naive", responses))
    prefix_seconds, prefix = timed(lambda: run("prefix", responses))
    naive_rate, prefix_rate = len(responses) / naive_seconds, len(responses) / prefix_seconds
    print(f"{arch}: naive {naive_rate:.0f} candidates/s ({naive_seconds:.1f} s), "
          f"prefix {prefix_rate:.0f} candidates/s ({prefix_seconds:.1f} s)")
    return prefix_rate / naive_rate, float(np.max(np.abs(prefix - naive)))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    results = {arch: bench_architecture(arch, family, args) for arch, family in ARCHITECTURES}
    for arch, (speedup, max_abs_diff) in results.items():
        print(f"{arch} speedup {speedup:.1f}x max_abs_diff {max_abs_diff:.3g}")


if __name__ == "__main__":
    main()
