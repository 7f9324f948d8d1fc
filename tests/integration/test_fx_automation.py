"""cl-fx automation with cl-transport as the timebase master: a parameter
moved over OSC while the transport rolls 4 bars is recorded as a lane in
beats, thinned, and played back: after locating to the start and rolling
again the parameter follows the same curve at the same bars and beats."""

import json
import time

import harness as h

BPM = 240            # a beat is 0.25 s: 4 bars of 4/4 take 4 s
BEATS = 16


def ramp(beat):
    """The curve the test draws: output from -24 dB to 0 dB over 16 beats."""
    return -24.0 + 24.0 * min(max(beat, 0.0), BEATS) / BEATS


def lane_value(points, beat):
    if beat <= points[0][0]:
        return points[0][1]
    for (t0, v0, _c), (t1, v1, _d) in zip(points, points[1:]):
        if t0 <= beat < t1:
            return v0 + (v1 - v0) * (beat - t0) / (t1 - t0)
    return points[-1][1]


def beat_of(t):
    return (t["bar"] - 1) * 4 + (t["beat"] - 1) + t["tick"] / 1920.0


args = h.parse_args()
if not args.transport:
    h.fail("needs --transport (cl-transport)")
with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    tp = h.Client(args.transport, ["--bpm", str(BPM)], srv, name="cl-transport")
    fx = h.Client(args.client, [], srv)
    tosc, osc = tp.osc_client(), fx.osc_client()
    osc.send("/fx/add", "saturation")
    osc.send("/fx/0/drive", 0.0)
    osc.send("/fx/0/output", -24.0)
    q = osc.request("/fx/0/output")        # answered after the three before it
    h.check(q is not None and q.args[0] == -24.0, "saturation at -24 dB output (%r)" % (q,))
    # a lane records in beats once cl-fx sees BBT from the timebase master
    h.check(probe.wait_until(lambda t: bool(t["bbt"]), 10) is not None, "cl-transport gives BBT")
    time.sleep(0.05)                       # a cycle or two for cl-fx to see it too

    # --- record: draw the ramp while 4 bars roll
    ok = osc.request("/fx/0/output/automation/record", 1, reply="/cl/error", timeout=0.3)
    h.check(ok is None, "recording starts (no error)")
    tosc.send("/transport/play")
    t0 = time.monotonic()
    while time.monotonic() - t0 < BEATS * 60.0 / BPM + 0.3:
        beat = (time.monotonic() - t0) * BPM / 60.0
        osc.send("/fx/0/output", round(ramp(beat), 3))
        time.sleep(0.03)
    tosc.send("/transport/stop")
    probe.wait_transport("stopped")
    done = osc.request("/fx/0/output/automation/record", 0, reply="/fx/0/output/automation/record")
    h.check(done is not None and done.args[1] >= 2, "recording stops and keeps %s points"
            % (done.args[1] if done else None))
    state = json.loads(osc.request("/cl/state/get", reply="/cl/state").args[0])
    lanes = state["chain"]["automation"]
    h.check(len(lanes) == 1 and lanes[0]["unit"] == "beats" and lanes[0]["param"] == "output",
            "one lane, in beats, for output: %r" % [(l["param"], l["unit"]) for l in lanes])
    points = lanes[0]["points"] if lanes else [[0, 0, "linear"]]
    # The test draws by its own clock from the moment it sends play. The
    # lane is that ramp shifted in time: earlier by the time the transport
    # takes to start rolling, later by the time a value takes to reach
    # cl-fx; both grow on a loaded machine. The lane (its points joined as
    # they play back; a clean ramp can thin down to its two ends) is read
    # every 1/4 beat; the shift is measured (median) and must stay within
    # a beat (250 ms) either way, and around it the lane must sit on the
    # ramp: 0.75 dB is 0.5 beat (125 ms) of OSC delivery jitter. A stalled
    # OSC thread stamps the values queued meanwhile all at once, so up to
    # a tenth of the readings may be off by more, never by over 2 dB.
    beats = [0.5 + 0.25 * i for i in range(int((BEATS - 1.0) / 0.25) + 1)]
    lane = [(b, lane_value(points, b)) for b in beats]
    lags = sorted(b - (v + 24.0) * BEATS / 24.0 for b, v in lane)
    lag = lags[len(lags) // 2]
    off = [abs(v - ramp(b - lag)) for b, v in lane]
    late = [d for d in off if d > 0.75]
    h.check(-1.0 <= lag <= 1.0 and len(late) <= len(lane) // 10 and max(off) <= 2.0,
            "the recorded lane is the drawn ramp shifted by %+.2f beat (transport start, "
            "OSC delivery; allowed -1..1): worst %.2f dB off, %d of %d readings over 0.75 dB"
            % (lag, max(off), len(late), len(lane)))
    h.check(len(points) < 60, "thinned: %d points for a straight ramp" % len(points))

    # --- play back: locate to the start and roll again; no OSC values now
    osc.send("/fx/0/output", -24.0)
    tosc.send("/transport/locate", 0.0)
    h.check(probe.wait_until(lambda t: t["state"] == "stopped" and t["frame"] == 0, 10) is not None,
            "located to 0")
    tosc.send("/transport/play")
    errors = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < BEATS * 60.0 / BPM - 0.3:
        time.sleep(0.2)
        q = osc.request("/fx/0/output")
        t = probe.transport()
        if q is None or not t["bbt"]:
            continue
        b = beat_of(t)
        # the probe reads the transport ~20-40 ms after the value was
        # current: allow 0.2 beat of travel (1.5 dB/beat * 0.2 = 0.3 dB)
        err = min(abs(q.args[0] - lane_value(points, x)) for x in (b, b - 0.1, b - 0.2))
        errors.append(err)
    tosc.send("/transport/stop")
    h.check(len(errors) >= 8 and max(errors) <= 0.5,
            "playback follows the lane: %d readings, worst %.2f dB" % (len(errors), max(errors or [-1])))
    probe.wait_transport("stopped")
    time.sleep(0.05)                       # a cycle or two for cl-fx to see it too
    t = probe.transport()
    q = osc.request("/fx/0/output")
    want = lane_value(points, beat_of(t)) if t["bbt"] else None
    h.check(q is not None and want is not None and abs(q.args[0] - want) < 0.05,
            "stopped, the parameter holds the lane's value at the stop position (%r vs %r)" % (q, want))
    h.check_equal(fx.stop(), 0, "cl-fx exits 0")
    h.check_equal(tp.stop(), 0, "cl-transport exits 0")
h.done()
