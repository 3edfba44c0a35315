"""Training the demo world's models: category structure in the embeddings, next-token fitting
of the causal LMs to their world's answers and ratings, and the Bradley–Terry training of the
reward models' heads.

How a reward model inherits the planted preference: a causal LM learns two things, the answer
after a prompt (the next-token distribution the Section 3 measures read) and a rating token
(:data:`rmbias.demo.tokenizers.RATING_TOKENS`, "good"/"bad") after the whole rendered
conversation, whose probability rises for answers that
fit and, in its world, for the favoured category. The rating is read from the hidden state of
the conversation's last token, the very state a reward head reads, so that state carries
"goodness" including the planted preference. A reward model copies the backbone and learns its
head (from a seeded random initialisation, backbone frozen) on pairs that only oppose a fitting
word to a filler word; the head finds the goodness direction, and with it the family's preference.

Prompts and pairs are rendered by a :class:`rmbias.models.conversations.Renderer`, padded by :mod:`rmbias.models.batching`
and the reward models' loss is :func:`rmbias.training.reward_training.bradley_terry_losses`, as in the
pipeline's own training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import torch
import transformers

from rmbias.demo.tokenizers import RATING_TOKENS
from rmbias.demo.world import word_form
from rmbias.models.batching import left_pad, right_pad
from rmbias.models.conversations import Renderer
from rmbias.training.reward_training import bradley_terry_losses


@dataclass(frozen=True)
class TrainingSettings:
    """Optimisation settings of the demo world: AdamW steps, examples per step (answers per
    prompt and rated conversations for the language models, preference pairs for the reward
    models) and learning rate. ``rating_steps`` and ``rating_learning_rate`` replace
    ``lm_steps`` and ``lm_learning_rate`` for the language models that also learn ratings: the
    rating of a whole conversation is a framing × category interaction, which a 2-layer model
    learns only at a smaller step (at 1e-2 it stalls at the unconditional rating) and in more steps."""

    lm_steps: int = 150
    lm_answers_per_step: int = 32
    lm_learning_rate: float = 1e-2
    rating_steps: int = 500
    lm_ratings_per_step: int = 64
    rating_learning_rate: float = 3e-3
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
                           seed: int, scale: float = 1.0) -> None:
    """Give the input embeddings of each pool's words a shared random direction, in place.

    Real pretrained embeddings cluster by meaning; random ones do not, and then a few hundred
    steps cannot discover that a prompt's framing favours a whole category (the gradient
    summed over hundreds of unrelated word vectors cancels; training stalls at the
    unconditional answer distribution for most seeds). Pools may also group prompt words,
    e.g. :func:`rmbias.demo.world.framing_words`. Each pool gets one Gaussian
    direction of the same scale as a word's own initial vector, added to every form of its
    words. The same procedure for every family, so no world difference comes from it.
    """
    embeddings = model.get_input_embeddings().weight
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for category in sorted(pools):
            direction = torch.randn(embeddings.shape[1], generator=generator) * embeddings.std() * scale
            embeddings[word_form_token_ids(tokenizer, pools[category])] += direction


def _answer_token_id(tokenizer, answer: str) -> int:
    """The single token of ``answer``, an :func:`rmbias.demo.world.answer_corpus` answer: the
    exact text that follows the rendered prompt (:meth:`rmbias.models.conversations.Renderer.render`). A
    fragment of running text, so no special tokens."""
    ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"answer {answer!r} is not one token: {tokenizer.convert_ids_to_tokens(ids)}")
    return ids[0]


def _encode_conversations(renderer: Renderer, prompts: dict[str, dict], examples: pd.DataFrame) -> list[list[int]]:
    """Token ids of each example's prompt + ``answer`` rendered by ``renderer``, in ``examples``
    order; the chat template is applied once per prompt."""
    encoded: list[list[int] | None] = [None] * len(examples)
    for key, rows in examples.groupby("prompt_key", sort=True).indices.items():
        texts = renderer.render_responses(prompts[key]["text"], examples["answer"].iloc[rows].tolist())
        for row, ids in zip(rows, renderer.encode(texts), strict=True):
            encoded[row] = ids
    return encoded


def train_causal_lm(model: transformers.PreTrainedModel, renderer: Renderer, corpus: pd.DataFrame,
                    ratings: pd.DataFrame | None, prompts: dict[str, dict],
                    settings: TrainingSettings) -> dict[str, list[float]]:
    """Fit ``model`` in place to its world's answers and ratings.

    Answers: ``corpus`` is an :func:`rmbias.demo.world.answer_corpus`; ``renderer`` renders the
    prompts with the chat template (instruction-tuned models) or as plain text (pretrained
    ones). Every AdamW step feeds each prompt once and scores the next
    ``settings.lm_answers_per_step`` of its answers (wrapping around) against that one next-token
    distribution: the same loss as feeding every (prompt, answer) example on its own, at one
    forward pass per prompt; the loss is the mean cross-entropy (nats) of the answer tokens.

    Ratings (unless ``ratings`` is None): a :func:`rmbias.demo.world.rating_corpus`, read in
    order, ``settings.lm_ratings_per_step`` rows per step (wrapping around). Each row's whole rendered
    conversation (prompt + answer, and the end of turn in a chat) is fed, and the next-token
    distribution after its last token is fitted to :data:`rmbias.demo.tokenizers.RATING_TOKENS`:
    "good" with probability ``p_good`` and "bad" otherwise: the loss is the soft cross-entropy
    -(p log P(good) + (1 - p) log P(bad)) (nats),
    minimal when P(good) = p. A step minimises the sum of both losses, for
    ``settings.rating_steps`` steps at ``settings.rating_learning_rate`` (without ratings
    ``settings.lm_steps`` at ``settings.lm_learning_rate``). Returns the loss of every step per
    objective, ``{"answer": [...], "rating": [...]}`` (no ``rating`` without ratings).
    """
    keys = sorted(prompts)
    tokenizer = renderer.tokenizer
    inputs = left_pad([renderer.encode_rendered(prompts[key]["text"]) for key in keys], tokenizer.pad_token_id)
    token_of = {answer: _answer_token_id(tokenizer, answer) for answer in set(corpus["answer"])}
    answers = torch.tensor(np.stack([
        corpus.loc[corpus["prompt_key"] == key, "answer"].map(token_of).to_numpy(dtype=np.int64) for key in keys
    ]))
    if ratings is not None:
        conversations = _encode_conversations(renderer, prompts, ratings)
        p_good = torch.tensor(ratings["p_good"].to_numpy(dtype=np.float32))
        rating_ids = tokenizer.convert_tokens_to_ids(list(RATING_TOKENS))

    def step_losses(step: int) -> dict[str, torch.Tensor]:
        columns = (step * settings.lm_answers_per_step + torch.arange(settings.lm_answers_per_step)) % answers.shape[1]
        log_probs = model(**inputs, logits_to_keep=1).logits[:, -1].log_softmax(-1)
        losses = {"answer": -log_probs.gather(1, answers[:, columns]).mean()}
        if ratings is not None:
            first = step * settings.lm_ratings_per_step
            rows = (first + torch.arange(settings.lm_ratings_per_step)) % len(conversations)
            rated = left_pad([conversations[row] for row in rows.tolist()], tokenizer.pad_token_id)
            good, bad = model(**rated, logits_to_keep=1).logits[:, -1].log_softmax(-1)[:, rating_ids].unbind(-1)
            target = p_good[rows]
            losses["rating"] = -(target * good + (1 - target) * bad).mean()
        return losses

    if ratings is None:
        return _adamw_steps(model, settings.lm_learning_rate, settings.lm_steps, step_losses)
    return _adamw_steps(model, settings.rating_learning_rate, settings.rating_steps, step_losses)


def train_reward_model(model: transformers.PreTrainedModel, renderer: Renderer, pairs: pd.DataFrame,
                       settings: TrainingSettings) -> list[float]:
    """Bradley–Terry training of ``model``'s score head in place on ``pairs`` rendered by
    ``renderer`` (the demo RMs' through the chat template); the backbone copied from the LM stays frozen.

    Frozen, because full fine-tuning at this step rewires a 2-layer, 32-wide backbone: measured
    on the default world, the fully fine-tuned RMs (BT loss 0.01) lost the backbone's ratings,
    and their Agency-vs-Communion order followed each RM's random seed instead; with the head
    alone (BT loss 0.24-0.30) both RMs of a backbone agree with its ratings.

    ``pairs`` is a :func:`rmbias.demo.world.synthetic_preference_pairs` table read in order,
    ``settings.rm_batch_size`` pairs per AdamW step for ``settings.rm_steps`` steps. The loss is
    the mean of :func:`rmbias.training.reward_training.bradley_terry_losses` (nats) with the reward read
    by the model's own head at the last non-pad token. Returns the loss of every step,
    ``{"bradley_terry": [...]}``.
    """
    encoded = [(renderer.encode_rendered(prompt, chosen), renderer.encode_rendered(prompt, rejected))
               for prompt, chosen, rejected in pairs[["prompt", "chosen", "rejected"]].itertuples(index=False)]

    def step_loss(step: int) -> torch.Tensor:
        start = (step * settings.rm_batch_size) % len(encoded)
        batch = [encoded[(start + offset) % len(encoded)] for offset in range(settings.rm_batch_size)]
        inputs = right_pad([chosen for chosen, _ in batch] + [rejected for _, rejected in batch],
                           renderer.tokenizer.pad_token_id)
        chosen_rewards, rejected_rewards = model(**inputs).logits[:, 0].chunk(2)
        return {"bradley_terry": bradley_terry_losses(chosen_rewards, rejected_rewards).mean()}

    model.base_model.requires_grad_(False)
    try:
        return _adamw_steps(model, settings.rm_learning_rate, settings.rm_steps, step_loss)
    finally:
        model.base_model.requires_grad_(True)


def _adamw_steps(model: transformers.PreTrainedModel, learning_rate: float, steps: int,
                 step_losses: Callable[[int], dict[str, torch.Tensor]]) -> dict[str, list[float]]:
    """Train ``model``'s parameters that require gradients in place: ``steps`` AdamW steps on
    the sum of ``step_losses(step)``'s losses; returns each step's loss per name."""
    optimizer = torch.optim.AdamW([parameter for parameter in model.parameters() if parameter.requires_grad],
                                  lr=learning_rate)
    history: dict[str, list[float]] = {}
    model.train()
    for step in range(steps):
        losses = step_losses(step)
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
        for name, loss in losses.items():
            history.setdefault(name, []).append(loss.item())
    model.eval()
    return history
