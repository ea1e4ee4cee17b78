"""Describing what plugin code raised or returned, without running into its code again.

An exception's ``__str__`` and a value's ``__repr__`` are the plugin's code too: one that
raises inside an ``except`` handler would turn a plugin's failure into the run's. These
never raise (only ``KeyboardInterrupt``, the user stopping the run, goes through).
"""

from __future__ import annotations

from typing import Any

__all__ = ["describe", "safe_repr", "safe_str"]


def safe_str(value: Any) -> str:
    """``str(value)``, or ``<unprintable TYPE>`` when that raises."""
    try:
        return str(value)
    except KeyboardInterrupt:
        raise
    except BaseException:
        return f"<unprintable {_type_name(value)}>"


def safe_repr(value: Any) -> str:
    """``repr(value)``, or ``<unprintable TYPE>`` when that raises."""
    try:
        return repr(value)
    except KeyboardInterrupt:
        raise
    except BaseException:
        return f"<unprintable {_type_name(value)}>"


def describe(exc: BaseException) -> str:
    """``"TypeName: message"``, as an exception is shown (the message ``<unprintable
    TypeName>`` when its ``__str__`` raises)."""
    return f"{_type_name(exc)}: {safe_str(exc)}"


def _type_name(value: Any) -> str:
    name = getattr(type(value), "__name__", None)
    return name if isinstance(name, str) else "object"
