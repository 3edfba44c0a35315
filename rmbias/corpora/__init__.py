"""Stage 1, the corpora: published reference data and the token tables built from it.

:mod:`.reference` (download by URL + sha256, or copy from a mirror), :mod:`.dictionaries`
(Big Two, MFD 2.0 as long tables), :mod:`.tokens` (per-tokenizer token tables: case and
leading-space variants) and :mod:`.vocabulary` (vocabulary intersections across tokenizers).
"""
