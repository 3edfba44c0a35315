"""Rendering sensitivity: Figures 2 and 3 again where a model's prompt format is borrowed.

A pretrained model given a chat template (``type: pretrained`` with a ``chat_template``, e.g.
config/real.yaml's Gemma 3 270M in the Gemma 3 turn format) reads its prompts in a format it
was not trained with, while the paper renders its pretrained models as plain prompts. Such a
model's Figure 2 sets and Figure 3 pairs are analysed under both :data:`RENDERINGS`:
``template`` (the entry as configured) and ``plain`` (the same weights reading the raw prompt
after the tokenizer's BOS: :func:`plain_rendering_entries`, a derived entry whose id is the
model's plus :data:`PLAIN_SUFFIX`). :func:`fig2_rendering_sensitivity` sets each Figure 2
ANOVA term under both renderings side by side; :func:`fig3_rendering_table` gives Figure 3's
words for every pair involving such a model, under both renderings.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd

from rmbias.implicit.figure3 import figure3_data
from rmbias.io import InputError, write_csv
from rmbias.records import read_record, statistics_record, write_statistics

logger = logging.getLogger(__name__)

RENDERINGS = ("template", "plain")
"""The two renderings of a model whose template is borrowed, in the order tables and figures show them."""

PLAIN_SUFFIX = ".plain"
"""Appended to a model id to name its plain rendering (``results/logprobs/<id>.plain.parquet``)."""

SENSITIVITY_COLUMNS = ("F", "df", "df_residual", "p")
"""What the side-by-side table gives of each ANOVA term under each rendering."""


def borrows_template(entry: Mapping[str, object]) -> bool:
    """Whether an LLM entry is pretrained yet rendered through a chat template (one it was not trained with)."""
    return entry["type"] == "pretrained" and entry.get("chat_template") is not None


def plain_rendering_entries(models: Mapping[str, Mapping[str, object]], used: Iterable[str]) -> dict[str, dict]:
    """{model id: entry of its plain rendering} for each LLM of ``used`` that :func:`borrows_template`.

    ``models`` maps every configured model id (LLMs and RMs) to its entry. The derived entry is
    the model's own, with id ``<id>`` + :data:`PLAIN_SUFFIX` and no ``chat_template``, so it
    renders the raw prompt; its weights (``hf``) stay the model's. Raises :class:`InputError`
    when a derived id is already a configured model's.
    """
    entries = {}
    for model_id in dict.fromkeys(used):
        entry = models[model_id]
        if not borrows_template(entry):
            continue
        plain_id = model_id + PLAIN_SUFFIX
        if plain_id in models:
            raise InputError(f"config error at models: {plain_id!r} names the plain rendering of {model_id!r} "
                             "(a pretrained model with a chat_template); give the model another id")
        entries[model_id] = {key: value for key, value in entry.items() if key != "chat_template"} | {"id": plain_id}
    return entries


def rendering_sensitivity_entries(records: Mapping[str, Mapping[str, Mapping]]) -> list[dict]:
    """The test entries of Figure 2 ANOVA records, ``records[set][rendering]`` (every rendering of
    :data:`RENDERINGS` per set), each with ``set`` and ``rendering`` added to its ``cell``."""
    entries = []
    for name, by_rendering in records.items():
        missing = [rendering for rendering in RENDERINGS if rendering not in by_rendering]
        if missing:
            raise InputError(f"Figure 2 set {name}: no ANOVA record of the {' and '.join(missing)} rendering")
        for rendering in RENDERINGS:
            for entry in by_rendering[rendering]["tests"]:
                entries.append({**entry, "cell": {**entry["cell"], "set": name, "rendering": rendering}})
    return entries


def side_by_side(entries: Sequence[Mapping]) -> pd.DataFrame:
    """One row per (set, ANOVA term) of :func:`rendering_sensitivity_entries`, in their order:
    ``set``, ``term``, then per rendering of :data:`RENDERINGS` its ``F_<rendering>``,
    ``df_<rendering>`` (numerator), ``df_residual_<rendering>`` and ``p_<rendering>``."""
    long = pd.DataFrame([
        {"set": e["cell"]["set"], "rendering": e["cell"]["rendering"], "term": e["term"], "F": e["statistic"],
         "df": e["df"], "df_residual": e["inputs"].get("df_residual"), "p": e["p"]}
        for e in entries
    ])
    rows = long[["set", "term"]].drop_duplicates()
    wide = long.pivot(index=["set", "term"], columns="rendering", values=list(SENSITIVITY_COLUMNS))
    wide.columns = [f"{value}_{rendering}" for value, rendering in wide.columns]
    columns = [f"{value}_{rendering}" for rendering in RENDERINGS for value in SENSITIVITY_COLUMNS]
    return rows.merge(wide.reset_index(), on=["set", "term"], how="left")[["set", "term", *columns]]


def fig2_rendering_sensitivity(
    anova_paths: Mapping[str, Mapping[str, str | Path]],
    models: Mapping[str, Mapping[str, Sequence[str]]],
    out_json: str | Path,
    out_csv: str | Path,
) -> None:
    """The ``fig2_rendering_sensitivity`` job: the Figure 2 ANOVA of every set with a borrowed
    template under both renderings, ``anova_paths[set][rendering]`` (the ``fig2_stats`` JSON
    records), written as one record (``models``: each set's model ids per rendering) and the
    :func:`side_by_side` CSV."""
    records = {name: {rendering: read_record(path) for rendering, path in paths.items()} for name, paths in anova_paths.items()}
    entries = rendering_sensitivity_entries(records)
    record = statistics_record(
        "fig2_rendering_sensitivity",
        "Figure 2's type-II 3-way ANOVA (median log-prob rank ~ category * framing * model) of each set holding a "
        "pretrained model with a borrowed chat template, with that model rendered through the template and as the plain prompt",
        entries,
        models={name: {rendering: list(ids) for rendering, ids in by_rendering.items()} for name, by_rendering in models.items()},
    )
    write_statistics(record, out_json, {out_csv: side_by_side(entries)})


def fig3_rendering_table(
    pairs: Mapping[str, Sequence[tuple[str, str]]],
    pair_paths: Sequence[str | Path],
    model_info: Mapping[str, Mapping[str, object]],
    words: Sequence[str],
    out_csv: str | Path,
) -> None:
    """The ``fig3_rendering_sensitivity`` job: :func:`rmbias.implicit.figure3.figure3_data` of the
    (llama, gemma) pairs involving a model with a borrowed template under each rendering,
    ``pairs[rendering]`` (the plain rendering's pairs name the derived ids), whose implicit
    tables are ``pair_paths`` in the same order (renderings in :data:`RENDERINGS` order, then
    pairs). Written as one CSV, column ``rendering`` first, one block per rendering."""
    ordered_pairs = [(rendering, tuple(pair)) for rendering in RENDERINGS for pair in pairs[rendering]]
    if len(ordered_pairs) != len(pair_paths):
        raise InputError(f"Figure 3 rendering sensitivity: {len(ordered_pairs)} pairs but {len(pair_paths)} implicit tables")
    paths = dict(zip(ordered_pairs, pair_paths))
    table = pd.concat(
        [
            figure3_data({pair: paths[(rendering, tuple(pair))] for pair in map(tuple, pairs[rendering])}, model_info, words)
            .assign(rendering=rendering)
            for rendering in RENDERINGS
        ],
        ignore_index=True,
    )
    write_csv(table[["rendering", *table.columns.drop("rendering")]], out_csv)
    logger.info("%d pairs x %d words under %d renderings -> %s", len(pairs[RENDERINGS[0]]), len(words), len(RENDERINGS), out_csv)
