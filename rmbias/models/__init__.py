"""The model-access layer: every stage reaches a model through it.

:mod:`.loading` (``ModelSpec``, ``load_renderer`` and ``load_model``, the one ``from_pretrained``),
:mod:`.conversations` (``Renderer``, the one renderer of prompts and responses), :mod:`.batching` (padding),
:mod:`.gguf` (GGUF sources and their conversion), :mod:`.lora` (LoRA set-up shared by RM
training and the SFT) and :mod:`.families` (the names of base-model families).
"""
