"""cl-transport MIDI clock: 24 clocks per beat on exact frames for 16 bars,
Start at frame 0, and after a locate to bar 5 while rolling: Stop, Song
Position Pointer 64, Continue on the first cycle at the new position, whose
BBT already reads 5|1|0, with the clocks exact again from there."""

import time

import harness as h
from transport_common import bar_frame, clock_frame, clocks, realtime

BPM = 177          # 677.966... frames per clock: no clock on a round frame
BARS = 16

args = h.parse_args()
with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    name = h.unique_name("clock")
    cl = h.Client(args.client, ["--name", name, "--bpm", str(BPM)], srv)
    osc = cl.osc_client()
    h.check(probe.wait_port(name + ":clock_out"), "clock_out exists")
    rec = probe.record(midi=[name + ":clock_out"], transport=True)
    osc.send("/transport/play")

    end_frame = bar_frame(BARS + 1, BPM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        t = probe.transport()
        if t["state"] == "rolling" and t["frame"] > end_frame + 4800:
            break
        time.sleep(0.25)
    osc.send("/transport/locate_bbt", 5)
    time.sleep(1.0)
    r = rec.stop()
    h.check(r.complete and r.overruns == 0, "recording complete, no overruns")

    # --- the first 16 bars (clocks before the locate's relocation)
    target = bar_frame(5, BPM)
    jump = None
    for prev, cyc in zip(r.cycles, r.cycles[1:]):
        if cyc.pos_frame == target and prev.pos_frame != target:
            jump = cyc
            break
    h.check(jump is not None, "a cycle at bar 5's frame %d after the locate" % target)
    jump_at = jump.frame if jump else float("inf")
    first = [e for e in clocks(r) if e.rolling and e.tframe < end_frame and e.frame < jump_at]
    want = [clock_frame(k, BPM) for k in range(BARS * 4 * 24)]
    got = [e.tframe for e in first]
    h.check_equal(len(got), BARS * 4 * 24, "clocks in 16 bars (24 per beat)")
    errors = [g - w for g, w in zip(got, want)]
    worst = max((abs(x) for x in errors), default=None)
    h.check(len(got) == len(want) and worst == 0,
            "every clock on its exact frame for 16 bars (worst error %s frames)" % worst)
    h.check(any((e.frame % 256) != 0 for e in first),
            "clocks sit inside cycles, not at cycle starts")
    rt = realtime(r)
    h.check(rt and rt[0].data == b"\xfa" and rt[0].tframe == 0,
            "Start (0xFA) first, at transport frame 0: %r" % (rt[:1],))
    h.check(first and first[0].frame == rt[0].frame,
            "the first clock is in the same cycle as Start")

    # --- the locate to bar 5 while rolling
    if jump:
        h.check(jump.valid_bbt and (jump.bar, jump.beat, jump.tick) == (5, 1, 0),
                "BBT on the very first cycle after the locate is 5|1|0 (got %d|%d|%d)"
                % (jump.bar, jump.beat, jump.tick))
        after = [e for e in rt if e.frame >= jump.frame]
        seq = [e.data for e in after[:3]]
        h.check_equal(seq, [b"\xfc", b"\xf2\x40\x00", b"\xfb"],
                      "Stop, SPP 64 (bar 5), Continue after the locate")
        if len(after) >= 3:
            spp_cycle = [c for c in r.cycles if c.frame == after[1].frame]
            h.check(spp_cycle and (spp_cycle[0].bar, spp_cycle[0].beat, spp_cycle[0].tick)
                    == (5, 1, 0) and spp_cycle[0].pos_frame == target,
                    "the SPP's cycle reads BBT 5|1|0 at frame %d" % target)
            h.check(after[1].frame - jump.frame <= 256,
                    "SPP within one cycle of the relocation (%d frames)"
                    % (after[1].frame - jump.frame))
            later = [e.tframe for e in clocks(r) if e.rolling and e.frame >= after[2].frame]
            k0 = 4 * 4 * 24          # clock index of bar 5
            want2 = [clock_frame(k0 + i, BPM) for i in range(len(later))]
            h.check(later and later == want2,
                    "%d clocks after the locate on exact frames (first %s, want %s)"
                    % (len(later), later[:1], want2[:1]))

    h.check_equal(cl.stop(), 0, "cl-transport exits 0 on SIGTERM")
h.done()
