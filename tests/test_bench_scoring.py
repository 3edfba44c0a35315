"""The scoring benchmark's GPU presets and memory mode run on a CPU at a reduced size."""

import importlib
import re
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = str(Path(__file__).resolve().parents[1] / "benchmarks")


@pytest.fixture(scope="module")
def bench():
    """The benchmark module, importable by name (the memory mode's spawned processes import it)."""
    sys.path.insert(0, BENCHMARKS)
    yield importlib.import_module("bench_scoring")
    sys.path.remove(BENCHMARKS)


def summary(lines, name):
    """The numbers of ``<name> speedup <x>x limit <x>x fraction_of_limit <f> max_abs_diff <d>``."""
    [line] = [line for line in lines if line.startswith(f"{name} speedup")]
    speedup, limit, fraction, diff = re.fullmatch(
        rf"{name} speedup (\S+)x limit (\S+)x fraction_of_limit (\S+) max_abs_diff (\S+)", line).groups()
    return float(speedup), float(limit), float(fraction), float(diff)


@pytest.mark.parametrize("preset", ["gemma2-27b", "llama3.1-8b", "gemma2-2b"])
def test_preset_runs_at_tiny_scale_with_its_template_shape(bench, preset, capsys):
    lines = bench.main(["--preset", preset, "--scale", "tiny", "--candidates", "48", "--naive-candidates", "16",
                        "--rounds", "1", "--batch-size", "auto", "--peak-tflops", "1"])
    shape = bench.PRESETS[preset]
    speedup, limit, fraction, diff = summary(lines, preset)
    assert limit == pytest.approx((shape.prefix_tokens + shape.suffix_tokens) / shape.suffix_tokens)
    assert speedup > 0 and fraction == pytest.approx(speedup / limit, rel=0.01)
    assert diff < 0.05  # bfloat16: both methods read the same reward
    assert any(re.search(rf"^{preset}: prefix \S+ TFLOP/s = \S+ of peak 1 TFLOP/s", line) for line in lines)
    assert any(re.search(rf"^{preset}: projected 256000 candidates x 54 prompts: prefix \S+ h", line) for line in lines)
    printed = capsys.readouterr().out
    architecture = "Gemma2ForSequenceClassification" if preset.startswith("gemma2") else "LlamaForSequenceClassification"
    assert f"{preset}: {architecture}" in printed
    assert f"prefix {shape.prefix_tokens} tokens, suffix lengths [{shape.suffix_tokens}]" in printed
    assert "torch.bfloat16" in printed


def test_preset_configs_are_the_published_architectures(bench):
    model = bench.preset_model(bench.PRESETS["gemma2-27b"], "full", torch.device("meta"), torch.bfloat16)
    n_params = sum(parameter.numel() for parameter in model.parameters())
    assert 27.0e9 < n_params < 27.5e9  # Gemma-2-27B: 27.2B parameters with its 256k embedding
    assert model.config._attn_implementation == "eager"  # softcapping
    llama = bench.preset_model(bench.PRESETS["llama3.1-8b"], "full", torch.device("meta"), torch.bfloat16)
    assert 7.4e9 < sum(parameter.numel() for parameter in llama.parameters()) < 7.6e9  # 8.03B less the LM head


def test_memory_mode_reports_peak_memory_per_candidate_count(bench):
    lines = bench.main(["--memory", "--memory-candidates", "500", "5000"])
    peaks = {int(n): float(ratio) for n, ratio in
             (re.fullmatch(r"memory (\d+) candidates: peak RSS \d+ MiB \((\S+)x of 500\)", line).groups()
              for line in lines)}
    assert peaks[500] == 1.0
    assert peaks[5000] < 1.2  # flat in the number of candidates
