"""transcript.py: notes, times, decoding, speaker roles."""

from __future__ import annotations

import pytest

from rupture_detect.readers.transcript import (
    ROLES,
    SpeakerRoles,
    TranscriptError,
    decode,
    make_utterance,
    parse_time,
    split_notes,
)

TEXT = "T: Café au lait?\nC: Ça va, merci.\n"


# ---------------------------------------------------------------- split_notes

@pytest.mark.parametrize("text, words, cues", [
    ("I [laughs] don't know", "I don't know", ("laughs",)),
    ("Fine. (pause) Fine.", "Fine. Fine.", ("pause",)),
    ("[Long Pause] well (crying) okay [sighs]", "well okay", ("long pause", "crying", "sighs")),
    ("  plain    words\there ", "plain words here", ()),
    ("[laughs]", "", ("laughs",)),
    ("an [unclosed bracket", "an [unclosed bracket", ()),
])
def test_split_notes_separates_words_from_cues(text, words, cues):
    assert split_notes(text) == (words, cues)


def test_split_notes_ignores_overlong_brackets():
    long_aside = "(" + "x" * 41 + ")"
    words, cues = split_notes(f"before {long_aside} after")
    assert cues == ()
    assert long_aside in words


def test_make_utterance_keeps_text_and_fills_words_and_cues():
    u = make_utterance("s1", 3, "client", "No. [pause] No.", start=1.5)
    assert (u.session_id, u.turn, u.speaker, u.start) == ("s1", 3, "client", 1.5)
    assert u.text == "No. [pause] No."
    assert u.words == "No. No."
    assert u.cues == ("pause",)


# ---------------------------------------------------------------- parse_time

@pytest.mark.parametrize("value, seconds", [
    ("00:12:34", 754.0),
    ("12:34", 754.0),
    ("1:02:03", 3723.0),
    ("1:02:03.5", 3723.5),
    ("00:00:01.200", 1.2),
    ("00:00:01,200", 1.2),          # SRT comma
    ("00:01.050", 1.05),            # WebVTT without hours
    (" 01:00 ", 60.0),
    ("3.25", 3.25),
    ("42", 42.0),
    (7, 7.0),
    (2.5, 2.5),
])
def test_parse_time_reads_clock_and_numbers(value, seconds):
    assert parse_time(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [None, "", "   ", float("nan")])
def test_parse_time_empty_is_none(value):
    assert parse_time(value) is None


@pytest.mark.parametrize("value", ["abc", "12:xx", "1:2:3:4"])
def test_parse_time_rejects_garbage(value):
    with pytest.raises(ValueError, match="cannot read"):
        parse_time(value)


# ---------------------------------------------------------------- decode

@pytest.mark.parametrize("data", [
    TEXT.encode("utf-8"),
    b"\xef\xbb\xbf" + TEXT.encode("utf-8"),
    b"\xff\xfe" + TEXT.encode("utf-16-le"),
    b"\xfe\xff" + TEXT.encode("utf-16-be"),
    TEXT.encode("utf-16"),                 # Python's own BOM + native order
    TEXT.encode("utf-16-le"),              # BOM-less, detected by the NUL pattern
    TEXT.encode("utf-16-be"),
], ids=["utf8", "utf8-bom", "utf16le-bom", "utf16be-bom", "utf16", "utf16le-nobom", "utf16be-nobom"])
def test_decode_accepts_utf8_and_utf16(data):
    out = decode(data, "x.txt")
    assert out == TEXT
    assert not out.startswith("\ufeff")


def test_decode_normalises_line_endings():
    assert decode(b"T: a\r\nC: b\rT: c\n", "x.txt") == "T: a\nC: b\nT: c\n"


def test_decode_latin1_names_file_and_line():
    data = "T: hello\nC: fine\nT: caf\u00e9?\n".encode("latin-1")
    with pytest.raises(TranscriptError) as info:
        decode(data, "/data/s1.txt")
    err = info.value
    assert err.path == "/data/s1.txt"
    assert err.line == 3
    assert str(err).startswith("/data/s1.txt:3: ")
    assert "UTF-8" in str(err) and "0xe9" in str(err)


def test_decode_latin1_after_bom_counts_lines_from_text_start():
    data = b"\xef\xbb\xbf" + "T: a\nC: \u00fcber\n".encode("latin-1")
    with pytest.raises(TranscriptError) as info:
        decode(data, "b.txt")
    assert info.value.line == 2


def test_transcript_error_without_line_reads_path_only():
    err = TranscriptError("f.csv", None, "empty file")
    assert str(err) == "f.csv: empty file"
    assert isinstance(err, ValueError)


# ---------------------------------------------------------------- SpeakerRoles

@pytest.mark.parametrize("label, role", [
    ("T", "therapist"), ("t", "therapist"), ("Therapist", "therapist"), ("THERAPIST", "therapist"),
    ("Counsellor", "therapist"), ("Counselor", "therapist"), ("Th.", "therapist"),
    ("C", "client"), ("Client", "client"), ("Patient", "client"), ("Pt", "client"), ("  client  ", "client"),
    ("Interpreter", "other"), ("Both", "other"),
])
def test_builtin_labels(label, role):
    assert SpeakerRoles().resolve(label) == role


def test_unknown_label_without_mapping_is_none_and_errors_with_location():
    roles = SpeakerRoles()
    assert roles.resolve("Bob") is None
    with pytest.raises(TranscriptError) as info:
        roles.role_or_error("Bob", "s.txt", 4)
    assert info.value.line == 4
    assert str(info.value).startswith("s.txt:4: unknown speaker 'Bob'")


def test_mapping_takes_precedence_over_builtins():
    roles = SpeakerRoles({"T": "client", "Dr Who": "Therapist"})
    assert roles.resolve("T") == "client"            # mapping beats the built-in "t" -> therapist
    assert roles.resolve("C") == "client"            # built-ins still apply to unmapped labels
    assert roles.resolve("dr who.") == "therapist"   # case, trailing dot, whitespace insensitive
    assert roles.resolve("  DR   WHO ") == "therapist"
    assert roles.resolve("Amy") is None


def test_default_role_applies_to_unknown_names_only():
    roles = SpeakerRoles({"Anna": "therapist"}, default_role="client")
    assert roles.resolve("Anna") == "therapist"
    assert roles.resolve("Ben") == "client"
    assert roles.resolve("Therapist") == "therapist"   # built-ins before the default
    assert roles.resolve("Interpreter") == "other"


def test_default_role_needs_a_mapping():
    assert SpeakerRoles(default_role="client").resolve("Ben") is None


def test_mapping_rejects_unknown_roles():
    with pytest.raises(ValueError, match="role must be one of"):
        SpeakerRoles({"Anna": "boss"})
    assert ROLES == ("therapist", "client", "other")
