"""The one pad/collate helper: token-id lists to padded tensors.

Right padding is what every reward and loss computation uses (the sequence-classification head
reads each row's last token that is not the pad id); left padding with explicit positions is
for reading next-token distributions at the last column of prompts of different lengths.
"""

from __future__ import annotations

from typing import Sequence

import torch

IGNORED_LABEL = -100
"""Label id that ``transformers`` causal-LM losses skip."""


def right_pad(sequences: Sequence[Sequence[int]], pad_id: int, labels: Sequence[Sequence[int]] | None = None,
              device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` (long, ``[batch, longest]``) of right-padded
    ``sequences``; with ``labels`` (one list per sequence, same lengths) also ``labels``,
    padded with :data:`IGNORED_LABEL`."""
    width = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, ids in enumerate(sequences):
        input_ids[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, :len(ids)] = 1
    batch = {"input_ids": input_ids, "attention_mask": attention_mask}
    if labels is not None:
        padded_labels = torch.full((len(sequences), width), IGNORED_LABEL, dtype=torch.long)
        for row, row_labels in enumerate(labels):
            padded_labels[row, :len(row_labels)] = torch.tensor(row_labels, dtype=torch.long)
        batch["labels"] = padded_labels
    return {name: tensor.to(device) for name, tensor in batch.items()}


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int,
             device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """``input_ids``, ``attention_mask`` and ``position_ids`` (long, ``[batch, longest]``) of
    left-padded ``sequences``, positions counting real tokens only."""
    width = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, ids in enumerate(sequences):
        if ids:
            input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, width - len(ids):] = 1
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    return {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device),
            "position_ids": position_ids.to(device)}
