"""One reward model's exhaustive search split over N jobs by prompt (``scoring.prompt_groups``).

The prompts of a scope, in their configured order, are cut into N contiguous groups whose
sizes differ by at most one (:func:`split_prompts`). Group ``i`` of ``N`` is scored by its own
job into a wide table holding only its prompts' columns; :func:`gather_group_scores` puts the
groups' columns side by side again, so the gathered table equals the table of one unsplit job
(same rows, prompt columns in prompt order). Groups and the unsplit job write the same shards
(a shard's name carries its prompt key and a fingerprint), so each resumes from the other's.
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping, Sequence

import pandas as pd

from rmbias.io import InputError, read_parquet, write_parquet

GROUP_LABEL = re.compile(r"(?P<index>[0-9]+)-of-(?P<count>[0-9]+)")
"""How a group is named in file names: ``<index>-of-<count>``, 1-based, e.g. ``2-of-4``."""


def split_prompts(prompt_keys: Sequence[str], n_groups: int) -> list[list[str]]:
    """``prompt_keys`` cut into ``n_groups`` contiguous groups, in order, sizes differing by at most one
    (the first ``len(prompt_keys) % n_groups`` groups hold one prompt more).

    Raises :class:`InputError` unless ``1 <= n_groups <= len(prompt_keys)``.
    """
    keys = list(prompt_keys)
    if not 1 <= n_groups <= len(keys):
        raise InputError(f"{n_groups} prompt groups for {len(keys)} prompts; give between 1 and {len(keys)}")
    size, larger = divmod(len(keys), n_groups)
    groups, start = [], 0
    for index in range(n_groups):
        stop = start + size + (index < larger)
        groups.append(keys[start:stop])
        start = stop
    return groups


def group_label(index: int, n_groups: int) -> str:
    """The file-name label of group ``index`` (1-based) of ``n_groups``, e.g. ``2-of-4``."""
    return f"{index}-of-{n_groups}"


def group_prompts(prompts: Mapping[str, Any], label: str) -> dict[str, Any]:
    """The entries of ``prompts`` (key → prompt, in scope order) that group ``label`` scores."""
    match = GROUP_LABEL.fullmatch(label)
    if match is None:
        raise InputError(f"prompt group {label!r} is not of the form <index>-of-<count>")
    index, n_groups = int(match["index"]), int(match["count"])
    groups = split_prompts(list(prompts), n_groups)
    if not 1 <= index <= n_groups:
        raise InputError(f"prompt group {label!r}: the index must be between 1 and {n_groups}")
    return {key: prompts[key] for key in groups[index - 1]}


def prompt_group_count(entry: Mapping[str, Any], scoring: Mapping[str, Any]) -> int:
    """How many prompt groups a reward model's search is split into: its entry's ``prompt_groups``,
    else ``scoring.prompt_groups``."""
    return entry.get("prompt_groups", scoring["prompt_groups"])


def check_prompt_groups(config: Mapping[str, Any], scope_sizes: Mapping[str, int]) -> None:
    """Every reward model's prompt-group count fits each scope it is scored in.

    ``scope_sizes`` is scope → number of prompts. Raises :class:`InputError`, one line naming the
    key that sets the count (the entry's ``prompt_groups`` or ``scoring.prompt_groups``).
    """
    for index, entry in enumerate(config["reward_models"]):
        n_groups = prompt_group_count(entry, config["scoring"])
        where = f"reward_models[{index}].prompt_groups" if "prompt_groups" in entry else "scoring.prompt_groups"
        for scope, n_prompts in scope_sizes.items():
            if n_groups > n_prompts:
                raise InputError(
                    f"config error at {where}: {n_groups} prompt groups for reward model {entry['id']!r}, but the "
                    f"{scope} scope has {n_prompts} prompts; give at most {n_prompts}"
                )


def gather_group_scores(group_tables: Sequence[tuple[str, pd.DataFrame]], prompt_keys: Sequence[str]) -> pd.DataFrame:
    """The wide score table of all prompts from the tables of groups ``1-of-N`` … ``N-of-N``.

    ``group_tables`` holds (source name, table) per group in group order; each table has the
    candidate columns (``response`` and, for the vocab scope, ``token_id``) and its group's
    prompt columns. The result has the candidate columns, then one column per key of
    ``prompt_keys`` in that order. Raises :class:`InputError` naming the source when a group
    holds other prompts than its share or other candidates than the first group.
    """
    groups = split_prompts(prompt_keys, len(group_tables))
    first_name, first = group_tables[0]
    candidate_columns = [column for column in first.columns if column not in set(prompt_keys)]
    candidates = first[candidate_columns].reset_index(drop=True)
    score_columns = []
    for (name, table), keys in zip(group_tables, groups):
        if list(table.columns) != [*candidate_columns, *keys]:
            raise InputError(f"{name}: columns {list(table.columns)}; expected {[*candidate_columns, *keys]}")
        if not table[candidate_columns].reset_index(drop=True).equals(candidates):
            raise InputError(f"{name}: its candidates differ from those of {first_name}")
        score_columns.append(table[keys].reset_index(drop=True))
    return pd.concat([candidates, *score_columns], axis=1)


def write_gathered_scores(group_paths: Sequence[str | os.PathLike], prompt_keys: Sequence[str],
                          out_path: str | os.PathLike) -> None:
    """Read the group tables at ``group_paths`` (in group order) and write :func:`gather_group_scores`."""
    tables = [(str(path), read_parquet(path)) for path in group_paths]
    write_parquet(gather_group_scores(tables, prompt_keys), out_path)
