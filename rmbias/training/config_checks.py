"""The config checks that need the training code, run by rules/common.smk right after
:func:`rmbias.config.validate_config` (which sits below the training layer and cannot import it).

* ``training.settings`` and ``authority_boost.settings`` (:func:`check_settings`): every key is a
  field of :class:`~rmbias.training.settings.RewardTrainingConfig` (resp.
  :class:`~rmbias.training.settings.SftConfig`), every value has its field's type, and the dataclass
  builds (its own checks pass). Otherwise a typo stops the run only when the job starts, on
  SLURM after a GPU allocation.
* the preference file of each training run (:func:`check_preference_files`): when it exists
  already, it has the layout of the run's ``data.source``
  (:func:`~rmbias.training.preferences.check_preference_layout`); the training job checks it again
  when it starts.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Mapping

from rmbias.io import InputError
from rmbias.training.preferences import check_preference_layout
from rmbias.training.settings import RewardTrainingConfig, SftConfig

def check_training_config(config: Mapping[str, Any], preference_files: Mapping[str, str]) -> None:
    """Both checks of this module on a validated config; ``preference_files``: run id → the path
    of the preference file the run's training job reads."""
    if config["training"]["settings"]:
        check_settings(config["training"]["settings"], RewardTrainingConfig, "training.settings")
    if config["authority_boost"]["settings"]:
        check_settings(config["authority_boost"]["settings"], SftConfig, "authority_boost.settings")
    check_preference_files(config, preference_files)


def check_settings(settings: Mapping[str, Any], cls: type, where: str) -> None:
    """``settings`` (the config mapping at key path ``where``) build the settings dataclass ``cls``
    through its ``from_mapping``: each key is a field (``dataclasses.fields``), each value of the
    field's annotated type (an integer is a float too, a list a tuple), and ``cls``'s own checks
    pass. Raises one line ``config error at <where>.<key>: ...``."""
    fields = {field.name for field in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key, value in settings.items():
        if key not in fields:
            raise InputError(f"config error at {where}.{key}: unknown key (allowed: {', '.join(sorted(fields))})")
        if not _has_type(value, hints[key]):
            raise InputError(f"config error at {where}.{key}: {value!r} is not of type {_type_name(hints[key])}"
                             f"{_yaml_float_hint(value, hints[key])}")
    try:
        cls.from_mapping(settings)
    except InputError as err:
        raise InputError(f"config error at {where}: {err}") from err


def check_preference_files(config: Mapping[str, Any], preference_files: Mapping[str, str]) -> None:
    """When training is enabled, the preference file of each run that reads a given one (not
    ``synthetic``) has the layout of its ``data.source``, if the file exists already."""
    if not config["training"]["enabled"]:
        return
    for index, run in enumerate(config["training"]["runs"]):
        path = preference_files[run["id"]]
        if run["data"]["source"] == "synthetic" or not Path(path).exists():
            continue
        try:
            check_preference_layout(path, run["data"]["source"], run["id"])
        except InputError as err:
            raise InputError(f"config error at training.runs[{index}].data.source: {err}") from err


def _has_type(value: Any, hint: Any) -> bool:
    """Whether a parsed YAML ``value`` fits the annotation ``hint`` of a settings field."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_has_type(value, arg) for arg in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        return isinstance(value, (list, tuple)) and all(_has_type(item, typing.get_args(hint)[0]) for item in value)
    if hint is type(None):
        return value is None
    if hint in (int, float):
        return isinstance(value, (int, float) if hint is float else int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) and typing.get_origin(hint) is None else str(hint)


def _yaml_float_hint(value: Any, hint: Any) -> str:
    """A hint for a float YAML read as text: ``1e-5`` is a string in YAML 1.1, ``1.0e-5`` a float."""
    if isinstance(value, str) and _has_type(0.5, hint) and not _has_type(value, hint):
        try:
            float(value)
        except ValueError:
            return ""
        return " (YAML reads it as text: write the number with a decimal point, e.g. 1.0e-5)"
    return ""
