"""Attention of many suffixes over one shared prefix, for prefix-cached exhaustive search.

:func:`shared_prefix_attention` is registered with transformers as the attention implementation
:data:`SHARED_PREFIX_ATTENTION`; :func:`attention_over_shared_prefix` switches a model to it for
a block. The prefix's keys and values (one row) are never copied or repeated per batch or row:
the scores of every row's queries against them are one matrix product per key/value head.
Scaling, soft-capping, sliding windows and the float32 softmax follow the eager implementation.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch
import transformers
import transformers.masking_utils


class SharedPrefix:
    """The prefix's cached keys and values per attention layer (``[1, kv_heads, n, head_dim]``, after
    rotary embedding; a sliding-window layer holds only the prefix's last ``n`` tokens), the
    prefix length, and how many layers attended to them during the last forward
    (:func:`shared_prefix_attention` counts)."""

    def __init__(self, cache: Any, n_prefix: int):
        self.layers = [(layer.keys, layer.values) for layer in cache.layers]
        self.n_prefix = n_prefix
        self.calls = 0


def shared_prefix_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                            attention_mask: Any, scaling: float | None = None, dropout: float = 0.0,
                            softcap: float | None = None, sliding_window: int | None = None, *,
                            shared_prefix: SharedPrefix, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """Attention of suffix queries over the shared prefix and their own right-padded suffix.

    ``query`` is ``[batch, heads, |S|, head_dim]``, ``key``/``value`` the suffix's own
    ``[batch, kv_heads, |S|, head_dim]``; the prefix's keys and values (one row, ``|P|`` tokens)
    come from ``shared_prefix`` and are never repeated over the batch: the scores against them are
    one matrix product per key/value head with all rows' queries stacked. Query ``i`` (position
    ``|P| + i``) sees the cached prefix tokens and suffix tokens ``≤ i`` (right padding needs no
    other mask: a real token never follows a pad), within ``sliding_window``; scores are scaled, soft-capped (``softcap``) and
    normalized in float32 as the eager implementation does. Returns ``[batch, |S|, heads, head_dim]``.
    ``attention_mask`` is unused (:data:`SHARED_PREFIX_ATTENTION`'s mask function builds none).
    """
    prefix_keys, prefix_values = shared_prefix.layers[module.layer_idx]
    shared_prefix.calls += 1
    batch, heads, n_query, head_dim = query.shape
    kv_heads, n_cached, n_prefix = prefix_keys.shape[1], prefix_keys.shape[2], shared_prefix.n_prefix
    rows = heads // kv_heads * n_query  # a key/value head's query rows: its heads' queries, head-major
    grouped = query.reshape(batch, kv_heads, rows, head_dim)
    stacked = grouped.transpose(0, 1).reshape(kv_heads, batch * rows, head_dim)
    prefix_scores = (stacked @ prefix_keys[0].transpose(1, 2)).view(kv_heads, batch, rows, n_cached).transpose(0, 1)
    scores = torch.cat([prefix_scores, grouped @ key.transpose(2, 3)], dim=-1) * (scaling or head_dim ** -0.5)
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    query_positions = n_prefix + torch.arange(n_query, device=query.device).repeat(heads // kv_heads)[:, None]
    key_positions = torch.arange(n_prefix - n_cached, n_prefix + key.shape[2], device=query.device)[None, :]
    visible = key_positions <= query_positions
    if sliding_window is not None:
        visible &= query_positions - key_positions < sliding_window
    scores = scores.masked_fill(~visible, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    prefix_weights = weights[..., :n_cached].transpose(0, 1).reshape(kv_heads, batch * rows, n_cached)
    output = (prefix_weights @ prefix_values[0]).view(kv_heads, batch, rows, head_dim).transpose(0, 1)
    output = output + weights[..., n_cached:] @ value
    return output.reshape(batch, heads, n_query, head_dim).transpose(1, 2).contiguous(), None


SHARED_PREFIX_ATTENTION = "rmbias_shared_prefix"
"""The attention implementation name of :func:`shared_prefix_attention`; its mask function returns
no mask (the function needs none)."""
transformers.AttentionInterface.register(SHARED_PREFIX_ATTENTION, shared_prefix_attention)
transformers.masking_utils.ALL_MASK_ATTENTION_FUNCTIONS.register(SHARED_PREFIX_ATTENTION, lambda *args, **kwargs: None)


@contextlib.contextmanager
def attention_over_shared_prefix(model: torch.nn.Module) -> Iterator[None]:
    """Within the block, ``model`` attends by :func:`shared_prefix_attention`; afterwards as before."""
    original = model.config._attn_implementation
    model.set_attn_implementation(SHARED_PREFIX_ATTENTION)
    try:
        yield
    finally:
        model.set_attn_implementation(original)
