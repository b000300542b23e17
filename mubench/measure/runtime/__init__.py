"""Running a model on a device: the inference mode, device and rates, building and preparing a model,
timers, pre-faulting and the machine's state."""
