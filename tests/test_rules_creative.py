"""Creative output: NFX-GP1 (unowned material), NFX-C1 (key elements), NFX-C2 (protected references)."""

from __future__ import annotations

import pytest

from _records import audit, fired, inp, of, one, outcome_of, sidecar, step
from clearance.model import Outcome

PROTECTED = [
    "copyrighted_work",
    "named_artist",
    "public_figure",
    "deceased_person",
    "performer_feature",
]


def prompt(*references, text="a desert street"):
    return sidecar({"steps": [step(prompt={"text": text, "references": list(references)})]})


# -- NFX-GP1 -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", PROTECTED)
def test_gp1_a_protected_reference_without_permission_needs_approval(kind):
    finding = one(audit(prompt({"type": kind, "name": "X"})), "NFX-GP1")
    assert finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["references"] == [{"type": kind, "name": "X"}]


def test_gp1_references_with_permission_or_to_public_domain_pass():
    data = prompt(
        {"type": "copyrighted_work", "name": "Afghan Girl", "permission": "PERM-1"},
        {"type": "public_domain", "name": "Gustave Doré engravings"},
    )
    assert "NFX-GP1" not in fired(audit(data))


def test_gp1_an_uncleared_unowned_input_needs_approval_and_a_cleared_one_passes():
    uncleared = sidecar({"steps": [step(inputs=[inp("refs/mood_03.png", "third_party_unowned")])]})
    finding = one(audit(uncleared), "NFX-GP1")
    assert finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["inputs"] == [
        {"ref": "refs/mood_03.png", "class": "third_party_unowned"}
    ]
    cleared = sidecar(
        {"steps": [step(inputs=[inp("refs/mood_03.png", "third_party_unowned", "CLR-7")])]}
    )
    assert "NFX-GP1" not in fired(audit(cleared))


NO_RECORD = ["unknown", "Unknown", "none", "  ", ""]


@pytest.mark.parametrize("value", NO_RECORD)
def test_gp1_c2_a_permission_or_clearance_that_says_there_is_none_is_none(value):
    # `permission: unknown` was read as a permission: the reference and the unowned input
    # passed GP1, and C2 passed even in a final asset
    data = sidecar(
        {
            "output.use": "final",
            "steps": [
                step(
                    inputs=[inp("refs/mood_03.png", "third_party_unowned", value)],
                    prompt={
                        "references": [{"type": "public_figure", "name": "X", "permission": value}]
                    },
                )
            ],
        }
    )
    result = audit(data)
    gp1 = of(result, "NFX-GP1")
    assert {tuple(f.evidence) for f in gp1} >= {
        ("step", "tool", "references"),
        ("step", "tool", "inputs"),
    }
    assert outcome_of(result, "NFX-C2") is Outcome.BLOCK
    assert one(result, "NFX-C2").evidence["reference"]["permission"] is None


def test_gp1_a_failed_similarity_review_blocks():
    result = audit(sidecar({"output.similarity_review": "failed"}))
    assert one(result, "NFX-GP1").effective_outcome is Outcome.BLOCK
    assert result.outcome is Outcome.BLOCK


@pytest.mark.parametrize("review", [None, "none"])
def test_gp1_a_final_asset_without_similarity_review_is_unsure(review):
    data = sidecar({"output.use": "final"}, drop=["output.similarity_review"])
    if review:
        data["output"]["similarity_review"] = review
    finding = one(audit(data), "NFX-GP1")
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["missing"] == "output.similarity_review"


def test_gp1_a_missing_review_is_fine_before_final():
    assert "NFX-GP1" not in fired(audit(sidecar(drop=["output.similarity_review"])))


def test_gp1_an_input_of_unknown_class_is_unsure():
    data = sidecar({"steps": [step(inputs=[inp("refs/found_online.jpg", "unknown")])]})
    finding = one(audit(data), "NFX-GP1")
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL


# -- NFX-C1 --------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", ["main_character", "key_visual", "central_setting"])
@pytest.mark.parametrize("use", ["previs", "temp", "final"])
def test_c1_a_key_element_past_ideation_needs_approval(subject, use):
    finding = one(audit(sidecar({"output.subject": subject, "output.use": use})), "NFX-C1")
    assert finding.effective_outcome is Outcome.APPROVAL and not finding.unsure


@pytest.mark.parametrize("use", ["ideation", "pitch"])
def test_c1_ideation_and_pitch_are_exploration(use):
    assert "NFX-C1" not in fired(
        audit(sidecar({"output.subject": "main_character", "output.use": use}))
    )


@pytest.mark.parametrize("subject", ["secondary", "incidental"])
def test_c1_secondary_and_incidental_elements_pass(subject):
    data = sidecar({"output.subject": subject, "output.use": "final"})
    assert "NFX-C1" not in fired(audit(data, stage="delivery"))


def test_c1_a_final_stage_makes_an_ideation_label_irrelevant():
    data = sidecar({"output.subject": "key_visual", "output.use": "ideation"})
    assert outcome_of(audit(data, stage="delivery"), "NFX-C1") is Outcome.APPROVAL


def test_c1_unsure_when_an_on_screen_element_has_no_subject():
    data = sidecar({"output.on_screen": "background"}, drop=["output.subject"])
    finding = one(audit(data), "NFX-C1")
    assert finding.unsure and finding.evidence["missing"] == "output.subject"


def test_c1_unsure_when_a_key_element_has_no_use():
    data = sidecar({"output.subject": "main_character"}, drop=["output.use"])
    finding = one(audit(data), "NFX-C1")
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL


# -- NFX-C2 --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", PROTECTED)
def test_c2_a_protected_reference_without_permission_needs_approval(kind):
    finding = one(audit(prompt({"type": kind, "name": "Someone"})), "NFX-C2")
    assert finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["reference"]["type"] == kind and finding.evidence["step"] == 0


def test_c2_blocks_in_a_final_asset_without_permission():
    data = prompt({"type": "performer_feature", "name": "Meryl Streep's nose"})
    data["output"]["use"] = "final"
    assert outcome_of(audit(data), "NFX-C2") is Outcome.BLOCK


def test_c2_a_reference_with_permission_passes_even_in_final():
    data = prompt({"type": "public_figure", "name": "Mayor", "permission": "REL-44"})
    assert "NFX-C2" not in fired(audit(data, stage="delivery"))


def test_c2_denylisted_names_in_references_or_prompt_text_fire_case_insensitively():
    rules = {"NFX-C2": {"denylist": ["Squid Game", "Meryl Streep"]}}
    by_reference = audit(prompt({"type": "other", "name": "the SQUID GAME doll"}), rules=rules)
    assert one(by_reference, "NFX-C2").evidence["denylisted"] == ["Squid Game"]
    by_text = audit(prompt(text="a doll like in squid game, lit by neon"), rules=rules)
    finding = one(by_text, "NFX-C2")
    assert finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["denylisted"] == ["Squid Game"]
    assert finding.evidence["field"] == "steps[0].prompt.text"
    assert "neon" not in str(finding.to_dict())  # never the prompt itself


def test_c2_a_denylisted_name_in_a_final_prompt_blocks():
    rules = {"NFX-C2": {"denylist": ["Squid Game"]}}
    data = prompt(text="squid game doll")
    assert outcome_of(audit(data, stage="delivery", rules=rules), "NFX-C2") is Outcome.BLOCK


def test_c2_prompts_without_protected_or_denylisted_names_pass():
    rules = {"NFX-C2": {"denylist": ["Squid Game"]}}
    data = prompt({"type": "owned", "name": "our hero's car"}, text="a red car in the desert")
    assert not of(audit(data, rules=rules), "NFX-C2")


def test_c2_a_denylist_written_as_a_single_string_is_one_name_not_letters():
    rules = {"NFX-C2": {"denylist": "Squid Game"}}
    assert not of(audit(prompt(text="a quiet desert road"), rules=rules), "NFX-C2")
    assert of(audit(prompt(text="the squid game doll"), rules=rules), "NFX-C2")


# -- NFX-C2: how a denylisted name is matched (rules/_denylist.py, docs/rules.md) ----------


def denied_in_text(name: str, text: str) -> list[str]:
    result = audit(prompt(text=text), rules={"NFX-C2": {"denylist": [name]}})
    return [h for f in of(result, "NFX-C2") for h in f.evidence["denylisted"]]


def denied_in_reference(name: str, reference: str) -> list[str]:
    data = prompt({"type": "other", "name": reference})
    result = audit(data, rules={"NFX-C2": {"denylist": [name]}})
    return [h for f in of(result, "NFX-C2") for h in f.evidence["denylisted"]]


def substring_matched(name: str, text: str) -> bool:
    """What NFX-C2 did before: a case-insensitive substring."""
    return name.casefold() in text.casefold()


@pytest.mark.parametrize(
    "text",
    [
        "the squid  game doll",
        "squid-game doll",
        "a SquidGame doll",
        "SQUID_GAME doll",
        "a squid\tgame doll",
        "squid.game doll",
        "#squidgame doll",
        "ＳＱＵＩＤ　ＧＡＭＥ doll",  # full-width: the NFKC form is "SQUID GAME"
        "squid\u00adgame doll",  # a soft hyphen
    ],
)
def test_c2_a_denylisted_name_is_found_whatever_its_spacing_punctuation_and_case(text):
    assert not substring_matched("Squid Game", text)  # the substring match missed them all
    assert denied_in_text("Squid Game", text) == ["Squid Game"]
    assert denied_in_reference("Squid Game", text) == ["Squid Game"]


def test_c2_a_name_written_with_or_without_separators_matches_both_spellings():
    assert denied_in_text("Spiderman", "a spider man suit") == ["Spiderman"]
    assert denied_in_text("Spider-Man", "a spiderman suit") == ["Spider-Man"]
    assert denied_in_text("Ghibli", "GHIBLI-style clouds") == ["Ghibli"]


def test_c2_accents_and_unicode_forms_do_not_hide_a_name():
    nfd = "Ame\u0301lie"
    assert denied_in_text("Amélie", f"a poster like {nfd}") == ["Amélie"]
    assert denied_in_text("Amélie", "AMELIE poster") == ["Amélie"]
    assert denied_in_text("Amelie", "amélie poster") == ["Amelie"]
    assert denied_in_text("Office", "the \ufb00ice") == []  # not a word of the text
    assert denied_in_text("Fifth Element", "the \ufb01fth element") == ["Fifth Element"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("Ed", "edit the plate"),
        ("Ed", "EDITED plate"),
        ("Ed", "a red sky"),
        ("Dune", "low dunes at dusk"),
        ("Cher", "a teacher at her desk"),
        ("Cars", "scars on his face"),
        ("Up", "a cup of tea"),
        ("HBO", "HBOMAX"),  # all capitals: no word edge to see
        ("Ed", "edsheeran"),  # joined, but not a hashtag: no word edge to see
        ("Up", "upstairs"),
    ],
)
def test_c2_a_short_name_does_not_match_inside_a_longer_word(name, text):
    """Names of four letters and digits or fewer are ordinary words or pieces of them far
    more often than names: the substring match fired on each of these."""
    assert substring_matched(name, text)
    assert denied_in_text(name, text) == []
    assert denied_in_reference(name, text) == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("Ed", "Ed's hat"),
        ("Ed", "ED at dusk"),
        ("Ed", "like EdSheeran"),
        ("Dune", "like the Dune sandworms"),
        ("Dune", "#DuneMovie poster"),
        ("Dune", "a Dune-inspired desert"),
        ("Cars", "Cars2 style"),
        ("Cars", "the CARS poster"),
        ("HBO", "an HBOMax look"),
        ("U2", "a U2 concert"),
        ("Cher", "Cher's wig"),
        ("鬼滅", "鬼滅の刃のスタイル"),  # no spaces, no case: every letter is a word edge
        ("Dune", "#dunemovie poster"),  # a hashtag is words written without spaces
        ("Ed", "@edsheeran"),
    ],
)
def test_c2_a_short_name_still_matches_as_a_whole_word(name, text):
    assert denied_in_text(name, text) == [name]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("Squid Game", "a doll like in squid game, lit by neon"),
        ("Squid Game", "the Squid Games set"),
        ("Squid Game", "SQUID GAME set"),
        ("Kubrick", "a Kubrickian hallway"),
        ("Tolkien", "a Tolkienesque ruin"),
        ("Pixar", "Pixar's lighting"),
        ("Ghibli", "ghibli-style clouds"),
        ("Potter", "#harrypotter castle"),
        ("Harry Potter", "harry potter's castle"),
        ("Spider-Man", "a spider-man suit"),
        ("Meryl Streep", "Meryl Streep's nose"),
        ("iphone", "a row of iPhones"),
        ("鬼滅の刃", "鬼滅の刃のスタイル"),
        ("Amélie", "amélie poster"),
        ("🦑", "a 🦑 toy"),  # no letter or digit: looked for as written
    ],
)
def test_c2_a_name_as_whole_words_with_an_ending_or_in_a_hashtag_is_found(name, text):
    assert substring_matched(name, text)
    assert denied_in_text(name, text) == [name]
    assert denied_in_reference(name, text) == [name]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("Marvel", "marvelous"),
        ("Sting", "testing"),
        ("Sting", "a stingray"),
        ("Potter", "pottery"),
        ("Potter", "harrypotter"),  # joined without a hashtag: no word edge to see
        ("Kubrick", "kubrickianism"),
        ("Adele", "adelegate"),
    ],
)
def test_c2_a_long_name_does_not_match_inside_an_ordinary_word(name, text):
    """Review: a longer name matched inside any word (``Marvel`` in ``marvelous``,
    ``Sting`` in ``testing``), while a short one lost joined words (``#dunemovie``). Every
    name now matches as whole words, with a longer name's plural or adjective ending, or
    anywhere inside a hashtag."""
    assert substring_matched(name, text)
    assert denied_in_text(name, text) == []
    assert denied_in_reference(name, text) == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("Sting", "the best ingredients"),
        ("Adele", "she made lemonade"),
        ("Adele", "a delegate"),
        ("Adele", "pomade lemon"),
    ],
)
def test_c2_ignoring_separators_does_not_join_other_words_into_a_name(name, text):
    """The text splits these where the name is one word: only whole words count then."""
    assert not substring_matched(name, text)
    assert denied_in_text(name, text) == []


def test_c2_a_name_between_word_edges_or_in_a_hashtag_is_always_found():
    """Any name, short or long, written in any case between separators (or at a case or
    digit change), or inside a hashtag, is found whatever surrounds it (seeded,
    repeatable); the same name glued to lower-case letters on both sides, outside a
    hashtag, is not."""
    import random

    from clearance.rules._denylist import Denylist

    rng = random.Random(20261128)
    letters = "abcdexyz"
    names = ["Squid Game", "Meryl Streep", "Spider-Man", "Kubrick", "Se7en", "Ed", "Dune"]
    names += ["".join(rng.choice(letters) for _ in range(rng.randint(2, 12))) for _ in range(60)]
    tried = 0
    for name in names:
        denylist = Denylist([name])
        for _ in range(30):
            written = "".join(c.upper() if rng.random() < 0.3 else c for c in name)
            words = " ".join(rng.choice(["a", "the", "lit", "doll", "x1"]) for _ in range(3))
            sep = rng.choice([" ", "-", "_", ". ", ", ", "\t", "/"])
            text = f"{words}{sep}{written}{rng.choice([' ', '-', '!', '.'])}{words}"
            assert denylist.names_in(text) == [name], (name, text)
            joined = "".join(c for c in name.lower() if c.isalnum())
            tagged = (
                f"{words} #{rng.choice(['', 'x', 'best'])}{joined}{rng.choice(['', 'fan', 'y'])}"
            )
            assert denylist.names_in(tagged) == [name], (name, tagged)
            glued = f"{words} q{joined}qz"
            assert denylist.names_in(glued) == [], (name, glued)
            tried += 1
    assert tried > 1000


def test_c2_a_long_prompt_is_read_in_time_linear_in_its_length():
    """A name's letters glued again and again in one long word (``dunedune...``) are an
    occurrence every few letters, none a match: each looked back to the start of the word
    for a hashtag, and a 100 KB prompt took a minute (review). Counted in lines of the
    denylist's code run, not in time: twice the text, about twice the work."""
    import sys

    from clearance.rules import _denylist
    from clearance.rules._denylist import Denylist

    denylist = Denylist(["Dune", "Marvel", "Ed"])
    code = _denylist.__file__

    def work(text: str) -> int:
        lines = 0

        def trace(frame, event, _arg):  # type: ignore[no-untyped-def]
            nonlocal lines
            if frame.f_code.co_filename != code:
                return None
            if event == "line":
                lines += 1
            return trace

        previous = sys.gettrace()  # (coverage's, when measured)
        sys.settrace(trace)
        try:
            assert denylist.names_in(text) == []
        finally:
            sys.settrace(previous)
        return lines

    for unit in ("dune", "marvel", "ed", "éd"):
        small, large = work(unit * 500), work(unit * 1000)
        assert large < 2.5 * small, (unit, small, large)


def test_c2_the_denylist_is_folded_once_per_policy():
    """Built at the first asset and kept for as long as the policy's ``rules`` are."""
    import dataclasses

    from _records import policy
    from clearance.rules import RuleContext
    from clearance.rules.creative import _denylist, pack

    rule = next(r for r in pack.rules if r.id == "NFX-C2")
    the_policy = policy(rules={"NFX-C2": {"denylist": ["Squid Game"]}})

    def context(p):  # what _denylist reads: the rule's settings and the policy
        return RuleContext(rule, None, None, None, p)  # type: ignore[arg-type]

    built = _denylist(context(the_policy))
    assert _denylist(context(the_policy)) is built
    assert built.names_in("a SquidGame doll") == ["Squid Game"]
    other = dataclasses.replace(the_policy, rules={"NFX-C2": {"denylist": ["Meryl Streep"]}})
    assert _denylist(context(other)).names_in("a SquidGame doll") == []
