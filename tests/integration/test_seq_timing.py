"""cl-seq follows cl-transport frame-exactly: `X...X...X...X...` in 1/16
steps gives a note-on on every beat at exactly the first frame at or
after the beat's time (0 frames of error) over 16 bars at 120, 133.33,
174 and 199 BPM, and across a tempo change (the RealtimeSanitizer run
plays 4 bars at 174 BPM only: real time is the only speed here); gate 0.5 puts each note-off half a
step after its note-on; swing 0.5 moves every off-beat 16th by exactly
half a step; notes land inside cycles, not at cycle starts."""

import time
from fractions import Fraction

import harness as h
import seq_common as sc

BARS = 16
args = h.parse_args()
if not args.transport:
    h.fail("needs --transport (cl-transport)")


def run(bpm, setup, bars=BARS, change=None):
    """Roll `bars` bars (then stop) with cl-transport at bpm and cl-seq set up
    by setup(osc); change = (bar, new_bpm) changes the tempo during the run.
    Returns the Recording (MIDI of midi_out, transport per cycle)."""
    with sc.fast_server() as srv:
        probe = h.Probe(srv)
        tp = h.Client(args.transport, ["--bpm", repr(float(bpm))], srv, name="cl-transport")
        seq = h.Client(args.client, [], srv)
        tosc, osc = tp.osc_client(), seq.osc_client()
        err = setup(osc)
        h.check(err is None, "set-up accepted (%r)" % (err.args if err else None,))
        rec = probe.record(midi=[seq.port("midi_out")], transport=True)
        tosc.send("/transport/play")
        end = sc.beat_frame(bars * 4, bpm)
        if change:
            probe.wait_frame(sc.beat_frame((change[0] - 1) * 4, bpm) - 4096)
            tosc.send("/transport/bpm", float(change[1]))
            deadline = time.monotonic() + 30
            while probe.transport()["bpm"] != change[1] and time.monotonic() < deadline:
                time.sleep(0.02)
            probe.wait_frame(probe.transport()["frame"] + 10 * sc.frames_per_beat(change[1]))
        else:
            probe.wait_frame(end + 2048)
        tosc.send("/transport/stop")
        probe.wait_transport("stopped")
        r = rec.stop()
        # no cycle went missing: the rolling transport advances by one
        # period per cycle
        gaps = [(p.pos_frame, c.pos_frame) for p, c in zip(r.cycles, r.cycles[1:])
                if p.state == 1 and c.state == 1 and c.pos_frame != p.pos_frame + r.period
                and c.bpm == p.bpm]
        h.check(r.complete and r.overruns == 0 and not gaps,
                "%g BPM: recording complete, no cycle missing while rolling (overruns %s, "
                "gaps %s, xruns %s)" % (bpm, r.overruns, gaps[:3], r.xruns))
        h.check_equal(seq.stop(), 0, "cl-seq exits 0")
        tp.stop()
        return r


def kick(osc):
    return sc.add_track(osc, "kick", "X...X...X...X...", gate=0.5)


TEMPOS = (174,) if args.rtsan else (120, 133.33, 174, 199)
if args.rtsan:
    BARS = 4
for bpm in TEMPOS:
    r = run(bpm, kick)
    ons = [e for e in sc.note_ons(r) if e.rolling]
    want = [sc.beat_frame(k, bpm) for k in range(BARS * 4)]
    got = [e.tframe for e in ons if e.tframe < sc.beat_frame(BARS * 4, bpm)]
    errors = [g - w for g, w in zip(got, want)]
    worst = max((abs(x) for x in errors), default=None)
    h.check(len(got) == len(want) and worst == 0,
            "%g BPM: %d note-ons on every beat of 16 bars, worst error %s frames (first %s, want %s)"
            % (bpm, len(got), worst, got[:3], want[:3]))
    if bpm == 120:
        h.check(got[:3] == [0, 24000, 48000], "120 BPM: note-ons at frames 0, 24000, 48000 ...")
    h.check(all(e.data == bytes([0x90, 36, 127]) for e in ons[:4]),
            "%g BPM: accented hits are note 36 at velocity 100 + 27 = 127 (%r)" % (bpm, ons[0].data))
    offs = [e.tframe for e in sc.note_offs(r) if e.rolling]
    want_off = [sc.beat_frame(Fraction(k) + Fraction(1, 8), bpm) for k in range(BARS * 4)]
    h.check(offs[:len(want_off)] == want_off,
            "%g BPM: gate 0.5: every note-off half a step (1/8 beat) after its note-on (%s vs %s)"
            % (bpm, offs[:2], want_off[:2]))
    if bpm == 174:
        h.check(any(e.frame % sc.PERIOD for e in ons), "notes sit inside cycles, not at cycle starts")

# swing: 0.5 of a 16th on every off-beat 16th
BPM = 120
r = run(BPM, lambda osc: sc.add_track(osc, "hat", "x" * 16, notes=(42,), gate=0.25, swing=0.5), bars=2)
ons = [e.tframe for e in sc.note_ons(r) if e.rolling]
want = [sc.beat_frame(Fraction(g, 4) + (Fraction(1, 8) if g % 2 else 0), BPM) for g in range(32)]
h.check(ons[:32] == want, "swing 0.5: off-beat 16ths exactly half a step late (%s vs %s)"
        % (ons[:4], want[:4]))
h.check(ons[1] - ons[0] == 9000 and ons[2] - ons[1] == 3000,
        "swing 0.5 at 120 BPM: 16ths 9000 then 3000 frames apart")

# a tempo change near bar 3: 120 -> 150 BPM from the next bar line
r = run(120, kick, change=(3, 150))
first_new = next((c for c in r.cycles if abs(c.bpm - 150) < 1e-6), None)
h.check(first_new is not None, "the recording shows the tempo change")
if first_new:
    # cl-transport changes the tempo at the next bar line (the first
    # cycle that reports it may start a little after that line)
    b0 = Fraction(4 * (first_new.bar - 1))
    f0 = sc.beat_frame(b0, 120)
    ons = [e.tframe for e in sc.note_ons(r) if e.rolling]
    before = [sc.beat_frame(k, 120) for k in range(0, int(b0) + 1) if sc.beat_frame(k, 120) < f0]
    after = [sc.beat_frame(k, 150, origin=f0, origin_beat=b0)
             for k in range(len(before), len(before) + 6)]
    want = before + after
    h.check(ons[:len(want)] == want,
            "across 120 -> 150 BPM (from frame %d, beat %s): every note-on exact (%s vs %s)"
            % (f0, b0, ons[len(before) - 1:len(before) + 2], want[len(before) - 1:len(before) + 2]))
h.done()
