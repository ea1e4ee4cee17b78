"""The built-in rule packs, in registration order (the plugin manager registers each
module's ``pack``). Together they are the default pack: ``PRV-*``, ``NFX-*`` and ``IPTC-*``."""

from __future__ import annotations

__all__ = ["BUILTIN_RULE_MODULES"]

BUILTIN_RULE_MODULES: tuple[str, ...] = (
    "clearance.rules.provenance",
    "clearance.rules.data",
    "clearance.rules.creative",
    "clearance.rules.talent",
    "clearance.rules.ethics",
    "clearance.rules.deliverables",
    "clearance.rules.iptc",
    "clearance.rules.embedded",  # PRV-06, PRV-07: embedded provenance (docs/embedded-provenance.md)
)
