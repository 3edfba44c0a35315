"""The report's captions name the models, runs and prompts of the config that made them.

Every caption of ``report/captions/`` is rendered for the demo config (config/config.yaml), the
real-model config (config/real.yaml) and the paper's (config/paper.yaml) the way
``snakemake --report`` renders it (tests/caption_rendering.py: Snakemake builds each config's DAG,
its Jinja environment and ``snakemake`` object render the caption files, docutils the HTML). No
caption may name one of the paper's models, runs or data sets that its config does not hold --
except the captions of the figures of the paper's published data (Figures 1, A1, 4b, A5b), which
show that data in every config. Figure 2's caption puts on each half of the split violins the
model the figure code draws there.
"""

from __future__ import annotations

import functools
import html
import json
import re

import numpy as np
import pandas as pd
import pytest
from caption_rendering import render_captions
from plotnine import geom_violin
from workflow_helpers import REPO_ROOT, copy_workflow

from rmbias.config import load_yaml
from rmbias.figures.base_models import plot_split_violins
from rmbias.figures.captions import preference_data, training_run_phrases

CONFIGS = ("config", "real", "paper")
"""The configs of config/ whose captions are rendered: the demo world, the real models, the paper's."""

PUBLISHED_DATA_RULES = {"fig1_figure", "published_ablation_figure"}
"""Rules whose figures show the paper's published data in every config: their captions may name it."""

CASE_SENSITIVE_NAMES = ("IT", "Instruct")
"""Parts of the paper's model names that are ordinary words in lower case."""

NAMES_THE_CAPTIONS_USED = (
    "Gemma 2 2B", "Gemma 2", "Gemma-2", "Llama 3.2 3B", "Llama 3.2", "Llama 3", "Llama-3", "Qwen2.5", "Qwen 2.5",
    "Skywork", "Unified-Feedback", "GRM", "RewardBench", "QRM", "URM", "ArmoRM",
)
"""Names of the paper's models and data that the captions held before they were rendered from the config."""


@functools.cache
def paper_names() -> tuple[str, ...]:
    """The paper's models, RMs, training runs and preference data sets (config/paper.yaml: ids,
    hub ids and their model part) and :data:`NAMES_THE_CAPTIONS_USED`, case-insensitive names."""
    paper = load_yaml(REPO_ROOT / "config" / "paper.yaml")
    names = set(NAMES_THE_CAPTIONS_USED)
    for entry in [*paper["models"], *paper["reward_models"]]:
        names |= {entry["id"], entry["hf"], entry["hf"].split("/")[-1]}
    names |= {run["id"] for run in paper["training"]["runs"]}
    for name, dataset in paper["training"]["preference_datasets"].items():
        names |= {name, dataset["repo"]}
    return tuple(sorted(names))


def names_outside(text: str, config_text: str) -> list[str]:
    """The paper's names (:func:`paper_names`, :data:`CASE_SENSITIVE_NAMES`) that ``text`` contains
    as a whole name and ``config_text`` (the config, serialised) does not."""
    found = []
    for name in [*paper_names(), *CASE_SENSITIVE_NAMES]:
        flags = 0 if name in CASE_SENSITIVE_NAMES else re.IGNORECASE
        in_config = name in config_text if name in CASE_SENSITIVE_NAMES else name.lower() in config_text.lower()
        if not in_config and re.search(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", text, flags):
            found.append(name)
    return found


def report_captions(report_html: str) -> list[tuple[str | None, str]]:
    """(rule, plain text) of every caption of a built report (its ``results`` object) and of its
    front page (rule None)."""
    decoder = json.JSONDecoder()
    results, _ = decoder.raw_decode(report_html, report_html.index("var results = ") + len("var results = "))
    front_page, _ = decoder.raw_decode(report_html, report_html.index("var workflow_desc = ") + len("var workflow_desc = "))
    captions = [(entry["job_properties"]["rule"], entry["caption"]) for entry in results.values()] + [(None, front_page)]
    return [(rule, html.unescape(re.sub(r"<[^>]+>", "", caption))) for rule, caption in captions]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Config name -> the record of tests/caption_rendering.py for config/<name>.yaml."""
    workflow = copy_workflow(tmp_path_factory.mktemp("captions") / "workflow")
    return render_captions(workflow, {name: workflow / "config" / f"{name}.yaml" for name in CONFIGS})


def captions_of(record: dict, caption_file: str) -> list[dict]:
    return [caption for caption in record["captions"] if caption["caption_file"] == caption_file]


@pytest.mark.parametrize("config", CONFIGS)
def test_every_caption_renders_to_html_without_a_docutils_message(rendered, config):
    captions = rendered[config]["captions"]
    assert len({caption["caption_file"] for caption in captions}) > 10
    for caption in captions:
        assert caption["messages"] == [], (caption["output"], caption["messages"])
        assert caption["html"].strip() and "````" not in caption["text"], caption["output"]


@pytest.mark.parametrize("config", CONFIGS)
def test_captions_name_no_paper_model_their_config_does_not_hold(rendered, config):
    record = rendered[config]
    config_text = json.dumps(record["config"])
    named = {caption["output"]: names_outside(caption["text"], config_text)
             for caption in record["captions"] if caption["rule"] not in PUBLISHED_DATA_RULES}
    assert {output: names for output, names in named.items() if names} == {}


def test_the_check_finds_the_paper_s_models_in_the_paper_s_captions(rendered):
    demo_config = json.dumps(rendered["config"]["config"])
    paper = {caption["output"]: caption["text"] for caption in rendered["paper"]["captions"]}
    assert {"llama-3.2-3b-instruct", "gemma-2-2b-it"} <= set(names_outside(paper["results/figures/fig2a_instruct.pdf"], demo_config))
    assert "Skywork/Skywork-Reward-Preference-80K-v0.2" in paper["results/figures/fig4a_training_checkpoints.pdf"]
    assert "gemma-2-2b" in names_outside(paper["results/figures/figA3a_authority.pdf"], demo_config)
    published = [caption for caption in rendered["config"]["captions"] if caption["rule"] in PUBLISHED_DATA_RULES]
    assert published and any(names_outside(caption["text"], demo_config) for caption in published)


def split_violin_frames(models: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Figure 2 observations and cell tests of two models (tests/test_figures.py's shape)."""
    rng = np.random.default_rng(3)
    ranks = pd.DataFrame([
        dict(model=model, prompt=f"{framing}_{i}", framing=framing, category=category, median_rank=float(rng.uniform(5, 50)))
        for model in models for framing in ("positive", "negative") for i in range(3) for category in ("Agency", "Communion")
    ])
    tests = pd.DataFrame([dict(framing=f, category=c, stars="ns") for f in ("positive", "negative") for c in ("Agency", "Communion")])
    return ranks, tests


@pytest.mark.parametrize("config", CONFIGS)
def test_figure2_caption_names_each_half_of_the_split_violins_as_the_figure_draws_it(rendered, config, tmp_path):
    record = rendered[config]
    captions = captions_of(record, "fig2_figure.rst")
    implicit = record["config"]["implicit"]
    assert len(captions) == sum(1 for ids in implicit["fig2"].values() if ids) * len(implicit["fig2_lexicons"])
    assert {caption["params"]["lexicon"] for caption in captions} == set(implicit["fig2_lexicons"])
    for caption in captions:
        variant = "instruct" if caption["output"].startswith("results/figures/fig2a_") else "pretrained"
        models = caption["params"]["models"]
        assert models == implicit["fig2"][variant]
        assert f"lexicon ``{caption['params']['lexicon']}``" in " ".join(caption["text"].split())
        ranks, tests = split_violin_frames(list(reversed(models)))
        plot = plot_split_violins(ranks, tests, tmp_path / "f.pdf", tmp_path / "f.png", model_order=models)
        left, right = (layer.geom for layer in plot.layers if isinstance(layer.geom, geom_violin))
        assert left.params["style"] == "left" and right.params["style"] == "right"
        text = " ".join(caption["text"].split())
        assert re.search(r"left half ``([^`]+)``", text).group(1) == set(left.data["model"]).pop()
        assert re.search(r"right half ``([^`]+)``", text).group(1) == set(right.data["model"]).pop()
    for caption in captions_of(record, "fig2_renderings.rst"):
        text = " ".join(caption["text"].split())
        first, second = caption["params"]["models"]["template"]
        assert f"left half of each split violin ``{first}``, right half ``{second}``" in text


@pytest.mark.parametrize("config", ["config", "real"])
def test_training_captions_name_the_runs_each_figure_draws_with_their_base_and_data(rendered, config):
    record = rendered[config]
    training = record["config"]["training"]
    families = {entry["id"]: entry["family"] for entry in record["config"]["models"]}
    runs = {run["id"]: run for run in training["runs"]}
    texts = {caption["output"]: " ".join(caption["text"].split()) for caption in record["captions"]}
    for figure, include_qwen in (("fig4a", False), ("figA5a", True)):
        text = texts[f"results/figures/{figure}_training_checkpoints.pdf"]
        for run_id in training["figures"]["checkpoint_runs"]:
            run = runs[run_id]
            phrase = f"{run_id}: base {run['base']} ({families[run['base']].capitalize()}), {run['data']['size']} synthetic preference pairs"
            assert (phrase in text) == (include_qwen or families[run["base"]] != "qwen"), (figure, run_id)
    own = texts["results/figures/figA5b_ablations_own.pdf"]
    assert all(f"{run_id}: base {run['base']}" in own for run_id, run in runs.items())
    assert all(f"(seed {run['data'].get('seed', 0)})" in own for run in runs.values())


def test_real_config_figure2_caption_says_which_model_reads_a_borrowed_template(rendered):
    (caption,) = captions_of(rendered["real"], "fig2_figure.rst")
    text = " ".join(caption["text"].split())
    assert "left half ``smollm2-135m-instruct`` (Llama family, instruction-tuned, reading its chat template)" in text
    assert "right half ``gemma-3-270m`` (Gemma family, pretrained, reading a chat template it was not trained with)" in text


@pytest.mark.parametrize("config", CONFIGS)
def test_front_page_names_every_model_of_the_config(rendered, config):
    record = rendered[config]
    (front,) = [caption for caption in record["captions"] if caption["rule"] is None]
    for entry in [*record["config"]["models"], *record["config"]["reward_models"]]:
        assert f"``{entry['id']}``" in front["text"]


def test_preference_data_names_the_pairs_a_run_trains_on():
    datasets = {"uf": {"repo": "org/prefs", "pattern": "*.parquet"}}
    assert preference_data({"source": "synthetic", "size": 1280, "seed": 2}, datasets) == "1,280 synthetic preference pairs (seed 2)"
    assert preference_data({"source": "unified_feedback", "dataset": "uf", "size": 13000}, datasets) == "13,000 pairs of uf (org/prefs)"
    assert preference_data({"source": "skywork", "dataset": "uf", "size": None}, datasets) == "every pair of uf (org/prefs)"
    assert preference_data({"source": "skywork", "path": "mine.jsonl", "size": 50}, datasets) == "50 pairs of mine.jsonl (skywork format)"


def test_training_run_phrases_keep_the_order_given_once_each_and_drop_qwen_on_request():
    config = {
        "models": [{"id": "a", "family": "llama"}, {"id": "q", "family": "qwen"}],
        "training": {"preference_datasets": {}, "runs": [
            {"id": "r1", "base": "a", "data": {"source": "synthetic", "size": 8, "seed": 0}},
            {"id": "r2", "base": "q", "data": {"source": "synthetic", "size": 16, "seed": 1}},
        ]},
    }
    assert training_run_phrases(config, ["r2", "r1", "r2"]) == [
        "r2: base q (Qwen), 16 synthetic preference pairs (seed 1)",
        "r1: base a (Llama), 8 synthetic preference pairs (seed 0)",
    ]
    assert training_run_phrases(config, ["r2", "r1"], include_qwen=False) == ["r1: base a (Llama), 8 synthetic preference pairs (seed 0)"]


def test_report_captions_are_read_from_a_built_report():
    caption = "<p>Figure of <tt class=\\\"docutils literal\\\">demo-llama-it</tt> &amp; more</p>\\n"
    page = (f'var workflow_desc = "<p>front</p>";\n var results = {{"results/x.pdf": {{"caption": "{caption}", '
            '"job_properties": {"rule": "fig2_figure"}}};\n')
    assert report_captions(page) == [("fig2_figure", "Figure of demo-llama-it & more\n"), (None, "front")]
