"""Section 4 and Appendices F, G, H: RMs trained from different bases, and the authority boost.

:mod:`.preferences` (preference data), :mod:`.reward_training` (Bradley–Terry RMs with LoRA,
checkpointed), :mod:`.checkpoints` (exhaustive search of every checkpoint), :mod:`.dynamics`
(ranks over checkpoints, Kendall tau, rank changes), :mod:`.early_final_tables` (Appendix
H.1), :mod:`.authority_boost`, :mod:`.sft` and :mod:`.generation` (Appendix F).
"""
