"""Shared pieces of the cl-seq integration tests: exact expected frames
(fractions, the first frame at or after each musical position, the rule
cl-transport's MIDI clock follows too), a dummy server that runs faster
and note-on/off extraction from cl-probe recordings."""

import math
from fractions import Fraction

import harness as h

RATE = 48000
PERIOD = 256


def fast_server():
    """A private dummy jackd at 48 kHz with 256-frame periods. (JACK2's
    dummy driver cannot run faster than real time: its -w option sets the
    period from the wait, so tests wait on transport frames instead.)"""
    return h.JackServer(rate=RATE, period=PERIOD)


def frames_per_beat(bpm):
    return Fraction(RATE * 60) / Fraction(bpm).limit_denominator(10000)


def beat_frame(beat, bpm, origin=0, origin_beat=0):
    """First frame at or after musical position `beat` (a Fraction), on a
    timeline where origin_beat sits at frame origin at a constant tempo."""
    return math.ceil(origin + (Fraction(beat) - Fraction(origin_beat)) * frames_per_beat(bpm))


def note_ons(rec, note=None):
    """Note-on events (velocity > 0) of a Recording, optionally one note."""
    return [e for e in rec.events if len(e.data) == 3 and e.data[0] & 0xF0 == 0x90 and e.data[2] > 0
            and (note is None or e.data[1] == note)]


def note_offs(rec, note=None):
    """Note-off events (0x80, or 0x90 with velocity 0)."""
    return [e for e in rec.events if len(e.data) == 3 and
            (e.data[0] & 0xF0 == 0x80 or (e.data[0] & 0xF0 == 0x90 and e.data[2] == 0))
            and (note is None or e.data[1] == note)]


def unpaired(rec):
    """Note-ons without a later note-off of the same channel and note, and
    note-offs without a sounding note: ([ons], [offs])."""
    sounding = {}
    stray = []
    for e in rec.events:
        if len(e.data) != 3 or e.data[0] & 0xE0 != 0x80:
            continue
        key = (e.data[0] & 0x0F, e.data[1])
        on = e.data[0] & 0xF0 == 0x90 and e.data[2] > 0
        if on:
            sounding.setdefault(key, []).append(e)
        elif sounding.get(key):
            sounding[key].pop(0)
        else:
            stray.append(e)
    return [e for v in sounding.values() for e in v], stray


def add_track(osc, name, pattern, notes=(36,), **fields):
    """Add a track and set its pattern, notes and other fields; checks
    every message was accepted (no /cl/error)."""
    msgs = [("/seq/track/add", (name,)), ("/seq/track/%s/pattern" % name, (pattern,)),
            ("/seq/track/%s/notes" % name, tuple(notes))]
    msgs += [("/seq/track/%s/%s" % (name, k), v if isinstance(v, tuple) else (v,))
             for k, v in fields.items()]
    for path, a in msgs:
        osc.send(path, *a)
    e = osc.request("/cl/ping", reply="/cl/error", timeout=0.3)
    return e
