"""The demo world: tiny models in real Hugging Face format with a planted value bias.

Everything here runs on CPU in minutes. The tokenizers have one token per word, with and
without a leading-space marker, like the word tokens of a BPE vocabulary (word-level for
llama and gemma, a byte-level BPE for qwen), and carry chat templates shaped like the real
Llama-3.x, Gemma-2 and Qwen2.5 ones, so that every stage
of the workflow runs its real code path (``from_pretrained``, ``apply_chat_template``,
prefix caching, sequence-classification heads) on models small enough to train here.

Modules: :mod:`~rmbias.demo.tokenizers` (tokenizers and chat templates),
:mod:`~rmbias.demo.architectures` (tiny model configs and weights), :mod:`~rmbias.demo.world`
(word pools, planted bias, answer corpora, preference pairs, the world's models),
:mod:`~rmbias.demo.training` (the training loops), :mod:`~rmbias.demo.build` (building and
saving the world) and :mod:`~rmbias.demo.preferences` (the synthetic preference data file).
"""

from rmbias.demo.architectures import GEMMA2_SLIDING_WINDOW, reward_model_from, tiny_model
from rmbias.demo.build import build_demo_world
from rmbias.demo.preferences import write_synthetic_preferences
from rmbias.demo.tokenizers import CHAT_TEMPLATES, build_tokenizer
from rmbias.demo.training import TrainingSettings
from rmbias.demo.world import (
    AGENCY,
    AUTHORITY_WORDS,
    COMMUNION,
    DEMO_LMS,
    DEMO_RMS,
    FILLER,
    answer_corpus,
    synthetic_preference_pairs,
    word_pools,
)

__all__ = [
    "AGENCY", "AUTHORITY_WORDS", "CHAT_TEMPLATES", "COMMUNION", "DEMO_LMS", "DEMO_RMS", "FILLER",
    "GEMMA2_SLIDING_WINDOW", "TrainingSettings", "answer_corpus", "build_demo_world", "build_tokenizer",
    "reward_model_from", "synthetic_preference_pairs", "tiny_model", "word_pools", "write_synthetic_preferences",
]
