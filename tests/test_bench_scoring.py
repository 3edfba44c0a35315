"""The scoring benchmark's GPU presets and memory mode run on a CPU at a reduced size; a config
entry is benchmarked as the workflow renders it."""

import importlib
import re
import sys
from pathlib import Path

import pytest
import torch
import yaml

from rmbias import demo
from rmbias.io import InputError

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
    assert speedup > 0 and abs(fraction - speedup / limit) <= 0.005 / limit + 0.0005  # printed as .2f and .3f
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


CONFIG_TEMPLATE = ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
                   "Question on {{ day }}: {{ message['content'] }}\n{% else %}Answer: {{ message['content'] }}\n"
                   "{% endif %}{% endfor %}{% if add_generation_prompt %}Answer: {% endif %}")
"""A turn format given in the config entry (as config/real.yaml gives Gemma 3 270M its), with a template variable."""


def test_a_config_entry_is_benchmarked_through_the_chat_template_it_gives(bench, tmp_path, capsys):
    words = [*bench.PROMPT.replace(",", " ").replace("?", " ").split(), "Question", "on", "Tuesday", "Answer"]
    tokenizer = demo.build_tokenizer(words, "llama")
    tokenizer.chat_template = None  # a base without a template of its own
    demo.tiny_model("llama", tokenizer, "causal_lm").save_pretrained(tmp_path / "run" / "base")
    tokenizer.save_pretrained(tmp_path / "run" / "base")
    entry = {"id": "tiny-base", "hf": "base", "family": "llama", "type": "pretrained",
             "chat_template": CONFIG_TEMPLATE, "chat_template_kwargs": {"day": "Tuesday"}}
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump({"models": [entry]}))
    arguments = ["--configfile", str(configfile), "--directory", str(tmp_path / "run"), "--candidates", "24",
                 "--naive-candidates", "8", "--rounds", "1", "--batch-size", "8"]

    lines = bench.main([*arguments, "--model", "tiny-base"])
    speedup, limit, _, diff = summary(lines, "tiny-base")
    assert speedup > 0 and limit > 1 and diff < 1e-4  # float32: both methods read the same reward
    rendered = f"{tokenizer.bos_token}Question on Tuesday: {bench.PROMPT}\nAnswer: "
    assert f"tiny-base: prompt renders as {rendered!r}" in capsys.readouterr().out
    with pytest.raises(InputError, match=r"no model 'tiny-rm' in models or reward_models"):
        bench.main([*arguments, "--model", "tiny-rm"])
    with pytest.raises(SystemExit):
        bench.main(["--model", "tiny-base"])  # an entry needs its config
