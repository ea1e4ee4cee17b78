"""An invalid sidecar field is *unknown*, never "not involved" (``provenance/_invalid.py``).

A field that is present but invalid must never make a verdict more lenient than the same field
written ``unknown`` (or left out, where ``unknown`` cannot be written): end to end through the
real CLI, warm from the provenance cache, for any shape a sidecar may take, and — the
property — for every field of a set of valid sidecars corrupted one at a time.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from _records import ACME_SIDECAR, ACME_TOOLS, BASELINE, DROP, audit, describe, sidecar
from clearance.model import Outcome, PartialRecord
from clearance.policy import schema_errors
from clearance.testing import write_png
from conftest import run_cli

SCHEMA = "provenance.schema.json"


# -- end to end: clearance scan --fail-on approval ----------------------------------------


def _show(tmp_path: Path, extra: dict[str, Any]) -> Path:
    root = tmp_path / "show"
    (root / "comp").mkdir(parents=True)
    config = {
        "clearance": 1,
        "production": {"id": "SHOW01", "genre": "fiction"},
        "tools": ACME_TOOLS,
        "stages": [{"name": "comp", "paths": ["comp/"]}],
    }
    (root / "clearance.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    write_png(root / "comp/a.png")
    text = yaml.safe_dump({**ACME_SIDECAR, **extra}, sort_keys=False)
    (root / "comp/a.png.genai.yaml").write_text(text)
    return root


def _scan(root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    done = run_cli("scan", str(root), "--format", "json", "--fail-on", "approval", *extra)
    assert done.code in (0, 1), done.stderr
    [asset] = done.json()["assets"]
    return done.code, asset


_TALENT = {"performer": "P-2", "replica": "employment_based", "alteration": "none"}
_TRAINED = {
    "tool": "acme",
    "inputs": [],
    "training": {
        "performed": True,
        "sources": [{"ref": "r/a.png", "class": "third_party_unowned"}],
    },
}


@pytest.mark.parametrize(
    ("extra", "field", "rule", "outcome"),
    [
        ({"union_impact": "actors"}, "union_impact", "NFX-GP5", "approval"),
        ({"talent": [{**_TALENT, "concent": "C-1"}]}, "talent[0].concent", "NFX-T1", "block"),
        (
            {"steps": [_TRAINED, {"tool": "acme", "inputs": [{"ref": "r/b.png", "class": "x"}]}]},
            "steps[1].inputs[0].class",
            "NFX-D2",
            "block",
        ),
        # a required class left out is unknown, as class: unknown is (it was PRV-02 only)
        (
            {"steps": [{"tool": "acme", "inputs": [{"ref": "r/b.png"}]}]},
            "steps[0].inputs[0].class",
            "NFX-GP1",
            "approval",
        ),
    ],
    ids=["union-impact-typo", "talent-key-typo", "bad-input-class", "no-input-class"],
)
def test_scan_fails_on_approval_for_an_invalid_field_as_for_unknown(
    tmp_path: Path, extra: dict[str, Any], field: str, rule: str, outcome: str
) -> None:
    code, asset = _scan(_show(tmp_path, extra))
    assert code == 1, asset
    rules = {f["rule"]: f for f in asset["findings"]}
    assert f"a.png.genai.yaml: {field}: " in rules["PRV-02"]["message"]
    assert rules[rule]["outcome"] == outcome, asset
    assert asset["outcome"] == outcome
    # the rows the provenance cache keeps say the same on a warm re-scan
    warm_code, warm = _scan(tmp_path / "show")
    assert (warm_code, warm) == (code, asset)


def test_an_invalid_entry_of_a_plain_list_is_left_out_and_the_scan_goes_on(
    tmp_path: Path,
) -> None:
    """``allowed_purposes: [12345]`` left a placeholder in the list the rules read, and
    ``NFX-T4`` echoed it in its evidence: the event could not be serialised and the whole
    scan stopped (exit 2, "audit log not written"). The entry is left out (never read as
    allowing: as strict as the list without it), and the finding says so."""
    model = {
        "id": "m",
        "trained_on_talent": True,
        "allowed_productions": ["SHOW01", 42],
        "allowed_purposes": [12345],
    }
    step = {"tool": "acme", "inputs": [], "model": model}
    root = _show(tmp_path, {"steps": [step], "output": {"use": "previs"}})
    done = run_cli("scan", str(root), "--format", "json")
    assert done.code == 1, done.stderr
    [asset] = done.json()["assets"]
    [t4] = [f for f in asset["findings"] if f["rule"] == "NFX-T4"]
    assert t4["outcome"] == "block" and t4["evidence"]["allowed_purposes"] == [], t4
    assert "(steps[0].model.allowed_purposes[0] given invalid, left out" in t4["message"]
    [prv] = [f for f in asset["findings"] if f["rule"] == "PRV-02"]
    assert "steps[0].model.allowed_purposes[0]" in prv["message"]
    assert "steps[0].model.allowed_productions[1]" in prv["message"]
    assert run_cli("verify", str(root / ".clearance" / "audit.jsonl")).code == 0
    model["allowed_productions"] = ["SHOW02", 42]
    model["allowed_purposes"] = ["previs"]
    root = _show(tmp_path / "b", {"steps": [step], "output": {"use": "previs"}})
    [asset] = run_cli("scan", str(root), "--format", "json").json()["assets"]
    [t4] = [f for f in asset["findings"] if f["rule"] == "NFX-T4"]
    assert t4["outcome"] == "block" and t4["evidence"]["allowed_productions"] == ["SHOW02"]
    assert "allowed_productions[1] given invalid, left out" in t4["message"], t4


def test_union_impact_unknown_and_a_typo_of_it_fail_the_scan_alike(tmp_path: Path) -> None:
    written = _scan(_show(tmp_path / "a", {"union_impact": "unknown"}))
    typo = _scan(_show(tmp_path / "b", {"union_impact": "actors"}))
    assert written[0] == typo[0] == 1
    [w] = [f for f in written[1]["findings"] if f["rule"] == "NFX-GP5"]
    [t] = [f for f in typo[1]["findings"] if f["rule"] == "NFX-GP5"]
    assert w["unsure"] and t["unsure"] and w["outcome"] == t["outcome"] == "approval"


def test_the_unknown_fields_survive_the_provenance_cache() -> None:
    from clearance.cache import _decode, _encode

    kept = PartialRecord("sidecar", "a.yaml", {"k": "unknown"}, unknown=["union_impact"])
    plain = PartialRecord("sidecar", "a.yaml", {"k": "v"})
    text = _encode({"a": kept, "b": plain})
    assert text is not None and '"unknown"' in text
    back = _decode(text)
    assert back["a"] == kept and back["b"] == plain and back["b"].unknown == []


# -- any shape: never a crash, every error named -------------------------------------------

_SHAPES: list[Any] = [None, 3.5, "text", [None], {"a": [1]}]


def _paths(node: Any, parts: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every field and list entry of a document, outermost first."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*parts, key)
            yield from _paths(value, (*parts, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*parts, index)
            yield from _paths(value, (*parts, index))


def _set(doc: Any, parts: tuple[Any, ...], value: Any) -> Any:
    doc = copy.deepcopy(doc)
    node = doc
    for part in parts[:-1]:
        node = node[part]
    if value is DROP:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return doc


def _rename(doc: Any, parts: tuple[Any, ...], new: str) -> Any:
    """``doc`` with the key at ``parts`` renamed (order kept)."""
    doc = copy.deepcopy(doc)
    node = doc
    for part in parts[:-1]:
        node = node[part]
    items = list(node.items())
    node.clear()
    node.update((new if k == parts[-1] else k, v) for k, v in items)
    return doc


def _full() -> dict[str, Any]:
    """A valid sidecar that gives nearly every field of format 1."""
    return sidecar(
        {
            "steps": [
                {
                    "tool": "studio-diffusion",
                    "tool_version": "3.0",
                    "model": {
                        "id": "m",
                        "trained_on_talent": True,
                        "allowed_productions": ["SHOW01"],
                        "allowed_purposes": ["previs"],
                    },
                    "inputs": [{"ref": "plates/p.exr", "class": "production_image"}],
                    "prompt": {
                        "text": "a street",
                        "references": [{"type": "named_artist", "name": "N", "permission": "P"}],
                    },
                    "training": {
                        "performed": True,
                        "sources": [{"ref": "r", "class": "owned_released", "owner": "SHOW01"}],
                    },
                }
            ],
            "output.on_screen": "background",
            "output.element_type": "poster",
            "output.prominence": "incidental",
            "output.depicts_real": False,
            "output.presented_as_authentic": False,
            "output.synthetic_performer": False,
            "output.in_final_cut": False,
            "talent": [
                {
                    "performer": "P-0001",
                    "replica": "employment_based",
                    "alteration": "customary",
                    "alteration_category": "timing",
                    "consent": "C-001",
                    "union": "SAG-AFTRA",
                }
            ],
            "disclosure.flagged_at": "2026-11-03",
            "vendor": {"id": "V-1", "attestation": "A-1"},
            "qa": {"test_record": "QA-7"},
            "approvals": ["APR-1"],
        }
    )


def test_a_field_of_any_shape_anywhere_is_prv02_never_a_crash() -> None:
    doc = _full()
    for parts in _paths(doc):
        for shape in _SHAPES:
            broken = _set(doc, parts, shape)
            result = audit(broken)
            crashed = [f for f in result.findings if f.rule == "PRV-05"]
            assert not crashed, f"{parts} = {shape!r}:\n{describe(result)}"
            _serialisable(result, f"{parts} = {shape!r}")
            if schema_errors(broken, SCHEMA):
                assert any(f.rule == "PRV-02" for f in result.findings), (parts, shape)


def _serialisable(result: Any, where: str) -> None:
    """Every finding can be written to the audit log (its writer refuses what JSON cannot
    hold, and a scan stops rather than write it otherwise)."""
    from clearance.auditlog import AuditLogError, prepare_event

    for finding in result.findings:
        try:
            prepare_event({"event": "finding", **finding.to_dict()}, where="test")
        except AuditLogError as exc:
            raise AssertionError(f"{where}: {finding.rule}: {exc}") from None


# -- the property: corruption never makes a verdict more lenient ---------------------------

#: Valid sidecars whose every field is corrupted in turn.
VALID = {
    "baseline": BASELINE,
    "acme": ACME_SIDECAR,
    "full": _full(),
    "final-replica": sidecar(
        {
            "output.use": "final",
            "talent": [{"performer": "P-0001", "replica": "employment_based", "consent": "C-001"}],
            "union_impact": "actor",
            "qa": {"test_record": "QA-7"},
        }
    ),
    "training": sidecar(
        {
            "steps.0.inputs": [{"ref": "x", "class": "third_party_unowned", "clearance": "CL-1"}],
            "steps.0.training": {
                "performed": True,
                "sources": [{"ref": "s", "class": "talent_likeness", "clearance": "CL-2"}],
            },
            "output.depicts_real": True,
        }
    ),
}


def _reference(doc: dict[str, Any], parts: tuple[Any, ...]) -> dict[str, Any]:
    """``doc`` with the field at ``parts`` written ``unknown`` where the format has an unknown
    state for it (``unknown`` is one of its values, and other text is not), else left out: a
    free text field (``production``, ``consent``) written ``unknown`` names an id, it does not
    say "nobody knows"."""
    written = _set(doc, parts, "unknown")
    if not schema_errors(written, SCHEMA) and schema_errors(_set(doc, parts, "bogus"), SCHEMA):
        return written
    return _set(doc, parts, DROP)


def _misspelled(key: str) -> str:
    return key[:-2] + key[-1] + key[-2] if len(key) > 2 else key + "x"


def _corruptions(doc: dict[str, Any]) -> Iterator[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    for parts in _paths(doc):
        if any(isinstance(p, str) and p.startswith("x-") for p in parts):
            continue
        yield "wrong type", parts, _set(doc, parts, 12345)
        yield "bad value", parts, _set(doc, parts, "bogus-value")
        if isinstance(parts[-1], str):
            yield "misspelled key", parts, _rename(doc, parts, _misspelled(parts[-1]))


def _worst(result: Any) -> Outcome:
    return result.outcome


@pytest.mark.parametrize(
    ("name", "stage"), [(name, "comp") for name in sorted(VALID)] + [("full", "delivery")]
)
def test_corrupting_one_field_never_makes_the_verdict_more_lenient(name: str, stage: str) -> None:
    doc = VALID[name]
    assert not schema_errors(doc, SCHEMA), name
    checked = 0
    for kind, parts, broken in _corruptions(doc):
        if not schema_errors(broken, SCHEMA):
            continue  # still valid (a free text field given other text): not a corruption
        reference = audit(_reference(doc, parts), stage=stage)
        result = audit(broken, stage=stage)
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
        assert _worst(result) >= _worst(reference), (
            f"{name}: {kind} at {where} gives {_worst(result)}, {_worst(reference)} when "
            f"written unknown or left out\ncorrupted:\n{describe(result)}\n"
            f"reference:\n{describe(reference)}\n{json.dumps(broken, default=str)[:400]}"
        )
        assert not any(f.rule == "PRV-05" for f in result.findings), describe(result)
        _serialisable(result, where)
        checked += 1
    assert checked > 10


# -- a key the format does not know, close to no field: what it may have been meant as -----


def _stray_scan(tmp_path: Path, extra: str) -> dict:
    """Scan one GenAI temp asset through the real CLI, its sidecar giving no talent and no
    union_impact (absent: not involved) plus the top-level ``extra`` lines."""
    (tmp_path / "clearance.yaml").write_text(
        "clearance: 1\nproduction: {id: SHOW01, genre: fiction}\ntools: tools.yaml\n"
        "stages: [{name: comp, paths: [comp/]}]\n"
    )
    (tmp_path / "tools.yaml").write_text(
        "tools:\n  acme: {vendor: Acme, deployment: studio_enterprise, trains_on_inputs: false,"
        " retains_data: none, reuses_outputs: false, marks_output: c2pa}\n"
    )
    write_png(tmp_path / "comp/a.png")
    (tmp_path / "comp/a.png.genai.yaml").write_text(
        "provenance: 1\nproduction: SHOW01\ngenerated: true\nsource_type: trainedAlgorithmicMedia\n"
        "steps: [{tool: acme, inputs: []}]\n"
        "output: {use: temp, on_screen: none, subject: incidental}\n"
        "disclosure: {notified_at: 2026-11-02}\n" + extra
    )
    done = run_cli("scan", str(tmp_path), "--format", "json", env={"CLEARANCE_NOW": "2026-11-26"})
    assert done.code in (0, 1), done.stderr
    [asset] = done.json()["assets"]
    return asset


@pytest.mark.parametrize(
    "extra",
    ["notes: hand painted by J. Smith\n", "artist: {name: J. Smith}\n", "revision: 3\n"],
)
def test_a_top_level_key_close_to_no_field_is_prv02_and_leaves_talent_and_union_absent(
    tmp_path: Path, extra: str
) -> None:
    """Review: ``notes: ...`` at the top level made every field the sidecar did not give
    unknown, talent and union_impact included: two NFX-GP5 unsure approvals on an asset with
    no talent. A text, a mapping or a number is never a talent list or a union_impact
    value: PRV-02 names the key (escalate: never a pass), and what is absent stays absent."""
    asset = _stray_scan(tmp_path, extra)
    rules = {f["rule"]: f for f in asset["findings"] if f["outcome"] != "pass"}
    assert set(rules) == {"PRV-02"}, asset["findings"]
    assert "unknown field" in rules["PRV-02"]["message"]
    assert asset["outcome"] == "escalate"


@pytest.mark.parametrize(
    ("extra", "unsure"),
    [
        ("performers: [{performer: P-1, replica: employment_based}]\n", "talent"),
        ("union: actor\n", "union_impact"),
    ],
)
def test_a_top_level_key_whose_value_could_be_a_field_makes_that_field_unknown(
    tmp_path: Path, extra: str, unsure: str
) -> None:
    """A list may have been meant as ``talent``, ``actor`` as ``union_impact``: unknown,
    never read as not involved."""
    asset = _stray_scan(tmp_path, extra)
    gp5 = [f for f in asset["findings"] if f["rule"] == "NFX-GP5"]
    assert [f["evidence"]["missing"] for f in gp5] == [unsure], asset["findings"]
    assert all(f["unsure"] and f["outcome"] == "approval" for f in gp5)
