"""cl-mixer on real JACK ports: levels through fader and pan law, mute,
solo in place, aux sends pre and post fader, a scene recall whose fade
reaches its target at the stated time, and a strip's short-term loudness.
Every figure is measured on the ports with cl-probe."""

import time

import harness as h
from mixer_common import envelope, level

args = h.parse_args()
RATE = 48000
PERIOD = 256

with h.JackServer(rate=RATE, period=PERIOD) as srv:
    probe = h.Probe(srv)
    store = h.tmpdir()
    cl = h.Client(args.client, ["--channels", "4", "--aux", "2", "--store", store], srv)
    osc = cl.osc_client()
    out = [cl.port("master_out_l"), cl.port("master_out_r")]
    aux1 = [cl.port("aux1_out_l"), cl.port("aux1_out_r")]

    def settle():
        osc.request("/cl/ping", reply="/cl/pong")
        time.sleep(0.1)          # ramps take 20 ms

    def measure(ports, frames=RATE // 2):
        cap = probe.capture(ports, frames=frames)
        return [level(c) for c in cap.channels]

    ch1 = probe.play([cl.port("ch1_in_l")], sine=997, db=0.0)
    ch2 = probe.play([cl.port("ch2_in_l")], sine=311, db=-12.0)

    # --- fader -6 dB, pan hard left: -6 dB on the left, nothing on the right
    osc.send("/mixer/2/mute", 1)
    osc.send("/mixer/1/volume", -6.0)
    osc.send("/mixer/1/pan", -1.0)
    settle()
    (lp, lr), (rp, rr) = measure(out)
    h.check_close(lp, -6.0, 0.1, "master_out_l peak with fader -6 dB, pan -1")
    h.check_close(lr, -9.03, 0.1, "master_out_l RMS (a sine is 3.01 dB under its peak)")
    h.check(rp < -90.0, "nothing above -90 dB on master_out_r (%.1f dB)" % rp)

    # --- pan law on the way: p = 0 puts each side 3.01 dB down
    osc.send("/mixer/1/pan", 0.0)
    osc.send("/mixer/1/volume", 0.0)
    settle()
    (lp, _), (rp, _) = measure(out)
    h.check_close(lp, -3.01, 0.1, "pan 0: left at -3.01 dB")
    h.check(rp < -90.0, "pan 0 on a stereo strip is a balance: the silent right input stays silent")
    osc.send("/mixer/1/pan", 0.5)
    settle()
    (lp, _), _ = measure(out)
    h.check_close(lp, 20 * __import__("math").log10((0.25) ** 0.5), 0.1, "pan 0.5: left at sqrt(1/4)")
    osc.send("/mixer/1/pan", -1.0)

    # --- mute
    osc.send("/mixer/1/mute", 1)
    settle()
    (lp, _), _ = measure(out)
    h.check(lp < -120.0, "muted: master silent (%.1f dB)" % lp)
    osc.send("/mixer/1/mute", 0)
    osc.send("/mixer/2/mute", 0)
    osc.send("/mixer/2/pan", -1.0)
    settle()

    # --- solo in place: only ch2 (311 Hz, -12 dB) is heard
    osc.send("/mixer/2/solo", 1)
    settle()
    cap = probe.capture(out, frames=RATE // 2)
    p, _ = level(cap.channels[0])
    f = h.zero_crossing_frequency(cap.channels[0], RATE)
    h.check_close(p, -12.0, 0.1, "solo ch2: master carries ch2's level")
    h.check_close(f, 311.0, 3.0, "solo ch2: master carries ch2's frequency")
    osc.send("/mixer/1/solo", 1)
    settle()
    cap = probe.capture(out, frames=RATE // 2)
    p, _ = level(cap.channels[0])
    h.check(p > -3.0, "solo ch1 too: both heard again (peak %.1f dB)" % p)
    osc.send("/mixer/1/solo", 0)
    osc.send("/mixer/2/solo", 0)
    osc.send("/mixer/2/mute", 1)

    # --- sends: post-fader follows fader and mute, pre-fader does not
    osc.send("/mixer/1/volume", -6.0)
    osc.send("/mixer/1/send/1", -10.0)
    settle()
    (ap, _), _ = measure(aux1)
    h.check_close(ap, -16.0, 0.1, "post-fader send -10 dB after a -6 dB fader: aux1 at -16 dB")
    ((bp, _),) = measure([cl.port("aux2_out_l")])
    h.check(bp < -120.0, "aux2 gets nothing (its send is off)")
    osc.send("/mixer/1/send/1/pre", 1)
    settle()
    (ap, _), _ = measure(aux1)
    h.check_close(ap, -10.0, 0.1, "pre-fader send ignores the fader: aux1 at -10 dB")
    osc.send("/mixer/1/mute", 1)
    settle()
    (ap, _), _ = measure(aux1)
    h.check_close(ap, -10.0, 0.1, "pre-fader send ignores mute too")
    osc.send("/mixer/1/send/1/pre", 0)
    settle()
    (ap, _), _ = measure(aux1)
    h.check(ap < -120.0, "post-fader send of a muted strip is silent (%.1f dB)" % ap)
    osc.send("/mixer/1/mute", 0)
    osc.send("/mixer/1/send/1", "-inf")

    # --- scene recall with a 1 s fade: 0 dB -> -20 dB, on time
    osc.send("/mixer/1/volume", 0.0)
    settle()
    ok = osc.request("/mixer/scene/save", "loud")
    h.check(ok is not None, "scene 'loud' saved")
    osc.send("/mixer/1/volume", -20.0)
    settle()
    ok = osc.request("/mixer/scene/save", "quiet")
    h.check(ok is not None, "scene 'quiet' saved")
    osc.send("/mixer/scene/recall", "loud")
    settle()
    job = probe.capture_start([out[0]], frames=RATE * 2)
    time.sleep(0.3)
    osc.send("/mixer/scene/recall", "quiet", 1.0)
    cap = job.result()
    # The fade is linear in amplitude from 1.0 to 0.1: fit that line
    # through the points where the envelope passes 0.8 and 0.3, and read
    # its start and end off it.
    win = 48                                  # about one period of 997 Hz
    env = envelope(cap.channels[0], win)
    i1 = next((i for i, v in enumerate(env) if v < 0.8), None)
    i2 = next((i for i, v in enumerate(env) if v < 0.3), None)
    if i1 is not None and i2 is not None and i2 > i1:
        a1, a2 = env[i1], env[i2]
        per_frame = (a1 - a2) / ((i2 - i1) * win)
        took = 0.9 / per_frame
        h.check(abs(took - RATE) <= PERIOD,
                "the 1 s fade takes %.0f frames (48000 +- one period)" % took)
        t0 = i1 * win - (1.0 - a1) / per_frame
        floor_at = next((i for i, v in enumerate(env) if v <= 0.1 * 1.002), None)
        h.check(floor_at is not None and abs(floor_at * win - (t0 + RATE)) <= PERIOD + win,
                "it arrives at -20 dB one second after it started (%s vs %.0f)"
                % (floor_at and floor_at * win, t0 + RATE))
    else:
        h.check(False, "the fade passes 0.8 and 0.3 (%s, %s)" % (i1, i2))
    ((lp, _),) = measure([out[0]])
    h.check_close(lp, -20.0, 0.1, "after the fade: -20 dB")
    q = osc.request("/mixer/1/volume")
    h.check(q is not None and abs(q.args[0] + 20.0) < 1e-4, "the fader reads -20 after the recall")

    # --- short-term loudness of a strip: 997 Hz at -20 dBFS in one channel
    ch1.stop()
    ch1 = probe.play([cl.port("ch1_in_l")], sine=997, db=-20.0)
    osc.request("/mixer/1/loudness")          # starts the measurement
    time.sleep(3.6)
    q = osc.request("/mixer/1/loudness")
    h.check(q is not None and abs(q.args[0] - (-23.01)) < 0.2,
            "short-term loudness -23.0 LUFS (BS.1770: one channel at -20 dBFS) (%r)" % (q,))

    ch1.stop()
    ch2.stop()
    h.check_equal(cl.stop(), 0, "cl-mixer exits 0 on SIGTERM")
h.done()
