"""MIDI CC control of cl-mixer: /mixer/learn binds the next CC seen on
midi_in; the CC then moves the fader along the fader curve, with soft
takeover (no jump until the controller meets the fader); bindings are part
of the state document; a toggle parameter follows the CC's half."""

import json
import time

import harness as h

args = h.parse_args()

with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    cl = h.Client(args.client, ["--channels", "2"], srv)
    osc = cl.osc_client()
    midi = cl.port("midi_in")

    def send(*ccs):
        probe.send_midi([midi], [h.cc(1, 7, v) for v in ccs], gap=256)
        osc.request("/cl/ping", reply="/cl/pong")
        time.sleep(0.05)

    def norm():
        q = osc.request("/mixer/1/volume/norm")
        return q.args[0] if q else None

    sub = h.OscClient(port=cl.osc_port)
    sub.request("/cl/subscribe", reply="/cl/ok")
    osc.send("/mixer/learn", 1, "volume")
    osc.request("/cl/ping", reply="/cl/pong")
    start = norm()
    send(20)
    b = sub.wait_for("/mixer/learn", timeout=10)
    h.check(b is not None and b.args == ["1", "volume", 1, 7], "learned channel 1 CC 7 (%r)" % (b,))
    h.check_close(norm(), start, 1e-6, "the learning CC does not move the fader")

    # soft takeover: the fader is at 0.75 (0 dB); 20 -> 60 stays below it
    send(40, 60)
    h.check_close(norm(), 0.75, 1e-6, "soft takeover: CCs below the fader do not move it")
    send(100)   # crosses 0.75
    h.check_close(norm(), 100 / 127, 1e-4, "once crossed, the fader follows the CC (100/127)")
    send(10)
    h.check_close(norm(), 10 / 127, 1e-4, "and keeps following (10/127)")

    # the fader moves by OSC: the controller must meet it again
    osc.send("/mixer/1/volume/norm", 0.5)
    send(90)
    h.check_close(norm(), 0.5, 1e-6, "after an OSC move, a far CC does not jump the fader")
    send(70, 60)
    h.check_close(norm(), 60 / 127, 1e-4, "crossing 0.5 picks it up again")

    # the audio follows: sine in, fader by CC, level out
    play = probe.play([cl.port("ch1_in_l")], sine=997, db=0.0)
    osc.send("/mixer/1/pan", -1.0)
    send(64)
    q = osc.request("/mixer/1/volume")
    want_db = q.args[0]
    time.sleep(0.1)
    cap = probe.capture([cl.port("master_out_l")], frames=24000)
    h.check_close(h.peak_db(cap.channels[0]), want_db, 0.1,
                  "master level follows the CC-set fader (%.2f dB)" % want_db)
    play.stop()

    # a toggle: learn mute on CC 20
    osc.send("/mixer/learn", 2, "mute")
    osc.request("/cl/ping", reply="/cl/pong")
    probe.send_midi([midi], [h.cc(1, 20, 0)])
    sub.wait_for("/mixer/learn", timeout=10)
    probe.send_midi([midi], [h.cc(1, 20, 127)])
    fb = sub.wait_for("/mixer/2/mute", timeout=10)
    h.check(fb is not None and fb.args == [1], "CC 20 = 127 mutes strip 2")
    probe.send_midi([midi], [h.cc(1, 20, 0)])
    fb = sub.wait_for("/mixer/2/mute", timeout=10)
    h.check(fb is not None and fb.args == [0], "CC 20 = 0 unmutes it")

    st = json.loads(osc.request("/cl/state/get", reply="/cl/state").args[0])
    h.check({"channel": 1, "cc": 7, "strip": 1, "param": "volume"} in st.get("midi", []) and
            {"channel": 1, "cc": 20, "strip": 2, "param": "mute"} in st.get("midi", []),
            "bindings are part of the state: %r" % st.get("midi"))

    # a restarted mixer with that state follows CC 7 again
    h.check_equal(cl.stop(), 0, "exits 0")
    path = h.tmpdir() + "/mixer.json"
    with open(path, "w") as f:
        json.dump(st, f)
    cl = h.Client(args.client, ["--channels", "2", "--state", path], srv)
    osc = cl.osc_client()
    midi = cl.port("midi_in")
    cur = norm()
    lo = int(cur * 127) - 3
    send(lo, min(127, lo + 10))
    h.check_close(norm(), min(127, lo + 10) / 127, 1e-4, "the restored binding moves the fader")
    h.check_equal(cl.stop(), 0, "exits 0")
h.done()
