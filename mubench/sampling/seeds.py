"""Seed lists: parsed from ``0-49999`` or ``0,5,10-19``, and split into batches."""

from __future__ import annotations

import re

from mubench.errors import UsageError, opt

MAX_SEED = (1 << 63) - 1
MAX_SEEDS = 10_000_000  # more images than this in one run is a typo
_PART = re.compile(r"(\d+)(?:-(\d+))?")


def parse_seeds(text: str) -> list[int]:
    """``A-B`` (inclusive), ``A``, or several of them comma-separated; each seed once, in the order given."""
    seeds: list[int] = []
    for part in text.split(","):
        match = _PART.fullmatch(part)
        if not match:
            raise UsageError(f"{opt('seeds')} '{text}': write seeds as A-B or A,B,C (e.g. 0-49999)")
        first, last = int(match[1]), int(match[2] if match[2] is not None else match[1])
        if last < first:
            raise UsageError(f"{opt('seeds')} '{text}': the range {part} ends before it starts")
        if last > MAX_SEED:
            raise UsageError(f"{opt('seeds')} '{text}': seeds must be at most {MAX_SEED}")
        if len(seeds) + last - first + 1 > MAX_SEEDS:
            raise UsageError(f"{opt('seeds')} '{text}': at most {MAX_SEEDS:,} seeds in one run")
        seeds.extend(range(first, last + 1))
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"{opt('seeds')} '{text}' names a seed more than once")
    return seeds


def describe_seeds(seeds: list[int]) -> str:
    """The shortest ``A-B,C`` text of ``seeds`` (in their order)."""
    parts: list[str] = []
    start = prev = seeds[0]
    for seed in [*seeds[1:], None]:
        if seed is not None and seed == prev + 1:
            prev = seed
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if seed is not None:
            start = prev = seed
    return ",".join(parts)


def batches(seeds: list[int], batch_size: int) -> list[list[int]]:
    return [seeds[i : i + batch_size] for i in range(0, len(seeds), batch_size)]
