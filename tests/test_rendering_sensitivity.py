"""Rendering sensitivity: a pretrained model with a borrowed chat template, analysed under both renderings."""

import numpy as np
import pandas as pd
import pytest

from rmbias import demo
from rmbias.corpora.tokens import rendered_prompts
from rmbias.demo.tokenizers import CHAT_TEMPLATES
from rmbias.figures.base_models import draw_rendering_violins, rendering_panels
from rmbias.implicit.figure2 import anova_record
from rmbias.implicit.rendering import (
    RENDERINGS,
    fig2_rendering_sensitivity,
    fig3_rendering_table,
    plain_rendering_entries,
)
from rmbias.io import InputError, read_csv, write_csv, write_parquet
from rmbias.models.loading import ModelSpec, load_renderer
from rmbias.records import read_record, write_statistics
from rmbias.statistics.group_tests import three_way_anova

GEMMA_MARKERS = ("<start_of_turn>", "<end_of_turn>", "<bos>")
PROMPTS = {"greatest_ever_one": {"text": "What, in one word, is the greatest thing ever?"},
           "worst_ever_one": {"text": "What, in one word, is the worst thing ever?"}}


def llm(model_id, model_type, **keys):
    return {"id": model_id, "hf": f"results/models/{model_id}", "family": "gemma", "kind": "causal_lm",
            "type": model_type, **keys}


def test_only_a_pretrained_model_with_a_template_gets_a_plain_rendering():
    llms = {
        "base-templated": llm("base-templated", "pretrained", chat_template="{{ bos_token }}", version="3"),
        "base": llm("base", "pretrained"),
        "it": llm("it", "instruction-tuned", chat_template="{{ bos_token }}"),
    }
    plain = plain_rendering_entries(llms, ["it", "base", "base-templated", "base-templated"])
    assert list(plain) == ["base-templated"]
    entry = plain["base-templated"]
    assert entry["id"] == "base-templated.plain" and "chat_template" not in entry
    assert {k: v for k, v in entry.items() if k != "id"} == {k: v for k, v in llms["base-templated"].items()
                                                             if k not in ("id", "chat_template")}
    assert "chat_template" in llms["base-templated"]  # the configured entry is left as it is
    assert plain_rendering_entries(llms, ["base", "it"]) == {}


def test_a_configured_id_equal_to_a_plain_rendering_stops_with_one_line():
    llms = {"g": llm("g", "pretrained", chat_template="{{ bos_token }}"), "g.plain": llm("g.plain", "pretrained")}
    with pytest.raises(InputError, match=r"^config error at models: 'g.plain' names the plain rendering of 'g'"):
        plain_rendering_entries(llms, ["g"])


def test_the_plain_rendering_is_plain_and_the_template_is_not(tmp_path):
    words = " ".join(p["text"] for p in PROMPTS.values()).replace(",", " ").replace("?", " ").split()
    tokenizer = demo.build_tokenizer(words, "gemma")
    tokenizer.chat_template = None  # a pretrained base without a template of its own
    tokenizer.save_pretrained(tmp_path / "gemma")
    entry = llm("gemma-base", "pretrained", hf=str(tmp_path / "gemma"), chat_template=CHAT_TEMPLATES["gemma"])
    templated_spec = ModelSpec.from_entry(entry)
    plain_spec = ModelSpec.from_entry(plain_rendering_entries({"gemma-base": entry}, ["gemma-base"])["gemma-base"])
    templated = rendered_prompts(load_renderer(templated_spec), templated_spec.id, PROMPTS)
    plain = rendered_prompts(load_renderer(plain_spec), plain_spec.id, PROMPTS)

    assert templated["text"].map(lambda text: all(marker in text for marker in GEMMA_MARKERS)).all()
    assert not plain["text"].map(lambda text: any(marker in text for marker in GEMMA_MARKERS)).any()
    assert plain["text"].tolist() == [p["text"] for p in PROMPTS.values()]
    assert set(plain["model"]) == {"gemma-base.plain"}
    bos = str(tokenizer.bos_token_id)
    assert plain["token_ids"].str.startswith(bos + " ").all()  # the raw prompt after the tokenizer's BOS


def observations(models, shift, seed):
    """Median ranks of two models over 6 prompts x 2 framings x 2 categories; the second model
    favours Agency on positive prompts and Communion on negative ones by ``shift``."""
    rng = np.random.default_rng(seed)
    rows = []
    for m, model in enumerate(models):
        for framing in ("positive", "negative"):
            for p in range(6):
                for category in ("Agency", "Communion"):
                    sign = 1 if (category == "Agency") == (framing == "positive") else -1
                    rows.append({"model": model, "prompt": f"{framing}_{p}", "framing": framing, "category": category,
                                 "median_rank": 50 + m * sign * shift + rng.normal(0, 3)})
    return pd.DataFrame(rows)


@pytest.fixture
def two_renderings(tmp_path):
    """Figure 2 statistics of one set under both renderings: the three-way effect with the template only."""
    orders = {"template": ["llama-it", "gemma-base"], "plain": ["llama-it", "gemma-base.plain"]}
    files = {}
    for rendering, shift in zip(RENDERINGS, (20.0, 0.0)):
        obs = observations(orders[rendering], shift, seed=len(rendering))
        anova = three_way_anova(obs, ("category", "framing", "model"))
        welch = pd.DataFrame({"framing": ["positive", "positive", "negative", "negative"],
                              "category": ["Agency", "Communion"] * 2, "stars": ["*", "ns", "ns", "**"]})
        paths = {kind: tmp_path / f"fig2_{rendering}_{kind}" for kind in ("observations.parquet", "anova.json",
                                                                          "anova.csv", "welch.csv")}
        write_parquet(obs, paths["observations.parquet"])
        write_statistics(anova_record(anova, f"fig2_{rendering}_anova"), paths["anova.json"], {paths["anova.csv"]: anova})
        write_csv(welch, paths["welch.csv"])
        files[rendering] = paths
    return orders, files


def test_side_by_side_table_has_both_renderings_of_every_term(two_renderings, tmp_path):
    orders, files = two_renderings
    out_json, out_csv = tmp_path / "sensitivity.json", tmp_path / "sensitivity.csv"
    fig2_rendering_sensitivity({"instruct": {r: files[r]["anova.json"] for r in RENDERINGS}}, {"instruct": orders},
                               out_json, out_csv)
    table = read_csv(out_csv)
    terms = read_csv(files["template"]["anova.csv"]).dropna(subset=["F"])
    assert table["term"].tolist() == terms["term"].tolist() and set(table["set"]) == {"instruct"}
    for rendering in RENDERINGS:
        anova = read_csv(files[rendering]["anova.csv"]).set_index("term")
        for column in ("F", "df", "p"):
            assert table[f"{column}_{rendering}"].tolist() == pytest.approx(anova.loc[table["term"], column].tolist())
        assert (table[f"df_residual_{rendering}"] == anova.loc["Residual", "df"]).all()
    three_way = table.set_index("term").loc["C(category):C(framing):C(model)"]
    assert three_way["p_template"] < 1e-6 < three_way["p_plain"]  # the planted effect: with the template only
    record = read_record(out_json)
    assert len(record["tests"]) == 2 * len(table) and record["models"] == {"instruct": orders}
    assert {(t["cell"]["rendering"], t["term"]) for t in record["tests"]} == {
        (r, term) for r in RENDERINGS for term in table["term"]}


def test_a_set_without_its_plain_rendering_stops_with_one_line(two_renderings, tmp_path):
    orders, files = two_renderings
    with pytest.raises(InputError, match=r"^Figure 2 set instruct: no ANOVA record of the plain rendering$"):
        fig2_rendering_sensitivity({"instruct": {"template": files["template"]["anova.json"]}}, {"instruct": orders},
                                   tmp_path / "s.json", tmp_path / "s.csv")
    assert not (tmp_path / "s.json").exists()


def test_rendering_panels_name_both_models_alike_and_head_each_column_with_its_anova(two_renderings, tmp_path):
    orders, files = two_renderings
    ranks, tests = rendering_panels(
        {r: pd.read_parquet(files[r]["observations.parquet"]) for r in RENDERINGS},
        {r: read_csv(files[r]["welch.csv"]) for r in RENDERINGS},
        {r: read_csv(files[r]["anova.csv"]) for r in RENDERINGS},
        orders,
    )
    assert set(ranks["model"]) == {"llama-it", "gemma-base"}
    labels = list(dict.fromkeys(ranks["rendering"]))
    assert [label.splitlines()[0] for label in labels] == ["template rendering", "plain rendering"]
    assert all("category × framing × model: F(1, " in label and "category × model: F(1, " in label for label in labels)
    assert set(tests["rendering"]) == set(labels)
    plot = draw_rendering_violins([files[r]["observations.parquet"] for r in RENDERINGS],
                                  [files[r]["welch.csv"] for r in RENDERINGS], [files[r]["anova.csv"] for r in RENDERINGS],
                                  tmp_path / "f.pdf", tmp_path / "f.png", orders, category_axis="Big Two nouns category")
    assert (tmp_path / "f.pdf").stat().st_size > 0 and (tmp_path / "f.png").stat().st_size > 0
    assert plot.labels.x == "Big Two nouns category"
    layers = [plot.data, *(layer.geom.data for layer in plot.layers if layer.geom.data is not None)]
    assert len(layers) == 4  # the plot, both violin halves, the stars
    for layer_data in layers:  # every layer puts the template's column first
        assert list(layer_data["rendering"].cat.categories) == labels and layer_data["rendering"].cat.ordered


def test_fig3_rendering_table_gives_each_pair_under_both_renderings(tmp_path):
    pairs = {"template": [("llama-it", "gemma-base")], "plain": [("llama-it", "gemma-base.plain")]}
    paths = []
    for rendering, love in zip(RENDERINGS, (2.0, -1.0)):
        path = tmp_path / f"{rendering}.parquet"
        write_parquet(pd.DataFrame({"decoded": ["Love", " love", "Freedom", "war"], "MWLR": [love, love, 0.5, 0.0]}), path)
        paths.append(path)
    info = {m: {"version": "3", "size_b": 1.0} for m in ("llama-it", "gemma-base", "gemma-base.plain")}
    fig3_rendering_table(pairs, paths, info, ["Freedom", "Love"], tmp_path / "fig3.csv")
    table = read_csv(tmp_path / "fig3.csv")
    assert table.columns[0] == "rendering"
    assert table[["rendering", "gemma", "word"]].values.tolist() == [
        ["template", "gemma-base", "Freedom"], ["template", "gemma-base", "Love"],
        ["plain", "gemma-base.plain", "Freedom"], ["plain", "gemma-base.plain", "Love"]]
    assert table["mwlr"].tolist() == [0.5, 2.0, 0.5, -1.0] and table["rank"].tolist() == [3, 1, 1, 3]
    with pytest.raises(InputError, match="2 pairs but 1 implicit tables"):
        fig3_rendering_table(pairs, paths[:1], info, ["Love"], tmp_path / "bad.csv")
