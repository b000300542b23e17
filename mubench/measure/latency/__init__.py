"""Inference latency: conditions -> one prepared model each -> round-robin timing -> rows, in this
process (:mod:`.in_process`) or in fresh workers (:mod:`.workers`); :mod:`.run` is the entry point."""
