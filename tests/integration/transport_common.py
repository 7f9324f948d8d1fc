"""Exact musical arithmetic shared by the cl-transport integration tests.

Every expected frame is computed with fractions, never floats: an event at
a musical position belongs on the first frame at or after it, i.e. the
ceiling of the exact rational frame.
"""

import math
from fractions import Fraction

RATE = 48000


def frames_per_clock(bpm, rate=RATE, beat_type=4):
    """Exact frames between MIDI clocks (24 per quarter note)."""
    return Fraction(rate * 60, 1) / Fraction(bpm) / 24 * Fraction(beat_type, 4)


def clock_frame(k, bpm, origin=0, rate=RATE):
    """Frame of clock k counted from a segment starting at frame origin."""
    return origin + math.ceil(k * frames_per_clock(bpm, rate))


def bbt_at(frame, bpm, beats_per_bar=4, rate=RATE):
    """(bar, beat, tick) at frame on a uniform timeline from frame 0."""
    beats = Fraction(frame) * Fraction(bpm) / (60 * rate)
    whole = math.floor(beats)
    bar = whole // beats_per_bar + 1
    beat = whole % beats_per_bar + 1
    tick = math.floor((beats - whole) * 1920)
    return bar, beat, tick


def bar_frame(bar, bpm, beats_per_bar=4, rate=RATE):
    """First frame of bar (1-based) on a uniform timeline."""
    return math.ceil(Fraction((bar - 1) * beats_per_bar * 60 * rate) / Fraction(bpm))


def clocks(recording):
    """MIDI clock events (0xF8) of a Recording, in order."""
    return [e for e in recording.events if e.data == b"\xf8"]


def realtime(recording):
    """Non-clock events of a Recording, in order."""
    return [e for e in recording.events if e.data != b"\xf8"]
