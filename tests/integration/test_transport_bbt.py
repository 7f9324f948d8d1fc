"""cl-transport as timebase master, read by a second JACK client: after
/transport/bpm 133 and /transport/play the transport rolls at 133 BPM with
BBT exact on every cycle; a tempo change while rolling takes effect exactly
at the next bar line, with MIDI clocks phase-continuous across it; a meter
change likewise; stop sends Stop."""

import time

import harness as h
from transport_common import bbt_at, clock_frame, clocks, realtime

args = h.parse_args()
with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    name = h.unique_name("tp")
    cl = h.Client(args.client, ["--name", name], srv)
    osc = cl.osc_client()
    h.check(probe.wait_port(name + ":clock_out"), "clock_out exists")

    # --- 133 BPM from a stopped transport
    osc.send("/transport/bpm", 133.0)
    reply = osc.request("/transport/bpm", reply="/transport/bpm")
    h.check(reply is not None and abs(reply.args[0] - 133.0) < 1e-4,
            "/transport/bpm answers 133 (%r)" % (reply,))
    rec = probe.record(midi=[name + ":clock_out"], transport=True)
    osc.send("/transport/play")
    time.sleep(2.0)
    t = probe.transport()
    h.check(t["state"] == "rolling" and t["bbt"] and abs(t["bpm"] - 133.0) < 1e-9,
            "a second client reads rolling, BBT valid, 133 BPM: %r" % t)
    r = rec.stop()
    rolling = [c for c in r.cycles if c.state == 1]
    h.check(len(rolling) > 100, "%d rolling cycles recorded" % len(rolling))
    bad = [c for c in rolling
           if not c.valid_bbt or c.bpm != 133.0 or (c.bar, c.beat, c.tick) != bbt_at(c.pos_frame, 133)
           or c.ticks_per_beat != 1920 or c.beats_per_bar != 4 or c.beat_type != 4
           or c.bar_start_tick != (c.bar - 1) * 4 * 1920]
    h.check(not bad, "BBT exact on every rolling cycle (first bad: %r)" % (bad[:1],))
    steps = {b.pos_frame - a.pos_frame for a, b in zip(rolling, rolling[1:])
             if b.frame - a.frame == 256}
    h.check_equal(steps, {256}, "position advances 256 frames a cycle")
    first_rolling = rolling[0] if rolling else None
    h.check(first_rolling and first_rolling.pos_frame == 0 and
            (first_rolling.bar, first_rolling.beat, first_rolling.tick) == (1, 1, 0),
            "the first rolling cycle is at frame 0, 1|1|0")

    # --- tempo change while rolling: 120 -> 150 at the next bar line
    osc.send("/transport/stop")
    osc.send("/transport/bpm", 120.0, True)
    osc.send("/transport/locate_frame", 0)
    time.sleep(0.3)
    rec = probe.record(midi=[name + ":clock_out"], transport=True)
    osc.send("/transport/play")
    time.sleep(1.3)                         # inside bar 1 (2 s a bar)
    osc.send("/transport/bpm", 150.0)
    time.sleep(3.5)
    r = rec.stop()
    rolling = [c for c in r.cycles if c.state == 1 and c.pos_frame > 0]
    change = next((c for c in rolling if c.bpm == 150.0), None)
    h.check(change is not None, "the tempo changed to 150")
    if change:
        # the change is at a bar line of the 120 BPM grid: 96000 * n
        before = [c for c in rolling if c.bpm == 120.0]
        last120 = before[-1] if before else None
        B = ((last120.pos_frame // 96000) + 1) * 96000 if last120 else None
        h.check(B is not None and last120.pos_frame < B <= change.pos_frame < B + 256,
                "the first 150 BPM cycle starts on or just after the bar line %s (cycle at %d)"
                % (B, change.pos_frame))
        def expected(c):
            bar, beat, tick = bbt_at(c.pos_frame - B, 150)
            return (B // 96000 + bar, beat, tick)
        ok = B is not None and all((c.bar, c.beat, c.tick) == expected(c)
                                   for c in rolling if c.pos_frame >= B)
        h.check(ok, "BBT after the change counts 150 BPM bars from the bar line")
        ck = [e.tframe for e in clocks(r) if e.rolling]
        pre = [f for f in ck if f < B]
        post = [f for f in ck if f >= B]
        h.check(pre == [clock_frame(k, 120) for k in range(len(pre))],
                "clocks before the change every 1000 frames")
        h.check(post and post == [B + clock_frame(k, 150) for k in range(len(post))],
                "clocks from the bar line on every 800 frames, the first exactly on it "
                "(first %s)" % post[:1])

    # --- meter change at the next bar, then stop
    rec = probe.record(midi=[name + ":clock_out"], transport=True)
    osc.send("/transport/meter", 3, 4)
    time.sleep(2.5)
    osc.send("/transport/stop")
    time.sleep(0.3)
    r = rec.stop()
    cyc = [c for c in r.cycles if c.state == 1]
    three = [c for c in cyc if c.beats_per_bar == 3]
    h.check(three and three[0].beat == 1 and three[0].tick <= 25,
            "3/4 starts on a downbeat, within a cycle of it (%r)" % (three[:1],))
    h.check(all(c.beat <= 3 for c in three), "no beat 4 in 3/4")
    rt = realtime(r)
    h.check(rt and rt[-1].data == b"\xfc", "Stop (0xFC) when stopping: %r" % (rt[-1:],))
    t = probe.transport()
    h.check(t["state"] == "stopped", "transport stopped")

    h.check_equal(cl.stop(), 0, "cl-transport exits 0 on SIGTERM")
h.done()
