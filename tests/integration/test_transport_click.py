"""cl-transport --click: a click starts exactly every beat (24000 frames at
120 BPM, 48 kHz), the downbeat is 1500 Hz at twice the level of the 1000 Hz
beats, the level follows /transport/click/level, and /transport/click off
silences it. Peaks are within 0.5 dB of the level: the burst decays by
0.4 dB before its sine reaches its first crest."""

import re
import time

import harness as h

args = h.parse_args()


def onsets(x, quiet=200, length=1920):
    """Frames where a click starts: the sample before the first non-zero
    sample after at least `quiet` zero samples (a click starts at phase 0,
    whose sample is exactly 0). A click cut by either end of the capture
    is left out: one under way at its first sample has no onset in it,
    and one that starts less than `length` frames before its end has no
    peak to measure yet."""
    out, zeros = [], quiet
    for i, v in enumerate(x):
        if v == 0.0:
            zeros += 1
            continue
        if zeros >= quiet and i > 0 and i - 1 + length <= len(x):
            out.append(i - 1)
        zeros = 0
    return out


with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    cl = h.Client(args.client, ["--click", "--bpm", "120"], srv)
    osc = cl.osc_client()
    h.check(probe.wait_port(cl.port("click_out")), "click_out exists")
    osc.send("/transport/play")
    time.sleep(0.3)
    cap = probe.capture([cl.port("click_out")], frames=48000 * 5)
    x = cap.channels[0]
    on = onsets(x)
    h.check(len(on) >= 9, "%d clicks in 5 s" % len(on))
    gaps = {b - a for a, b in zip(on, on[1:])}
    h.check_equal(gaps, {24000}, "clicks exactly 24000 frames apart")
    peaks = [max(abs(v) for v in x[o:o + 1920]) for o in on]
    loud = [i for i, p in enumerate(peaks) if p > 0.75]
    h.check(loud and all(b - a == 4 for a, b in zip(loud, loud[1:])),
            "one loud click every 4 beats (peaks %s)" % ["%.2f" % p for p in peaks])
    beat = [p for i, p in enumerate(peaks) if i not in loud]
    h.check(beat and all(abs(h.db(p) - -6.0) < 0.5 for p in beat),
            "beats peak at -6 dB (the default level)")
    h.check(loud and all(abs(h.db(peaks[i]) - 0.0) < 0.5 for i in loud),
            "downbeats peak at 0 dB (twice the level)")
    if loud and beat:
        d = loud[0]
        b = (d + 1) % len(on)
        fd = h.zero_crossing_frequency(x[on[d]:on[d] + 960], 48000)
        fb = h.zero_crossing_frequency(x[on[b]:on[b] + 960], 48000)
        h.check(abs(fd - 1500) < 30 and abs(fb - 1000) < 30,
                "downbeat %.0f Hz, beat %.0f Hz (1500, 1000)" % (fd, fb))

    ok = osc.request("/transport/click/level", -20.0, reply="/transport/click/level", timeout=1)
    q = osc.request("/transport/click/level")
    h.check(q is not None and q.args[0] == -20.0, "click level -20 dB")
    cap = probe.capture([cl.port("click_out")], frames=48000 * 3)
    x = cap.channels[0]
    peaks = [max(abs(v) for v in x[o:o + 1920]) for o in onsets(x)]
    h.check(peaks and all(abs(h.db(p) - -20.0) < 0.5 or abs(h.db(p) - -14.0) < 0.5 for p in peaks),
            "at -20 dB the beats peak at -20 dB and downbeats at -14 dB (%s)"
            % ["%.1f" % h.db(p) for p in peaks])
    osc.send("/transport/click", "off")
    time.sleep(0.2)
    cap = probe.capture([cl.port("click_out")], frames=48000 * 2)
    h.check(max(abs(v) for v in cap.channels[0]) == 0.0, "silent with the click off")
    e = osc.request("/transport/click/level", 6.0, reply=re.compile("/cl/(ok|error)"))
    h.check(e is not None and e.address == "/cl/error", "a level above 0 dB is refused")
    h.check_equal(cl.stop(), 0, "cl-transport exits 0 on SIGTERM")
h.done()
