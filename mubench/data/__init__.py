"""Datasets: built-in ones that ship with installed packages, no download."""
