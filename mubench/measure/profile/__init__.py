"""Where a call's time goes: the profiler's operators in categories beside their FLOPs and bytes."""
