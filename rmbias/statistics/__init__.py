"""Section 2 statistics of reward models: Figure 1/A1, the published ablations, RM profiles.

:mod:`.ranks` (median ranks), :mod:`.mixed_model` (the published mixed model),
:mod:`.group_tests` (ANOVA, Welch, permutation, Cohen's d), :mod:`.figure1` (the Figure 1
analysis of published and configured RMs), :mod:`.profiles` (value profiles and the family
classifier) and :mod:`.published_ablations` (Figure 4b/A5b from the published ablations).
"""
