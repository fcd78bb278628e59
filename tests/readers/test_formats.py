"""formats.py: every reader on tiny fixtures, format detection, located errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rupture_detect.readers.formats import detect_format, read_file, transcripts_from_frame
from rupture_detect.readers.transcript import ReadLog, SpeakerRoles, TranscriptError


def only(transcripts):
    assert len(transcripts) == 1
    return transcripts[0]


def rows(transcript, *fields):
    return [tuple(getattr(u, f) for f in fields) for u in transcript.utterances]


# ---------------------------------------------------------------- plain text

def test_text_t_c_labels_with_comments_blanks_and_continuations(write):
    path = write("cbt_01.txt", (
        "# session 1, anonymised\n"
        "\n"
        "T: How was the week?\n"
        "C: Busy. I didn't do the\n"
        "diary, if that's what you're asking.\n"
        "so what I mean is: there was no time\n"
        "What I am trying to say is: it was hard\n"
        "\n"
        "T: Okay.\n"
    ))
    t = only(read_file(path))
    assert t.session_id == "cbt_01"
    assert t.source == str(path)
    assert rows(t, "turn", "speaker", "label", "line") == [
        (1, "therapist", "T", 3), (2, "client", "C", 4), (3, "therapist", "T", 9)]
    assert t.utterances[1].text == ("Busy. I didn't do the diary, if that's what you're asking. "
                                    "so what I mean is: there was no time "
                                    "What I am trying to say is: it was hard")
    assert all(u.session_id == "cbt_01" for u in t.utterances)


def test_text_lowercase_prose_with_colon_is_a_continuation(write):
    t = only(read_file(write("p.txt", "T: And then?\nC: He said\nprose: with colon\n")))
    assert len(t.utterances) == 2
    assert t.utterances[1].text == "He said prose: with colon"


@pytest.mark.parametrize("labels, roles", [
    (("Therapist", "Client"), ("therapist", "client")),
    (("Counsellor", "Patient"), ("therapist", "client")),
    (("Counselor", "Patient"), ("therapist", "client")),
    (("THERAPIST", "client"), ("therapist", "client")),
])
def test_text_long_labels(write, labels, roles):
    t = only(read_file(write("s.txt", f"{labels[0]}: Hello.\n\n{labels[1]}: Hi.\n{labels[0]}: Sit down.\n")))
    assert [u.speaker for u in t.utterances] == [roles[0], roles[1], roles[0]]
    assert [u.text for u in t.utterances] == ["Hello.", "Hi.", "Sit down."]
    assert [u.label for u in t.utterances] == [labels[0], labels[1], labels[0]]


def test_text_timestamps_bracketed_bare_and_after_label(write):
    t = only(read_file(write("ts.txt", (
        "[00:00:05] T: Hello.\n"
        "00:01:02 C: Hi.\n"
        "T: [00:02:00] After the label.\n"
        "[01:30] C: Minutes only.\n"
        "00:03:00 - T: With a dash.\n"
        "C: No time at all.\n"
    ))))
    assert rows(t, "start", "text") == [
        (5.0, "Hello."), (62.0, "Hi."), (120.0, "After the label."), (90.0, "Minutes only."),
        (180.0, "With a dash."), (None, "No time at all.")]
    assert [u.speaker for u in t.utterances] == ["therapist", "client"] * 3
    assert all(u.end is None for u in t.utterances)


def test_text_notes_are_cues_not_words_including_continuations(write):
    t = only(read_file(write("n.txt", "T: So (pause) how was it?\nC: [laughs] Fine.\n[sighs] Really fine.\n")))
    first, second = t.utterances
    assert first.text == "So (pause) how was it?"
    assert first.words == "So how was it?"
    assert first.cues == ("pause",)
    assert second.text == "[laughs] Fine. [sighs] Really fine."
    assert second.words == "Fine. Really fine."
    assert second.cues == ("laughs", "sighs")


def test_text_colon_inside_a_turn_is_kept(write):
    t = only(read_file(write("c.txt", "T: When?\nC: At 10:30 I left: too tired.\n")))
    assert t.utterances[1].text == "At 10:30 I left: too tired."


def test_text_asr_style_lower_case(write):
    t = only(read_file(write("asr.txt", (
        "00:02:11 counsellor: so um where would you like to start today\n"
        "00:02:15 patient: um well i i suppose i got the in voice on friday\n"
        "00:02:27 counsellor: you got the invoice can you say a bit more\n"
        "its the its the two sessions in march\n"
    ))))
    assert rows(t, "speaker", "start") == [("therapist", 131.0), ("client", 135.0), ("therapist", 147.0)]
    assert t.utterances[2].text.endswith("say a bit more its the its the two sessions in march")


def test_text_names_mapped_to_roles(write):
    roles = SpeakerRoles({"Dr Okafor": "therapist", "Priya": "client", "Nurse": "other"})
    t = only(read_file(write("named.txt", "Dr Okafor: Hello.\nPriya: Hi.\nNurse: Sorry to interrupt.\n"), roles))
    assert [u.speaker for u in t.utterances] == ["therapist", "client", "other"]


# ---------------------------------------------------------------- tables

CSV = ("session_id,turn,speaker,text,start,end,gold\n"
       "s1,1,therapist,How are you?,1.5,3,none\n"
       "s1,2,client,\"Fine, thanks.\",00:00:04,5.25,minimal\n"
       "s2,10,T,Hello.,,,\n"
       "s2,11,C,Hi [laughs],,,\n")


def test_csv_default_columns(write):
    s1, s2 = read_file(write("table.csv", CSV))
    assert (s1.session_id, s2.session_id) == ("s1", "s2")
    assert rows(s1, "turn", "speaker", "text", "start", "end", "line") == [
        (1, "therapist", "How are you?", 1.5, 3.0, 2), (2, "client", "Fine, thanks.", 4.0, 5.25, 3)]
    assert rows(s2, "turn", "speaker", "start", "end") == [(10, "therapist", None, None), (11, "client", None, None)]
    assert s2.utterances[1].words == "Hi" and s2.utterances[1].cues == ("laughs",)
    assert s1.utterances[1].extra == {"gold": "minimal"}


def test_tsv_default_columns(write):
    text = ("session_id\tturn\tspeaker\ttext\tstart\tend\n"
            "s1\t1\ttherapist\tHow are you?\t1.5\t3\n"
            "s1\t2\tclient\tFine, thanks.\t00:00:04\t5.25\n"
            "s2\t10\tT\tHello.\t\t\n"
            "s2\t11\tC\tHi [laughs]\t\t\n")
    s1, s2 = read_file(write("table.tsv", text))
    assert rows(s1, "turn", "speaker", "start", "end") == [(1, "therapist", 1.5, 3.0), (2, "client", 4.0, 5.25)]
    assert s1.utterances[1].text == "Fine, thanks."
    assert rows(s2, "turn", "speaker", "text") == [(10, "therapist", "Hello."), (11, "client", "Hi [laughs]")]


def test_jsonl_default_columns(write):
    path = write("t.jsonl", (
        '{"session_id": "s1", "turn": 1, "speaker": "therapist", "text": "How are you?", "start": 1.5}\n'
        "\n"
        '{"session_id": "s1", "turn": 2, "speaker": "client", "text": "Fine.", "start": "00:00:04", "end": 5}\n'
    ))
    t = only(read_file(path))
    assert rows(t, "turn", "speaker", "text", "start", "end", "line") == [
        (1, "therapist", "How are you?", 1.5, None, 1), (2, "client", "Fine.", 4.0, 5.0, 3)]


def test_table_without_session_or_turn_uses_file_name_and_counts_from_one(write):
    t = only(read_file(write("my_session.csv", "speaker,text\nT,Hello.\nC,Hi.\nT,Right.\n")))
    assert t.session_id == "my_session"
    assert [u.turn for u in t.utterances] == [1, 2, 3]
    assert all(u.session_id == "my_session" for u in t.utterances)


def test_table_keeps_non_numeric_turn_ids(write):
    t = only(read_file(write("x.csv", "session_id,turn,speaker,text\nA,t1,T,Hi.\nA,t2,C,Yo.\n")))
    assert [u.turn for u in t.utterances] == ["t1", "t2"]


def test_csv_other_column_names_via_mapping(write):
    path = write("mapped.csv", "sid,n,who,utt,t0\nS9,1,T,Hello.,2\nS9,2,C,Hi.,4\n")
    t = only(read_file(path, columns={"session_id": "sid", "turn": "n", "speaker": "who", "text": "utt",
                                      "start": "t0"}))
    assert t.session_id == "S9"
    assert rows(t, "turn", "speaker", "text", "start") == [(1, "therapist", "Hello.", 2.0), (2, "client", "Hi.", 4.0)]


def test_csv_other_column_names_via_aliases(write):
    path = write("aliased.csv", ("Conversation_ID,utterance_id,role,utterance,start_time,end_time\n"
                                 "c1,1,therapist,Hello.,0,1\nc1,2,client,Hi.,1,2\n"))
    t = only(read_file(path))
    assert t.session_id == "c1"
    assert rows(t, "turn", "speaker", "text", "start", "end") == [
        (1, "therapist", "Hello.", 0.0, 1.0), (2, "client", "Hi.", 1.0, 2.0)]


def test_column_mapping_to_a_missing_column_is_located(write):
    path = write("m.csv", "speaker,text\nT,Hi.\n")
    with pytest.raises(TranscriptError) as info:
        read_file(path, columns={"text": "utterance_text"})
    assert str(info.value).startswith(f"{path}:1: ")
    assert "utterance_text" in str(info.value)


def test_csv_speaker_value_mapping(write):
    path = write("codes.csv", "speaker,text\nA,Hello.\nB,Hi.\nX,Sorry.\n")
    t = only(read_file(path, SpeakerRoles({"A": "therapist", "B": "client", "X": "other"})))
    assert [u.speaker for u in t.utterances] == ["therapist", "client", "other"]
    assert [u.label for u in t.utterances] == ["A", "B", "X"]


def test_jsonl_numeric_speaker_codes_mapped(write):
    """Speaker values stored as JSON numbers (0 = therapist, 1 = client) must map like strings."""
    path = write("codes.jsonl", '{"speaker": 0, "text": "Hello."}\n{"speaker": 1, "text": "Hi."}\n')
    t = only(read_file(path, SpeakerRoles({"0": "therapist", "1": "client"})))
    assert [u.speaker for u in t.utterances] == ["therapist", "client"]


def test_dataframe_rows_count_from_one(write):
    df = pd.DataFrame({"speaker": ["T", "C"], "text": ["Hello.", "Hi."], "start": [1.0, float("nan")]})
    t = only(transcripts_from_frame(df, name="frame"))
    assert t.session_id == "frame"
    assert rows(t, "turn", "speaker", "start", "line") == [(1, "therapist", 1.0, 1), (2, "client", None, 2)]


# ---------------------------------------------------------------- captions

VTT = """WEBVTT
Kind: captions

NOTE recorded on a video call

1
00:00:01.000 --> 00:00:02.500
Anna: How has the week been?

2
00:00:03.000 --> 00:00:04.000 align:start
Ben: Same as usual.

3
00:00:04.200 --> 00:00:06.000
Ben: Nothing new, really.

4
00:00:07.000 --> 00:00:08.000
carrying on without a name

5
00:00:09.000 --> 00:00:10.000
Anna: [pause] Okay.
"""


def test_vtt_name_cues_merge_consecutive_same_speaker(write):
    t = only(read_file(write("call.vtt", VTT), SpeakerRoles({"Anna": "therapist"}, default_role="client")))
    assert t.session_id == "call"
    assert rows(t, "turn", "speaker", "label", "start", "end") == [
        (1, "therapist", "Anna", 1.0, 2.5),
        (2, "client", "Ben", 3.0, 8.0),
        (3, "therapist", "Anna", 9.0, 10.0)]
    assert t.utterances[1].text == "Same as usual. Nothing new, really. carrying on without a name"
    assert t.utterances[2].words == "Okay." and t.utterances[2].cues == ("pause",)
    assert t.utterances[1].line == 12


def test_vtt_voice_tags(write):
    path = write("voices.vtt", (
        "WEBVTT\n\n"
        "00:01.000 --> 00:02.000\n<v Dr Lee>Hello <i>there</i>.</v>\n\n"
        "00:02.000 --> 00:03.000\n<v Dr Lee>How are you?\n\n"
        "00:03.500 --> 00:05.000\n<v.loud Sam>Fine.</v>\n"
    ))
    t = only(read_file(path, SpeakerRoles({"Dr Lee": "therapist", "Sam": "client"})))
    assert rows(t, "speaker", "label", "text", "start", "end") == [
        ("therapist", "Dr Lee", "Hello there. How are you?", 1.0, 3.0),
        ("client", "Sam", "Fine.", 3.5, 5.0)]


def test_srt_cues(write):
    path = write("phone.srt", (
        "1\n00:00:01,200 --> 00:00:06,130\nTherapist: Is now a good time?\n\n"
        "2\n00:00:07,130 --> 00:00:11,670\nClient: Yes, I'm parked.\n\n"
        "3\n00:00:12,000 --> 00:00:13,000\nClient: It's fine.\n\n"
        "4\n00:00:14,000 --> 00:00:15,500\nTherapist: Good.\n"
    ))
    t = only(read_file(path))
    assert t.session_id == "phone"
    assert rows(t, "turn", "speaker", "text", "start", "end") == [
        (1, "therapist", "Is now a good time?", 1.2, 6.13),
        (2, "client", "Yes, I'm parked. It's fine.", 7.13, 13.0),
        (3, "therapist", "Good.", 14.0, 15.5)]


# ---------------------------------------------------------------- detection

@pytest.mark.parametrize("content, fmt", [
    ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nT: Hi.\n", "vtt"),
    ("1\n00:00:01,000 --> 00:00:02,000\nT: Hi.\n", "srt"),
    ('{"speaker": "T", "text": "Hi."}\n', "jsonl"),
    ("speaker\ttext\nT\tHi.\n", "tsv"),
    ("speaker,text\nT,Hi.\n", "csv"),
    ("T: Hi, there.\nC: Hello.\n", "text"),
    ("\ufeffspeaker,text\nT,Hi.\n", "csv"),
])
def test_detect_format_from_content_with_unknown_extension(write, content, fmt):
    path = write("session.dat", content)
    assert detect_format(path, content) == fmt
    t = only(read_file(path))
    assert t.utterances[0].speaker == "therapist"
    assert t.utterances[0].text in ("Hi.", "Hi, there.")


@pytest.mark.parametrize("name, fmt", [("a.TXT", "text"), ("a.csv", "csv"), ("a.tab", "tsv"),
                                       ("a.ndjson", "jsonl"), ("a.vtt", "vtt"), ("a.srt", "srt")])
def test_detect_format_extension_wins(name, fmt):
    assert detect_format(Path(name), "T: hello, text\n") == fmt


def test_format_override(write):
    path = write("table.txt", "speaker,text\nT,Hello.\nC,Hi.\n")
    t = only(read_file(path, fmt="csv"))
    assert [(u.speaker, u.text) for u in t.utterances] == [("therapist", "Hello."), ("client", "Hi.")]


def test_unknown_format_override_is_an_error(write):
    path = write("a.txt", "T: Hi.\n")
    with pytest.raises(TranscriptError, match="unknown format"):
        read_file(path, fmt="docx")


# ---------------------------------------------------------------- located errors

def assert_located(err: TranscriptError, path: Path, line: int | None):
    assert err.path == str(path)
    assert err.line == line
    prefix = f"{path}:{line}: " if line else f"{path}: "
    assert str(err).startswith(prefix), str(err)


def test_text_unknown_speaker(write):
    path = write("u.txt", "# header\n\nT: Hello.\nC: Hi.\nBob: Who am I?\n")
    with pytest.raises(TranscriptError) as info:
        read_file(path)
    assert_located(info.value, path, 5)
    assert "Bob" in str(info.value)


def test_text_continuation_before_any_speaker(write):
    path = write("c.txt", "\nno speaker here\nT: Hello.\n")
    with pytest.raises(TranscriptError) as info:
        read_file(path)
    assert_located(info.value, path, 2)


@pytest.mark.parametrize("content", ["", "   \n\n", "\ufeff"])
def test_empty_file(write, content):
    path = write("empty.txt", content)
    with pytest.raises(TranscriptError) as info:
        read_file(path)
    assert_located(info.value, path, None)
    assert "empty" in str(info.value)


def test_comments_only_text_has_no_utterances(write):
    path = write("c.txt", "# nothing\n# here\n")
    with pytest.raises(TranscriptError) as info:
        read_file(path)
    assert_located(info.value, path, None)
    assert "no utterances" in str(info.value)


def read_logged(path, strict=False):
    """(transcripts, warnings) of one file, read with a fresh log."""
    log = ReadLog(path, strict=strict)
    return read_file(path, log=log), log.warnings


def strict_error(path) -> TranscriptError:
    with pytest.raises(TranscriptError) as info:
        read_file(path, log=ReadLog(path, strict=True))
    return info.value


def test_csv_row_with_wrong_field_count_is_skipped_with_a_located_warning(write):
    path = write("bad.csv", ('speaker,text\n'
                             'T,"Hello,\nit spans two lines"\n'
                             'C,Fine.\n'
                             'T,Too,many\n'
                             'C,Still read.\n'))
    transcripts, warnings = read_logged(path)
    assert [u.text for u in only(transcripts).utterances] == ["Hello,\nit spans two lines", "Fine.", "Still read."]
    assert len(warnings) == 1 and warnings[0].startswith(f"{path}:5: ")
    assert "expected 2 fields, found 3" in warnings[0]
    err = strict_error(path)
    assert_located(err, path, 5)


def test_tsv_row_with_too_few_fields(write):
    path = write("bad.tsv", "speaker\ttext\tstart\nT\tHello.\t1\nC\tHi.\n")
    transcripts, warnings = read_logged(path)
    assert len(only(transcripts).utterances) == 1 and warnings[0].startswith(f"{path}:3: ")
    assert_located(strict_error(path), path, 3)


def test_csv_unknown_speaker_value(write):
    path = write("who.csv", "speaker,text\nT,Hello.\nC,Hi.\nZ,Huh.\n")
    with pytest.raises(TranscriptError) as info:
        read_file(path)
    assert_located(info.value, path, 4)
    assert "'Z'" in str(info.value)


def test_csv_empty_speaker_is_skipped_and_a_bad_time_dropped(write):
    path = write("e.csv", "speaker,text\nT,Hello.\n,Hi.\n")
    transcripts, warnings = read_logged(path)
    assert len(only(transcripts).utterances) == 1
    assert warnings == [f"{path}:3: empty speaker; row skipped"]
    assert_located(strict_error(path), path, 3)
    path = write("t.csv", "speaker,text,start\nT,Hello.,1\nC,Hi.,soon\n")
    transcripts, warnings = read_logged(path)
    assert rows(only(transcripts), "text", "start") == [("Hello.", 1.0), ("Hi.", None)]
    assert warnings[0].startswith(f"{path}:3: start: ") and "soon" in warnings[0]
    assert "soon" in str(strict_error(path))


@pytest.mark.parametrize("bad_line", ['{"speaker": "C", "text": }', '{"speaker": "C"', "not json"])
def test_jsonl_malformed_line(write, bad_line):
    path = write("bad.jsonl", '{"speaker": "T", "text": "Hello."}\n\n' + bad_line + "\n")
    transcripts, warnings = read_logged(path)
    assert len(only(transcripts).utterances) == 1
    assert warnings[0].startswith(f"{path}:3: malformed JSON")
    assert_located(strict_error(path), path, 3)


def test_jsonl_line_not_an_object(write):
    path = write("list.jsonl", '{"speaker": "T", "text": "Hello."}\n["C", "Hi."]\n')
    _, warnings = read_logged(path)
    assert warnings == [f"{path}:2: not a JSON object; row skipped"]
    assert_located(strict_error(path), path, 2)


@pytest.mark.parametrize("line", ['{"speaker": "C"}', '{"speaker": "C", "text": null}',
                                  '{"speaker": "C", "text": NaN}'])
def test_jsonl_row_missing_text_is_an_empty_utterance(write, line):
    path = write("nt.jsonl", '{"speaker": "T", "text": "Hello."}\n' + line + "\n")
    transcripts, warnings = read_logged(path)
    assert rows(only(transcripts), "speaker", "text") == [("therapist", "Hello."), ("client", "")]
    assert warnings == [f"{path}:2: missing text; read as an empty utterance"]
    assert "missing text" in str(strict_error(path))


def test_deeply_nested_jsonl_is_a_skipped_row_not_a_crash(write):
    path = write("deep.jsonl", '{"speaker": "T", "text": "Hello."}\n' + '{"a":' * 100_000 + "1" + "}" * 100_000 + "\n")
    transcripts, warnings = read_logged(path)
    assert len(only(transcripts).utterances) == 1
    assert warnings[0].startswith(f"{path}:2: ")


@pytest.mark.parametrize("stamp, reason", [
    ("00:09:025", "cannot read"), ("00:99:99", "run to 59"), ("-5", "not a possible time"),
    ("inf", "not a possible time"), ("1e300", "not a possible time"),
])
def test_impossible_times_are_dropped_for_their_row_only(write, stamp, reason):
    path = write("times.csv", f"speaker,text,start\nT,Hello.,00:00:01\nC,Hi.,{stamp}\nT,Go on.,00:00:09\n")
    transcripts, warnings = read_logged(path)
    assert rows(only(transcripts), "start") == [(1.0,), (None,), (9.0,)]
    assert len(warnings) == 1 and warnings[0].startswith(f"{path}:3: start: ") and reason in warnings[0]


def test_start_after_end_drops_both_times(write):
    path = write("se.csv", "speaker,text,start,end\nT,Hello.,5,9\nC,Hi.,20,10\n")
    transcripts, warnings = read_logged(path)
    assert rows(only(transcripts), "start", "end") == [(5.0, 9.0), (None, None)]
    assert warnings[0].startswith(f"{path}:3: end 10s is before start 20s")


def test_over_long_utterance_is_truncated_with_a_warning(write):
    from rupture_detect.readers.transcript import MAX_UTTERANCE_CHARS
    path = write("long.csv", "speaker,text\nT,Hello.\nC," + "word " * (MAX_UTTERANCE_CHARS // 4) + "\n")
    transcripts, warnings = read_logged(path)
    assert len(only(transcripts).utterances[1].text) == MAX_UTTERANCE_CHARS
    assert "truncated" in warnings[0] and warnings[0].startswith(f"{path}:3: ")


def test_caption_cue_with_a_negative_time_keeps_its_text(write):
    path = write("neg.srt", "1\n-00:00:01,000 --> 00:00:02,000\nT: Hello there.\n\n"
                            "2\n00:00:03,000 --> 00:00:04,000\nC: Hi.\n")
    transcripts, warnings = read_logged(path)
    assert rows(only(transcripts), "text", "start", "end") == [("Hello there.", None, 2.0), ("Hi.", 3.0, 4.0)]
    assert warnings[0].startswith(f"{path}:2: start: ")


@pytest.mark.parametrize("name, content", [
    ("nt.csv", "session_id,turn,speaker,said\ns,1,T,Hello.\n"),
    ("nt.tsv", "speaker\twords\nT\tHello.\n"),
])
def test_missing_text_column(write, name, content):
    path = write(name, content)
    with pytest.raises(TranscriptError) as info:
        read_file(path)
    assert_located(info.value, path, 1)
    assert "missing column(s) ['text']" in str(info.value)


def test_unreadable_encoding(write):
    path = write("latin.txt", "T: Hello.\nC: Ça va.\n", encoding="latin-1")
    with pytest.raises(TranscriptError) as info:
        read_file(path)
    assert_located(info.value, path, 2)
    assert "decode" in str(info.value)


def test_utf16_file_reads(write):
    path = write("wide.txt", "T: Café?\nC: Oui.\n", encoding="utf-16")
    t = only(read_file(path))
    assert [u.text for u in t.utterances] == ["Café?", "Oui."]


def test_caption_unknown_name(write):
    path = write("call.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nAnna: Hello.\n")
    with pytest.raises(TranscriptError) as info:
        read_file(path)
    assert_located(info.value, path, 4)
    assert "Anna" in str(info.value)


def test_caption_first_cue_without_speaker(write):
    path = write("x.srt", "1\n00:00:01,000 --> 00:00:02,000\njust words\n")
    with pytest.raises(TranscriptError) as info:
        read_file(path)
    assert_located(info.value, path, 3)


def test_caption_without_cues(write):
    path = write("x.vtt", "WEBVTT\n\nNOTE nothing here\n")
    with pytest.raises(TranscriptError) as info:
        read_file(path)
    assert_located(info.value, path, None)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(TranscriptError) as info:
        read_file(path)
    assert_located(info.value, path, None)


# ---------------------------------------------------------------- streaming tables

def test_stream_table_hands_on_each_session_when_its_last_row_is_read(write):
    from rupture_detect.readers.formats import stream_table
    path = write("t.csv", "session_id,speaker,text,start\nA,T,Hi.,1\nA,C,Hello.,x\nB,T,So.,2\nB,C,Well.,3\n")
    log = ReadLog(path)
    transcripts, streamed = stream_table(path, log=log)
    first = next(transcripts)
    assert streamed and first.session_id == "A" and [u.text for u in first.utterances] == ["Hi.", "Hello."]
    assert log.warnings and log.warnings[0].startswith(f"{path}:3: start:")     # read so far, and no further
    assert [t.session_id for t in transcripts] == ["B"]


def test_stream_table_leaves_interleaved_and_other_formats_to_read_file(write):
    from rupture_detect.readers.formats import stream_table
    assert stream_table(write("i.csv", "session_id,speaker,text\nA,T,a\nB,T,b\nA,C,c\n")) is None
    assert stream_table(write("s.txt", "T: Hi.\nC: Hello.\n")) is None
    assert stream_table(write("j.jsonl", '{"speaker": "T", "text": "Hi."}\n')) is None


def test_stream_table_checks_every_speaker_before_handing_anything_on(write):
    from rupture_detect.readers.formats import stream_table
    path = write("u.csv", "session_id,speaker,text\nA,T,a\nA,C,b\nB,T,c\nB,Zed,d\n")
    with pytest.raises(TranscriptError) as info:
        stream_table(path)
    assert_located(info.value, path, 5)
