"""Every figure of the paper, drawn with plotnine: :mod:`.scaffold` (shared palettes, theme,
saving), :mod:`.reward_models` (Figures 1, A1, 4b, A5b), :mod:`.base_models` (Figures 2, 3, A3)
and :mod:`.training` (Figures 4a, A5a, 5, A6, G1).

In each figure module a ``plot_*`` function draws from data frames, and a ``draw_*`` function
is one figure job: it reads the files its rule declares and calls the matching ``plot_*``.
"""
