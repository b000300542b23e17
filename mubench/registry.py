"""Model registry: names -> specs -> ready ``nn.Module`` denoisers.

Usage mirrors torchvision/timm::

    from mubench.registry import register_model, get_model, list_models

    @register_model("my-unet", family="unet", description="...", source="...", resolution=32)
    def my_unet(**overrides) -> nn.Module: ...

A spec lists the trained weights mubench ships for it (:class:`Weights`, in the spirit of timm's
``default_cfgs`` and torchvision's ``WeightsEnum.meta``): ``list_models(pretrained=True)`` names the
models that have some. The paper's comparison is marked on its two specs (``paper_role``), so the default
pairs are read from here: :func:`paper_pair` and :func:`pretrained_pair`.

Users add models without touching mubench in two ways: ``--model package.module:factory`` on the
command line, or an entry point in the ``mubench.models`` group whose value is such a factory (or a
:class:`ModelSpec`). Every model takes ``(x, t)`` (``t``: one diffusion step per batch item) and
returns a tensor of ``x``'s shape.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from mubench.errors import UsageError, opt
from mubench.models.builtin import SPECS as BUILTIN_SPECS
from mubench.models.spec import PAPER_ROLES, ModelSpec, Weights, tiny_pair_weights

if TYPE_CHECKING:
    from torch import nn

__all__ = ["ModelSpec", "Weights", "add_spec", "get_model", "get_spec", "list_models", "paper_pair",
           "pretrained_pair", "register_model", "tiny_pair_weights"]  # fmt: skip

ENTRY_POINT_GROUP = "mubench.models"
# Model names with a prefix are specs made by a function elsewhere, named here as an entry point's value.
PREFIXES = {"diffusers:": "mubench.sources.diffusers_model:diffusers_spec"}


_REGISTRY: dict[str, ModelSpec] = {}
_entry_points_loaded = False


def register_model(name: str, **spec: Any) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a model factory under ``name``; refuses a name already taken."""

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        add_spec(ModelSpec(name=name, builder=builder, **spec))
        return builder

    return decorator


def add_spec(spec: ModelSpec) -> None:
    """Register a ready :class:`ModelSpec`; refuses a name already taken, a paper role already held or
    unknown, and two weights with one tag."""
    if spec.name in _REGISTRY:
        raise ValueError(f"a model named '{spec.name}' is already registered")
    if spec.paper_role is not None:
        if spec.paper_role not in PAPER_ROLES:
            raise ValueError(
                f"model '{spec.name}': paper_role '{spec.paper_role}' is none of {', '.join(PAPER_ROLES)}"
            )
        holder = next((s.name for s in _REGISTRY.values() if s.paper_role == spec.paper_role), None)
        if holder:
            raise ValueError(f"model '{spec.name}': the paper's {spec.paper_role} is already '{holder}'")
    tags = [w.tag for w in spec.weights]
    if len(set(tags)) < len(tags):
        raise ValueError(f"model '{spec.name}': two weights are tagged alike ({', '.join(tags)})")
    _REGISTRY[spec.name] = spec


for _spec in BUILTIN_SPECS:
    add_spec(_spec)


def _ensure_loaded() -> None:
    """Load the ``mubench.models`` entry points, once (the built-in models are registered at import)."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _REGISTRY:
            continue
        try:
            target = ep.load()
            spec = target if isinstance(target, ModelSpec) else _user_spec(ep.name, target)
            add_spec(replace(spec, name=ep.name))
        except Exception as exc:  # a broken plug-in must not break mubench: skip it, say so
            warnings.warn(f"skipped model entry point '{ep.name}' ({ep.value}): {exc}", stacklevel=2)


def list_models(
    include: str | Iterable[str] = "*", exclude: str | Iterable[str] = (), pretrained: bool = False
) -> list[str]:
    """Registered model names matching any glob in ``include`` and none in ``exclude``, sorted; with
    ``pretrained`` only those with shipped weights."""
    _ensure_loaded()
    inc = [include] if isinstance(include, str) else list(include)
    exc = [exclude] if isinstance(exclude, str) else list(exclude)
    names = [n for n in _REGISTRY if any(fnmatch.fnmatch(n, p) for p in inc)]
    if pretrained:
        names = [n for n in names if _REGISTRY[n].weights]
    return sorted(n for n in names if not any(fnmatch.fnmatch(n, p) for p in exc))


def paper_pair() -> tuple[str, str]:
    """The paper's comparison as the registry marks it (``paper_role``): (baseline, candidate)."""
    _ensure_loaded()
    found = {spec.paper_role: name for name, spec in _REGISTRY.items() if spec.paper_role}
    missing = [role for role in PAPER_ROLES if role not in found]
    if missing:
        raise LookupError(f"no registered model has paper_role {', '.join(repr(r) for r in missing)}")
    return found["baseline"], found["candidate"]


def pretrained_pair() -> tuple[str, str]:
    """The comparison pair mubench ships trained, (baseline, candidate): the models with weights, one of
    the paper baseline's family and one of the paper candidate's."""
    families = [get_spec(name).family for name in paper_pair()]
    pretrained = list_models(pretrained=True)
    pair = [[n for n in pretrained if _REGISTRY[n].family == family] for family in families]
    if any(len(names) != 1 for names in pair):
        raise LookupError(
            f"the models with weights ({', '.join(pretrained) or 'none'}) are not one of family "
            f"{families[0]} and one of family {families[1]}"
        )
    return pair[0][0], pair[1][0]


def get_spec(name: str) -> ModelSpec:
    """The spec of a registered model, of ``package.module:factory``, or of ``diffusers:PATH``."""
    for prefix, target in PREFIXES.items():
        if name.startswith(prefix):
            module, _, function = target.partition(":")
            return getattr(importlib.import_module(module), function)(name)
    if ":" in name:
        return _import_user_spec(name)
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UsageError(
            f"unknown model '{name}'{hint} (`mubench models` lists them; "
            f"your own: {opt('model')} package.module:factory)"
        ) from None


def get_model(name: str, **overrides: Any) -> nn.Module:
    """Build the model ``name`` (registry name or ``package.module:factory``) in eval mode."""
    return get_spec(name).build(**overrides).eval()


def _import_user_spec(ref: str) -> ModelSpec:
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise UsageError(f"{opt('model')} '{ref}': write it as package.module:factory")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise UsageError(
            f"{opt('model')} '{ref}': cannot import '{module_name}': {type(exc).__name__}: {exc}"
        ) from exc
    factory = getattr(module, attr, None)
    if factory is None:
        raise UsageError(f"{opt('model')} '{ref}': module '{module_name}' has no attribute '{attr}'")
    if isinstance(factory, ModelSpec):
        return replace(factory, name=ref)
    return _user_spec(ref, factory)


def _user_spec(name: str, factory: Any) -> ModelSpec:
    """Spec for a user's factory; it may carry ``mubench_resolution`` / ``mubench_channels`` attributes."""
    if not callable(factory):
        raise UsageError(
            f"{opt('model')} '{name}': '{factory!r}' is not callable; give a function returning an nn.Module"
        )
    from torch import nn

    if isinstance(factory, nn.Module):
        module = factory
        factory = lambda: module  # noqa: E731
    doc = inspect.getdoc(factory) or ""
    return ModelSpec(
        name=name,
        builder=factory,
        family="user",
        description=doc.splitlines()[0] if doc else "user model",
        source=name,
        resolution=_declared(name, factory, "mubench_resolution", 32),
        channels=_declared(name, factory, "mubench_channels", 3),
        resolution_multiple=_declared(name, factory, "mubench_resolution_multiple", 1),
    )


def _declared(name: str, factory: Any, attribute: str, default: int) -> int:
    """A whole number >= 1 that a user's factory declares as ``attribute`` (``default`` if it declares
    none); anything else is refused, never rounded or ignored."""
    value = getattr(factory, attribute, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(
            f"{opt('model')} '{name}': {attribute} = {value!r} must be a whole number >= 1"[:300]
        )
    return value
