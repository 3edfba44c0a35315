"""Base-model families: the one place that turns a family into the label every output uses.

A *family* is the config key of a model entry (``family: gemma``, schema enum ``llama, gemma,
qwen, mistral, other``). Its *label* is the capitalised form written in every result table and
figure (``"Gemma"``). Published reward models carry no config entry; their family is read from
their name (:func:`family_of_published_rm`).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from rmbias.io import InputError

PUBLISHED_SCORE_PREFIXES = ("big2_rewards_", "MFD20_rewards_")
"""File-name prefixes of the published RM score files (before the RewardBench model name)."""

PUBLISHED_RM_FAMILIES: tuple[str, ...] = ("gemma", "llama", "qwen")
"""The families of the paper's published reward models (Figure 1, Figure 4b)."""


def family_label(family: str) -> str:
    """Label of a config family key: ``"gemma"`` -> ``"Gemma"``, ``"llama"`` -> ``"Llama"``."""
    return str(family).strip().lower().capitalize()


FAMILY_LABELS: tuple[str, ...] = tuple(family_label(family) for family in PUBLISHED_RM_FAMILIES)
"""Labels of :data:`PUBLISHED_RM_FAMILIES`: ``("Gemma", "Llama", "Qwen")``."""


def family_of_published_rm(name: str) -> str:
    """Family label of a published model name: the one family key it contains (case-insensitive).

    ``"Skywork-Reward-Gemma-2-27B"`` -> ``"Gemma"``. Raises :class:`InputError` naming the model
    when no family (or more than one) of :data:`PUBLISHED_RM_FAMILIES` occurs in the name.
    """
    matches = [family for family in PUBLISHED_RM_FAMILIES if family in str(name).lower()]
    if len(matches) != 1:
        raise InputError(
            f"model {name!r}: cannot tell its base model (expected exactly one of {', '.join(PUBLISHED_RM_FAMILIES)} in the name)"
        )
    return family_label(matches[0])


def published_rm_name(path: str) -> str:
    """RewardBench model name of a published score file (a manifest path),
    ``.../big2_rewards_Skywork_Skywork-Reward-Gemma-2-27B.csv`` -> ``Skywork_Skywork-Reward-Gemma-2-27B``."""
    stem = PurePosixPath(path).stem
    for prefix in PUBLISHED_SCORE_PREFIXES:
        stem = stem.removeprefix(prefix)
    return stem
