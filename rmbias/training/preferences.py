"""Preference pairs for reward-model training (paper Section 4.1).

Two public schemas are read from local parquet or JSONL files and normalised into one frame
with columns ``prompt`` (list of ``{role, content}`` messages before the final assistant
turn), ``chosen`` and ``rejected`` (plain text of the two final assistant responses):

* Skywork-Reward-Preference-80K-v0.2: ``chosen`` / ``rejected`` are whole conversations
  that share the prompt turns and differ in the final assistant turn.
* Unified-Feedback: ``conv_A`` / ``conv_B`` conversations with either ``winner``
  (``model_a`` / ``model_b`` / ``tie``) or numeric ``conv_A_rating`` / ``conv_B_rating``.

A row that cannot be used (missing field, empty response, tie, malformed conversation) is
skipped and counted by reason; it never stops the run. Subsets of any size are drawn by one
seeded permutation, so smaller subsets are nested in larger ones.

A training run's ``data.source`` names the layout its file must have (:data:`SOURCE_LAYOUTS`);
:func:`check_preference_layout` compares the two, at config time when the file exists and at the
start of the training job.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub import snapshot_download
from huggingface_hub.errors import HfHubHTTPError

from rmbias.io import InputError, atomic_path, read_parquet, read_text_utf8

log = logging.getLogger(__name__)

SKYWORK_COLUMNS = ("chosen", "rejected")
UNIFIED_FEEDBACK_COLUMNS = ("conv_A", "conv_B")
UNIFIED_FEEDBACK_LABELS = (("winner",), ("conv_A_rating", "conv_B_rating"))
PAIR_COLUMNS = ("prompt", "chosen", "rejected")
LAYOUTS = {
    "skywork": "Skywork layout (chosen, rejected)",
    "unified_feedback": "Unified-Feedback layout (conv_A, conv_B + winner or conv_A_rating/conv_B_rating)",
}
"""The layouts of a preference file (:func:`preference_layout`) and how messages name them."""
SOURCE_LAYOUTS = {"synthetic": "skywork", "skywork": "skywork", "unified_feedback": "unified_feedback"}
"""The layout of the file of each ``data.source`` of a training run (config/schema.yaml); the
synthetic pairs are written in the Skywork layout (:func:`skywork_rows`)."""


class SkippedRow(Exception):
    """A preference row that cannot be used; ``reason`` is the counter key."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class PreferenceData:
    """Normalised pairs plus the number of rows skipped per reason."""

    pairs: pd.DataFrame
    schema: str
    skipped: dict[str, int] = field(default_factory=dict)


def read_preferences(path: str | os.PathLike) -> PreferenceData:
    """Read a Skywork or Unified-Feedback file (``.parquet`` or ``.jsonl``) into pairs.

    Returns :class:`PreferenceData` whose ``pairs`` has columns ``prompt`` (list of message
    dicts), ``chosen`` and ``rejected`` (str), and whose ``skipped`` counts dropped rows by
    reason. Raises :class:`InputError` when the columns match neither schema.
    """
    path = Path(path)
    rows, columns, skipped = _read_rows(path)
    schema, parse_row = _detect_schema(path, columns)
    pairs = []
    for row in rows:
        try:
            pairs.append(parse_row(row))
        except SkippedRow as skip:
            skipped[skip.reason] += 1
    if skipped:
        log.info("%s: skipped %s", path, dict(sorted(skipped.items())))
    frame = pd.DataFrame(pairs, columns=list(PAIR_COLUMNS))
    return PreferenceData(pairs=frame, schema=schema, skipped=dict(skipped))


def _read_rows(path: Path) -> tuple[list[Mapping[str, Any]], set[str], Counter]:
    """Rows as dicts, the set of column names seen, and a skip counter (bad JSON lines)."""
    skipped: Counter = Counter()
    if path.suffix == ".parquet":
        frame = read_parquet(path)
        return frame.to_dict("records"), set(frame.columns), skipped
    if path.suffix not in (".jsonl", ".json"):
        raise InputError(f"{path}: unsupported preference file type (expected .parquet or .jsonl)")
    rows, columns = [], set()
    for line in read_text_utf8(path).splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            skipped["invalid_json"] += 1
            continue
        if not isinstance(row, dict):
            skipped["invalid_json"] += 1
            continue
        rows.append(row)
        columns.update(row)
    return rows, columns, skipped


def preference_layout(path: str | os.PathLike) -> str:
    """The layout (a key of :data:`LAYOUTS`) of a preference file, from its column names: a
    parquet file's schema, the keys of a JSONL file's rows. Raises :class:`InputError` naming the
    file when it is unreadable or its columns match neither layout."""
    path = Path(path)
    if path.suffix != ".parquet":
        return _detect_schema(path, _read_rows(path)[1])[0]
    if not path.exists():
        raise InputError(f"{path}: file does not exist")
    try:
        columns = set(pq.read_schema(path).names)
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(f"{path}: not a readable parquet file ({str(err).splitlines()[0]})") from err
    return _detect_schema(path, columns)[0]


def check_preference_layout(path: str | os.PathLike, source: str, run: str) -> None:
    """Preference file ``path`` of training run ``run`` has the layout of the run's ``data.source``
    ``source`` (:data:`SOURCE_LAYOUTS`); else an :class:`InputError` naming the file, the run and
    both layouts (the run would be trained, and labelled, as the wrong source)."""
    expected, found = SOURCE_LAYOUTS[source], preference_layout(path)
    if found != expected:
        raise InputError(f"{path}: training run {run!r} has data.source {source}, the {LAYOUTS[expected]}, "
                         f"but the file has the {LAYOUTS[found]}")


def _detect_schema(path: Path, columns: set[str]) -> tuple[str, Callable[[Mapping[str, Any]], tuple]]:
    if set(SKYWORK_COLUMNS) <= columns:
        return "skywork", _skywork_pair
    if set(UNIFIED_FEEDBACK_COLUMNS) <= columns and any(set(label) <= columns for label in UNIFIED_FEEDBACK_LABELS):
        return "unified_feedback", _unified_feedback_pair
    found = ", ".join(sorted(columns)) or "none"
    raise InputError(
        f"{path}: columns match neither the Skywork schema (chosen, rejected) nor Unified-Feedback "
        f"(conv_A, conv_B + winner or conv_A_rating/conv_B_rating); found: {found}"
    )


def _skywork_pair(row: Mapping[str, Any]) -> tuple[list[dict], str, str]:
    prompt, chosen = _split_conversation(_field(row, "chosen"))
    rejected_prompt, rejected = _split_conversation(_field(row, "rejected"))
    if prompt != rejected_prompt:
        raise SkippedRow("prompt_mismatch")
    return prompt, chosen, rejected


def _unified_feedback_pair(row: Mapping[str, Any]) -> tuple[list[dict], str, str]:
    prompt, response_a = _split_conversation(_field(row, "conv_A"))
    prompt_b, response_b = _split_conversation(_field(row, "conv_B"))
    if prompt != prompt_b:
        raise SkippedRow("prompt_mismatch")
    if _a_wins(row):
        return prompt, response_a, response_b
    return prompt, response_b, response_a


def _a_wins(row: Mapping[str, Any]) -> bool:
    """True when conversation A is preferred; raises SkippedRow for ties and bad labels."""
    winner = row.get("winner")
    if not _is_missing(winner):
        label = str(winner).strip().lower()
        if label.startswith("tie"):
            raise SkippedRow("tie")
        if label not in ("model_a", "model_b"):
            raise SkippedRow("unknown_label")
        return label == "model_a"
    try:
        rating_a = float(_field(row, "conv_A_rating"))
        rating_b = float(_field(row, "conv_B_rating"))
    except (TypeError, ValueError):
        raise SkippedRow("unknown_label") from None
    if math.isnan(rating_a) or math.isnan(rating_b):
        raise SkippedRow("missing_field")
    if rating_a == rating_b:
        raise SkippedRow("tie")
    return rating_a > rating_b


def _field(row: Mapping[str, Any], name: str) -> Any:
    value = row.get(name)
    if _is_missing(value):
        raise SkippedRow("missing_field")
    return value


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, float) and math.isnan(value)


def _split_conversation(conversation: Any) -> tuple[list[dict], str]:
    """Split a message list into (prompt messages, final assistant text)."""
    messages = _as_messages(conversation)
    if len(messages) < 2 or messages[-1]["role"] != "assistant":
        raise SkippedRow("malformed_conversation")
    response = messages[-1]["content"]
    if not response.strip():
        raise SkippedRow("empty_response")
    return messages[:-1], response


def _as_messages(conversation: Any) -> list[dict]:
    """Plain ``[{role, content}]`` list from a list/array of message mappings."""
    if isinstance(conversation, (str, bytes, Mapping)) or not isinstance(conversation, Iterable):
        raise SkippedRow("malformed_conversation")
    messages = []
    for message in conversation:
        if not isinstance(message, Mapping):
            raise SkippedRow("malformed_conversation")
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            raise SkippedRow("malformed_conversation")
        messages.append({"role": role, "content": content})
    return messages


def split_pairs(
    pairs: pd.DataFrame, n_train: int | None, n_heldout: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deterministic (train, held-out) subsets drawn by one seeded permutation of the rows.

    The held-out rows are the last ``n_heldout`` of the permutation and the training rows the
    first ``n_train`` (all the others when ``None``). For a fixed seed and ``n_heldout`` the
    held-out set is the same for every ``n_train`` and smaller training sets are nested in
    larger ones (13k ⊂ 26k ⊂ 53k ⊂ 106k). Both frames keep the original index.
    """
    available = len(pairs) - n_heldout
    if n_heldout < 0 or available < 0:
        raise InputError(f"preference split: n_heldout={n_heldout} is outside 0..{len(pairs)}")
    if n_train is None:
        n_train = available
    if not 0 <= n_train <= available:
        raise InputError(
            f"preference split: asked for {n_train} training pairs but only {available} are available "
            f"({len(pairs)} pairs minus {n_heldout} held out)"
        )
    order = np.random.default_rng(seed).permutation(len(pairs))
    heldout = order[len(pairs) - n_heldout:]
    return pairs.iloc[order[:n_train]], pairs.iloc[heldout]


def skywork_rows(pairs: pd.DataFrame) -> list[dict[str, list[dict[str, str]]]]:
    """(prompt text, chosen, rejected) pairs as rows of the Skywork schema (two conversations)."""
    rows = []
    for prompt, chosen, rejected in pairs[list(PAIR_COLUMNS)].itertuples(index=False):
        user = [{"role": "user", "content": prompt}]
        rows.append(
            {
                "chosen": [*user, {"role": "assistant", "content": chosen}],
                "rejected": [*user, {"role": "assistant", "content": rejected}],
            }
        )
    return rows


def download_preference_dataset(repo_id: str, revision: str | None, pattern: str, out_path: str | os.PathLike) -> None:
    """Download the parquet files of a Hugging Face dataset repo matching ``pattern`` and write
    them, concatenated in file-name order, as one parquet file (``read_preferences`` input).

    Uses ``huggingface_hub.snapshot_download`` (the HF_TOKEN of the environment, if any, for gated
    sets); an unreachable hub or a pattern that matches nothing is an :class:`InputError`.
    """
    try:
        root = Path(snapshot_download(repo_id, repo_type="dataset", revision=revision, allow_patterns=[pattern]))
    except (HfHubHTTPError, OSError) as err:
        raise InputError(f"{repo_id}: cannot download dataset ({str(err).splitlines()[0]})") from err
    files = sorted(root.glob(pattern))
    if not files:
        raise InputError(f"{repo_id}@{revision or 'main'}: no file matches {pattern!r}")
    with atomic_path(out_path) as tmp:
        pd.concat([pd.read_parquet(f) for f in files], ignore_index=True).to_parquet(tmp, index=False)
