"""Figure 4b / A5b from the authors' published ablation tables, and the repair those files need.

The published ``rank_results_{label}.csv`` files hold, per reward model, category and training
checkpoint, the median rank (``sum_value``) of the Big Two terms. Two of them are byte-identical
and one repeats rows; :func:`load_ablation_tables` keeps what can be trusted and says what it
dropped, or, as an option, keeps both identical files as the authors' figure script plotted
them (the same points at 13k and 26k), still warning. :func:`published_ablations` is the job
that writes the result.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from rmbias.frames import require_columns
from rmbias.io import InputError
from rmbias.models.families import family_of_published_rm
from rmbias.records import read_record, statistics_record, write_statistics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AblationRun:
    """What a published ``rank_results_{label}.csv`` holds: preference data size (thousands), source, loss."""

    data_size_k: float
    data_source: str
    method: str


# Data sizes as the paper states them (Section 4.1: 13k, 26k, 53k, 106k Unified-Feedback; 77k
# Skywork). The GRM file's own ``data_size`` column says 85 (its final Skywork fine-tune
# only); the paper plots the GRMs at 632k ("more than 630k preferences": the Unified-Feedback
# stage plus Skywork), so that is the size used here.
PUBLISHED_ABLATIONS = {
    "uf_13": AblationRun(13, "uf", "BT"),
    "uf_27": AblationRun(26, "uf", "BT"),
    "uf_54": AblationRun(53, "uf", "BT"),
    "uf_100": AblationRun(106, "uf", "BT"),
    "sky_80k": AblationRun(77, "skywork", "BT"),
    "grm_80k": AblationRun(632, "uf+skywork", "GRM"),
}
# The published uf_13 and uf_27 files are byte-identical and their model ids say
# "unified27k": the content is the 26k run, so uf_27 is the copy to keep.
PUBLISHED_IDENTICAL_KEEP = ("uf_27",)
ABLATION_COLUMNS = ["model_id", "Category", "checkpoint", "base_model", "sum_value"]


def _read_ablation_csv(label: str, path: Path, content: bytes) -> pd.DataFrame:
    try:
        table = pd.read_csv(io.BytesIO(content))
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise InputError(f"{path}: not a readable CSV ({str(err).splitlines()[0]})") from err
    require_columns(table, ABLATION_COLUMNS, str(path))
    table = table[ABLATION_COLUMNS].copy()
    missing_base = table["base_model"].isna()
    table.loc[missing_base, "base_model"] = table.loc[missing_base, "model_id"].map(family_of_published_rm)
    table.insert(0, "label", label)
    return table


def load_ablation_tables(
    paths: Mapping[str, str | Path],
    runs: Mapping[str, AblationRun] = PUBLISHED_ABLATIONS,
    keep_on_identical: Sequence[str] = PUBLISHED_IDENTICAL_KEEP,
) -> tuple[pd.DataFrame, list[str]]:
    """Read the Figure 4b ablation tables, repair their duplication, keep each run's final checkpoint.

    ``paths``: label (e.g. ``uf_13``) -> ``rank_results_*.csv``; ``runs``: label -> its data
    size/source/method. Files with the same sha256 cannot all be what their labels say: of
    such a group only the label listed in ``keep_on_identical`` is kept (none if no member
    is listed; listing every label of the group keeps them all, as the authors' figure script
    did). Repeated rows are dropped; a (model, category, checkpoint) with conflicting
    values is an :class:`InputError`. A missing ``base_model`` is inferred from ``model_id``.
    Returns (one row per run, model and category at its last checkpoint: ``label, model_id,
    base_model, method, data_source, data_size_k, category, checkpoint, median_rank``;
    warnings, one line each, naming the files concerned).
    """
    unknown = sorted(set(paths) - set(runs))
    if unknown:
        raise InputError(f"ablation table {unknown[0]!r}: no data size/source/method known for this label")
    contents = {}
    for label, path in paths.items():
        if not Path(path).exists():
            raise InputError(f"{path}: file does not exist")
        contents[label] = Path(path).read_bytes()
    warnings, dropped = [], set()
    digests = pd.Series({label: hashlib.sha256(content).hexdigest() for label, content in contents.items()})
    for digest, labels in digests.groupby(digests).groups.items():
        if len(labels) < 2:
            continue
        kept = sorted(label for label in labels if label in keep_on_identical)
        removed = sorted(set(labels) - set(kept))
        dropped.update(removed)
        names = ", ".join(Path(paths[label]).name for label in labels)
        outcome = f"kept {', '.join(kept)}" if kept else "kept none"
        outcome += f", dropped {', '.join(removed)}" if removed else " (plotted as the authors' figure did)"
        warnings.append(f"{names} are byte-identical (sha256 {digest[:12]}); {outcome}")
    tables = []
    for label in (label for label in paths if label not in dropped):
        path = Path(paths[label])
        table = _read_ablation_csv(label, path, contents[label])
        repeated = int(table.duplicated().sum())
        if repeated:
            warnings.append(f"{path.name}: {repeated} repeated rows dropped ({len(table) - repeated} distinct)")
            table = table.drop_duplicates()
        if table.duplicated(["model_id", "Category", "checkpoint"]).any():
            raise InputError(f"{path}: a model/category/checkpoint has conflicting sum_value rows")
        tables.append(table)
    combined = pd.concat(tables, ignore_index=True)
    last = combined.groupby(["label", "model_id", "Category"])["checkpoint"].transform("max")
    final = combined[combined["checkpoint"] == last].rename(columns={"Category": "category", "sum_value": "median_rank"})
    run_info = pd.DataFrame([{"label": label, **vars(run)} for label, run in runs.items()])
    final = final.merge(run_info, on="label", how="left")
    columns = ["label", "model_id", "base_model", "method", "data_source", "data_size_k", "category", "checkpoint", "median_rank"]
    return final[columns].reset_index(drop=True), warnings



IDENTICAL_FILES = ("keep_one", "keep_all")
"""What to do with byte-identical ablation files: keep the one of :data:`PUBLISHED_IDENTICAL_KEEP`
(the repair), or keep them all (the authors' Figure 4b)."""


def published_ablations(paths: Mapping[str, str | Path], csv_path: str | Path, json_path: str | Path,
                        identical_files: str = "keep_one") -> pd.DataFrame:
    """The ``published_ablations`` job: load and repair the tables (byte-identical files as
    ``identical_files`` says: :data:`IDENTICAL_FILES`), write the final ranks (CSV) and a record
    whose ``warnings`` list every repair (one line each)."""
    if identical_files not in IDENTICAL_FILES:
        raise InputError(f"published ablations: identical_files must be one of {', '.join(IDENTICAL_FILES)}, got {identical_files!r}")
    keep = tuple(paths) if identical_files == "keep_all" else PUBLISHED_IDENTICAL_KEEP
    final, warnings = load_ablation_tables(paths, keep_on_identical=keep)
    for warning in warnings:
        logger.warning("%s", warning)
    record = statistics_record(
        "published_ablations",
        "final-checkpoint median ranks of the published ablation runs (no test); warnings name the repaired files",
        [],
        warnings=warnings,
    )
    write_statistics(record, json_path, {csv_path: final})
    return final


def read_ablation_warnings(json_path: str | Path) -> list[str]:
    """The ``warnings`` of a record written by :func:`published_ablations`."""
    return list(read_record(json_path)["warnings"])
