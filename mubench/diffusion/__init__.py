"""Diffusion core: noise schedules, parameterisations, samplers, and the sigma -> t* mapping."""
