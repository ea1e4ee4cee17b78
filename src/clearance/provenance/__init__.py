"""Provenance readers: each one a plugin implementing ``clearance_read_provenance``.

``sidecar`` reads ``NAME.EXT.genai.yaml`` / ``PREFIX.genai.yaml`` files; the embedded readers
(``xmp``, ``exr``, ``c2pa``) read what the asset itself says. Their results merge into one
:class:`~clearance.model.ProvenanceRecord`, the sidecar's fields first.
"""
