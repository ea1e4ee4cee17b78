"""The sidecar reader: safe loading, limits, schema errors with field paths, partial records."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearance._yaml import MAX_BYTES, DocumentError, load_document, parse_document
from clearance.model import Asset
from clearance.provenance.sidecar import read_sidecar, sidecar_record


def asset_with(tmp_path: Path, text: str, name: str = "a.png.genai.yaml") -> Asset:
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / name).write_text(text)
    return Asset(
        path=tmp_path / "a.png",
        rel="a.png",
        root=tmp_path,
        files=[tmp_path / "a.png"],
        sidecar=tmp_path / name,
    )


def test_valid_yaml_and_json_sidecars(tmp_path: Path) -> None:
    record = read_sidecar(
        asset_with(
            tmp_path, "provenance: 1\ngenerated: true\ndisclosure: {notified_at: 2026-11-02}\n"
        )
    )
    assert record and not record.issues and record.data["disclosure"]["notified_at"] == "2026-11-02"
    record = read_sidecar(
        asset_with(tmp_path, '{"provenance": 1, "generated": false}', "a.png.genai.json")
    )
    assert record and not record.issues and record.data["generated"] is False


def test_invalid_fields_are_listed_and_valid_fields_kept(tmp_path: Path) -> None:
    record = read_sidecar(
        asset_with(
            tmp_path,
            "provenance: 1\ngenerated: true\nshot: sh010\noutput: {use: finale}\nsteps: [{tool: 3}]\n",
        )
    )
    assert record is not None
    assert {(i.field, i.file) for i in record.issues} == {
        ("output.use", "a.png.genai.yaml"),
        ("steps[0].tool", "a.png.genai.yaml"),
    }
    assert record.data["generated"] is True and record.data["shot"] == "sh010"
    assert "output" not in record.data and "steps" not in record.data


def test_x_extensions_are_allowed_everywhere(tmp_path: Path) -> None:
    record = read_sidecar(
        asset_with(
            tmp_path,
            "provenance: 1\ngenerated: true\nx-studio: {ticket: 1}\noutput: {use: temp, x-note: hi}\n",
        )
    )
    assert record and not record.issues


def test_unparseable_yaml_is_an_issue_with_line(tmp_path: Path) -> None:
    record = read_sidecar(asset_with(tmp_path, "provenance: 1\ngenerated: [true\n"))
    assert (
        record
        and record.issues
        and "invalid YAML" in record.issues[0].message
        and "line" in record.issues[0].message
    )
    assert record.data == {}


def test_not_a_mapping(tmp_path: Path) -> None:
    record = read_sidecar(asset_with(tmp_path, "- just\n- a list\n"))
    assert record and record.issues[0].field == "(top level)"


def test_sidecar_describing_another_asset(tmp_path: Path) -> None:
    record = read_sidecar(asset_with(tmp_path, "provenance: 1\ngenerated: true\nasset: b.png\n"))
    assert record and [i.field for i in record.issues] == ["asset"]


def test_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("a: '" + "x" * MAX_BYTES + "'\n")
    with pytest.raises(DocumentError, match="limit"):
        load_document(big)


def test_yaml_bomb_refused_and_small_aliases_allowed() -> None:
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    with pytest.raises(DocumentError, match="aliases"):
        parse_document(bomb)
    assert parse_document("a: &x {k: 1}\nb: *x\n") == {"a": {"k": 1}, "b": {"k": 1}}


def test_yaml_python_tags_are_refused() -> None:
    with pytest.raises(DocumentError):
        parse_document("!!python/object/apply:os.system ['echo hi']\n")


def test_sidecar_record_from_memory() -> None:
    record = sidecar_record({"provenance": 1}, "mem.yaml")
    assert [i.field for i in record.issues] == ["generated"]


@pytest.mark.parametrize(
    "text",
    [
        "a: 2026-01-02\nb: [1, 2.5, null, true, 'x', ~, 0x1f, .inf]\n",
        "a: &x {k: 1}\nb: *x\nc: [*x, *x]\n",
        "a: &x {k: 1}\nb: {<<: *x, j: 2}\n",
        "1: one\ntrue: yes\nnull: ~\n2026-01-01: date key\n",
        "- !!binary aGVsbG8=\n- !!str 12\n- !!float 3\n",
        "text: |\n  multi\n  line\nfolded: >\n  a\n  b\n",
        "? [1, 2]\n: complex key\n",
        "t: 2026-11-26T21:06:53Z\n",
        "",
        "just a string",
    ],
)
def test_fast_yaml_builder_gives_exactly_what_the_safe_loader_gives(text: str) -> None:
    import yaml

    from clearance._yaml import _normalise

    try:
        expected = _normalise(yaml.load(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError:
        with pytest.raises(DocumentError):
            parse_document(text)
        return
    assert parse_document(text) == expected
