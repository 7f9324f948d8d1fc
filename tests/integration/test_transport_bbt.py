"""cl-transport as timebase master, read by a second JACK client: after
/transport/bpm 133 and /transport/play the transport rolls at 133 BPM with
BBT exact on every cycle; a tempo change and a locate together while stopped
both apply; a tempo change while rolling takes effect exactly
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

    def rewind(bpm):
        """Stopped at frame 0 in 4/4 at `bpm`, whatever ran before."""
        osc.send("/transport/stop")
        osc.send("/transport/meter", 4, 4)
        osc.send("/transport/bpm", float(bpm), True)
        osc.send("/transport/locate_frame", 0)
        return probe.wait_until(lambda t: t["state"] == "stopped" and t["frame"] == 0
                                and t["bpm"] == bpm and t["meter"] == (4.0, 4.0),
                                timeout=10.0) is not None

    def measured(measure, judge):
        """measure() -> Recording, retried when JACK reported xruns and
        judge's checks failed (a cycle the probe or cl-transport lost on a
        loaded machine looks like a missing clock); then the checks."""
        r = h.retry_on_xruns(measure, valid=lambda r: all(ok for ok, _ in judge(r)))
        for ok, what in judge(r):
            h.check(ok, what + ("" if ok or not r.xruns else " (%d xruns)" % r.xruns))
        return r

    # --- 133 BPM from a stopped transport
    seen = {}

    def roll_133():
        seen["rewound"] = rewind(133.0)
        seen["reply"] = osc.request("/transport/bpm", reply="/transport/bpm")
        rec = probe.record(midi=[name + ":clock_out"], transport=True)
        osc.send("/transport/play")
        probe.wait_frame(96000)
        seen["transport"] = probe.transport()
        return rec.stop()

    def judge_133(r):
        reply, t = seen["reply"], seen["transport"]
        rolling = [c for c in r.cycles if c.state == 1]
        bad = [c for c in rolling
               if not c.valid_bbt or c.bpm != 133.0
               or (c.bar, c.beat, c.tick) != bbt_at(c.pos_frame, 133)
               or c.ticks_per_beat != 1920 or c.beats_per_bar != 4 or c.beat_type != 4
               or c.bar_start_tick != (c.bar - 1) * 4 * 1920]
        steps = {b.pos_frame - a.pos_frame for a, b in zip(rolling, rolling[1:])
                 if b.frame - a.frame == 256}
        first = rolling[0] if rolling else None
        return [
            (seen["rewound"], "stopped at frame 0, 133 BPM, before rolling"),
            (reply is not None and abs(reply.args[0] - 133.0) < 1e-4,
             "/transport/bpm answers 133 (%r)" % (reply,)),
            (t["state"] == "rolling" and t["bbt"] and abs(t["bpm"] - 133.0) < 1e-9,
             "a second client reads rolling, BBT valid, 133 BPM: %r" % t),
            (len(rolling) > 300, "%d rolling cycles recorded" % len(rolling)),
            (not bad, "BBT exact on every rolling cycle (first bad: %r)" % (bad[:1],)),
            (steps == {256}, "position advances 256 frames a cycle (%r)" % (steps,)),
            (first is not None and first.pos_frame == 0 and
             (first.bar, first.beat, first.tick) == (1, 1, 0),
             "the first rolling cycle is at frame 0, 1|1|0 (%r)" % (first,)),
        ]

    measured(roll_133, judge_133)

    # --- stopped: a tempo change and a locate in one bundle both apply
    # (the BBT refresh that a tempo change makes while stopped once
    # relocated to the old frame and cancelled the locate)
    osc.send("/transport/stop")
    probe.wait_transport("stopped")
    lost = []
    for i in range(6):
        away = 48000 * (i + 1)
        osc.send("/transport/locate_frame", away)
        probe.wait_until(lambda t: t["frame"] == away, timeout=5.0)
        bpm = 121.0 + i
        osc.send_raw(h.osc_bundle(("/transport/bpm", bpm), ("/transport/locate_frame", 0)))
        t = probe.wait_until(lambda t: t["frame"] == 0 and t["bpm"] == bpm, timeout=3.0)
        if t is None:
            lost.append((away, probe.transport()))
    h.check(not lost, "tempo and locate together while stopped: at frame 0 with the new "
            "tempo every time (missed: %r)" % (lost[:2],))

    # --- tempo change while rolling: 120 -> 150 at the next bar line
    def change_tempo():
        seen["rewound"] = rewind(120.0)
        rec = probe.record(midi=[name + ":clock_out"], transport=True)
        osc.send("/transport/play")
        probe.wait_frame(62400)                 # inside bar 1 (96000 frames a bar)
        osc.send("/transport/bpm", 150.0)
        t = probe.wait_until(lambda t: t["bpm"] == 150.0, timeout=10.0)
        if t:                                   # two bars of 150 after the change
            probe.wait_frame(t["frame"] + 2 * 76800)
        return rec.stop()

    def judge_tempo(r):
        rolling = [c for c in r.cycles if c.state == 1 and c.pos_frame > 0]
        change = next((c for c in rolling if c.bpm == 150.0), None)
        checks = [(seen["rewound"], "stopped at frame 0, 120 BPM, before the tempo change"),
                  (change is not None, "the tempo changed to 150")]
        if not change:
            return checks
        # the change is at a bar line of the 120 BPM grid: 96000 * n
        before = [c for c in rolling if c.bpm == 120.0]
        last120 = before[-1] if before else None
        B = ((last120.pos_frame // 96000) + 1) * 96000 if last120 else None
        checks.append((B is not None and last120.pos_frame < B <= change.pos_frame < B + 256,
                       "the first 150 BPM cycle starts on or just after the bar line %s "
                       "(cycle at %d)" % (B, change.pos_frame)))
        if B is None:
            return checks

        def expected(c):
            bar, beat, tick = bbt_at(c.pos_frame - B, 150)
            return (B // 96000 + bar, beat, tick)
        checks.append((all((c.bar, c.beat, c.tick) == expected(c)
                           for c in rolling if c.pos_frame >= B),
                       "BBT after the change counts 150 BPM bars from the bar line"))
        ck = [e.tframe for e in clocks(r) if e.rolling]
        pre = [f for f in ck if f < B]
        post = [f for f in ck if f >= B]
        want = [clock_frame(k, 120) for k in range(len(pre))]
        checks.append((pre == want, "clocks before the change every 1000 frames (first "
                       "difference: %r)" % (next(((g, w) for g, w in zip(pre, want) if g != w),
                                                 None),)))
        checks.append((post and post == [B + clock_frame(k, 150) for k in range(len(post))],
                       "clocks from the bar line on every 800 frames, the first exactly on it "
                       "(first %s)" % post[:1]))
        return checks

    measured(change_tempo, judge_tempo)

    # --- meter change at the next bar, then stop
    def change_meter():
        seen["rewound"] = rewind(150.0)
        rec = probe.record(midi=[name + ":clock_out"], transport=True)
        osc.send("/transport/play")
        probe.wait_frame(40000)                 # inside bar 1 (76800 frames a bar)
        osc.send("/transport/meter", 3, 4)
        t = probe.wait_until(lambda t: t["meter"] == (3.0, 4.0), timeout=10.0)
        if t:                                   # a 3/4 bar and a little more
            probe.wait_frame(t["frame"] + 57600 + 4800)
        osc.send("/transport/stop")
        probe.wait_transport("stopped")
        time.sleep(0.1)                         # the Stop byte goes out in that cycle
        return rec.stop()

    def judge_meter(r):
        three = [c for c in r.cycles if c.state == 1 and c.beats_per_bar == 3]
        rt = realtime(r)
        return [
            (seen["rewound"], "stopped at frame 0, 150 BPM, 4/4, before the meter change"),
            (bool(three) and three[0].beat == 1 and three[0].tick <= 25,
             "3/4 starts on a downbeat, within a cycle of it (%r)" % (three[:1],)),
            (bool(three) and all(c.beat <= 3 for c in three), "no beat 4 in 3/4"),
            (bool(rt) and rt[-1].data == b"\xfc", "Stop (0xFC) when stopping: %r" % (rt[-1:],)),
        ]

    measured(change_meter, judge_meter)
    t = probe.transport()
    h.check(t["state"] == "stopped", "transport stopped")

    h.check_equal(cl.stop(), 0, "cl-transport exits 0 on SIGTERM")
h.done()
