"""The demo world's tiny models: random float32 Llama, Gemma-2 and Qwen2 models over a demo
tokenizer, as causal LMs or one-label sequence-classification (reward) models."""

from __future__ import annotations

import torch
import transformers

_ARCHITECTURES: dict[str, tuple[type, type, type]] = {
    "llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
              transformers.LlamaForSequenceClassification),
    "gemma2": (transformers.Gemma2Config, transformers.Gemma2ForCausalLM,
               transformers.Gemma2ForSequenceClassification),
    "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM,
              transformers.Qwen2ForSequenceClassification),
}

_NORM_GAIN_OFFSET: dict[str, float] = {"gemma2": 1.0}
"""What an RMSNorm adds to its stored weight to get its gain (Gemma-2 stores gain − 1)."""

INITIALIZER_RANGE = 0.02
"""Standard deviation of the random initial weights."""

GEMMA2_SLIDING_WINDOW = 16
"""Tokens; shorter than a chat-templated prompt, so the sliding-window cache path is used."""


def tiny_config(arch: str, tokenizer, hidden_size: int = 32,
                num_layers: int = 2) -> transformers.PretrainedConfig:
    """A small float32 config of ``arch`` ("llama", "gemma2", "qwen2") sized to ``tokenizer``.

    Four attention heads (two key/value heads), MLP width 2 × ``hidden_size``, 512 positions,
    input and output embeddings tied (as in the small Llama-3.2, Gemma-2 and Qwen2.5 models).
    Gemma-2 alternates sliding-window (16 tokens) and full-attention layers, with eager
    attention so that its attention softcapping applies.
    """
    if arch not in _ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {sorted(_ARCHITECTURES)}")
    config_class = _ARCHITECTURES[arch][0]
    num_heads = 4
    shared = dict(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        num_labels=1,
        tie_word_embeddings=True,
        initializer_range=INITIALIZER_RANGE,
    )
    if arch == "gemma2":
        config = config_class(
            **shared,
            head_dim=hidden_size // num_heads,
            query_pre_attn_scalar=hidden_size // num_heads,
            sliding_window=GEMMA2_SLIDING_WINDOW,
            layer_types=["sliding_attention" if index % 2 == 0 else "full_attention"
                         for index in range(num_layers)],
            attn_implementation="eager",
        )
    else:
        config = config_class(**shared)
    config.dtype = torch.float32
    return config


def tiny_model(arch: str, tokenizer, kind: str, seed: int = 0, hidden_size: int = 32,
               num_layers: int = 2, output_scale: float = 1.0) -> transformers.PreTrainedModel:
    """A randomly initialised float32 ``arch`` model over ``tokenizer``'s vocabulary.

    ``kind`` is "causal_lm" (``*ForCausalLM``) or "reward_model" (``*ForSequenceClassification``
    with one label). ``output_scale`` is the initial gain of the final RMSNorm (1 is the
    architecture's default); the logits scale with it. The weights depend only on ``seed``; the
    global torch RNG is left as it was.
    """
    config = tiny_config(arch, tokenizer, hidden_size=hidden_size, num_layers=num_layers)
    model_classes = {"causal_lm": _ARCHITECTURES[arch][1], "reward_model": _ARCHITECTURES[arch][2]}
    if kind not in model_classes:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(model_classes)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_classes[kind](config)
    with torch.no_grad():
        model.base_model.norm.weight.fill_(output_scale - _NORM_GAIN_OFFSET.get(arch, 0.0))
    return model.to(torch.float32).eval()


LARGE_LM = dict(hidden_size=256, output_scale=4.0)
"""The "large" demo LMs, wide and with a logit range a LoRA fine-tune can use, like real LLMs.

Appendix F boosts 10 words by LoRA, which cannot touch the embeddings or the final norm, so
one hidden direction must lift those 10 above every other token. With 32 dimensions no
direction separates 10 random word vectors from 11 000 others (the 10 project at about
1/√10 of their length onto their mean, the best of the others at about 3.9/√32); with 256
it does, once the logits span tens of nats as a real LLM's do. The one-word answers that the
demo LMs learn need only a few nats, so the range is set at initialisation (a gain of 4;
at 5 the 150 training steps no longer fit the answers)."""


def reward_model_from(causal_lm: transformers.PreTrainedModel, arch: str, tokenizer,
                      seed: int) -> transformers.PreTrainedModel:
    """A sequence-classification model (one label) whose backbone is a copy of ``causal_lm``'s;
    only the score head is new (initialised from ``seed``)."""
    config = causal_lm.config
    reward_model = tiny_model(arch, tokenizer, "reward_model", seed=seed, hidden_size=config.hidden_size,
                              num_layers=config.num_hidden_layers)
    reward_model.base_model.load_state_dict(causal_lm.base_model.state_dict())
    return reward_model
