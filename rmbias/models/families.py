"""Base-model families: the one place that turns a family into the label every output uses.

A *family* is the config key of a model entry (``family: gemma``): any lowercase identifier
(schema pattern ``^[a-z][a-z0-9_]*$``; ``llama``, ``gemma``, ``qwen``, ``mistral``, ...), read
from the entry by every stage. Its *label* is the capitalised form written in every result
table and figure (``"Gemma"``). Published reward models carry no config entry; their family is
read from their name (:func:`family_of_published_rm`).

Every family *comparison* (Figure 1's tests, the RM-level tests, the family classifier of the
value profiles) contrasts the two families of :data:`CONTRAST_FAMILIES`, Llama - Gemma, as the
paper does. An RM of another family is measured like any other (its observations, per-RM
contrasts, value profile and position on the Llama-Gemma axis) and left out of the two-family
tests, which name it (:func:`outside_contrast`).
"""

from __future__ import annotations

from collections.abc import Mapping
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

CONTRAST_FAMILIES: tuple[str, str] = (family_label("gemma"), family_label("llama"))
"""The two family labels every family comparison contrasts; differences are
``CONTRAST_FAMILIES[1] - CONTRAST_FAMILIES[0]`` (Llama - Gemma)."""


def outside_contrast(family_by_rm: Mapping[str, str], contrast: tuple[str, str] = CONTRAST_FAMILIES) -> dict[str, list[str]]:
    """The RMs of ``family_by_rm`` (RM -> family label) whose family is not one of ``contrast``:
    family label -> its RMs, both sorted; empty when every RM is of a contrasted family."""
    outside: dict[str, list[str]] = {}
    for rm, family in sorted(family_by_rm.items()):
        if family not in contrast:
            outside.setdefault(family, []).append(rm)
    return dict(sorted(outside.items()))


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
