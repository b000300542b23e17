"""Option declarations: :class:`Option` and :class:`Range` (:mod:`.declare`), and every measurement's
options, declared once (:mod:`.catalog`)."""

from mubench.options.declare import Option, Range

__all__ = ["Option", "Range"]
