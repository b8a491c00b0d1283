"""MIDI files <-> the token text <-> ids: lossless on the whole bundled corpus, and on hand-made files."""

from __future__ import annotations

import io
import zipfile

import mido
import pytest

from tunesmith.codecs import CODECS, codec_from_dict
from tunesmith.codecs.midi_events import MidiEventCodec
from tunesmith.corpus.midi_bundled import BACH_ARCHIVE, load_bach
from tunesmith.errors import TunesmithError
from tunesmith.music.midi import (GridNote, midi_bytes, normal_piece, piece_from_midi, piece_from_text,
                                  text_problem)


def mido_notes(data: bytes, drums: bool = False) -> list[tuple[float, float, int]]:
    """(start, end, pitch) in quarter notes, every note of a MIDI file read by mido, an independent reader."""
    midi = mido.MidiFile(file=io.BytesIO(data))
    out, sounding = [], {}
    for track in midi.tracks:
        now = 0
        for msg in track:
            now += msg.time
            if msg.type not in ("note_on", "note_off") or (msg.channel == 9 and not drums):
                continue
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                sounding.setdefault(key, []).append(now)
            elif sounding.get(key):
                start = sounding[key].pop(0)
                out.append((start / midi.ticks_per_beat, now / midi.ticks_per_beat, msg.note))
    assert not any(sounding.values()), "a note is never switched off"
    return sorted(out)


def simple_midi(notes, tpq=480, drum_notes=(), time_signature=None, tempo=None) -> bytes:
    """A type-1 file from (start_tick, end_tick, pitch, velocity) notes, built with mido."""
    midi = mido.MidiFile(ticks_per_beat=tpq)
    meta = mido.MidiTrack()
    if time_signature:
        meta.append(mido.MetaMessage("time_signature", numerator=time_signature[0], denominator=time_signature[1]))
    if tempo:
        meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo)))
    midi.tracks.append(meta)
    for channel, group in ((0, notes), (9, drum_notes)):
        if not group:
            continue
        events = sorted([(s, 1, p, v) for s, e, p, v in group] + [(e, 0, p, 0) for s, e, p, v in group])
        track, now = mido.MidiTrack(), 0
        for tick, on, pitch, vel in events:
            kind = "note_on" if on else "note_off"
            track.append(mido.Message(kind, note=pitch, velocity=vel, channel=channel, time=tick - now))
            now = tick
        midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def test_whole_bundled_corpus_round_trips_midi_tokens_ids():
    pieces = load_bach()
    assert len(pieces) >= 400
    codec = MidiEventCodec.fit([p.text for p in pieces])
    for piece in pieces:
        again = piece_from_midi(midi_bytes(piece), piece.title, piece.title)
        assert again == piece, piece.title
        assert piece_from_text(piece.text, piece.title) == piece, piece.title
        assert codec.decode(codec.encode(piece.text + "\n")) == piece.text + "\n"


def test_bundled_files_agree_with_an_independent_reader():
    """The notes tunesmith reads from each bundled file are the notes mido reads, on the grid."""
    with zipfile.ZipFile(BACH_ARCHIVE) as archive:
        names = sorted(archive.namelist())
        by_title = {p.title: p for p in load_bach()}
        for name in names:
            data = archive.read(name)
            ours = sorted((n.start / 12, (n.start + n.duration) / 12, n.pitch) for n in by_title[name[:-4]].notes)
            theirs = mido_notes(data)
            shift = theirs[0][0] - ours[0][0]  # leading empty bars are dropped
            assert [(s - shift, e - shift, p) for s, e, p in theirs] == ours, name


def test_four_voices_with_pickup_on_the_beat():
    piece = {p.title: p for p in load_bach()}["bwv1.6"]
    first_bar = piece.text.split("\n")[1]
    assert first_bar.startswith("Bar Pos_36 ")         # the pickup is the last beat of 4/4
    assert first_bar.count("Pitch_") == 4               # soprano, alto, tenor, bass (the horn part left out)
    assert piece.meters == ((0, 4, 4),) and piece.qpm == 80


def test_grid_triplets_drums_unisons_and_tracks():
    tpq = 96
    notes = [
        (0, 32, 60, 80), (32, 64, 62, 80), (64, 96, 64, 80),    # a quarter-note-long triplet of eighths
        (97, 190, 67, 99),                                       # off the grid by a tick: moved to it
        (192, 384, 48, 50), (192, 288, 48, 70),                  # a unison: the longer one stays (offs pair first in,
        #                                                       first out, so it has the second velocity)
        (384, 480, 72, 64), (400, 500, 72, 64),                  # overlapping same pitch: the first is cut
    ]
    data = simple_midi(notes, tpq=tpq, drum_notes=[(0, 10, 36, 100)], time_signature=(3, 4), tempo=90)
    piece = piece_from_midi(data, "x.mid")
    assert piece.meters == ((0, 3, 4),) and piece.qpm == 88
    assert piece.notes == (
        GridNote(0, 60, 4, 80), GridNote(4, 62, 4, 80), GridNote(8, 64, 4, 80),
        GridNote(12, 67, 12, 96), GridNote(24, 48, 24, 72), GridNote(48, 72, 2, 64), GridNote(50, 72, 12, 64),
    )
    assert piece.text.split("\n")[1].startswith("Bar Pos_0 Vel_80 Pitch_60 Dur_4 Pos_4 Pitch_62")
    assert piece_from_midi(midi_bytes(piece), "again") == piece


def test_long_notes_cross_bars_and_the_piece_covers_them():
    piece = normal_piece([GridNote(0, 60, 100, 80)], [(0, 4, 4)], 120)
    assert piece.text == "Tempo_120 TS_4/4\nBar Pos_0 Vel_80 Pitch_60 Dur_100\nBar\nBar\n"
    assert piece.end == 144


def test_leading_empty_bars_are_dropped_and_meter_changes_kept():
    notes = [GridNote(48 * 2 + 12, 60, 12, 80), GridNote(48 * 3 + 36, 62, 12, 80)]
    piece = normal_piece(notes, [(0, 4, 4), (3, 3, 4)], 100)
    assert piece.text == "Tempo_100 TS_4/4\nBar Pos_12 Vel_80 Pitch_60 Dur_12\nBar TS_3/4\nBar Pos_0 Pitch_62 Dur_12\n"
    assert piece.meters == ((0, 4, 4), (1, 3, 4))
    assert piece_from_text(piece.text) == piece


@pytest.mark.parametrize("text, line, col, words", [
    ("Tempo_80 TS_4/4\nBar Pos_12 Vel_80 Pitch_60 Dur_12 Pos_6 Pitch_62 Dur_6\n", 2, 35, "position"),
    ("Tempo_80 TS_4/4\nBar Pos_0 Vel_80 Pitch_60 Pitch_62 Dur_6\n", 2, 27, "Dur_"),
    ("Tempo_80 TS_4/4\nBar Pos_48 Vel_80 Pitch_60 Dur_12\n", 2, 5, "bar's end"),
    ("Tempo_80 TS_4/4\nBar Pos_0 Pitch_60 Dur_12\n", 2, 11, "Vel_"),
    ("Tempo_80 TS_4/4\nBar Pos_0 Vel_80 Pitch_64 Dur_12 Pitch_60 Dur_12\n", 2, 34, "rise"),
    ("Tempo_80 TS_4/4\nBar Pos_0 Vel_80 Pitch_60 Dur_60\n", 3, 1, "past the end"),
    ("Tempo_80 TS_4/4\nBar Pos_0 Vel_80 Pitch_60 Dur_12 Foo_3\n", 2, 34, "unknown token"),
    ("TS_4/4\nBar\n", 1, 1, "Tempo_"),
])
def test_grammar_problems_name_line_and_column(text, line, col, words):
    _, problem = text_problem(text)
    assert problem is not None and problem[:2] == (line, col) and words in problem[2], problem


def test_codec_registry_and_unknown_tokens():
    text = "Tempo_80 TS_4/4\nBar Pos_0 Vel_80 Pitch_60 Dur_12\n"
    codec = codec_from_dict(MidiEventCodec.fit([text]).to_dict())
    assert isinstance(codec, MidiEventCodec) and CODECS["midi-events"] is MidiEventCodec
    assert codec.vocab[:2] == ["\n", "Bar"]
    with pytest.raises(TunesmithError, match=r"opening\.mid: the model has never seen Pitch_61, Dur_7"):
        codec.encode(text.replace("Pitch_60 Dur_12", "Pitch_61 Dur_7"), "opening.mid")


def test_drums_are_kept_when_asked_and_round_trip_on_their_own_track():
    data = simple_midi([(0, 480, 60, 80), (480, 960, 64, 80)],
                       drum_notes=[(0, 60, 36, 100), (0, 60, 42, 90), (480, 540, 38, 100)])
    assert all(not n.drum for n in piece_from_midi(data, "x.mid").notes)
    piece = piece_from_midi(data, "x.mid", drums=True)
    assert piece.text.split("\n")[1] == ("Bar Pos_0 Vel_80 Pitch_60 Dur_12 Vel_104 Drum_36 Dur_2 Vel_88 Drum_42 Dur_2 "
                                         "Pos_12 Vel_80 Pitch_64 Dur_12 Vel_104 Drum_38 Dur_2")
    again = midi_bytes(piece)
    assert piece_from_midi(again, "again", drums=True) == piece == piece_from_text(piece.text)
    assert len(mido_notes(again, drums=True)) == 5 and len(mido_notes(again)) == 2   # drums on channel 10
    assert piece.transposed(2).notes[1] == GridNote(0, 36, 2, 104, True)             # drums stay put
    _, problem = text_problem("Tempo_80 TS_4/4\nBar Pos_0 Vel_80 Drum_36 Dur_2 Pitch_60 Dur_12\n")
    assert problem is not None and "pitched notes come before drums" in problem[2]
