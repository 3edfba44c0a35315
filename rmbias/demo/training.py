"""Training the demo world's models: category structure in the embeddings, next-token fitting
of the causal LMs to their world's answers, and the reward models' Bradley–Terry fine-tune.

Prompts and pairs are rendered by :mod:`rmbias.conversations`, padded by :mod:`rmbias.batching`
and the reward models' loss is :func:`rmbias.reward_training.bradley_terry_losses`, as in the
pipeline's own training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import torch
import transformers

from rmbias.batching import left_pad, right_pad
from rmbias.conversations import encode_rendered
from rmbias.demo.world import word_form
from rmbias.reward_training import bradley_terry_losses


@dataclass(frozen=True)
class TrainingSettings:
    """Optimisation settings of the demo world: AdamW steps, examples per step (answers per
    prompt for the language models, preference pairs for the reward models) and learning rate."""

    lm_steps: int = 150
    lm_answers_per_step: int = 32
    lm_learning_rate: float = 1e-2
    rm_steps: int = 100
    rm_batch_size: int = 32
    rm_learning_rate: float = 1e-3


def word_form_token_ids(tokenizer, words: Iterable[str]) -> list[int]:
    """Ids of every one-token form of ``words``: lowercase and Capitalised, with and without a
    leading space."""
    ids = []
    for word in words:
        for form in {word.lower(), word_form(word.lower(), True)}:
            for text in (form, " " + form):
                token_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                if len(token_ids) == 1:
                    ids.append(token_ids[0])
    return ids


def add_category_structure(model: transformers.PreTrainedModel, tokenizer, pools: dict[str, list[str]],
                           seed: int) -> None:
    """Give the input embeddings of each pool's words a shared random direction, in place.

    Real pretrained embeddings cluster by meaning; random ones do not, and then a few hundred
    steps cannot discover that a prompt's valence favours a whole category (the gradient
    summed over hundreds of unrelated word vectors cancels; training stalls at the
    unconditional answer distribution for most seeds). Pools may also group prompt words,
    e.g. :func:`rmbias.demo.world.valence_adjectives`. Each pool gets one Gaussian
    direction of the same scale as a word's own initial vector, added to every form of its
    words. The same procedure for every family, so no world difference comes from it.
    """
    embeddings = model.get_input_embeddings().weight
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for category in sorted(pools):
            direction = torch.randn(embeddings.shape[1], generator=generator) * embeddings.std()
            embeddings[word_form_token_ids(tokenizer, pools[category])] += direction


def _answer_token_id(tokenizer, answer: str, chat: bool) -> int:
    """The single token of ``answer`` as it follows the rendered prompt
    (:func:`rmbias.conversations.render`): after a space in plain text, directly after the
    generation prompt in a chat. A fragment of running text, so no special tokens."""
    text = answer if chat else " " + answer
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"answer {text!r} is not one token: {tokenizer.convert_ids_to_tokens(ids)}")
    return ids[0]


def train_causal_lm(model: transformers.PreTrainedModel, tokenizer, corpus: pd.DataFrame,
                    prompts: dict[str, dict], chat: bool, settings: TrainingSettings) -> list[float]:
    """Fit ``model`` in place to predict each example's answer token after its rendered prompt.

    ``corpus`` is an :func:`rmbias.demo.world.answer_corpus`; ``chat`` renders the prompts with
    the chat template (instruction-tuned models), else as plain text (pretrained ones). Every
    AdamW step feeds each prompt once and scores the next ``settings.lm_answers_per_step`` of its
    answers (wrapping around) against that one next-token distribution: the same loss as feeding
    every (prompt, answer) example on its own, at one forward pass per prompt. The loss is the
    mean cross-entropy (nats) of the answer tokens. Returns the loss of every step.
    """
    keys = sorted(prompts)
    inputs = left_pad([encode_rendered(tokenizer, prompts[key]["text"], chat=chat) for key in keys],
                      tokenizer.pad_token_id)
    token_of = {answer: _answer_token_id(tokenizer, answer, chat) for answer in set(corpus["answer"])}
    answers = torch.tensor(np.stack([
        corpus.loc[corpus["prompt_key"] == key, "answer"].map(token_of).to_numpy(dtype=np.int64) for key in keys
    ]))

    def step_loss(step: int) -> torch.Tensor:
        columns = (step * settings.lm_answers_per_step + torch.arange(settings.lm_answers_per_step)) % answers.shape[1]
        log_probs = model(**inputs, logits_to_keep=1).logits[:, -1].log_softmax(-1)
        return -log_probs.gather(1, answers[:, columns]).mean()

    return _adamw_steps(model, settings.lm_learning_rate, settings.lm_steps, step_loss)


def train_reward_model(model: transformers.PreTrainedModel, tokenizer, pairs: pd.DataFrame,
                       settings: TrainingSettings) -> list[float]:
    """Bradley–Terry fine-tune of ``model`` in place on chat-templated ``pairs``.

    ``pairs`` is a :func:`rmbias.demo.world.synthetic_preference_pairs` table read in order,
    ``settings.rm_batch_size`` pairs per AdamW step for ``settings.rm_steps`` steps. The loss is
    the mean of :func:`rmbias.reward_training.bradley_terry_losses` (nats) with the reward read
    by the model's own head at the last non-pad token. Returns the loss of every step.
    """
    encoded = [(encode_rendered(tokenizer, prompt, chosen, chat=True),
                encode_rendered(tokenizer, prompt, rejected, chat=True))
               for prompt, chosen, rejected in pairs[["prompt", "chosen", "rejected"]].itertuples(index=False)]

    def step_loss(step: int) -> torch.Tensor:
        start = (step * settings.rm_batch_size) % len(encoded)
        batch = [encoded[(start + offset) % len(encoded)] for offset in range(settings.rm_batch_size)]
        inputs = right_pad([chosen for chosen, _ in batch] + [rejected for _, rejected in batch],
                           tokenizer.pad_token_id)
        chosen_rewards, rejected_rewards = model(**inputs).logits[:, 0].chunk(2)
        return bradley_terry_losses(chosen_rewards, rejected_rewards).mean()

    return _adamw_steps(model, settings.rm_learning_rate, settings.rm_steps, step_loss)


def _adamw_steps(model: transformers.PreTrainedModel, learning_rate: float, steps: int,
                 step_loss: Callable[[int], torch.Tensor]) -> list[float]:
    """Train ``model`` in place: ``steps`` AdamW steps on ``step_loss(step)``; returns each step's loss."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    losses = []
    model.train()
    for step in range(steps):
        loss = step_loss(step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses
