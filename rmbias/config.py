"""Config validation: the JSON schema plus the cross-references a schema cannot express.

Every problem is reported as one line that names the offending key, e.g.
``config error at models[2].kind: 'llm' is not one of ['causal_lm', 'reward_model']``.
"""

from __future__ import annotations

import copy
import difflib
import functools
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import jsonschema
import yaml

from rmbias.io import InputError, read_text_utf8

PINNED_REVISION = re.compile(r"^[0-9a-f]{40}$")
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "config" / "schema.yaml"
REFERENCE_MANIFEST_PATH = SCHEMA_PATH.with_name("reference.yaml")
BUILTIN_LEXICONS_PATH = SCHEMA_PATH.with_name("lexicons.yaml")
"""The built-in lexicons (the paper's dictionaries), declared in the format of config key ``lexicons``."""


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file; a syntax error becomes an :class:`InputError` naming file and line."""
    text = read_text_utf8(path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(f"{path}:{where}: invalid YAML: {problem}") from err


def schema_defaults(*path: str) -> dict[str, Any]:
    """The ``default`` of every property of the schema object at ``path``, the one place defaults live.

    ``path`` names properties from the top (``"scoring"``) or a definition (``"definitions", "model"``);
    library functions called outside the workflow take their defaults from here, so they agree
    with what a validated config holds.
    """
    node = _schema()
    for part in path:
        node = node[part] if part == "definitions" or "properties" not in node else node["properties"][part]
    return {key: copy.deepcopy(spec["default"]) for key, spec in node.get("properties", {}).items() if "default" in spec}


def require_pinned_revision(entry: Mapping[str, Any], where: str) -> None:
    """``trust_remote_code`` runs the hub's code: only at a pinned 40-hex commit ``revision``.
    Raises an :class:`InputError` starting with ``where``."""
    if entry.get("trust_remote_code") and not PINNED_REVISION.match(str(entry.get("revision") or "")):
        raise InputError(
            f"{where}: {entry.get('id')} sets trust_remote_code but does not pin a 40-character commit "
            f"revision (got {entry.get('revision')!r}); remote code is only run at a pinned revision"
        )


@functools.lru_cache(maxsize=1)
def _schema() -> dict:
    return load_yaml(SCHEMA_PATH)


def key_path(parts: list[Any]) -> str:
    """Render a JSON path such as ``models[2].kind`` from its parts."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def validate_against_schema(data: Any, schema: dict, label: str) -> None:
    """Validate ``data`` with JSON-schema defaults filled in; raise one line naming the key."""
    validator_class = jsonschema.validators.validator_for(schema)
    validator = _with_defaults(validator_class)(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.path), list(map(str, e.path))))
    if errors:
        error = errors[0]
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set(error.schema.get("properties", {}))
            unknown = sorted(k for k in error.instance if k not in known)
            if unknown:
                where = key_path([*error.path, unknown[0]])
                raise InputError(f"{label} error at {where}: unknown key (allowed: {', '.join(sorted(known))})")
        raise InputError(f"{label} error at {key_path(list(error.path))}: {error.message}")


def _with_defaults(validator_class):
    """A validator that also writes each property's ``default`` into the instance."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = subschema["default"]
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def builtin_lexicons(schema: dict, path: str | Path = BUILTIN_LEXICONS_PATH) -> list[dict]:
    """The built-in lexicon entries of ``path`` (config/lexicons.yaml), validated against the
    ``lexicon`` definition of ``schema`` with its defaults filled in."""
    data = load_yaml(path)
    lexicons_schema = {"definitions": schema["definitions"], "type": "object", "required": ["lexicons"],
                       "additionalProperties": False, "properties": {"lexicons": schema["properties"]["lexicons"]}}
    validate_against_schema(data, lexicons_schema, Path(path).name)
    return data["lexicons"]


def declared_lexicons(config: Mapping[str, Any], builtins: Sequence[Mapping[str, Any]]) -> dict[str, dict]:
    """Lexicon id -> entry of every lexicon a (validated) config can use: the ``builtins``
    (:func:`builtin_lexicons`), then the config's ``lexicons``, in that order; an entry without
    a ``label`` is labelled by its id."""
    return {entry["id"]: {"label": entry["id"], **entry} for entry in [*builtins, *config["lexicons"]]}


RESERVED_LEXICON_IDS = ("big2", "mfd", "plain")
"""Names no lexicon id may take: the published reanalysis' Figure 1 analyses (results/stats/fig1_big2_*)
and the suffix of Figure 2's plain-rendering sets (results/stats/fig2_instruct_plain_*)."""


def _check_lexicons(config: dict, builtins: Sequence[Mapping[str, Any]]) -> None:
    """Every lexicon id is declared once (a config entry may not reuse a built-in's id nor take a
    :data:`RESERVED_LEXICON_IDS` one), a
    ``reference_category`` or ``category_groups.map`` is among the entry's ``categories`` when it
    lists them, and every lexicon id that ``scoring.dictionary_corpora``, ``implicit.fig2_lexicons``
    and ``implicit.topk_lexicon`` name is declared."""
    builtin_ids = {entry["id"] for entry in builtins}
    _require_unique(config["lexicons"], "lexicons", "id", "lexicon id")
    for index, entry in enumerate(config["lexicons"]):
        if entry["id"] in RESERVED_LEXICON_IDS:
            raise InputError(f"config error at lexicons[{index}].id: {entry['id']!r} is reserved (the workflow's "
                             f"own analysis names: {', '.join(RESERVED_LEXICON_IDS)}); give yours another id")
        if entry["id"] in builtin_ids:
            raise InputError(f"config error at lexicons[{index}].id: {entry['id']!r} is a built-in lexicon "
                             f"(config/lexicons.yaml: {', '.join(sorted(builtin_ids))}); give yours another id")
        categories = entry.get("categories")
        by_group = entry.get("analyse_by") == "group"
        if by_group and "category_groups" not in entry:
            raise InputError(f"config error at lexicons[{index}].analyse_by: group needs the lexicon's category_groups")
        if categories and not by_group and entry.get("reference_category", categories[0]) not in categories:
            raise InputError(f"config error at lexicons[{index}].reference_category: {entry['reference_category']!r} "
                             f"is not one of its categories ({', '.join(categories)})")
    declared = declared_lexicons(config, builtins)
    implicit = config["implicit"]
    references = [
        *((f"scoring.dictionary_corpora[{index}]", lexicon_id) for index, lexicon_id in enumerate(config["scoring"]["dictionary_corpora"])),
        *((f"implicit.fig2_lexicons[{index}]", lexicon_id) for index, lexicon_id in enumerate(implicit["fig2_lexicons"])),
        ("implicit.topk_lexicon", implicit["topk_lexicon"]),
    ]
    for where, lexicon_id in references:
        if lexicon_id not in declared:
            raise InputError(f"config error at {where}: unknown lexicon {lexicon_id!r} (declared: {', '.join(declared)})")


def validate_config(config: dict, schema: dict, prompts: dict, manifest: Mapping[str, Any] | None = None,
                    builtins: Sequence[Mapping[str, Any]] | None = None) -> None:
    """Validate a workflow config in place (defaults filled) and check its cross-references.

    Cross-references: model ids are unique across ``models`` and ``reward_models``, and so are
    ``training.runs[].id`` and ``implicit.tables[].name`` within their lists; every id a section
    names exists and is of the right kind; every prompt key a section names is in ``prompts``;
    every lexicon id is declared once and ``scoring.dictionary_corpora`` names declared ones
    (:func:`_check_lexicons`; ``builtins``: the built-in lexicons, default
    :func:`builtin_lexicons` of this repository's); ``trust_remote_code`` requires a pinned 40-hex ``revision``; a ``gguf`` entry's ``hf`` is the
    directory it is converted into, ``results/models/<id>``, and so is a ``training_run`` entry's
    (:func:`_check_trained_reward_models`); every ``published_scores`` is a file of the reference
    ``manifest`` (config/reference.yaml parsed; default: this repository's). An enabled section
    has what it runs on: ``authority_boost`` a ``base``, ``words`` and a training prompt
    (:func:`_check_authority_boost`); ``training`` a run. Empty lists that would silently drop
    analyses (``scoring.scopes``, ``scoring.dictionary_corpora``, ``implicit.words``) are rejected
    by the schema.
    """
    validate_against_schema(config, schema, "config")
    _check_lexicons(config, builtin_lexicons(schema) if builtins is None else builtins)
    _check_authority_boost(config["authority_boost"])
    _require_unique(config["training"]["runs"], "training.runs", "id", "run id")
    _require_unique(config["implicit"]["tables"], "implicit.tables", "name", "table name")
    if config["training"]["enabled"] and not config["training"]["runs"]:
        raise InputError("config error at training.runs: training.enabled is true but no run is given")
    llms = {m["id"]: m for m in config["models"]}
    rms = {m["id"]: m for m in config["reward_models"]}
    seen: set[str] = set()
    for section in ("models", "reward_models"):
        for index, entry in enumerate(config[section]):
            where = f"{section}[{index}]"
            if entry["id"] in seen:
                raise InputError(f"config error at {where}.id: duplicate model id {entry['id']!r}")
            seen.add(entry["id"])
            require_pinned_revision(entry, f"config error at {where}.revision")
            if "gguf" in entry and section == "reward_models":
                raise InputError(f"config error at {where}.gguf: a GGUF file is converted as a language model; "
                                 "give it under models (an RM is trained from it) or give the RM in Hugging Face format")
            if "gguf" in entry and entry["hf"] != f"results/models/{entry['id']}":
                raise InputError(f"config error at {where}.hf: a gguf entry is converted into results/models/{entry['id']}; "
                                 f"set hf to that path (got {entry['hf']!r})")
    _check_trained_reward_models(config, llms)
    _check_published_scores(config["reward_models"], load_yaml(REFERENCE_MANIFEST_PATH) if manifest is None else manifest)
    datasets = config["training"]["preference_datasets"]
    for i, run in enumerate(config["training"]["runs"]):
        data = run["data"]
        if data["source"] == "synthetic" and not data.get("size"):
            raise InputError(f"config error at training.runs[{i}].data.size: a synthetic run needs a size")
        if data["source"] != "synthetic" and not data.get("path") and data.get("dataset") not in datasets:
            raise InputError(
                f"config error at training.runs[{i}].data: give a local path or a dataset named in training.preference_datasets"
            )
    for variant in ("instruct", "pretrained"):
        if len(config["implicit"]["fig2"][variant]) == 1:
            raise InputError(f"config error at implicit.fig2.{variant}: give two model ids (llama, gemma) or none")
    for where, model_id, pool in _model_references(config, llms, rms):
        if model_id not in pool:
            kind = {id(llms): "models (LLMs)", id(rms): "reward_models"}.get(id(pool), "training.runs")
            raise InputError(f"config error at {where}: unknown id {model_id!r} (not in {kind})")
    vocab_prompts = config["scoring"]["vocab_prompts"]
    topk_prompt = config["implicit"]["topk_prompt"]
    if config["implicit"]["topk_vocabulary"] and vocab_prompts != "all" and topk_prompt not in vocab_prompts:
        raise InputError(f"config error at implicit.topk_prompt: {topk_prompt!r} is not among scoring.vocab_prompts")
    for where, key in _prompt_references(config):
        if key not in prompts:
            raise InputError(f"config error at {where}: unknown prompt key {key!r} (not in {config['prompts']})")


def _require_unique(entries: list[dict], where: str, key: str, what: str) -> None:
    """The ``key`` of every entry of the list at ``where`` differs from the others' (a later entry
    would otherwise silently replace an earlier one in every lookup by ``key``)."""
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if entry[key] in seen:
            raise InputError(f"config error at {where}[{index}].{key}: duplicate {what} {entry[key]!r}")
        seen.add(entry[key])


def _check_authority_boost(boost: dict) -> None:
    """An enabled ``authority_boost`` names its ``base`` and ``words`` and has an SFT example (a
    ``train_keys`` or an ``extra_prompts`` entry)."""
    if not boost["enabled"]:
        return
    for key in ("base", "words"):
        if key not in boost:
            raise InputError(f"config error at authority_boost.{key}: authority_boost.enabled is true but no {key} is given")
    if not boost["train_keys"] and not boost["extra_prompts"]:
        raise InputError("config error at authority_boost.train_keys: authority_boost.enabled is true but train_keys and "
                         "extra_prompts are both empty, so the SFT has no example")


def _check_published_scores(reward_models: list[dict], manifest: Mapping[str, Any]) -> None:
    """Every ``published_scores`` of a reward model is a file of the reference manifest."""
    files = list(manifest["files"])
    for index, entry in enumerate(reward_models):
        path = entry.get("published_scores")
        if path is not None and path not in manifest["files"]:
            close = difflib.get_close_matches(path, files, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise InputError(f"config error at reward_models[{index}].published_scores: {path!r} is not a file of "
                             f"config/reference.yaml{hint}")


def _check_trained_reward_models(config: dict, llms: dict) -> None:
    """A ``reward_models`` entry with ``training_run`` is that run's final checkpoint: the run must
    exist and be enabled, the entry's ``hf`` is the export directory ``results/models/<id>``, its
    family, type, template variables and BOS mode are its base's, and it renders through its
    base's chat template (copied in)."""
    runs = {run["id"]: run for run in config["training"]["runs"]}
    for index, entry in enumerate(config["reward_models"]):
        if "training_run" not in entry:
            continue
        where = f"config error at reward_models[{index}]"
        run = runs.get(entry["training_run"])
        if run is None:
            raise InputError(f"{where}.training_run: unknown run {entry['training_run']!r} (not in training.runs)")
        if not config["training"]["enabled"]:
            raise InputError(f"{where}.training_run: training.enabled is false, so run {run['id']!r} is never trained")
        if entry["hf"] != f"results/models/{entry['id']}":
            raise InputError(f"{where}.hf: a training_run entry is exported into results/models/{entry['id']}; "
                             f"set hf to that path (got {entry['hf']!r})")
        base = llms.get(run["base"])
        if base is None:
            continue
        for key in ("family", "type", "chat_template_kwargs", "bos"):
            if entry.get(key) != base.get(key):
                raise InputError(f"{where}.{key}: {entry[key]!r} differs from its base {base['id']!r} ({base[key]!r})")
        if "chat_template" in base:
            entry.setdefault("chat_template", base["chat_template"])


def _model_references(config: dict, llms: dict, rms: dict):
    implicit = config["implicit"]
    for i, pair in enumerate(implicit["fig2"]["instruct"]):
        yield f"implicit.fig2.instruct[{i}]", pair, llms
    for i, pair in enumerate(implicit["fig2"]["pretrained"]):
        yield f"implicit.fig2.pretrained[{i}]", pair, llms
    for i, table in enumerate(implicit["tables"]):
        yield f"implicit.tables[{i}].a", table["a"], llms
        yield f"implicit.tables[{i}].b", table["b"], llms
    for i, model_id in enumerate(implicit["topk_vocabulary"]):
        yield f"implicit.topk_vocabulary[{i}]", model_id, llms
    if config["authority_boost"]["enabled"]:
        yield "authority_boost.base", config["authority_boost"]["base"], llms
    runs = {run["id"] for run in config["training"]["runs"]}
    for i, run in enumerate(config["training"]["runs"]):
        yield f"training.runs[{i}].base", run["base"], llms
    figures = config["training"]["figures"]
    for i, run in enumerate(figures["checkpoint_runs"]):
        yield f"training.figures.checkpoint_runs[{i}]", run, runs
    for name, run in figures["rank_changes"].items():
        yield f"training.figures.rank_changes.{name}", run, runs


def _prompt_references(config: dict):
    vocab_prompts = config["scoring"]["vocab_prompts"]
    for i, key in enumerate([] if vocab_prompts == "all" else vocab_prompts):
        yield f"scoring.vocab_prompts[{i}]", key
    yield "implicit.prompt", config["implicit"]["prompt"]
    yield "implicit.topk_prompt", config["implicit"]["topk_prompt"]
    yield "training.score_prompt", config["training"]["score_prompt"]
    for i, key in enumerate(config["authority_boost"]["train_keys"]):
        yield f"authority_boost.train_keys[{i}]", key


MIN_PROMPTS_PER_FRAMING = 2
"""Prompts each framing needs: Figures 1 and 2 compare the framings, and their tests (Welch t
per cell, ANOVA, mixed models) need at least two observations of every framing."""

PAPER_PROMPT_KEY = re.compile(r"(?P<adjective>[a-z]+)_(?P<superlative>[a-z]+)_(?P<concision>[a-z]+)")
"""The paper's prompt keys (Appendix E), ``{adjective}_{superlative}_{concision}`` in full: the
prompt columns of the published score files. Other keys are free (config/prompts_schema.yaml)."""


def prompt_texts(prompts: Mapping[str, Any]) -> dict[str, str]:
    """Prompt key → text, from either ``{key: text}`` or the ``prompts.yaml`` form ``{key: {text: ...}}``."""
    return {key: value["text"] if isinstance(value, Mapping) else value for key, value in prompts.items()}


def load_prompts(path: str | Path, schema: dict) -> dict[str, dict]:
    """Load and validate a prompts file (config key ``prompts``; ``schema``: config/prompts_schema.yaml);
    return key → {text, framing}.

    Besides the schema, every framing the schema allows must have at least
    :data:`MIN_PROMPTS_PER_FRAMING` prompts; a problem raises one line naming ``path``.
    """
    data = load_yaml(path)
    validate_against_schema(data, schema, str(path))
    prompts = data["prompts"]
    for framing in schema["properties"]["prompts"]["additionalProperties"]["properties"]["framing"]["enum"]:
        count = sum(prompt["framing"] == framing for prompt in prompts.values())
        if count < MIN_PROMPTS_PER_FRAMING:
            raise InputError(f"{path}: {count} prompt(s) of framing {framing!r}; Figures 1 and 2 compare the framings "
                             f"and need at least {MIN_PROMPTS_PER_FRAMING} of each")
    return prompts
