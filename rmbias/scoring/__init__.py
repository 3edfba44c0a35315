"""Stage 2, GPU scoring: log-probabilities of LLMs and the exhaustive token search of RMs.

:mod:`.logprobs` (next-token log-probabilities of the whole vocabulary), :mod:`.search` (the
prefix-cached exhaustive search), :mod:`.prefix_attention` (attention over one shared
prefix), :mod:`.shards` (resumable shards), :mod:`.prompt_groups` (one search split into jobs)
and :mod:`.reproduction` (our scores against the published ones).
"""
