"""What the report's captions say about a config's training runs, in words.

Snakemake renders every caption file of ``report/captions/`` as a Jinja2 template with the
``snakemake`` object of the job that wrote the output: ``snakemake.config`` (the validated
config, defaults filled), ``snakemake.wildcards`` and ``snakemake.params``. A caption reads the
models, prompts and dictionaries it names from the config or from params its rule already
has; a fact that takes more than a lookup -- the preference data of a training run, which
runs a figure draws -- is worded here and handed to the caption as a param of its rule
(``rules/figures.smk``), so that every caption naming runs words them alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rmbias.models.families import family_label


def preference_data(data: Mapping[str, Any], datasets: Mapping[str, Mapping[str, Any]]) -> str:
    """The preference pairs of one ``training.runs`` entry's ``data``, in words.

    ``datasets`` is ``training.preference_datasets`` (name -> hub ``repo``). E.g.
    ``"256 synthetic preference pairs (seed 0)"``, ``"13,000 pairs of unified_feedback
    (llm-blender/Unified-Feedback)"``, ``"every pair of skywork (...)"`` (size null) or
    ``"500 pairs of prefs.parquet (skywork format)"`` (a local ``path``).
    """
    size = data.get("size")
    if data["source"] == "synthetic":
        return f"{size:,} synthetic preference pairs (seed {data.get('seed', 0)})"
    amount = f"{size:,} pairs" if size else "every pair"
    if data.get("path"):
        return f"{amount} of {data['path']} ({data['source']} format)"
    dataset = data["dataset"]
    return f"{amount} of {dataset} ({datasets[dataset]['repo']})"


def training_run_phrases(config: Mapping[str, Any], run_ids: Iterable[str], include_qwen: bool = True) -> list[str]:
    """One phrase per training run of ``run_ids`` (in that order, each once) that a figure draws:
    ``"llama-synth-large: base demo-llama-it (Llama), 256 synthetic preference pairs (seed 0)"``.

    ``config`` is a validated workflow config. Without ``include_qwen`` the runs from a Qwen-family
    base are left out, as the figures that drop Qwen rows (Figures 4a, 4b) leave them out.
    """
    runs = {run["id"]: run for run in config["training"]["runs"]}
    families = {entry["id"]: entry["family"] for entry in config["models"]}
    datasets = config["training"]["preference_datasets"]
    phrases = []
    for run_id in dict.fromkeys(run_ids):
        run = runs[run_id]
        family = families[run["base"]]
        if include_qwen or family != "qwen":
            data = preference_data(run["data"], datasets)
            phrases.append(f"{run_id}: base {run['base']} ({family_label(family)}), {data}")
    return phrases
