"""Built-in denoisers (the registry imports their modules by name) and model specs."""
