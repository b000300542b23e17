"""Parameters, MACs and FLOPs, bytes moved and live memory: what a model costs, counted exactly."""
