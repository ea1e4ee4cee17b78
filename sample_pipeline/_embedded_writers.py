"""Content Credentials (C2PA) for the sample show: a throwaway signing certificate, and a
manifest signed into a PNG the way a GenAI tool that "marks its output" would.

Taken from the embedded-reader tests' writers (``tests/_embedded.py``; sample code must not
import ``tests/``). Needs ``c2pa-python`` (the ``c2pa`` extra) to sign; :func:`can_sign` says
whether it is installed. The certificate is made at generation time with ``cryptography``
(emailProtection EKU, the one c2pa-rs accepts with default settings), so the signature
verifies as ``Valid`` but is not ``Trusted`` unless its root is configured as a trust anchor.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SamplePki", "can_sign", "make_pki", "genai_manifest", "sign_png"]

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
OFFLINE = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    "builder": {"thumbnail": {"enabled": False}},
}


def can_sign() -> bool:
    """Is c2pa-python importable (``pip install 'genai-clearance[c2pa]'``)?"""
    return importlib.util.find_spec("c2pa") is not None


@dataclass
class SamplePki:
    """A throwaway root CA and an end-entity signing certificate (PEM)."""

    root_pem: bytes
    chain_pem: bytes  # end-entity first, root left out
    key_pem: bytes


def make_pki(
    common_name: str = "Saltworks Diffusion (sample signer)",
    *,
    organization: str = "Clearance Sample PKI",
    days: int = 365,
) -> SamplePki:
    """A root CA and an end-entity certificate that C2PA accepts for signing (EC P-256,
    email-protection EKU, key identifiers); the tests use it with their own names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            ]
        )

    def usage(ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=not ca,
            content_commitment=not ca,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        )

    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(name(f"{organization} Root"))
        .issuer_name(name(f"{organization} Root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage(True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    ee_key = ec.generate_private_key(ec.SECP256R1())
    ee = (
        x509.CertificateBuilder()
        .subject_name(name(common_name))
        .issuer_name(root.subject)
        .public_key(ee_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ee_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return SamplePki(
        root_pem=root.public_bytes(pem),
        chain_pem=ee.public_bytes(pem),
        key_pem=ee_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def genai_manifest(
    title: str, *, agent: str = "saltworks-diffusion", version: str = "3.2"
) -> dict[str, Any]:
    """A manifest saying "created by a trained model" and "do not train on this"."""
    action = {
        "action": "c2pa.created",
        "softwareAgent": {"name": agent, "version": version},
        "digitalSourceType": IPTC + "trainedAlgorithmicMedia",
    }
    return {
        "claim_generator_info": [{"name": "salt-road-sample-pipeline", "version": "1"}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [action]}},
            {
                "label": "cawg.training-mining",
                "data": {
                    "entries": {
                        "cawg.ai_generative_training": {"use": "notAllowed"},
                        "cawg.ai_training": {"use": "notAllowed"},
                    }
                },
            },
        ],
    }


def sign_png(src: Path, dst: Path, pki: SamplePki, manifest: dict[str, Any]) -> Path:
    """Sign ``src`` (a PNG) into ``dst`` with the manifest embedded (a ``caBX`` chunk)."""
    import c2pa

    info = c2pa.C2paSignerInfo(
        alg=b"es256", sign_cert=pki.chain_pem, private_key=pki.key_pem, ta_url=None
    )
    with (
        c2pa.Context.from_dict(OFFLINE) as ctx,
        c2pa.Signer.from_info(info) as signer,
        c2pa.Builder(manifest, ctx) as builder,
        open(src, "rb") as source,
        open(dst, "w+b") as target,
    ):
        builder.sign(signer, "image/png", source, target)
    return dst
