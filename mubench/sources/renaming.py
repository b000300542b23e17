"""Building a mubench state dict from another library's tensors, noting every name it lacks or leaves."""

from __future__ import annotations

from collections.abc import Callable

import torch

Transform = Callable[[list[torch.Tensor]], torch.Tensor]


class Renamer:
    """Collects mubench name -> tensor from ``source``; each source name used is marked, each absent one
    noted, so that one message can name every missing and every unexpected tensor."""

    def __init__(self, source: dict[str, torch.Tensor]):
        self.source = source
        self.used: set[str] = set()
        self.missing: list[str] = []
        self.out: dict[str, torch.Tensor] = {}

    def name(self, *alternatives: str) -> str:
        """The first of ``alternatives`` the source has (else the first): old and new spellings of one."""
        return next((n for n in alternatives if n in self.source), alternatives[0])

    def take(self, dst: str, *srcs: str, transform: Transform | None = None) -> None:
        """``dst`` = ``transform`` of the source tensors ``srcs`` (one source: as it is)."""
        found = []
        for src in srcs:
            if src in self.source:
                self.used.add(src)
                found.append(self.source[src])
            else:
                self.missing.append(src)
        if len(found) == len(srcs):
            self.out[dst] = transform(found) if transform else found[0]

    def module(self, dst: str, src: str, params: tuple[str, ...] = ("weight", "bias")) -> None:
        """Every parameter of one module, renamed."""
        for p in params:
            self.take(f"{dst}.{p}", f"{src}.{p}")

    def problems(self) -> list[str]:
        unexpected = sorted(set(self.source) - self.used)
        problems = []
        if self.missing:
            problems.append(f"missing {len(self.missing)}: {', '.join(self.missing)}")
        if unexpected:
            problems.append(f"unexpected {len(unexpected)}: {', '.join(unexpected)}")
        return problems
