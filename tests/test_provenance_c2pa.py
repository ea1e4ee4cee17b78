"""The C2PA reader and the embedded-provenance rules (PRV-06, PRV-07, and PRV-04 end to end).

Detection needs no extra dependency and is always tested. Verification needs c2pa-python
(``genai-clearance[c2pa]``); those tests sign real files with a throwaway certificate chain and
are skipped cleanly when the SDK is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _embedded import (
    CAPTURE,
    IPTC,
    TRAINED,
    bmff_box,
    c2pa_manifest,
    flip_pixel_byte,
    insert_png_chunk,
    make_pki,
    sign,
    write_exr,
    write_jpeg,
    write_mp4,
    write_png,
    write_wav,
    xmp_packet,
)
from clearance.model import Asset, Outcome, PartialRecord, ProvenanceRecord
from clearance.policy import Policy, StageConfig
from clearance.provenance import c2pa as reader
from clearance.provenance.c2pa import (
    C2paSettings,
    find_manifest,
    record_from_c2pa,
    sdk_available,
    summarize_store,
)
from clearance.rules.embedded import pack

needs_sdk = pytest.mark.skipif(
    not sdk_available(), reason="c2pa-python (genai-clearance[c2pa]) not installed"
)


def asset_for(path: Path, **kw) -> Asset:
    return Asset(path=path, rel=path.name, root=path.parent, files=[path], **kw)


def policy_for(root: Path, *, c2pa: dict | None = None, prv06: dict | None = None) -> Policy:
    policy = Policy(root=root)
    if c2pa is not None:
        policy.settings = {"c2pa": c2pa}
    if prv06 is not None:
        policy.rules = {"PRV-06": prv06}
    return policy


def read(path: Path, policy: Policy | None = None):
    return reader.clearance_read_provenance(
        asset=asset_for(path), policy=policy or policy_for(path.parent)
    )


def check(asset: Asset, partials: list[PartialRecord], policy: Policy, rule: str | None = None):
    """The embedded pack's findings (only ``rule``'s when given)."""
    record = ProvenanceRecord.merge(partials)
    findings = pack.clearance_check_asset(
        asset=asset, record=record, stage=StageConfig("comp"), policy=policy
    )
    return [f for f in findings if rule is None or f.rule == rule]


@pytest.fixture(scope="module")
def pki():
    pytest.importorskip("cryptography")
    return make_pki()


# ------------------------------------------------------------------ detection (no SDK) ----


def test_detects_png_cabx_chunk_without_the_sdk(tmp_path):
    path = write_png(tmp_path / "a.png")
    insert_png_chunk(path, b"caBX", b"\x00\x00\x00\x10jumb not a real store")
    assert find_manifest(path)["location"] == "caBX"
    record = read(path, policy_for(tmp_path, c2pa={"verify": False}))
    assert record.source == "c2pa"
    assert record.data == {}  # an unverified manifest claims nothing
    assert record.evidence == {"location": "caBX", "verified": False, "validation_state": None}


def test_detects_jpeg_app11_jumbf_without_the_sdk(tmp_path):
    path = write_jpeg(tmp_path / "a.jpg")
    raw = path.read_bytes()
    payload = (
        b"JP\x00\x01\x00\x00\x00\x01" + b"\x00\x00\x00\x30jumb\x00\x00\x00\x28jumdc2pa" + bytes(24)
    )
    segment = b"\xff\xeb" + (len(payload) + 2).to_bytes(2, "big") + payload
    path.write_bytes(raw[:2] + segment + raw[2:])
    assert find_manifest(path)["location"] == "APP11"


def test_detects_sidecar_manifest_for_exr(tmp_path):
    path = write_exr(tmp_path / "sh010.1001.exr", {"genai:generated": "true"})
    assert find_manifest(path) is None
    (tmp_path / "sh010.1001.exr.c2pa").write_bytes(b"manifest bytes")
    found = find_manifest(path)
    assert found["location"] == "sidecar"
    assert found["sidecar"].name == "sh010.1001.exr.c2pa"
    record = read(path, policy_for(tmp_path, c2pa={"verify": False}))
    assert record.file == "sh010.1001.exr.c2pa"
    assert record.evidence["manifest_file"] == "sh010.1001.exr.c2pa"


def _sequence(tmp_path: Path, prefix: str = "sh010_fg") -> Asset:
    """A two-frame EXR sequence as discovery makes it (its folder listed)."""
    from clearance.discover import discover
    from clearance.policy import default_policy

    for frame in (1001, 1002):
        write_exr(tmp_path / f"{prefix}.{frame}.exr", {"software": "Nuke"})
    (asset,) = discover([tmp_path], default_policy(tmp_path)).assets
    assert asset.is_sequence
    return asset


def test_a_sequence_manifest_named_like_its_sidecar_is_found(tmp_path):
    """One detached manifest for the whole sequence, PREFIX.c2pa beside PREFIX.genai.yaml, is
    read (checked against the first frame), never silently dropped."""
    (tmp_path / "sh010_fg.v002.c2pa").write_bytes(b"manifest bytes")
    asset = _sequence(tmp_path, "sh010_fg.v002")
    record = reader.clearance_read_provenance(
        asset=asset, policy=policy_for(tmp_path, c2pa={"verify": False})
    )
    assert record.file == "sh010_fg.v002.c2pa"
    assert record.evidence["manifest_file"] == "sh010_fg.v002.c2pa"
    assert record.issues == []
    found = find_manifest(asset.path, sequence_prefix="sh010_fg.v002")
    assert found["sidecar"].name == "sh010_fg.v002.c2pa"
    assert find_manifest(asset.path) is None  # a single file never takes a prefix's manifest


def test_a_sequence_manifest_not_read_beside_a_frame_manifest_is_an_issue(tmp_path):
    (tmp_path / "sh010_fg.c2pa").write_bytes(b"the sequence's")
    (tmp_path / "sh010_fg.1001.exr.c2pa").write_bytes(b"the first frame's")
    asset = _sequence(tmp_path)
    record = reader.clearance_read_provenance(
        asset=asset, policy=policy_for(tmp_path, c2pa={"verify": False})
    )
    assert record.evidence["manifest_file"] == "sh010_fg.1001.exr.c2pa"
    (issue,) = record.issues
    assert issue.file == "sh010_fg.c2pa"
    assert "not read" in issue.message and "sh010_fg.1001.exr.c2pa" in issue.message


@needs_sdk
def test_a_sequence_manifest_saying_genai_blocks_a_sidecar_saying_false(tmp_path, pki):
    from conftest import run_cli

    comp = tmp_path / "comp"
    comp.mkdir()
    for frame in (1001, 1002):
        write_exr(comp / f"sh010_fg.{frame}.exr", {"software": "Nuke"})
    first = comp / "sh010_fg.1001.exr"
    sign(first, first, pki, c2pa_manifest(TRAINED), sidecar=comp / "sh010_fg.c2pa")
    (comp / "sh010_fg.genai.yaml").write_text(
        "provenance: 1\nasset: sh010_fg.####.exr\ngenerated: false\n"
    )
    (tmp_path / "clearance.yaml").write_text(
        "clearance: 1\nproduction: {id: SHOW01, genre: fiction}\n"
        "audit: {log: .clearance/audit.jsonl, state: .clearance/state.db}\n"
        "stages:\n  - {name: comp, paths: [comp/]}\n"
    )
    done = run_cli("scan", str(tmp_path), "--format", "json", "--no-cache", cwd=tmp_path)
    (asset,) = done.json()["assets"]
    rules = {f["rule"]: f for f in asset["findings"]}
    assert asset["outcome"] == "block", done.stdout
    assert "sh010_fg.c2pa" in rules["PRV-04"]["message"]


def test_short_sidecar_name_is_found_too(tmp_path):
    path = write_png(tmp_path / "plate.png")
    (tmp_path / "plate.c2pa").write_bytes(b"x")
    assert find_manifest(path)["sidecar"].name == "plate.c2pa"


def test_folder_listing_spares_the_probes_and_still_finds_listed_manifests(tmp_path):
    """A scan passes the names its folder walk listed: a manifest among them is found under
    either name, and a name not listed is not looked for (it is listed, and so read, on the
    next scan)."""
    path = write_png(tmp_path / "plate.png")
    (tmp_path / "plate.c2pa").write_bytes(b"x")
    listed = frozenset({"plate.png", "plate.c2pa"})
    assert find_manifest(path, listed)["sidecar"].name == "plate.c2pa"
    (tmp_path / "plate.png.c2pa").write_bytes(b"x")  # written after the listing
    assert find_manifest(path, listed)["sidecar"].name == "plate.c2pa"
    assert find_manifest(path, listed | {"plate.png.c2pa"})["sidecar"].name == "plate.png.c2pa"
    assert find_manifest(path, frozenset({"plate.png"})) is None
    assert find_manifest(path)["sidecar"].name == "plate.png.c2pa"  # no listing: probed


def test_no_manifest_is_nothing(tmp_path):
    assert read(write_png(tmp_path / "plain.png", xmp_packet(TRAINED))) is None
    assert read(write_exr(tmp_path / "plain.exr", {})) is None


@pytest.mark.skipif(sdk_available(), reason="only meaningful without c2pa-python")
def test_without_the_sdk_the_record_says_unverified(tmp_path):
    path = write_png(tmp_path / "a.png")
    insert_png_chunk(path, b"caBX", b"jumbf")
    record = read(path)
    assert record.evidence["validation_state"] is None
    assert "genai-clearance[c2pa]" in record.evidence["note"]


# -------------------------------------------------------------- store summaries (no SDK) ----


def _store(*, active_dst=TRAINED, ingredient_dst=None, training=None, status=()):
    def manifest(dst, extra=()):
        actions = [
            {
                "action": "c2pa.created",
                "digitalSourceType": dst,
                "softwareAgent": {"name": "Gen", "version": "1"},
            }
        ]
        return {"assertions": [{"label": "c2pa.actions.v2", "data": {"actions": actions}}, *extra]}

    extra = []
    if training:
        extra.append({"label": "c2pa.training-mining", "data": {"entries": training}})
    manifests = {"urn:active": manifest(active_dst, extra)}
    if ingredient_dst:
        manifests["urn:ingredient"] = manifest(ingredient_dst)
    return {
        "active_manifest": "urn:active",
        "manifests": manifests,
        "validation_status": list(status),
    }


def test_summary_of_a_generated_asset():
    summary = summarize_store(
        _store(
            training={
                "c2pa.ai_training": {"use": "constrained"},
                "c2pa.data_mining": {"use": "allowed"},
            }
        )
    )
    assert summary["generated"] is True
    assert summary["source_type"] == TRAINED
    assert summary["genai_in"] == ["active"]
    assert summary["software_agents"] == ["Gen 1"]
    assert summary["not_allowed"] == ["c2pa.ai_training"]  # constrained counts as notAllowed


def test_genai_in_an_ingredient_makes_the_asset_generated():
    summary = summarize_store(_store(active_dst=IPTC + "compositeCapture", ingredient_dst=TRAINED))
    assert summary["generated"] is True
    assert summary["genai_in"] == ["ingredient"]
    assert summary["source_type"] == IPTC + "compositeCapture"  # the asset's own term, as found


def test_capture_only_store_is_not_generated_and_unknown_terms_say_nothing():
    assert summarize_store(_store(active_dst=CAPTURE))["generated"] is False
    assert "generated" not in summarize_store(_store(active_dst=IPTC + "composite"))


@pytest.mark.parametrize(
    "second",
    [
        IPTC + "composite",  # GenAI and/or capture: does not say
        IPTC + "virtualRecording",
        IPTC + "compositeWithTrainedAlgorithimicMedia",  # misspelled GenAI term
        "http://c2pa.org/digitalsourcetype/empty",
        42,  # not a term at all
    ],
)
def test_an_unknown_term_beside_capture_leaves_generated_unknown(second):
    """ "false only if every recorded term excludes GenAI": a capture action next to an action
    whose term does not decide (or cannot be read) is not "no GenAI"."""
    store = _store(active_dst=CAPTURE)
    actions = store["manifests"]["urn:active"]["assertions"][0]["data"]["actions"]
    actions.append({"action": "c2pa.edited", "digitalSourceType": second})
    assert "generated" not in summarize_store(store)
    # the same unknown term in an ingredient manifest
    store = _store(active_dst=CAPTURE, ingredient_dst=second)
    assert "generated" not in summarize_store(store)
    # a GenAI term anywhere still decides
    actions = store["manifests"]["urn:active"]["assertions"][0]["data"]["actions"]
    actions.append({"action": "c2pa.edited", "digitalSourceType": TRAINED})
    assert summarize_store(store)["generated"] is True


def test_actions_without_a_source_type_do_not_make_capture_unknown():
    store = _store(active_dst=CAPTURE)
    actions = store["manifests"]["urn:active"]["assertions"][0]["data"]["actions"]
    actions.append({"action": "c2pa.color_adjustments"})
    assert summarize_store(store)["generated"] is False


def test_invalid_store_keeps_only_stricter_claims():
    found = {"location": "caBX", "sidecar": None}
    capture = summarize_store(
        _store(active_dst=CAPTURE, training={"cawg.ai_training": {"use": "allowed"}})
    )
    record = record_from_c2pa(found, {**capture, "validation_state": "Invalid"}, "a.png")
    assert record.data == {}  # "no GenAI" and "training allowed" from a broken manifest are dropped
    generated = summarize_store(_store(training={"cawg.ai_training": {"use": "notAllowed"}}))
    record = record_from_c2pa(found, {**generated, "validation_state": "Invalid"}, "a.png")
    assert record.data == {
        "generated": True,
        "source_type": TRAINED,
        "x-training-mining": {"cawg.ai_training": "notAllowed"},
    }


def test_settings_read_trust_anchors_relative_to_the_root(tmp_path, pki):
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "root.pem").write_bytes(pki.root_pem)
    c2pa_settings = {"trust_anchors": "certs/root.pem", "trust_config": ["1.3.6.1.4.1.62558.2.1"]}
    settings = C2paSettings.from_policy(policy_for(tmp_path, c2pa=c2pa_settings))
    sdk = settings.sdk_settings()
    assert sdk["verify"]["remote_manifest_fetch"] is False  # offline, always
    assert sdk["verify"]["ocsp_fetch"] is False
    assert sdk["trust"]["user_anchors"] == pki.root_pem.decode()
    assert sdk["trust"]["trust_config"] == "1.3.6.1.4.1.62558.2.1\n"
    assert settings.problems == []


def test_bad_pem_is_a_settings_problem_not_an_invalid_asset(tmp_path):
    bogus = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    settings = C2paSettings({"trust_anchors": bogus})
    assert settings.trust_anchors is None
    assert settings.problems[0][0] == "trust_anchors"
    assert "not a PEM certificate bundle" in settings.problems[0][1]


def test_unreadable_trust_anchors_are_an_issue(tmp_path):
    path = write_png(tmp_path / "a.png")
    insert_png_chunk(path, b"caBX", b"jumbf")
    record = read(
        path, policy_for(tmp_path, c2pa={"verify": False, "trust_anchors": "missing.pem"})
    )
    assert [i.field for i in record.issues] == ["readers.c2pa.trust_anchors"]


def test_minimal_policy_object_is_read_defensively(tmp_path):
    path = write_png(tmp_path / "a.png")
    insert_png_chunk(path, b"caBX", b"jumbf")

    class Bare:  # a DCC script may pass something much smaller than a Policy
        settings = {"c2pa": {"verify": False}}

    record = reader.clearance_read_provenance(asset=asset_for(path), policy=Bare())
    assert record.evidence["verified"] is False


# --------------------------------------------------------------- verification (with SDK) ----


@needs_sdk
def test_signed_png_is_valid_but_untrusted(tmp_path, pki):
    path = sign(write_png(tmp_path / "src.png"), tmp_path / "gen.png", pki, c2pa_manifest())
    record = read(path)
    assert record.evidence["validation_state"] == "Valid"
    assert record.evidence["trusted"] is False
    assert record.evidence["signer"]["common_name"] == "Clearance Test Signer"
    assert record.evidence["software_agents"] == ["AcmeDiffusion 2.1"]
    assert record.data == {
        "generated": True,
        "source_type": TRAINED,
        "x-training-mining": {
            "cawg.ai_generative_training": "notAllowed",
            "cawg.ai_training": "notAllowed",
        },
    }
    assert record.issues == []


@needs_sdk
def test_signed_capture_with_an_undecided_edit_is_not_a_pass(tmp_path, pki):
    manifest = c2pa_manifest(CAPTURE, training=None)
    manifest["assertions"][0]["data"]["actions"].append(
        {"action": "c2pa.edited", "digitalSourceType": IPTC + "composite"}
    )
    path = sign(write_png(tmp_path / "src.png"), tmp_path / "plate.png", pki, manifest)
    record = read(path)
    assert record.evidence["validation_state"] == "Valid"
    assert "generated" not in record.data
    result = _audit(tmp_path, asset_for(path))
    assert "PRV-07" in {f.rule for f in result.findings}
    assert result.outcome >= Outcome.ESCALATE


@needs_sdk
def test_trust_anchors_make_it_trusted(tmp_path, pki):
    path = sign(write_png(tmp_path / "src.png"), tmp_path / "gen.png", pki, c2pa_manifest())
    (tmp_path / "studio-root.pem").write_bytes(pki.root_pem)
    record = read(path, policy_for(tmp_path, c2pa={"trust_anchors": "studio-root.pem"}))
    assert record.evidence["validation_state"] == "Trusted"
    assert record.evidence["trusted"] is True
    assert "failures" not in record.evidence


@needs_sdk
def test_one_changed_pixel_byte_is_invalid(tmp_path, pki):
    path = sign(write_png(tmp_path / "src.png"), tmp_path / "gen.png", pki, c2pa_manifest(CAPTURE))
    flip_pixel_byte(path)
    record = read(path)
    assert record.evidence["validation_state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in [f["code"] for f in record.evidence["failures"]]
    assert "generated" not in record.data  # a broken manifest cannot vouch for "no GenAI"


@needs_sdk
def test_signed_jpeg_and_legacy_training_label(tmp_path, pki):
    manifest = c2pa_manifest(label="c2pa.training-mining", training="allowed")
    path = sign(write_jpeg(tmp_path / "src.jpg"), tmp_path / "gen.jpg", pki, manifest)
    assert find_manifest(path)["location"] == "APP11"
    record = read(path)
    assert record.evidence["validation_state"] == "Valid"
    assert record.data["x-training-mining"]["c2pa.ai_training"] == "allowed"
    assert "not_allowed" not in record.evidence


@needs_sdk
def test_exr_sidecar_manifest_verifies_and_detects_a_changed_byte(tmp_path, pki):
    path = write_exr(tmp_path / "sh010.1001.exr", {"genai:generated": "true"})
    sign(path, path, pki, c2pa_manifest(), sidecar=tmp_path / "sh010.1001.exr.c2pa")
    record = read(path)
    assert record.evidence["location"] == "sidecar"
    assert record.evidence["validation_state"] == "Valid"
    assert record.data["generated"] is True
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF  # one byte of "pixel" data
    path.write_bytes(bytes(raw))
    assert read(path).evidence["validation_state"] == "Invalid"


@needs_sdk
def test_bad_anchors_still_verify_the_signature_and_report_the_setting(tmp_path, pki):
    path = sign(write_png(tmp_path / "src.png"), tmp_path / "gen.png", pki, c2pa_manifest())
    (tmp_path / "root.pem").write_text("garbage")
    record = read(path, policy_for(tmp_path, c2pa={"trust_anchors": "root.pem"}))
    assert record.evidence["validation_state"] == "Valid"  # untrusted, never "Invalid"
    assert [i.field for i in record.issues] == ["readers.c2pa.trust_anchors"]


@needs_sdk
def test_files_over_the_verification_cap_are_reported_unverified(tmp_path, pki):
    path = sign(write_png(tmp_path / "src.png"), tmp_path / "gen.png", pki, c2pa_manifest())
    record = read(path, policy_for(tmp_path, c2pa={"max_verify_bytes": 100}))
    assert record.evidence["validation_state"] is None
    assert "max_verify_bytes" in record.evidence["note"]
    assert record.data == {}


@needs_sdk
def test_garbage_manifest_is_invalid_not_a_crash(tmp_path):
    path = write_png(tmp_path / "a.png")
    insert_png_chunk(path, b"caBX", b"\x00\x00\x00\x10jumbgarbage!")
    record = read(path)
    assert record.evidence["validation_state"] == "Invalid"
    assert record.evidence["failures"][0]["code"] == "manifest.unreadable"


# ------------------------------------------------------------------------------- rules ----


def _c2pa_partial(state, **evidence):
    return PartialRecord(
        "c2pa", "a.png", {}, [], {"validation_state": state, "location": "caBX", **evidence}
    )


def test_prv06_invalid_manifest_escalates(tmp_path):
    asset = asset_for(tmp_path / "a.png")
    failures = [{"code": "assertion.dataHash.mismatch", "explanation": "hash"}]
    partials = [_c2pa_partial("Invalid", failures=failures)]
    (finding,) = check(asset, partials, policy_for(tmp_path), "PRV-06")
    assert finding.rule == "PRV-06"
    assert finding.unsure is True
    assert "assertion.dataHash.mismatch" in finding.message
    assert finding.evidence["validation_state"] == "Invalid"
    assert pack.rules[0].outcome is Outcome.ESCALATE


def test_prv06_untrusted_only_when_the_studio_requires_trust(tmp_path):
    asset = asset_for(tmp_path / "a.png")
    valid = [_c2pa_partial("Valid", signer={"common_name": "Somebody"})]
    strict = policy_for(tmp_path, prv06={"require_trusted": True})
    assert check(asset, valid, policy_for(tmp_path), "PRV-06") == []
    assert check(asset, [_c2pa_partial("Trusted")], strict, "PRV-06") == []
    (finding,) = check(asset, valid, strict, "PRV-06")
    assert "Somebody" in finding.message
    (unverified,) = check(asset, [_c2pa_partial(None)], strict, "PRV-06")
    assert "not verified" in unverified.message


def test_prv07_genai_embedded_without_sidecar(tmp_path):
    asset = asset_for(tmp_path / "a.png")
    xmp = PartialRecord("xmp", "a.png", {"generated": True, "source_type": TRAINED})
    (finding,) = check(asset, [xmp], policy_for(tmp_path))
    assert finding.rule == "PRV-07"
    assert finding.evidence["source_types"] == [TRAINED]
    sidecar = PartialRecord("sidecar", "a.png.genai.yaml", {"generated": True})
    assert check(asset, [sidecar, xmp], policy_for(tmp_path)) == []
    capture = PartialRecord("xmp", "a.png", {"generated": False})
    assert check(asset, [capture], policy_for(tmp_path)) == []  # documented as no GenAI


def test_prv07_embedded_metadata_that_does_not_decide(tmp_path):
    asset = asset_for(tmp_path / "a.png")
    unverified = _c2pa_partial(None)
    composite = PartialRecord("xmp", "a.png", {"source_type": IPTC + "composite"})
    (finding,) = check(asset, [unverified, composite], policy_for(tmp_path))
    assert finding.rule == "PRV-07"
    assert "does not say whether GenAI was used" in finding.message
    assert finding.unsure is True
    assert check(asset, [], policy_for(tmp_path)) == []  # nothing known at all is PRV-01's


# ------------------------------------------------------------ end to end through the engine ----


def _audit(tmp_path: Path, asset: Asset):
    from clearance.engine import Session
    from clearance.policy import default_policy

    session = Session(
        default_policy(tmp_path),
        write_log=False,
        autoload=False,
        extra_plugins=[("clearance.rules.embedded", pack)],
    )
    return session.audit(asset)


def test_sidecar_says_no_genai_while_xmp_says_genai_is_blocked(tmp_path):
    path = write_png(tmp_path / "bg.png", xmp_packet(TRAINED))
    sidecar = tmp_path / "bg.png.genai.yaml"
    sidecar.write_text("provenance: 1\nasset: bg.png\ngenerated: false\n")
    result = _audit(tmp_path, asset_for(path, sidecar=sidecar))
    rules = {f.rule: f for f in result.findings}
    assert rules["PRV-04"].effective_outcome is Outcome.BLOCK
    assert result.outcome is Outcome.BLOCK
    assert "PRV-07" not in rules


def test_genai_exr_without_sidecar_escalates(tmp_path):
    path = write_exr(tmp_path / "plate.exr", {"genai:source_type": TRAINED})
    result = _audit(tmp_path, asset_for(path))
    rules = {f.rule for f in result.findings}
    assert "PRV-07" in rules
    assert "PRV-01" not in rules  # something is known: it is not "no provenance"
    assert result.outcome >= Outcome.ESCALATE


def test_unverified_manifest_alone_is_never_a_pass(tmp_path):
    path = write_png(tmp_path / "a.png")
    insert_png_chunk(path, b"caBX", b"jumbf")
    (tmp_path / "clearance.yaml").write_text("clearance: 1\nreaders: {c2pa: {verify: false}}\n")
    from clearance.engine import Session
    from clearance.policy import load_policy

    policy = load_policy(tmp_path / "clearance.yaml")
    session = Session(
        policy, write_log=False, autoload=False, extra_plugins=[("clearance.rules.embedded", pack)]
    )
    result = session.audit(asset_for(path))
    assert "PRV-07" in {f.rule for f in result.findings}
    assert result.outcome >= Outcome.ESCALATE


@needs_sdk
def test_tampered_signed_png_end_to_end(tmp_path, pki):
    path = sign(write_png(tmp_path / "src.png"), tmp_path / "gen.png", pki, c2pa_manifest())
    flip_pixel_byte(path)
    sidecar = tmp_path / "gen.png.genai.yaml"
    sidecar.write_text("provenance: 1\nasset: gen.png\ngenerated: false\n")
    result = _audit(tmp_path, asset_for(path, sidecar=sidecar))
    rules = {f.rule: f for f in result.findings}
    assert rules["PRV-06"].effective_outcome is Outcome.ESCALATE
    assert rules["PRV-06"].evidence["validation_state"] == "Invalid"
    # the broken manifest still says GenAI, the sidecar says not: that contradiction blocks
    assert rules["PRV-04"].effective_outcome is Outcome.BLOCK


# ------------------------------------------------------------------------- audio / video ----


def test_detects_bmff_uuid_manifest_without_the_sdk(tmp_path):
    path = write_mp4(tmp_path / "clip.mp4")
    raw = path.read_bytes()
    c2pa_uuid = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
    path.write_bytes(raw + bmff_box(b"uuid", c2pa_uuid + b"\x00\x00\x00\x00manifest\x00"))
    assert find_manifest(path)["location"] == "uuid box"


@needs_sdk
def test_signed_wav(tmp_path, pki):
    path = sign(
        write_wav(tmp_path / "src.wav"), tmp_path / "vo.wav", pki, c2pa_manifest(), mime="audio/wav"
    )
    record = read(path)
    assert record.evidence["location"] == "C2PA chunk"
    assert record.evidence["validation_state"] == "Valid"
    assert record.data["generated"] is True


# ---------------------------------------------------------------- files that are not files ----


def _verify_within(seconds: float, pipe: Path, *args, **kwargs) -> dict:
    """:func:`verify_manifest` of a file that is a named pipe, in a thread: a regression
    (an ``open()`` that waits for a writer) fails the test after ``seconds`` rather than
    hanging it; a writer opened on the pipe then lets the stuck reader go."""
    import os
    import threading

    out: dict = {}
    worker = threading.Thread(
        target=lambda: out.setdefault("v", reader.verify_manifest(*args, **kwargs)), daemon=True
    )
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(10)
        pytest.fail(f"verify_manifest blocked on the named pipe {pipe}")
    return out["v"]


@needs_sdk
@pytest.mark.parametrize("which", ["asset", "manifest", "detached asset"])
def test_a_named_pipe_is_never_opened_for_the_sdk_nor_read_as_a_manifest(tmp_path, which):
    """A named pipe put where the asset or its detached ``.c2pa`` manifest was, after the
    walk and the detection: ``open()`` of it (the manifest's read, the SDK's open of the
    asset by its path) waited for ever for a writer. It is opened without blocking, found
    not to be a regular file and never read: the verification says which file it is."""
    import os

    asset = write_png(tmp_path / "gen.png")
    manifest = tmp_path / "gen.png.c2pa"
    manifest.write_bytes(b"\x00\x00\x00\x10jumbgarbage!")
    pipe = manifest if which == "manifest" else asset
    pipe.unlink()
    os.mkfifo(pipe)
    sidecar = None if which == "asset" else manifest
    verified = _verify_within(10, pipe, asset, C2paSettings(), sidecar=sidecar)
    assert verified == {
        "validation_state": None,
        "not_a_file": {"path": pipe, "what": "a named pipe (FIFO)"},
    }


SWAP_ASSET_TO_A_PIPE = """
import os
from pathlib import Path
from clearance import hookimpl

@hookimpl
def clearance_stage_started(stage, policy):
    path = Path(policy.root) / "comp/gen.exr"
    if path.is_file():
        path.unlink()
        os.mkfifo(path)
"""


@needs_sdk
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_asset_beside_its_manifest_replaced_by_a_named_pipe_never_hangs_the_scan(tmp_path, jobs):
    """``gen.exr`` beside its detached manifest ``gen.exr.c2pa``, replaced by a named pipe
    between the walk and the reading (by a plugin, as the stage starts): verifying it opened
    the pipe and waited for a writer, and the scan never ended. It is unreadable provenance
    (``PRV-02``) naming the file and what it is, as the other readers say; never a pass;
    and a run error, as a pipe the walk finds is (exit 2)."""
    import json

    from clearance.testing import ClearanceRun
    from conftest import genai_sidecar, run_cli

    show = ClearanceRun(tmp_path / "show")
    show.root.mkdir()
    show.config["plugins"] = ["swap.py"]
    show.write_config()
    (show.root / "swap.py").write_text(SWAP_ASSET_TO_A_PIPE)
    show.asset("comp/gen.exr", sidecar=genai_sidecar())
    write_exr(show.root / "comp/gen.exr")
    (show.root / "comp/gen.exr.c2pa").write_bytes(b"\x00\x00\x00\x10jumbgarbage!")
    done = run_cli("scan", str(show.root), "--format", "json", "--jobs", jobs, timeout=60)
    assert done.code == 2, done.stderr
    # said once for the file, with the first reader's words (EXR's, then C2PA's)
    assert done.stderr.startswith("clearance: error: comp/gen.exr: cannot read file: it is ")
    assert done.stderr.count("clearance: error:") == 1, done.stderr
    (audited,) = done.json()["assets"]
    assert audited["outcome"] != "pass"
    (prv02,) = [f for f in audited["findings"] if f["rule"] == "PRV-02"]
    assert {
        "file": "comp/gen.exr",
        "field": "c2pa",
        "message": "cannot read file: it is a named pipe (FIFO), not a regular file",
    } in prv02["evidence"]["errors"], prv02
    events = [json.loads(line) for line in (show.root / ".clearance/audit.jsonl").open()]
    assert events[-1]["event"] == "run.finished"


def test_check_of_an_asset_whose_detached_manifest_is_no_file_says_so(tmp_path: Path) -> None:
    """``clearance check`` lists the asset's folder with every entry: a ``.c2pa`` manifest
    that is a named pipe or a folder was skipped as if the asset had none (exit 0, a pass on
    the sidecar). It is a ``PRV-02`` naming it, unsure; nothing blocks on the pipe."""
    from clearance.testing import ClearanceRun
    from conftest import genai_sidecar, run_cli

    for n, (kind, what) in enumerate(
        (
            ("fifo", "is a named pipe (FIFO), not a regular file"),
            ("folder", "is a folder, not a regular file"),
        )
    ):
        show = ClearanceRun(tmp_path / f"s{n}", stages=[{"name": "comp", "paths": ["comp/"]}])
        show.root.mkdir()
        show.write_config()
        show.asset("comp/a.png", sidecar=genai_sidecar())
        show.asset("comp/plate.#.png", sidecar=genai_sidecar(), frames=range(1, 4))
        for name in ("a.c2pa", "plate.c2pa"):
            path = show.root / "comp" / name
            os.mkfifo(path) if kind == "fifo" else path.mkdir()
        for given, manifest in (
            ("comp/a.png", "comp/a.c2pa"),
            ("comp/plate.2.png", "comp/plate.c2pa"),
        ):
            done = run_cli("check", given, "--format", "json", cwd=show.root, timeout=60)
            assert done.code == 1, (kind, given, done.stderr)
            (asset,) = done.json()["assets"]
            prv02 = [f for f in asset["findings"] if f["rule"] == "PRV-02"]
            assert prv02 and prv02[0]["unsure"], (kind, given, asset["findings"])
            assert f"{manifest}: c2pa: {what}; not read" in prv02[0]["message"], prv02
