"""The run's policy as a site plugin's hooks see it: read-only.

Every hook is given ``policy``; the built-ins get the run's own :class:`~clearance.policy.Policy`,
a site plugin (a configured file or module, an entry point) a read-only view of it, made once
per run when a site hook first takes ``policy`` (each of its mappings and lists when first
read: nothing is copied for a run without site plugins, nor ``approvals`` for one whose
plugins never read them): a plugin that registered a tool in
``policy.tools``, added an approval to ``policy.approvals``, switched a rule off in
``policy.rules``, marked a final stage not final or moved ``policy.now`` changed the verdicts
of the built-in rules and of every later asset. Here each such edit raises
:class:`ReadOnlyPolicy` inside the plugin, which the engine turns into that plugin's
``PRV-05`` (``plugin.failed`` for a notification hook), naming the field.

The view's mappings and lists stay ``dict`` and ``list`` (a site rule that asks
``isinstance(tool, dict)`` reads the registry as before); only their methods that would
change them raise. ``copy.copy``, ``copy.deepcopy`` and ``dict(...)`` give a plugin a plain
copy of its own to change. ``policy.now`` (and ``policy.today``) is read through to the
run's: a watcher's audits move it on as the days pass.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any, NoReturn

from .policy import Policy, StageConfig

__all__ = ["ReadOnlyPolicy", "read_only"]


class ReadOnlyPolicy(TypeError):
    """A site plugin tried to change the run's policy (a ``TypeError``, as changing a
    ``MappingProxyType`` or a tuple is)."""

    def __init__(self, where: str) -> None:
        super().__init__(
            f"{where} is read-only: a plugin may not change the run's policy (the tool "
            "registry, approvals, consents, rules, stages: every other check reads it); "
            "copy.deepcopy() it for a copy of your own"
        )


def _refuse(name: str) -> Callable[..., NoReturn]:
    def refuse(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
        raise ReadOnlyPolicy(_field(self._where))

    refuse.__name__ = name
    return refuse


class _FrozenDict(dict):  # type: ignore[type-arg]
    """A ``dict`` of the policy that cannot be changed (``_where``: its field, for the
    message)."""

    __slots__ = ("_where",)

    for _name in (
        "__setitem__",
        "__delitem__",
        "__ior__",
        "clear",
        "pop",
        "popitem",
        "setdefault",
        "update",
    ):
        locals()[_name] = _refuse(_name)
    del _name

    def copy(self) -> dict[Any, Any]:
        return dict(self)

    def __copy__(self) -> dict[Any, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[Any, Any]:
        return {copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))


class _FrozenList(list):  # type: ignore[type-arg]
    """A ``list`` of the policy that cannot be changed."""

    __slots__ = ("_where",)

    for _name in (
        "__setitem__",
        "__delitem__",
        "__iadd__",
        "__imul__",
        "append",
        "clear",
        "extend",
        "insert",
        "pop",
        "remove",
        "reverse",
        "sort",
    ):
        locals()[_name] = _refuse(_name)
    del _name

    def copy(self) -> list[Any]:
        return list(self)

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, memo) for v in self]

    def __reduce__(self) -> Any:
        return (list, (list(self),))


#: where a value is in the policy: ``policy.tools``, or (where its container is, its key)
_Where = str | tuple[Any, Any]


def _field(where: _Where) -> str:
    """``where`` as a field: ``policy.tools['gen']['flags']``."""
    keys: list[Any] = []
    while isinstance(where, tuple):
        where, key = where
        keys.append(key)
    return where + "".join(f"[{key!r}]" for key in reversed(keys))


#: what a policy holds that cannot change: kept as it is
_ATOMS = frozenset({str, int, float, bool, type(None)})


def _frozen(value: Any, where: _Where) -> Any:
    """``value`` with every ``dict`` and ``list`` in it read-only (sets frozen). Its field's
    text is made only for a message (in about half the time copy.deepcopy takes)."""
    kind = type(value)
    if kind is dict:
        frozen: Any = _FrozenDict(
            (k, v if type(v) in _ATOMS else _frozen(v, (where, k))) for k, v in value.items()
        )
    elif kind is list:
        frozen = _FrozenList(
            v if type(v) in _ATOMS else _frozen(v, (where, i)) for i, v in enumerate(value)
        )
    elif kind is tuple:
        return tuple(_frozen(v, (where, i)) for i, v in enumerate(value))
    elif kind is set:
        return frozenset(value)
    else:
        return value
    frozen._where = where
    return frozen


def _as_is(value: Any) -> Any:
    return value


class _ReadOnlyStage(StageConfig):
    """A stage of the read-only policy (``_index``: its place in ``policy.stages``)."""

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise ReadOnlyPolicy(f"policy.stages[{self.__dict__['_index']}].{name}")

    def __delattr__(self, name: str) -> NoReturn:
        raise ReadOnlyPolicy(f"policy.stages[{self.__dict__['_index']}].{name}")

    def __copy__(self) -> StageConfig:
        return StageConfig(self.name, list(self.paths), list(self.plugins), self.final)

    def __deepcopy__(self, memo: dict[int, Any]) -> StageConfig:
        return self.__copy__()

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (_as_is, (self.__copy__(),))


def _stage(stage: StageConfig, index: int) -> StageConfig:
    view = object.__new__(_ReadOnlyStage)
    fields = {
        **stage.__dict__,
        "paths": _frozen(list(stage.paths), f"policy.stages[{index}].paths"),
        "plugins": _frozen(list(stage.plugins), f"policy.stages[{index}].plugins"),
        "_index": index,
    }
    view.__dict__.update(fields)
    return view


class _ReadOnlyPolicy(Policy):
    """The run's policy as a site hook reads it (see the module docstring)."""

    # read through to the run's policy: a live clock moves it on between audits
    now = property(lambda self: self.__dict__["_source"].now)  # type: ignore[assignment]
    live_clock = property(lambda self: self.__dict__["_source"].live_clock)  # type: ignore[assignment]

    def __getattr__(self, name: str) -> Any:
        """A mapping or list of the run's policy, made read-only when first read (a site
        approval plugin reads ``approvals``; a checker, maybe ``tools`` alone)."""
        state = self.__dict__
        source = state.get("_source")
        if source is None or name.startswith("_") or name not in source.__dict__:
            raise AttributeError(name)
        value = source.__dict__[name]
        if name == "stages":
            frozen = _frozen([_stage(s, i) for i, s in enumerate(value)], "policy.stages")
        else:
            frozen = _frozen(value, f"policy.{name}")
        state[name] = frozen
        return frozen

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise ReadOnlyPolicy(f"policy.{name}")

    def __delattr__(self, name: str) -> NoReturn:
        raise ReadOnlyPolicy(f"policy.{name}")

    def __copy__(self) -> Policy:
        return self._plain(copy.copy)

    def __deepcopy__(self, memo: dict[int, Any]) -> Policy:
        return self._plain(lambda value: copy.deepcopy(value, memo))

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (_as_is, (copy.deepcopy(self),))  # unpickled: a plain Policy

    def _plain(self, copied: Callable[[Any], Any]) -> Policy:
        """A plain :class:`Policy` (a plugin's own, to change) of what the view holds."""
        plain = object.__new__(Policy)
        for field in dataclasses.fields(Policy):
            value = getattr(self, field.name)
            if field.name == "stages":
                plain.__dict__["stages"] = [copy.copy(s) for s in value]
            else:
                plain.__dict__[field.name] = copied(value)
        return plain


#: fields of the policy read through to the run's (see :class:`_ReadOnlyPolicy`)
_LIVE = ("now", "live_clock")


def read_only(policy: Policy) -> Policy:
    """A read-only view of ``policy`` for site hooks (see the module docstring)."""
    view = object.__new__(_ReadOnlyPolicy)
    state = view.__dict__
    for name, value in policy.__dict__.items():
        if name.startswith("_") or name in _LIVE:
            continue  # memos (the view makes its own), and what is read through
        if type(value) not in (dict, list):  # a path, a date, a frozenset: as it is
            state[name] = _frozen(value, f"policy.{name}")
        # a mapping or list: made read-only when first read (__getattr__)
    state["_source"] = policy
    return view
