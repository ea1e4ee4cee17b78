"""The sidecar reader: safe loading, limits, schema errors with field paths, partial records."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from clearance._yaml import (
    MAX_BYTES,
    MAX_EXPANDED_NODES,
    MAX_EXPANDED_TEXT,
    DocumentError,
    load_document,
    parse_document,
)
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
    # each invalid field is left out of its mapping, and listed as unknown (never "absent")
    assert record.data["output"] == {} and record.data["steps"] == [{}]
    assert record.unknown == ["output.use", "steps[0].tool"]


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


def test_an_impossible_unquoted_date_is_an_issue_with_field_path_and_line(tmp_path: Path) -> None:
    text = "provenance: 1\ngenerated: true\nsteps:\n  - tool: t\n    at: [2026-01-01, 2026-02-30]\n"
    record = read_sidecar(asset_with(tmp_path, text))
    # an error of that one field, like any invalid value: the rest of the sidecar is used
    assert record is not None
    assert record.data == {"provenance": 1, "generated": True, "steps": [{"tool": "t"}]}
    # ``at`` is close to no field of a step: any list field the step does not give may be
    # meant (its value is a list)
    assert record.unknown == ["steps[0].inputs"]
    unknown, issue = record.issues  # every error at once: ``at`` is no field of a step either
    assert unknown.field == "steps[0].at" and "unknown field" in unknown.message
    assert (issue.file, issue.field) == ("a.png.genai.yaml", "steps[0].at[1]")
    assert "'2026-02-30' is not a valid date (day is out of range for month)" in issue.message
    assert "(line 5, column 22)" in issue.message
    # the same through aliases (the memoised builder) and merge keys (PyYAML's constructor)
    with pytest.raises(DocumentError) as info:
        parse_document("- &d {expires: 2027-13-01}\n- *d\n")
    assert info.value.field == "[0].expires" and "month must be in 1..12" in info.value.reason
    with pytest.raises(DocumentError, match="day is out of range"):
        parse_document("base: &b {x: 1}\nm: {<<: *b, d: 2026-02-31}\n")


def test_a_refused_tagged_scalar_says_what_is_wrong_with_the_value_not_the_parser(
    tmp_path: Path,
) -> None:
    text = "provenance: 1\ngenerated: true\nx-l: [!!timestamp soon, !!bool maybe]\n"
    record = read_sidecar(asset_with(tmp_path, text))
    assert record is not None
    date, flag = sorted(record.issues, key=lambda i: i.field)
    assert date.field == "x-l[0]" and flag.field == "x-l[1]"
    assert date.message == (
        "invalid YAML: 'soon' is not a valid date (written YYYY-MM-DD, or an ISO 8601 date"
        " and time) (line 3, column 7)"
    )
    assert flag.message == (
        "invalid YAML: 'maybe' is not a valid bool (true or false, yes or no, on or off)"
        " (line 3, column 25)"
    )
    for text in (date.message, flag.message):
        assert "NoneType" not in text and "groupdict" not in text and "('maybe')" not in text


def test_an_impossible_date_is_listed_with_every_other_error_and_the_rest_is_used(
    tmp_path: Path,
) -> None:
    text = (
        "provenance: 1\ngenerated: true\nsource_type: trainedAlgorithmicMedia\n"
        "steps: [{tool: 3, inputs: []}]\noutput: {use: finale}\nshot: sh010\n"
        "disclosure: {notified_at: 2026-02-30}\n"
    )
    record = read_sidecar(asset_with(tmp_path, text))
    assert record is not None
    assert sorted(i.field for i in record.issues) == [
        "disclosure.notified_at",
        "output.use",
        "steps[0].tool",
    ]
    [date] = [i for i in record.issues if i.field == "disclosure.notified_at"]
    assert date.message.startswith("invalid YAML: '2026-02-30' is not a valid date (day is out")
    assert "(line 7, column 27)" in date.message
    assert record.data == {
        "provenance": 1,
        "generated": True,
        "source_type": "trainedAlgorithmicMedia",
        "shot": "sh010",
        # the invalid fields are left out of their mappings (unknown), the rest kept
        "steps": [{"inputs": []}],
        "output": {},
        "disclosure": {},
    }
    assert record.unknown == ["disclosure.notified_at", "output.use", "steps[0].tool"]


def _slow_path(text: str) -> tuple[Any, list[tuple[str, str]]]:
    """What PyYAML's own constructor builds, as the fallback of ``parse_document`` does."""
    from clearance._yaml import _Constructing, _normalise, _take_invalid

    loader = _Constructing(text)
    try:
        document = _normalise(loader.construct_document(loader.get_single_node()))
        return document, _take_invalid(document, loader.invalid) if loader.invalid else []
    finally:
        loader.dispose()


@pytest.mark.parametrize(
    "text",
    [
        "a: 2026-02-30\nb: [1, 2026-13-01, x]\nc: {d: 2026-01-01}\n",
        "- &d {expires: 2027-13-01}\n- *d\n- {e: 2026-02-29}\n",
        "a: &d 2026-02-30\nb: *d\n",
        "m: {<<: {k: 1}, d: 2026-02-31}\nn: 1\n",  # a merge key: PyYAML's constructor builds it
        "a: !!int x\nb: !!float y\nc: !!bool maybe\nd: !!timestamp soon\n",
        "steps: [{prompt: 2026-02-30, tool: t}]\n",
    ],
)
def test_impossible_scalars_are_field_errors_the_same_in_the_fast_and_slow_builders(
    text: str,
) -> None:
    refused: list[tuple[str, str]] = []
    document = parse_document(text, field_errors=refused)
    assert refused and (document, refused) == _slow_path(text)
    with pytest.raises(DocumentError) as info:  # without the list: the first one, by its field
        parse_document(text)
    assert (info.value.field, info.value.reason) == refused[0]


def test_bytes_that_are_not_utf8_are_an_issue_with_line(tmp_path: Path) -> None:
    asset = asset_with(tmp_path, "")
    (tmp_path / "a.png.genai.yaml").write_bytes(b"provenance: 1\ngenerated: false\nx-by: Jos\xe9\n")
    record = read_sidecar(asset)
    assert record is not None and record.data == {}
    [issue] = record.issues
    assert issue.message == "not UTF-8 text: byte 0xe9 (line 3, column 10); save the file as UTF-8"


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


def test_a_big_document_without_aliases_is_not_an_alias_bomb_whatever_its_text(
    tmp_path: Path,
) -> None:
    """A ``*`` in a string is not an alias: a document of more nodes than the alias bound,
    with globs and emphasis in its text but no alias, is read whole (only the size and depth
    limits apply to it)."""
    frames = ", ".join(str(i) for i in range(MAX_EXPANDED_NODES + 1))
    text = (
        "provenance: 1\ngenerated: false\nsource_type: digitalCapture\n"
        'output: {human_contribution: "comp by *Jane*"}\n'
        f'x-globs: ["sh010_bg_*", "NFX-T*"]\nx-frames: [{frames}]\n'
    )
    assert len(parse_document(text)["x-frames"]) == MAX_EXPANDED_NODES + 1
    record = read_sidecar(asset_with(tmp_path, text))
    assert record is not None and record.issues == []
    assert record.data["output"]["human_contribution"] == "comp by *Jane*"


def test_the_alias_bound_counts_the_nodes_aliases_add_not_the_documents_own() -> None:
    """A document bigger than the bound may still use an alias; what its aliases add is
    bounded: up to MAX_EXPANDED_NODES more nodes is read, one more is refused."""
    big = "x-own: [" + ", ".join(["1"] * MAX_EXPANDED_NODES) + "]\n"
    assert len(parse_document(big + "a: &a {k: v}\nb: *a\n")["x-own"]) == MAX_EXPANDED_NODES
    # an alias of a list of n scalars adds n + 1 nodes
    n = MAX_EXPANDED_NODES // 10 - 1
    anchored = "a: &a [" + ", ".join(["1"] * n) + "]\n"
    assert len(parse_document(anchored + "b: [" + ", ".join(["*a"] * 10) + "]\n")["b"]) == 10
    with pytest.raises(DocumentError, match=f"aliases add more than {MAX_EXPANDED_NODES} nodes"):
        parse_document(anchored + "b: [" + ", ".join(["*a"] * 10) + ", *a]\n")


def test_the_alias_bound_counts_the_text_aliases_add(tmp_path: Path) -> None:
    """A few nodes can carry a lot of text: one long scalar aliased within the node bound is
    bounded by the text its aliases add (MAX_EXPANDED_TEXT characters), with the same kind
    of message as the node bound, and never built."""
    kib = "x-a: &a " + "A" * 1024 + "\n"
    at_bound = kib + "x-b: [" + ", ".join(["*a"] * (MAX_EXPANDED_TEXT // 1024)) + "]\n"
    assert len(parse_document(at_bound)["x-b"]) == MAX_EXPANDED_TEXT // 1024
    past = at_bound.replace("[*a,", "[*a, *a,", 1)
    assert past.count("*a") < MAX_EXPANDED_NODES  # the node bound is far
    message = f"aliases add more than {MAX_EXPANDED_TEXT} characters of text to the document"
    with pytest.raises(DocumentError, match=message):
        parse_document(past)
    # a prompt aliased by many steps is refused the same way: PRV-02, naming the file
    steps = "".join("  - {tool: paint, prompt: {text: *p}}\n" for _ in range(11))
    text = "provenance: 1\ngenerated: true\nx-p: &p " + "P" * 100_000 + "\nsteps:\n" + steps
    record = read_sidecar(asset_with(tmp_path, text))
    assert record is not None and record.data == {}
    [issue] = record.issues
    assert issue.file == "a.png.genai.yaml" and message in issue.message


@pytest.mark.parametrize(
    "prefix",
    ["", "a: &a 1\nb: *a\n", "m: {<<: {k: 1}}\n"],
    ids=["tree", "alias", "merge-key"],
)
def test_nesting_is_read_to_the_bound_whatever_the_path_and_refused_past_it(prefix: str) -> None:
    """Nesting up to MAX_DEPTH levels is read as PyYAML's safe loader reads it, whether the
    document takes the fast builder, the aliased one or PyYAML's constructor, and however
    deep the caller's stack is (the fast builders recurse; out of frames they hand over to
    PyYAML's); one level more is a clear document error in every case."""
    import yaml

    from clearance._yaml import MAX_DEPTH, _normalise

    def nested(levels: int) -> str:  # the top-level mapping is the first level
        return prefix + "x: " + "[" * (levels - 1) + "]" * (levels - 1) + "\n"

    def deep_in_a_stack(frames: int, text: str) -> Any:
        return deep_in_a_stack(frames - 1, text) if frames else parse_document(text)

    text = nested(MAX_DEPTH)
    expected = _normalise(yaml.load(text, Loader=yaml.CSafeLoader))
    assert parse_document(text) == expected
    assert deep_in_a_stack(700, text) == expected
    for levels in (MAX_DEPTH + 1, 999):
        with pytest.raises(DocumentError, match=f"nested more than {MAX_DEPTH} levels deep"):
            parse_document(nested(levels))
    with pytest.raises(DocumentError, match="exceeded maximum nesting depth"):
        parse_document(nested(1200))  # past PyYAML's own parser's bound


@pytest.mark.parametrize(
    "extra",
    ["1: an integer key\n", "x-date: 2027-02-30\n"],
    ids=["pyyaml-constructor", "impossible-date"],
)
def test_memory_is_linear_in_the_document_however_deep_its_containers(extra: str) -> None:
    """Many containers deep down (450 levels over 5,000 of them here; 349,000 fit in the
    size limit) cost memory in proportion to the document on every path a document can
    take: an integer key sends it through PyYAML's constructor, whose result is then copied;
    an impossible date is looked for in the whole document, to name its field. A field path
    or a set of ancestors per container would be depth × containers."""
    import tracemalloc

    def peak(text: str) -> int:
        tracemalloc.start()
        try:
            parse_document(text, field_errors=[])
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def deep(extra: str) -> str:
        return "x-deep: " + "[" * 450 + "{}," * 5_000 + "]" * 450 + "\n" + extra

    slow, fast = peak(deep(extra)), peak(deep(""))  # the fast builder's, as a yardstick
    assert slow < 2 * fast, (slow, fast)


def test_naming_a_key_given_twice_deep_down_costs_memory_in_proportion_to_the_document() -> None:
    """The field path of a key given twice, found after 5,000 containers 450 levels deep, is
    made for that key only: a path per container on the way would be depth x containers."""
    import tracemalloc

    def peak(last: str) -> tuple[int, list[tuple[str, str]]]:
        errors: list[tuple[str, str]] = []
        tracemalloc.start()
        try:
            text = "x-deep: " + "[" * 450 + "{}," * 5_000 + last + "]" * 450 + "\n"
            parse_document(text, field_errors=errors)
            return tracemalloc.get_traced_memory()[1], errors
        finally:
            tracemalloc.stop()

    (twice, errors), (once, none) = peak("{a: 1, a: 2}"), peak("{a: 1, b: 2}")
    assert "duplicate key 'a'" in str(errors) and not none
    assert twice < 2 * once, (twice, once)


def _as_yaml_and_json(tmp_path: Path, doc: str, bom: bool = False) -> list[Any]:
    """The sidecar records of the same content written as ``.genai.yaml`` and ``.genai.json``
    (``doc`` is JSON, which YAML reads too), each file with a UTF-8 byte-order mark or not."""
    records = []
    for name in ("a.png.genai.yaml", "a.png.genai.json"):
        for other in tmp_path.glob("a.png.genai.*"):
            other.unlink()
        asset = asset_with(tmp_path, "", name)
        assert asset.sidecar is not None
        asset.sidecar.write_bytes(b"\xef\xbb\xbf" * bom + doc.encode())
        records.append(read_sidecar(asset))
    return records


def test_a_sidecar_nested_past_the_bound_is_refused_as_yaml_and_as_json(tmp_path: Path) -> None:
    """The nesting bound is the same for both forms of a sidecar, with the same message."""
    from clearance._yaml import MAX_DEPTH

    head = '{"provenance": 1, "generated": false, "source_type": "digitalCapture", "x-deep": '

    def nested(levels: int) -> str:  # the top-level mapping is the first level
        return head + "[" * (levels - 1) + "]" * (levels - 1) + "}"

    for record in _as_yaml_and_json(tmp_path, nested(MAX_DEPTH)):
        assert record.issues == [] and record.data["generated"] is False
    too_deep = f"nested more than {MAX_DEPTH} levels deep"
    column = len(head) + MAX_DEPTH  # of the bracket that opens level MAX_DEPTH + 1
    yaml_form, json_form = _as_yaml_and_json(tmp_path, nested(MAX_DEPTH + 1))
    [yaml_issue] = yaml_form.issues
    assert yaml_issue.message.startswith(f"invalid YAML: {too_deep}")
    assert [i.message for i in json_form.issues] == [
        f"invalid JSON: {too_deep} (line 1, column {column})"
    ]
    assert json_form.issues[0].file == "a.png.genai.json" and json_form.data == {}
    # past what json.loads itself would read, the message is the same
    with pytest.raises(DocumentError, match=f"invalid JSON: nested more than {MAX_DEPTH} levels"):
        parse_document(nested(5000), json_only=True)
    # brackets in strings (escaped quotes too) are text, not nesting
    text = '{"x-a": "' + "[{" * MAX_DEPTH + '", "x-b": "\\"' + "[" * MAX_DEPTH + '"}'
    assert parse_document(text, json_only=True)["x-a"] == "[{" * MAX_DEPTH


def test_a_sidecar_with_a_utf8_byte_order_mark_is_read_as_yaml_and_as_json(
    tmp_path: Path,
) -> None:
    """PowerShell and .NET write UTF-8 with a byte-order mark: both forms read it as text."""
    doc = '{"provenance": 1, "generated": false, "source_type": "digitalCapture"}'
    for record in _as_yaml_and_json(tmp_path, doc, bom=True):
        assert record.issues == [] and record.data["source_type"] == "digitalCapture"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("x-a: &a {b: *a}\n", "x-a.b"),
        ("x-a: &a [1, *a]\n", "x-a[1]"),
        ("x-a: &a [{<<: {k: 1}, b: *a}]\n", "x-a[0].b"),  # PyYAML's constructor
        ("x-a: &a {<<: {k: 1}, b: [*a]}\n", "x-a.b[0]"),
    ],
)
def test_a_document_that_contains_itself_is_a_document_error(
    tmp_path: Path, text: str, field: str
) -> None:
    """An alias inside its own anchor's container makes a document that contains itself:
    refused, naming the field, never built (nothing after could walk or write it)."""
    with pytest.raises(DocumentError) as info:
        parse_document(text)
    assert info.value.field == field
    assert info.value.reason.startswith("invalid YAML: an alias refers to its own container")
    # a node reached twice, not from inside itself, is fine
    assert parse_document("a: &a {b: 1}\nc: [*a, {d: *a}]\n") == {
        "a": {"b": 1},
        "c": [{"b": 1}, {"d": {"b": 1}}],
    }
    record = read_sidecar(asset_with(tmp_path, "provenance: 1\ngenerated: true\n" + text))
    assert record is not None and record.data == {}
    [issue] = record.issues
    assert (issue.file, issue.field) == ("a.png.genai.yaml", field)
    assert "an alias refers to its own container" in issue.message


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
        "2: two\ntrue: yes\nnull: ~\n2026-01-01: date key\n",  # (1 and true: one key)
        "- !!binary aGVsbG8=\n- !!str 12\n- !!float 3\n",
        "text: |\n  multi\n  line\nfolded: >\n  a\n  b\n",
        "? [1, 2]\n: complex key\n",
        "t: 2026-11-26T21:06:53Z\n",
        "",
        "just a string",
        # YAML 1.1 scalars the memoised resolver must tag as PyYAML does, plain and quoted
        "a: [yes, Yes, YES, no, NO, on, On, off, OFF, y, n, Y, N, 'yes', \"on\"]\n",
        "on: 1\noff: 2\n'yes': 3\n'no': 4\n",  # (on and yes, both true: a key given twice)
        "a: [017, 0o17, 0x1F, 0b101, 1_000, 1:20, 190:20:30.15, +12, -0]\n",
        "a: [1e3, 1.0e+3, .5, -.inf, .NaN, .nan, 6.8523015e+5, 1:30.5]\n",
        "a: [~, null, Null, NULL, '', '~', 'null', \"\"]\nb:\nc: ''\n",
        "a: [=, <<, '<<', 2026-1-2, 2026-01-02 10:00:00, '2026-01-02']\n",
        "a: [true1, 1true, 12a, a12, 0x, 1.2.3, '1.5', -, -a, .]\n",
        "b: {<<: {k: 1}, j: 2}\nc: &anchored {k: 2}\n",  # a merge key and an anchor, no alias
        "- !!set {a, b}\n- !!omap [{a: 1}]\n- !!pairs [{a: 1}]\n",
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
    first = parse_document(text)
    assert first == expected
    assert [type(v) for v in _leaves(first)] == [type(v) for v in _leaves(expected)]  # 1 != True
    assert parse_document(text) == expected  # again, from the memos


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in [k, *_leaves(v)]]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_yaml_memos_stay_bounded_and_hold_no_mutable_value() -> None:
    """The resolver's and the scalar builder's memos are keyed on users' text: a show's worth
    of distinct values never grows them past their bound, and they hold only values that
    cannot be changed by whoever receives them."""
    from clearance import _yaml

    for i in range(0, 3 * _yaml._MEMO_LIMIT, 500):
        parse_document("".join(f"k{j}: {j}\n" for j in range(i, i + 500)))
    assert 0 < len(_yaml._Loader._tags) <= _yaml._MEMO_LIMIT
    assert 0 < len(_yaml._SCALARS) <= _yaml._MEMO_LIMIT
    assert all(isinstance(v, _yaml._IMMUTABLE) for v in _yaml._SCALARS.values())
    first = parse_document("a: 2026-01-02\nb: 7\n")
    first["a"] += "x"
    assert parse_document("a: 2026-01-02\nb: 7\n") == {"a": "2026-01-02", "b": 7}


def test_read_limited_reads_the_file_as_it_is_now_even_with_a_stale_stat(tmp_path: Path) -> None:
    """The sidecar reader passes the stat the provenance cache took earlier in the audit: it
    only says where the read expects the end, so a file that changed since is still read
    whole, and one that grew past the limit is still refused."""
    from clearance._yaml import read_limited

    path = tmp_path / "s.genai.yaml"
    path.write_text("a: 1\n")
    small = os.stat(path)
    path.write_text("a: 1\nb: 2\n" * 50)  # grew since
    assert read_limited(path, st=small) == path.read_bytes()
    large = os.stat(path)
    path.write_text("a: 1\n")  # shrank since
    assert read_limited(path, st=large) == b"a: 1\n"
    path.write_bytes(b"x" * 5000)  # past the limit since
    with pytest.raises(DocumentError, match="over 1000 bytes"):
        read_limited(path, 1000, small)
    with pytest.raises(DocumentError, match="limit is 1000"):
        read_limited(path, 1000)
    with pytest.raises(DocumentError, match="directory"):
        read_limited(tmp_path)
    with pytest.raises(DocumentError, match="No such file"):
        read_limited(tmp_path / "gone.yaml")


#: (text, the field and the places each key given twice is named by): the fast builders
#: (a tree, a document with aliases) and PyYAML's constructor (merge keys, tags, keys that
#: are not strings), every one compared as the document has its keys
DUPLICATES = [
    (
        "provenance: 1\ngenerated: true\nshot: sh010\ngenerated: false\n",
        [("generated", "'generated' (line 2, column 1 and line 4, column 1)")],
    ),
    (
        "output: {use: temp, on_screen: none, use: final}\n",
        [("output.use", "'use' (line 1, column 10 and line 1, column 38)")],
    ),
    (
        "steps:\n  - tool: a\n    inputs:\n      - {ref: x, class: generated, ref: y}\n",
        [("steps[0].inputs[0].ref", "'ref' (line 4, column 10 and line 4, column 36)")],
    ),
    (
        "x-a: &a {k: 1, k: 2}\nx-b: [*a, *a]\n",  # an alias: the mapping is said once
        [("x-a.k", "'k' (line 1, column 10 and line 1, column 16)")],
    ),
    (
        "a: 1\nb: {<<: {k: 1}, k: 2, j: 3, j: 4}\na: 2\na: 3\n",  # a merge key
        [  # in the order of the text: where each key is given again
            ("b.j", "'j' (line 2, column 23 and line 2, column 29)"),
            ("a", "'a' (line 1, column 1, line 3, column 1 and line 4, column 1)"),
        ],
    ),
    (
        "on: 1\noff: 2\nyes: 3\n'no': 4\n",
        [("true", "'true' (line 1, column 1 and line 3, column 1)")],
    ),
    ("1: a\n'1': b\n", [("1", "'1' (line 1, column 1 and line 2, column 1)")]),
    (
        "x-d: {2026-01-01: a, '2026-01-01': b}\n",
        [("x-d.2026-01-01", "'2026-01-01' (line 1, column 7 and line 1, column 22)")],
    ),
    # keys written differently that the built mapping merges as equal values (1 == 1.0 ==
    # True): the first one's name is what the document keeps
    (
        "approvals:\n  1: {x: first}\n  1.0: {x: second}\n",
        [("approvals.1", "'1' (line 2, column 3 and line 3, column 3)")],
    ),
    ("m:\n  1: a\n  true: b\n", [("m.1", "'1' (line 2, column 3 and line 3, column 3)")]),
    (
        "m:\n  0: a\n  false: b\n  0.0: c\n",
        [("m.0", "'0' (line 2, column 3, line 3, column 3 and line 4, column 3)")],
    ),
    (  # 1.0 keeps its name, so '1' is another key (as is '1.0' in the case after)
        "m:\n  1.0: a\n  '1': b\n  1: c\n",
        [("m.1.0", "'1.0' (line 2, column 3 and line 4, column 3)")],
    ),
    (
        "m:\n  1: a\n  1.0: b\n  '1.0': c\n",
        [("m.1", "'1' (line 2, column 3 and line 3, column 3)")],
    ),
    (  # under the second: named by the key the document has
        "a:\n  1: {x: 1}\n  1.0: {y: 2, y: 3}\n",
        [
            ("a.1", "'1' (line 2, column 3 and line 3, column 3)"),
            ("a.1.y", "'y' (line 3, column 9 and line 3, column 15)"),
        ],
    ),
    (
        "steps: [{prompt: {a cat at dusk: 1, a cat at dusk: 2}, tool: t, tool: u}]\n",
        [
            ("steps[0].prompt", "(not shown: prompt text is never logged) (line 1, column 19"),
            ("steps[0].tool", "'tool' (line 1, column 56 and line 1, column 65)"),
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), DUPLICATES)
def test_a_key_given_twice_is_an_error_naming_the_key_and_both_lines(
    text: str, expected: list[tuple[str, str]]
) -> None:
    """YAML keeps the last of a key given twice, silently (``generated: true`` …
    ``generated: false``): it is an error of that field, naming the key and where each one
    is, whichever builder builds the document; the rest of the document is still read."""
    refused: list[tuple[str, str]] = []
    document = parse_document(text, field_errors=refused)
    assert [field for field, _ in refused] == [field for field, _ in expected]
    for (_, reason), (_, said) in zip(refused, expected, strict=True):
        assert reason.startswith(f"invalid YAML: duplicate key {said}"), reason
    assert "a cat at dusk" not in repr(refused)
    assert isinstance(document, dict) and document
    with pytest.raises(DocumentError) as info:  # without the list: the first, by its field
        parse_document(text)
    assert (info.value.field, info.value.reason) == refused[0]
    # PyYAML's constructor (a merge key elsewhere sends the document to it) finds the same
    slow: list[tuple[str, str]] = []
    parse_document(text + "x-merged: {<<: {m: 1}}\n", field_errors=slow)
    assert slow == refused


@pytest.mark.parametrize(
    "text",
    [
        "a: {k: 1}\nb: {k: 1}\nk: 2\n",  # the same key in different mappings
        "base: &b {k: 1, j: 2}\nover: {<<: *b, k: 3}\n",  # a merge key's key given again
        "both: {<<: [{k: 1}, {k: 2}]}\n",
        "a: &a {k: 1}\nb: [*a, *a, {k: *a}]\n",
        "- {k: 1}\n- {k: 1}\n",
        "- !!pairs [{a: 1}, {a: 2}]\n",
        "m: {1.0: a, '1': b, 2: c, '2.0': d, 0: e, 'false': f}\n",  # equal text only if built so
    ],
)
def test_keys_yaml_gives_once_per_mapping_are_not_duplicates(text: str) -> None:
    import yaml

    from clearance._yaml import _normalise

    refused: list[tuple[str, str]] = []
    assert parse_document(text, field_errors=refused) == _normalise(yaml.safe_load(text))
    assert refused == []


def test_a_key_given_twice_in_a_json_sidecar_is_an_error_naming_both_lines() -> None:
    text = (
        '{"provenance": 1, "generated": true,\n'
        ' "steps": [{"tool": "a", "tool": "b"}, {"tool": "c"}],\n'
        ' "x-s": {"\\u0067": 1, "g": 2, "h": {"g": 1}},\n'
        ' "generated": false}'
    )
    refused: list[tuple[str, str]] = []
    document = parse_document(text, json_only=True, field_errors=refused)
    assert refused == [  # in the order of the text: where each key is given again
        (
            "steps[0].tool",
            "invalid JSON: duplicate key 'tool' (line 2, column 13 and line 2, column 26): "
            "give each key once",
        ),
        (
            "x-s.g",
            "invalid JSON: duplicate key 'g' (line 3, column 10 and line 3, column 23): "
            "give each key once",
        ),
        (
            "generated",
            "invalid JSON: duplicate key 'generated' (line 1, column 19 and line 4, column 2): "
            "give each key once",
        ),
    ]
    assert document["provenance"] == 1
    with pytest.raises(DocumentError) as info:
        parse_document(text, json_only=True)
    assert (info.value.field, info.value.reason) == refused[0]
    ok = '{"a": {"k": 1}, "b": [{"k": 1}, {"k": "}{,"}], "k": "\\"k\\": 1"}'
    assert parse_document(ok, json_only=True) == {
        "a": {"k": 1},
        "b": [{"k": 1}, {"k": "}{,"}],
        "k": '"k": 1',
    }


@pytest.mark.parametrize("name", ["a.png.genai.yaml", "a.png.genai.json"])
def test_a_sidecar_with_a_key_given_twice_is_invalid_and_never_trusted(
    tmp_path: Path, name: str
) -> None:
    """``generated: true`` … ``generated: false``: the sidecar is invalid (``PRV-02``,
    ``clearance validate`` exit 1 naming the key and both lines), and neither value is
    used: the asset is audited as one whose GenAI use is unknown, never as not generated."""
    from clearance.testing import write_png
    from conftest import run_cli

    write_png(tmp_path / "a.png")
    if name.endswith(".json"):
        text = (
            '{"provenance": 1,\n"generated": true,\n"source_type": "trainedAlgorithmicMedia",\n'
            '"steps": [{"tool": "unknown-tool"}],\n"generated": false}\n'
        )
        where = "line 2, column 1 and line 5, column 1"
    else:
        text = (
            "provenance: 1\ngenerated: true\nsource_type: trainedAlgorithmicMedia\n"
            "steps: [{tool: unknown-tool}]\ngenerated: false\n"
        )
        where = "line 2, column 1 and line 5, column 1"
    (tmp_path / name).write_text(text)
    checked = run_cli("validate", str(tmp_path / name))
    assert checked.code == 1
    assert f"{tmp_path / name}: generated: invalid " in checked.stdout
    assert f"duplicate key 'generated' ({where})" in checked.stdout
    done = run_cli("scan", str(tmp_path), "--format", "json")
    assert done.code == 1, done.stderr
    [asset] = done.json()["assets"]
    [prv02] = [f for f in asset["findings"] if f["rule"] == "PRV-02"]
    assert f"{name}: generated: invalid" in prv02["message"] and where in prv02["message"]
    assert asset["outcome"] != "pass"


@pytest.mark.parametrize(
    ("text", "data", "unknown"),
    [
        # a field that takes ``unknown``: as if it had been written
        ("union_impact: actors\n", {"union_impact": "unknown"}, ["union_impact"]),
        # a misspelled key: left out, and the field it is close to is unknown
        (
            "talent: [{performer: P-2, replica: none, concent: C-1}]\n",
            {"talent": [{"performer": "P-2", "replica": "none"}]},
            ["talent[0].consent"],
        ),
        # one bad input class: every step kept, that class unknown
        (
            "steps: [{tool: acme, inputs: []}, {tool: acme, inputs: [{ref: b, class: bogus}]}]\n",
            {
                "steps": [
                    {"tool": "acme", "inputs": []},
                    {"tool": "acme", "inputs": [{"ref": "b", "class": "unknown"}]},
                ]
            },
            ["steps[1].inputs[0].class"],
        ),
        # an entry of the wrong type keeps its place and says nothing
        (
            "talent: [P-2, {performer: P-3}]\n",
            {"talent": [{}, {"performer": "P-3"}]},
            ["talent[0]"],
        ),
        # a mapping of the wrong type: its tri-state fields are unknown
        (
            "steps: [{tool: acme, inputs: [], training: yes}]\n",
            {"steps": [{"tool": "acme", "inputs": [], "training": {"performed": "unknown"}}]},
            ["steps[0].training"],
        ),
        # a value parsing refused inside a site extension: the extension is left out whole
        ("x-site: {due: 2026-02-30, owner: me}\nshot: sh010\n", {"shot": "sh010"}, ["x-site"]),
        # a key given twice: neither value, the field unknown
        (
            "union_impact: none\nunion_impact: actor\n",
            {"union_impact": "unknown"},
            ["union_impact"],
        ),
    ],
    ids=["enum", "misspelled-key", "one-input", "entry-type", "mapping-type", "x-refused", "twice"],
)
def test_an_invalid_field_is_unknown_in_the_record_and_the_rest_is_kept(
    tmp_path: Path, text: str, data: dict[str, Any], unknown: list[str]
) -> None:
    record = read_sidecar(asset_with(tmp_path, "provenance: 1\ngenerated: true\n" + text))
    assert record is not None and record.issues  # PRV-02 names every invalid field
    assert record.data == {"provenance": 1, "generated": True, **data}
    assert record.unknown == unknown


def test_an_invalid_field_is_unknown_whatever_form_the_schemas_references_take(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fastjsonschema (the fast checker without jsonschema-rs) rewrote every ``$ref`` of the
    shared parsed schema to an absolute URI: the reader could no longer follow them, and kept
    invalid values as they were. It compiles a copy now, and the reader follows both forms."""
    import copy
    import json as _json

    from clearance import policy
    from clearance._resources import schema
    from clearance.provenance import _invalid

    shared = schema("provenance.schema.json")
    before = copy.deepcopy(shared)
    policy._python_check("provenance.schema.json")
    assert shared == before
    absolute = _json.loads(
        _json.dumps(before).replace(
            '"#/', '"https://clearance.dev/schemas/provenance.schema.json#/'
        )
    )
    monkeypatch.setattr(_invalid, "load_schema", lambda name: absolute)
    record = sidecar_record(
        {
            "provenance": 1,
            "generated": True,
            "union_impact": "actors",
            "talent": [{"performer": "P", "replica": "maybe"}],
        },
        "a.genai.yaml",
    )
    assert record.data["union_impact"] == "unknown"
    assert record.data["talent"] == [{"performer": "P"}]
    assert record.unknown == ["talent[0].replica", "union_impact"]


def test_an_invalid_set_is_described_alike_on_every_run(tmp_path: Path) -> None:
    """``use: !!set {…}`` was quoted in the order of Python's string hashing, which differs
    between processes: the same unchanged sidecar gave a different PRV-02 message, in the
    audit log, on every run."""
    import subprocess
    import sys

    sidecar = tmp_path / "a.png.genai.yaml"
    sidecar.write_text(
        "provenance: 1\ngenerated: true\n"
        "output: {use: !!set {previs, final, pitch, temp, ideation, alpha, beta, gamma}}\n"
    )
    code = (
        "import sys; from clearance._yaml import load_document; "
        "from clearance.policy import schema_errors; "
        "print(schema_errors(load_document(sys.argv[1]), 'provenance.schema.json'))"
    )
    seen = {
        subprocess.run(
            [sys.executable, "-c", code, str(sidecar)],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(1, 7)
    }
    assert len(seen) == 1, seen
    assert "got {'alpha', 'beta', 'final', 'gamma', 'ideation', 'pitch', ..." in seen.pop()


@pytest.mark.parametrize("merge", [False, True], ids=["sequences", "merge-keys"])
def test_a_small_alias_bomb_file_is_refused_before_it_is_built(tmp_path: Path, merge: bool) -> None:
    """A sidecar of a few hundred bytes whose aliases nest nine deep, nine each (billions of
    nodes once expanded), as lists or as merge keys (PyYAML's constructor copies each merged
    mapping's keys into the one that merges it: 9^10 of them): counted on the composed
    nodes, whose number the text bounds, and refused there, naming the sidecar (PRV-02)."""
    levels = "".join(
        f"x-l{i}: &l{i} "
        + (
            f"{{<<: [{', '.join([f'*l{i - 1}'] * 9)}], k{i}: v}}\n"
            if merge
            else f"[{', '.join([f'*l{i - 1}'] * 9)}]\n"
        )
        for i in range(1, 11)
    )
    text = "provenance: 1\ngenerated: true\nx-l0: &l0 {a: lol, b: lol}\n" + levels
    assert len(text) < 1024
    record = read_sidecar(asset_with(tmp_path, text))
    assert record is not None and record.data == {}
    [issue] = record.issues
    assert issue.file == "a.png.genai.yaml"
    assert f"aliases add more than {MAX_EXPANDED_NODES} nodes" in issue.message


def test_a_sequence_sidecar_naming_another_version_of_a_dotted_prefix_is_a_mismatch(
    tmp_path: Path,
) -> None:
    """``asset: sh010.bg.v002.####.exr`` in the sidecar of ``sh010.bg.v003.####.exr`` (a
    sidecar copied from the last version and not updated): only the prefix's first part,
    ``sh010``, was compared, so it passed as describing the sequence. The whole PREFIX and
    EXT must match; the padding may be written any way."""
    from clearance.model import FrameFiles

    (tmp_path / "sh010.bg.v003.1001.exr").write_bytes(b"x")

    def declared(pattern: str) -> list[str]:
        sidecar = tmp_path / "sh010.bg.v003.genai.yaml"
        sidecar.write_text(f"provenance: 1\ngenerated: true\nasset: {pattern}\n")
        asset = Asset(
            path=tmp_path / "sh010.bg.v003.1001.exr",
            rel="sh010.bg.v003.####.exr",
            root=tmp_path,
            files=FrameFiles(tmp_path, ["sh010.bg.v003.1001.exr"]),
            frames="1001",
            frame_numbers=[1001],
            sidecar=sidecar,
        )
        record = read_sidecar(asset)
        assert record is not None
        return [i.message for i in record.issues if i.field == "asset"]

    for same in ("sh010.bg.v003.####.exr", "sh010.bg.v003.%04d.exr", "sh010.bg.v003.@.exr"):
        assert declared(same) == [], same
    for other in ("sh010.bg.v002.####.exr", "sh010.fg.####.exr", "sh010.bg.v003.####.png"):
        assert declared(other) == [
            f"describes {other!r}, but is paired with 'sh010.bg.v003.####.exr'"
        ], other


def test_a_hand_built_sequence_asset_of_another_shape_is_read_with_its_asset_field_compared(
    tmp_path: Path,
) -> None:
    """The Python API may build a sequence ``Asset`` whose name is not ``PREFIX.####.EXT``
    (discovery never does): the sidecar's ``asset:`` naming another asset is a mismatch
    (``PRV-02``), never a ValueError out of the reader."""
    (tmp_path / "plate.png").write_bytes(b"x")
    sidecar = tmp_path / "plate.png.genai.yaml"
    sidecar.write_text("provenance: 1\ngenerated: false\nasset: other.####.png\n")
    asset = Asset(
        path=tmp_path / "plate.png",
        rel="plate.png",
        root=tmp_path,
        files=[tmp_path / "plate.png"],
        frames="1-1",
        sidecar=sidecar,
    )
    record = read_sidecar(asset)
    assert record is not None
    assert [(i.field, i.message) for i in record.issues] == [
        ("asset", "describes 'other.####.png', but is paired with 'plate.png'")
    ]
