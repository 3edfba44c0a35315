"""Section 3, base LLMs and implicit reward models.

:mod:`.measures` (MWLR and the other measures, pure), :mod:`.pairs` (a measure between two
LLMs' log-probability tables), :mod:`.figure2` (ANOVA and Welch tests of the LLMs' ranks),
:mod:`.figure3` (MWLR per word), :mod:`.rendering` (Figures 2/3 of a pretrained model with a
borrowed chat template under both renderings), :mod:`.tables` (Tables 1/A2/A3) and :mod:`.topk`
(top-k agreement with the published RMs).
"""
