"""Reading one prompt column of a log-prob table: parquet (column projection) vs CSV (``usecols``).

Writes a 256,000-token × 54-prompt float32 table (the layout of ``results/logprobs/{model}.parquet``)
as parquet and as CSV in a temporary directory, then times reading ``decoded`` plus one prompt
column from each, and prints both times (best of ``--repeats``, seconds) and their ratio.

    python benchmarks/bench_io.py [--tokens 256000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from rmbias.io import read_parquet, write_csv, write_parquet

N_PROMPTS = 54
PROMPT = "prompt_27"


def log_prob_table(n_tokens: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic table: token_id, decoded, and N_PROMPTS float32 columns of log-softmax values."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(n_tokens, N_PROMPTS)).astype(np.float32)
    log_probs = logits - np.logaddexp.reduce(logits, axis=0, dtype=np.float64).astype(np.float32)
    columns = {f"prompt_{i}": log_probs[:, i] for i in range(N_PROMPTS)}
    return pd.DataFrame({"token_id": np.arange(n_tokens), "decoded": [f" tok{i}" for i in range(n_tokens)], **columns})


def best_time(read: Callable[[], pd.DataFrame], repeats: int) -> tuple[float, pd.DataFrame]:
    """Fastest wall time of ``repeats`` calls (seconds) and the last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = read()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=256_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    table = log_prob_table(args.tokens)
    with tempfile.TemporaryDirectory() as tmp:
        parquet_path, csv_path = Path(tmp) / "logprobs.parquet", Path(tmp) / "logprobs.csv"
        write_parquet(table, parquet_path)
        write_csv(table, csv_path)
        parquet_s, from_parquet = best_time(lambda: read_parquet(parquet_path, columns=["decoded", PROMPT]), args.repeats)
        csv_s, from_csv = best_time(
            lambda: pd.read_csv(csv_path, usecols=["decoded", PROMPT], dtype={PROMPT: np.float32}), args.repeats
        )
        sizes_mb = parquet_path.stat().st_size / 1e6, csv_path.stat().st_size / 1e6

    assert from_parquet["decoded"].equals(from_csv["decoded"]), "parquet and CSV decoded columns differ"
    print(f"table: {args.tokens:,} tokens x {N_PROMPTS} prompts, float32; parquet {sizes_mb[0]:.1f} MB, CSV {sizes_mb[1]:.1f} MB")
    print(f"read decoded + 1 prompt, best of {args.repeats}:")
    print(f"  parquet (column projection): {parquet_s:.4f} s")
    print(f"  CSV (pandas usecols):        {csv_s:.4f} s")
    print(f"  ratio CSV / parquet:         {csv_s / parquet_s:.1f}x")


if __name__ == "__main__":
    main()
