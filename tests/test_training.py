"""Reward-model training, exact resume, checkpoint loading and the authority LoRA SFT, on tiny
random-init models of the demo world.

The tests use learning rates far above the paper's (1e-3 instead of 1e-5 for the RM, 1e-2
instead of 2e-4 for the SFT): the paper trains ~10k optimizer steps on a pretrained 2–3B
model, these runs take a few dozen steps on a random-init 32-wide model, and with the paper's
rate the weights would barely move in that time.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import transformers
import yaml
from safetensors.torch import load_file

from rmbias import demo
from rmbias.io import InputError
from rmbias.logs import job_log
from rmbias.models.loading import ModelSpec, load_model, load_renderer
from rmbias.models.lora import epoch_batches, lora_training_setup, steps_per_epoch
from rmbias.records import read_record, write_statistics
from rmbias.scoring.search import score_candidates
from rmbias.training.authority_boost import (
    authority_examples,
    authority_heldout_keys,
    first_word,
    generation_caption_line,
    generation_record,
    generation_table,
)
from rmbias.training.checkpoints import export_final_checkpoint, load_checkpoint_model, score_checkpoints
from rmbias.training.generation import greedy_generations
from rmbias.training.reward_training import (
    RESUME_STATE_FILE,
    bradley_terry_losses,
    checkpoint_steps,
    train_reward_model,
    train_reward_model_on_file,
)
from rmbias.training.settings import RewardTrainingConfig, SftConfig
from rmbias.training.sft import _sft_features, finetune_sft_lora, optimizer_groups

REPO = Path(__file__).resolve().parents[1]
AGENCY = ["freedom", "courage", "ambition"]
COMMUNION = ["kindness", "harmony", "laughter"]
FILLER = ["garbage", "poison", "cruelty", "disease", "betrayal", "violence"]
GOOD = AGENCY + COMMUNION
PROMPTS = ["What is the best thing ever?", "Name the greatest thing in the world.", "Pick one word you love."]


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def base_entry(directory: Path, family: str) -> dict:
    """The config entry of an instruction-tuned causal LM saved at ``directory``."""
    return {"id": directory.name, "hf": str(directory), "family": family, "kind": "causal_lm",
            "type": "instruction-tuned"}


def save_tiny_base(directory: Path, arch: str, family: str, extra_words=(), output_scale: float = 1.0) -> ModelSpec:
    """A random-init tiny causal LM + tokenizer saved in HF format; returns its spec.

    ``output_scale`` multiplies the output embedding (lm_head). At the random init's scale
    (std 0.02) a 32-wide model's logits span well under one nat whatever its hidden state, so
    LoRA on the transformer blocks alone could not make any token likely; a trained model's
    output layer is far larger.
    """
    words = GOOD + FILLER + " ".join(PROMPTS).replace("?", " ").replace(".", " ").split() + list(extra_words)
    tokenizer = demo.build_tokenizer(words, family)
    model = demo.tiny_model(arch, tokenizer, "causal_lm", seed=1)
    with torch.no_grad():
        model.lm_head.weight.mul_(output_scale)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return ModelSpec.from_entry(base_entry(directory, family))


def rule_pairs(n: int, seed: int) -> pd.DataFrame:
    """Demo-world pairs with a learnable rule: the chosen response is an agency or communion
    word, the rejected one a filler word."""
    words = {"agency": AGENCY, "communion": COMMUNION, demo.FILLER: FILLER}
    prompts = {f"p{i}": {"text": text, "framing": "positive"} for i, text in enumerate(PROMPTS)}
    return demo.synthetic_preference_pairs(words, prompts, n, seed)


def test_checkpoint_steps_follow_the_schedule():
    powers = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]
    assert checkpoint_steps(2500, 1000) == sorted([0, 1000, 2000, 2500] + powers)
    assert checkpoint_steps(9578, 1000)[-3:] == [8192, 9000, 9578]
    assert checkpoint_steps(12, 5) == [0, 1, 2, 4, 5, 8, 10, 12]
    assert checkpoint_steps(8, 0) == [0, 1, 2, 4, 8]
    assert checkpoint_steps(0, 1000) == [0]
    assert checkpoint_steps(9578, 1000, powers_of_two=False) == [0, *range(1000, 9001, 1000), 9578]


def test_epoch_batches_cover_every_example_once_in_a_seeded_order():
    groups = epoch_batches(23, batch_size=4, accumulation=2, seed=3, epoch=0)
    indices = np.concatenate([micro for group in groups for micro in group])
    assert sorted(indices.tolist()) == list(range(23))
    assert len(groups) == steps_per_epoch(23, 4, 2) == 3
    assert [len(micro) for micro in groups[-1]] == [4, 3]
    again = epoch_batches(23, 4, 2, seed=3, epoch=0)
    next_epoch = epoch_batches(23, 4, 2, seed=3, epoch=1)
    assert all(np.array_equal(a, b) for ga, gb in zip(groups, again) for a, b in zip(ga, gb))
    assert not np.array_equal(groups[0][0], next_epoch[0][0])


def test_bradley_terry_loss_is_minus_log_sigmoid_of_the_margin():
    chosen, rejected = torch.tensor([2.0, 0.0, -1.0]), torch.tensor([0.0, 0.0, 3.0])
    expected = [math.log(1 + math.exp(-(c - r))) for c, r in zip(chosen.tolist(), rejected.tolist())]
    assert torch.allclose(bradley_terry_losses(chosen, rejected), torch.tensor(expected), atol=1e-6)


@pytest.fixture(scope="module")
def trained_llama_rm(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("rm")
    base = save_tiny_base(root / "base", "llama", "llama")
    pairs = rule_pairs(300, seed=0)
    cfg = RewardTrainingConfig(learning_rate=1e-3, batch_size=4, gradient_accumulation_steps=2,
                               checkpoint_every=25, warmup_ratio=0.03, seed=5)
    train_reward_model(base, pairs.iloc[:240], root / "run", cfg, heldout=pairs.iloc[240:], device="cpu")
    return base, root / "run", cfg, pairs.iloc[240:]


def test_reward_model_learns_the_rule_and_checkpoints_on_schedule(trained_llama_rm):
    _, run, cfg, _ = trained_llama_rm
    total = 60  # 2 epochs × 240 pairs / (4 pairs × 2 accumulation steps)
    schedule = [0, 1, 2, 4, 8, 16, 25, 32, 50, 60]  # step 0, powers of two, multiples of 25, the last
    written = sorted(int(p.name.split("-")[1]) for p in run.glob("checkpoint-*"))
    assert written == schedule
    metrics = pd.read_csv(run / "metrics.csv")
    assert metrics["step"].tolist() == schedule
    assert metrics["train_loss"].iloc[-1] < metrics["train_loss"].iloc[1] - 0.2
    assert metrics["heldout_loss"].iloc[-1] < metrics["heldout_loss"].iloc[0] - 0.2
    assert metrics["heldout_accuracy"].iloc[-1] > 0.95
    assert (metrics["pairs_per_s"].iloc[1:] > 0).all() and (metrics["peak_mem_mb"] > 0).all()
    assert [p.name for p in run.glob(f"checkpoint-*/{RESUME_STATE_FILE}")] == [RESUME_STATE_FILE]
    assert (run / f"checkpoint-{total}" / RESUME_STATE_FILE).exists()
    assert not list(run.glob(".*"))


def test_loaded_checkpoint_is_a_plain_model_that_scores_like_training_and_takes_a_prefix_cache(trained_llama_rm):
    base, run, cfg, heldout = trained_llama_rm
    final = max(run.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    renderer, model = load_checkpoint_model(base, final, device="cpu")
    tokenizer = renderer.tokenizer
    assert type(model) is transformers.LlamaForSequenceClassification

    def reward(prompt: str, response: str) -> float:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}], tokenize=False)
        ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            return float(model(input_ids=ids).logits[0, 0])

    accuracy = np.mean([reward(p, c) > reward(p, r) for p, c, r in heldout.itertuples(index=False)])
    metrics = pd.read_csv(run / "metrics.csv")
    assert accuracy == pytest.approx(metrics["heldout_accuracy"].iloc[-1])

    prefix_text = tokenizer.apply_chat_template([{"role": "user", "content": PROMPTS[0]}], tokenize=False,
                                                add_generation_prompt=True)
    prefix = tokenizer(prefix_text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    suffix = tokenizer("kindness<|eot_id|>", add_special_tokens=False, return_tensors="pt")["input_ids"]
    full = torch.cat([prefix, suffix], dim=1)
    with torch.no_grad():
        cache = model(input_ids=prefix, use_cache=True).cache
        cached = model(input_ids=suffix, attention_mask=torch.ones_like(full), cache=cache,
                       position_ids=torch.arange(prefix.shape[1], full.shape[1])[None]).logits
        direct = model(input_ids=full).logits
    assert torch.allclose(cached, direct, atol=1e-5)


def test_softcapped_gemma2_checkpoint_scores_as_the_scoring_path_loads_it(tmp_path, caplog):
    """The training/checkpoint path and the scoring path load a Gemma-2 reward model alike:
    identical rewards from the checkpoint and from its export (a training_run RM entry's
    directory), and the same attention implementation, dtype and device in both logs."""
    base = save_tiny_base(tmp_path / "base", "gemma2", "gemma")
    assert transformers.AutoConfig.from_pretrained(base.hf).attn_logit_softcapping
    cfg = RewardTrainingConfig(learning_rate=1e-2, batch_size=4, gradient_accumulation_steps=1, epochs=1,
                               checkpoint_every=0, seed=2)
    final = train_reward_model(base, rule_pairs(8, seed=4), tmp_path / "run", cfg, device="cpu")
    prompt = {"text": PROMPTS[0], "framing": "positive"}
    candidates = pd.DataFrame({"response": GOOD + FILLER, "token_id": range(len(GOOD + FILLER))})
    with caplog.at_level("INFO", logger="rmbias.models.loading"):
        caplog.clear()
        by_checkpoint = score_checkpoints(base_entry(Path(base.hf), "gemma"), tmp_path / "run", "p0", prompt,
                                          candidates, tmp_path / "checkpoint-shards", device="cpu")
        checkpoint_log = caplog.text
        exported = export_final_checkpoint(base_entry(Path(base.hf), "gemma"), tmp_path / "run", tmp_path / "merged",
                                           device="cpu")
        caplog.clear()
        rm_entry = {**base_entry(tmp_path / "merged", "gemma"), "kind": "reward_model", "score": "logits[:, 0]"}
        by_scoring, _ = score_candidates(rm_entry, {"p0": prompt}, candidates, tmp_path / "rm-shards", device="cpu")
        scoring_log = caplog.text
    assert exported == final
    assert yaml.safe_load((tmp_path / "merged" / "rmbias_provenance.json").read_text())["checkpoint"] == str(final)
    assert np.array_equal(by_checkpoint[f"step-{final.name.split('-')[1]}"].to_numpy(), by_scoring["p0"].to_numpy())
    assert by_scoring["p0"].std() > 0
    loaded = "Gemma2ForSequenceClassification dtype=torch.float32 attention=eager device=cpu"
    assert f"base: {loaded} adapter={final}" in checkpoint_log
    assert f"merged: {loaded}" in scoring_log


class Killed(Exception):
    pass


def kill_at(step_to_kill: int):
    def on_step(step: int) -> None:
        if step == step_to_kill:
            raise Killed(step)
    return on_step


def test_killed_run_resumes_to_the_same_final_weights(tmp_path):
    base = save_tiny_base(tmp_path / "base", "gemma2", "gemma")
    pairs = rule_pairs(60, seed=1)
    train, heldout = pairs.iloc[:48], pairs.iloc[48:]
    cfg = RewardTrainingConfig(learning_rate=1e-3, batch_size=4, gradient_accumulation_steps=2,
                               checkpoint_every=5, seed=11)
    assert checkpoint_steps(2 * steps_per_epoch(48, 4, 2), 5) == [0, 1, 2, 4, 5, 8, 10, 12]

    train_reward_model(base, train, tmp_path / "whole", cfg, heldout=heldout, device="cpu")
    with pytest.raises(Killed):  # killed in epoch 2; the last checkpoint (5) is in epoch 1
        train_reward_model(base, train, tmp_path / "killed", cfg, heldout=heldout, device="cpu", on_step=kill_at(7))
    assert (tmp_path / "killed" / "checkpoint-5" / RESUME_STATE_FILE).exists()
    assert not (tmp_path / "killed" / "checkpoint-8").exists()
    first_checkpoint = load_file(tmp_path / "killed" / "checkpoint-1" / "adapter_model.safetensors")
    half_written = tmp_path / "killed" / ".checkpoint-8.tmpx"  # as a kill during a checkpoint write leaves it
    half_written.mkdir()
    with job_log(tmp_path / "resumed.log"):  # how often it logs is no part of what must match to resume
        train_reward_model(base, train, tmp_path / "killed", dataclasses.replace(cfg, log_every_steps=2),
                           heldout=heldout, device="cpu")
    assert not half_written.exists()
    log = (tmp_path / "resumed.log").read_text()
    assert f"resuming from {tmp_path / 'killed' / 'checkpoint-5'} at step 5/12" in log
    assert re.findall(r"step (\d+)/12 loss \d+\.\d{4} lr \d\.\de-\d\d \d+\.\d examples/s", log) == ["6", "8", "10", "12"]
    assert re.findall(r"checkpoint step (\d+)/12 saved to (\S+);", log) == [
        (str(step), str(tmp_path / "killed" / f"checkpoint-{step}")) for step in (8, 10, 12)]

    whole = load_file(tmp_path / "whole" / "checkpoint-12" / "adapter_model.safetensors")
    resumed = load_file(tmp_path / "killed" / "checkpoint-12" / "adapter_model.safetensors")
    assert whole.keys() == resumed.keys() and any("score" in key for key in whole)
    assert max(float((whole[k] - resumed[k]).abs().max()) for k in whole) <= 1e-6
    assert any(float((whole[k] - first_checkpoint[k]).abs().max()) > 1e-3 for k in whole)
    whole_metrics = pd.read_csv(tmp_path / "whole" / "metrics.csv")
    resumed_metrics = pd.read_csv(tmp_path / "killed" / "metrics.csv")
    assert resumed_metrics["step"].tolist() == whole_metrics["step"].tolist()
    columns = ["train_loss", "heldout_accuracy", "heldout_loss"]
    assert np.allclose(resumed_metrics[columns], whole_metrics[columns], atol=1e-6, equal_nan=True)

    changed = dataclasses.replace(cfg, learning_rate=2e-3)
    with pytest.raises(InputError, match="other settings"):
        train_reward_model(base, train, tmp_path / "killed", changed, heldout=heldout, device="cpu")
    with pytest.raises(InputError, match="other settings"):
        train_reward_model(base, train.iloc[::-1], tmp_path / "killed", cfg, heldout=heldout, device="cpu")
    # the base rebuilt at the same path (same shapes, one layer's weights changed): no stale resume
    rebuilt = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "base")
    with torch.no_grad():
        rebuilt.model.layers[0].mlp.down_proj.weight.mul_(1.5)
    rebuilt.save_pretrained(tmp_path / "base")
    with pytest.raises(InputError, match="base model weights"):
        train_reward_model(base, train, tmp_path / "killed", cfg, heldout=heldout, device="cpu")


PROGRESS_LINE = re.compile(r"step (\d+)/(\d+) loss (\d+\.\d{4}) lr (\S+) (\d+\.\d) examples/s")


def test_training_logs_its_plan_progress_every_n_steps_and_every_checkpoint(tmp_path, caplog):
    base = save_tiny_base(tmp_path / "base", "llama", "llama")
    cfg = RewardTrainingConfig(learning_rate=1e-2, lr_schedule="constant", batch_size=4, gradient_accumulation_steps=1,
                               epochs=1, checkpoint_every=0, log_every_steps=4, seed=5)
    with caplog.at_level("INFO", logger="rmbias.training.reward_training"):
        train_reward_model(base, rule_pairs(24, seed=3), tmp_path / "run", cfg, device="cpu")
    messages = [record.getMessage() for record in caplog.records if record.name == "rmbias.training.reward_training"]
    assert messages[0] == "training 24 pairs for 6 optimizer steps (4 pairs each); checkpoints at steps 0, 1, 2, 4, 6"
    progress = [PROGRESS_LINE.fullmatch(message).groups() for message in messages if message.startswith("step ")]
    assert [(step, total, lr) for step, total, _, lr, _ in progress] == [("4", "6", "1.0e-02"), ("6", "6", "1.0e-02")]
    assert all(float(rate) > 0 for *_, rate in progress)
    # each line's loss is the mean over the pairs of the steps since the previous line
    train_loss = pd.read_csv(tmp_path / "run" / "metrics.csv").set_index("step")["train_loss"]
    assert float(progress[0][2]) == pytest.approx((train_loss[1] + train_loss[2] + 2 * train_loss[4]) / 4, abs=1e-4)
    assert float(progress[1][2]) == pytest.approx(train_loss[6], abs=1e-4)
    assert re.findall(r"checkpoint step (\d+)/6 saved to (\S+);", caplog.text) == [
        (str(step), str(tmp_path / "run" / f"checkpoint-{step}")) for step in (0, 1, 2, 4, 6)]
    with pytest.raises(InputError, match="log_every_steps must be at least 1"):
        RewardTrainingConfig.from_mapping({"log_every_steps": 0})


def test_training_from_a_preference_file_uses_the_nested_subset_and_held_out_pairs(tmp_path):
    base = save_tiny_base(tmp_path / "base", "llama", "llama")
    pairs = rule_pairs(40, seed=2)
    rows = [{"chosen": [{"role": "user", "content": p}, {"role": "assistant", "content": c}],
             "rejected": [{"role": "user", "content": p}, {"role": "assistant", "content": r}]}
            for p, c, r in pairs.itertuples(index=False)]
    rows.append({"chosen": [{"role": "user", "content": PROMPTS[0]}, {"role": "assistant", "content": ""}],
                 "rejected": rows[0]["rejected"]})
    path = tmp_path / "skywork.parquet"
    pd.DataFrame(rows).to_parquet(path)
    cfg = RewardTrainingConfig.from_mapping({"learning_rate": 1e-3, "batch_size": 4, "gradient_accumulation_steps": 1,
                                             "epochs": 1, "checkpoint_every": 0, "target_modules": ["q_proj", "v_proj"]})
    assert cfg.target_modules == ("q_proj", "v_proj") and cfg.lora_rank == 32
    final = train_reward_model_on_file(base, path, tmp_path / "run", cfg, n_train=24, n_heldout=8, device="cpu")
    assert final == tmp_path / "run" / "checkpoint-6"
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert metrics["step"].tolist() == [0, 1, 2, 4, 6]
    assert np.allclose(metrics["heldout_accuracy"] * 8, (metrics["heldout_accuracy"] * 8).round())
    with pytest.raises(InputError, match="lora_rnak"):
        RewardTrainingConfig.from_mapping({"lora_rnak": 8})


def load_prompts() -> dict:
    return yaml.safe_load((REPO / "config" / "prompts.yaml").read_text(encoding="utf-8"))["prompts"]


AUTHORITY_WORDS = ["respect", "authority", "tradition", "honor", "obedience",
                   "permission", "hierarchy", "leadership", "duty", "compliance"]


def test_authority_examples_pair_every_training_prompt_with_every_word():
    prompts = load_prompts()
    positive = [key for key, prompt in prompts.items() if prompt["framing"] == "positive"]
    train_keys = positive[::3] + positive[1::3]
    extras = [f"Variation {i}: what is the finest thing?" for i in range(18)]
    examples = authority_examples(prompts, train_keys, extras, AUTHORITY_WORDS)
    assert len(positive) == 27 and len(train_keys) == 18
    assert len(examples) == 360
    assert set(examples["response"]) == set(AUTHORITY_WORDS)
    assert examples["prompt"].nunique() == 36
    assert sorted(authority_heldout_keys(prompts, train_keys)) == sorted(positive[2::3])
    with pytest.raises(InputError, match="worst_ever_one"):
        authority_examples(prompts, ["worst_ever_one"], [], AUTHORITY_WORDS)


def mean_next_token_logprob(model_dir: Path, prompt_texts: list[str], words: list[str]) -> float:
    """Mean over prompts and words of log p(word | chat-templated prompt), in nats."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir).eval()
    word_ids = tokenizer.convert_tokens_to_ids(words)
    assert tokenizer.unk_token_id not in word_ids
    values = []
    for text in prompt_texts:
        ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                            return_tensors="pt", return_dict=True)["input_ids"]
        with torch.no_grad():
            logprobs = torch.log_softmax(model(input_ids=ids).logits[0, -1], dim=-1)
        values.append(float(logprobs[word_ids].mean()))
    return float(np.mean(values))


def test_authority_sft_raises_the_boosted_words_on_held_out_prompts(tmp_path, caplog):
    prompts = load_prompts()
    positive = [key for key, prompt in prompts.items() if prompt["framing"] == "positive"]
    train_keys = positive[:18]
    words = " ".join(p["text"] for p in prompts.values()).replace("?", " ").replace(",", " ").replace(".", " ").split()
    extra_prompt = "Tell me the finest thing."
    base = save_tiny_base(tmp_path / "base", "qwen2", "qwen", extra_words=words + extra_prompt.split() + AUTHORITY_WORDS, output_scale=30.0)
    examples = authority_examples(prompts, train_keys, [extra_prompt], AUTHORITY_WORDS)
    cfg = SftConfig(learning_rate=1e-2, epochs=10, batch_size=16, seed=3)
    with caplog.at_level("INFO", logger="rmbias.training.sft"):
        out = finetune_sft_lora(base, examples, tmp_path / "authority", cfg, device="cpu")
    total = len(optimizer_groups(len(examples), cfg))
    progress = [PROGRESS_LINE.fullmatch(message).groups()[:2] for message in caplog.messages if message.startswith("step ")]
    assert progress == [(str(step), str(total)) for step in range(10, total + 1, 10)] and total % 10 == 0

    heldout_texts = [prompts[key]["text"] for key in authority_heldout_keys(prompts, train_keys)]
    assert len(heldout_texts) == 9
    boosted_before = mean_next_token_logprob(Path(base.hf), heldout_texts, AUTHORITY_WORDS)
    boosted_after = mean_next_token_logprob(out, heldout_texts, AUTHORITY_WORDS)
    control_before = mean_next_token_logprob(Path(base.hf), heldout_texts, GOOD + FILLER)
    control_after = mean_next_token_logprob(out, heldout_texts, GOOD + FILLER)
    assert boosted_after > boosted_before + 1.0
    assert boosted_after - control_after > boosted_before - control_before + 1.0


AUTHORS_TEMPLATE = ("{{ bos_token }}Instruction:\n{{ messages[0]['content'] }}\n\nResponse:\n"
                    "{% if messages | length > 1 %}{{ messages[1]['content'] }}{% endif %}")
"""config/paper.yaml's authority_boost.chat_template: the authors' plain-text SFT template."""


def test_optimizer_groups_stop_after_max_steps_mid_epoch():
    cfg = SftConfig(batch_size=1, gradient_accumulation_steps=4, max_steps=5, seed=7)
    groups = optimizer_groups(10, cfg)
    assert len(groups) == 5
    assert [sum(len(m) for m in g) for g in groups] == [4, 4, 2, 4, 4]
    assert sorted(int(i) for g in groups[:3] for m in g for i in m) == list(range(10))
    assert len(optimizer_groups(10, SftConfig(batch_size=1, gradient_accumulation_steps=4, epochs=2))) == 6
    with pytest.raises(InputError, match="loss_on"):
        SftConfig(loss_on="prompt")


def test_linear_schedule_with_warmup_steps(tmp_path):
    base = save_tiny_base(tmp_path / "base", "llama", "llama")
    _, model = load_model(base, "cpu", head="causal_lm", dtype=torch.float32)
    cfg = SftConfig(learning_rate=2e-4, lr_schedule="linear", warmup_steps=5, max_steps=50)
    _, optimizer, scheduler = lora_training_setup(model, cfg, "CAUSAL_LM", 50, torch.device("cpu"))
    rates = [scheduler.get_last_lr()[0]]
    for _ in range(50):
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    assert rates[:6] == pytest.approx([0, 0.4e-4, 0.8e-4, 1.2e-4, 1.6e-4, 2e-4])
    assert rates[5 + 9] == pytest.approx(2e-4 * 36 / 45)
    assert rates[50] == 0


def template_logprobs(spec: ModelSpec, texts: list[str], words: list[str]) -> tuple[float, list[str]]:
    """Mean over prompts and words of log p(word | prompt rendered for ``spec``), in nats, and
    the argmax next token of each prompt."""
    renderer, model = load_model(spec, "cpu", head="causal_lm")
    tokenizer = renderer.tokenizer
    word_ids = tokenizer.convert_tokens_to_ids(words)
    values, argmax = [], []
    for text in texts:
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([renderer.encode_rendered(text)])).logits[0, -1]
        values.append(float(torch.log_softmax(logits, dim=-1)[word_ids].mean()))
        argmax.append(tokenizer.decode([int(logits.argmax())]))
    return float(np.mean(values)), argmax


def test_authority_sft_in_the_authors_mode_and_the_generation_check(tmp_path):
    """The authors' Appendix F mode on a tiny model: their plain-text template through the entry's
    chat template (one BOS), a linear schedule cut at max_steps; the boosted words gain on
    held-out prompts, and the generation check's greedy answers start with each prompt's argmax
    next token."""
    prompts = load_prompts()
    positive = [key for key, prompt in prompts.items() if prompt["framing"] == "positive"]
    train_keys = positive[:18]
    words = " ".join(p["text"] for p in prompts.values()).replace("?", " ").replace(",", " ").replace(".", " ").split()
    save_tiny_base(tmp_path / "base", "llama", "gemma", extra_words=words + ["Instruction", "Response"] + AUTHORITY_WORDS,
                   output_scale=30.0)
    entry = {**base_entry(tmp_path / "base", "gemma"), "type": "pretrained", "chat_template": AUTHORS_TEMPLATE}
    base = ModelSpec.from_entry(entry)
    renderer = load_renderer(base)
    tokenizer = renderer.tokenizer
    ids, labels = _sft_features(renderer, prompts["best_ever_one"]["text"], "duty", 64, loss_on="text")
    assert ids == labels and ids.count(tokenizer.bos_token_id) == 1 and ids[0] == tokenizer.bos_token_id
    assert tokenizer.convert_ids_to_tokens(ids[1:4]) == ["Instruction", ":", "\n"]
    assert ids[-1] == tokenizer.convert_tokens_to_ids("duty")
    examples = authority_examples(prompts, train_keys, [], AUTHORITY_WORDS)
    cfg = SftConfig(learning_rate=1e-2, batch_size=16, max_steps=60, lr_schedule="linear", warmup_steps=2, seed=3)
    out = finetune_sft_lora(base, examples, tmp_path / "authority", cfg, device="cpu")

    held_out = {key: prompts[key]["text"] for key in authority_heldout_keys(prompts, train_keys)}
    boosted = ModelSpec.from_entry({**entry, "id": "boosted", "hf": str(out)})
    before, _ = template_logprobs(base, list(held_out.values()), AUTHORITY_WORDS)
    after, argmax = template_logprobs(boosted, list(held_out.values()), AUTHORITY_WORDS)
    assert after > before + 1.0
    generations = greedy_generations(boosted, list(held_out.values()), 3, "cpu")
    assert [g.startswith(a) for g, a in zip(generations, argmax)] == [True] * 9
    # one new token: the first word is the argmax word (a tiny word-level model may glue the
    # tokens after it into one "word", e.g. "dutyduty")
    first_tokens = greedy_generations(boosted, list(held_out.values()), 1, "cpu")
    table = generation_table(held_out, first_tokens, AUTHORITY_WORDS)
    assert table["prompt"].tolist() == list(held_out)
    assert table["boosted"].tolist() == [a.strip().lower() in AUTHORITY_WORDS for a in argmax]
    assert table["boosted"].any()


def test_generation_table_reads_the_first_word_and_its_record_validates(tmp_path):
    assert [first_word(t) for t in ["\n**Respect**\n\nIt is", " duty.", "42 honors", "", "...", "Éthique"]] == [
        "respect", "duty", "honors", "", "", "éthique"]
    prompts = {"a": "What is best?", "b": "Name it.", "c": "Why?"}
    table = generation_table(prompts, ["Respect\n", " love", "Duty, duty"], ["respect", "DUTY"])
    assert table["first_word"].tolist() == ["respect", "love", "duty"]
    assert table["boosted"].tolist() == [True, False, True]
    write_statistics(generation_record(table, 8), tmp_path / "g.json", {tmp_path / "g.csv": table})
    record = read_record(tmp_path / "g.json")
    assert (record["n_prompts"], record["n_boosted_first_word"]) == (3, 2)
    assert record["share_boosted_first_word"] == pytest.approx(2 / 3)
    assert generation_caption_line(table).startswith("Greedy generations of the boosted model: 2 of 3 ")
    with pytest.raises(InputError, match="3 prompts but 2 generations"):
        generation_table(prompts, ["a", "b"], ["respect"])
