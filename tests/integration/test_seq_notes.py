"""Never a hanging note, and pattern slots switched at the exact bar frame.

A track with overlapping notes (a hit every beat, gate 2 steps) always
has notes sounding; then stop, locate, /seq/panic, mute, a channel change,
removing the track, a pattern switch and SIGTERM each must end every
sounding note with a note-off (stop, locate and a switch at the exact
frame where they happen). Slot 5 saved, the pattern changed, slot 5 loaded
mid-bar: the old pattern plays up to the next bar boundary and the saved
one from exactly that frame; with "immediate" from the next cycle."""

import json
import os
import time
from fractions import Fraction

import harness as h
import seq_common as sc

BPM = 120
args = h.parse_args()
if not args.transport:
    h.fail("needs --transport (cl-transport)")


FPB = 48000 * 60 // BPM


def sounding_track(osc, name="bass", channel=1):
    return sc.add_track(osc, name, "x", notes=(36, 38), step="1/4", gate=2.0, channel=channel)


def check_paired(r, what):
    ons, _stray = sc.unpaired(r)
    h.check(len(sc.note_ons(r)) > 0 and not ons,
            "%s: all %d note-ons have their note-off (%d hanging: %r)"
            % (what, len(sc.note_ons(r)), len(ons), ons[:3]))


with sc.fast_server() as srv:
    probe = h.Probe(srv)
    store = h.tmpdir() + "/store"
    os.makedirs(store)
    tp = h.Client(args.transport, ["--bpm", str(BPM)], srv, name="cl-transport")
    seq = h.Client(args.client, ["--store", store], srv)
    tosc, osc = tp.osc_client(), seq.osc_client()
    out = seq.port("midi_out")
    h.check(sounding_track(osc) is None, "track set up")

    def wait_beats(n):
        """Let the rolling transport advance n beats (by its frames: the
        fast server's speed depends on the machine's load)."""
        probe.wait_frame(probe.transport()["frame"] + int(n * FPB))

    def roll(n):
        tosc.send("/transport/play")
        probe.wait_transport("rolling")
        wait_beats(n)

    def halt():
        tosc.send("/transport/stop")
        probe.wait_transport("stopped")
        time.sleep(0.1)

    # --- stop
    rec = probe.record(midi=[out], transport=True)
    roll(5.5)
    halt()
    r = rec.stop()
    stop_cycle = next((c for p, c in zip(r.cycles, r.cycles[1:]) if p.state == 1 and c.state != 1), None)
    at_stop = [e for e in sc.note_offs(r) if stop_cycle and e.frame == stop_cycle.frame]
    h.check(len(at_stop) == 2, "stop: the 2 sounding notes end in the first stopped cycle, at its "
            "first frame (%d offs there)" % len(at_stop))
    check_paired(r, "stop")

    # --- locate while rolling
    rec = probe.record(midi=[out], transport=True)
    roll(3.5)
    tosc.send("/transport/locate_bbt", 1)
    time.sleep(0.2)
    wait_beats((2))
    halt()
    r = rec.stop()
    jump = next((c for p, c in zip(r.cycles, r.cycles[1:])
                 if c.pos_frame < p.pos_frame and p.state == 1), None)
    at_jump = [e for e in sc.note_offs(r) if jump and e.frame == jump.frame]
    h.check(jump is not None and len(at_jump) == 2,
            "locate: the sounding notes end at the first frame of the cycle that jumped (%d)" % len(at_jump))
    check_paired(r, "locate")

    # --- panic, mute, channel change, removal while rolling
    rec = probe.record(midi=[out], transport=True)
    roll(2.5)
    ok = osc.request("/seq/panic", reply="/cl/ok")
    h.check(ok is not None, "/seq/panic answers /cl/ok")
    wait_beats((2))
    osc.send("/seq/track/bass/mute", 1)
    wait_beats((2))
    osc.send("/seq/track/bass/mute", 0)
    wait_beats((2))
    osc.send("/seq/track/bass/channel", 2)
    wait_beats((2))
    osc.send("/seq/track/bass/channel", 1)
    wait_beats((2))
    osc.send("/seq/track/remove", "bass")
    wait_beats((2))
    halt()
    r = rec.stop()
    ons = sc.note_ons(r)
    h.check(any(e.data[0] == 0x91 for e in ons) and any(e.data[0] == 0x90 for e in ons),
            "notes went out on channel 1 and, after the change, channel 2")
    # the edits end notes inside the roll, at the start of the cycle they arrive in
    cycle_starts = {c.frame for c in r.cycles}
    cycle_offs = {}
    for e in sc.note_offs(r):
        if e.rolling and e.frame in cycle_starts:
            cycle_offs.setdefault(e.frame, []).append(e)
    bursts = [f for f, v in cycle_offs.items() if len(v) >= 2]
    h.check(len(bursts) >= 4, "panic, mute, channel change and removal each ended the sounding notes "
            "at once (%d bursts of note-offs at cycle starts)" % len(bursts))
    check_paired(r, "panic/mute/channel/remove")
    last_on = max((e.frame for e in ons), default=0)
    h.check(all(e.frame <= last_on or e.data[0] & 0xF0 != 0x90 for e in r.events),
            "nothing plays after the track is removed")

    # --- slots: save 5, change, load 5 mid-bar -> switch at the next bar frame
    h.check(sc.add_track(osc, "kick", "X...............", notes=(36,), gate=0.5) is None, "kick track")
    saved = osc.request("/seq/pattern/save", 5, reply="/seq/pattern/save")
    h.check(saved is not None and saved.args == [5], "/seq/pattern/save 5 (%r)" % (saved,))
    h.check(os.path.exists(store + "/patterns/slots/slot_005.json"), "slot_005.json written")
    osc.send("/seq/track/kick/pattern", "x.x.x.x.x.x.x.x.")
    osc.send("/seq/track/kick/notes", 38)
    osc.send("/seq/track/kick/gate", 2.0)
    rec = probe.record(midi=[out], transport=True)
    roll(4 * 2 + 1.5)                      # into bar 3, mid-bar
    loaded = osc.request("/seq/pattern/load", 5, reply="/seq/pattern/load")
    h.check(loaded is not None and loaded.args == [5], "/seq/pattern/load 5 (%r)" % (loaded,))
    wait_beats((6))
    halt()
    r = rec.stop()
    first36 = next((e for e in sc.note_ons(r, 36) if e.rolling), None)
    last38 = max((e.tframe for e in sc.note_ons(r, 38) if e.rolling), default=None)
    bar_frames = [sc.beat_frame(4 * b, BPM) for b in range(64)]
    h.check(first36 is not None and first36.tframe in bar_frames,
            "the loaded pattern starts on a bar boundary frame (%s)" % (first36.tframe if first36 else None))
    if first36 and last38 is not None:
        h.check(0 < first36.tframe - last38 <= sc.beat_frame(Fraction(1, 2), BPM),
                "the old pattern played up to that bar (last 38 at %d, switch at %d)"
                % (last38, first36.tframe))
        h.check(first36.tframe > 2 * 4 * 24000, "the switch came after the load (bar 3 or later)")
        offs_at = [e for e in sc.note_offs(r, 38) if e.tframe == first36.tframe]
        h.check(len(offs_at) >= 1, "the old pattern's sounding notes end exactly at the switch frame")
    h.check(not [e for e in sc.note_ons(r, 38) if first36 and e.tframe >= first36.tframe],
            "no note of the old pattern at or after the switch")
    check_paired(r, "pattern switch")
    st = osc.request("/cl/status", reply="/cl/status")
    h.check(st is not None and json.loads(st.args[0])["pattern"]["playing_slot"] == 5,
            "/cl/status shows slot 5 playing")

    # --- immediate: from the next cycle, mid-bar
    osc.send("/seq/track/kick/pattern", "x.x.x.x.x.x.x.x.")
    osc.send("/seq/track/kick/notes", 38)
    osc.send("/seq/track/kick/gate", 2.0)
    rec = probe.record(midi=[out], transport=True)
    roll(1.5)
    osc.send("/seq/pattern/load", 5, "immediate")
    wait_beats((2))
    halt()
    r = rec.stop()
    cycle_starts = {c.frame for c in r.cycles}
    cut = [e for e in sc.note_offs(r, 38) if e.rolling and e.frame in cycle_starts and
           e.tframe not in bar_frames]
    h.check(len(cut) >= 1, "immediate: the old notes end at a cycle start mid-bar (%d)" % len(cut))
    check_paired(r, "immediate switch")

    # --- SIGTERM while notes sound
    h.check(sounding_track(osc, "pad") is None, "a sounding track again")
    rec = probe.record(midi=[out], transport=True)
    roll(2.5)
    h.check_equal(seq.stop(), 0, "cl-seq exits 0 on SIGTERM")
    time.sleep(0.2)
    r = rec.stop()
    check_paired(r, "SIGTERM")
    halt()
    tp.stop()
h.done()
