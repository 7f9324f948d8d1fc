"""MIDI CC learn in cl-fx: /fx/learn <slot> <param> binds the next CC seen
on midi_in to an effect parameter (or bypass); the CC then moves it along
the parameter's curve with soft takeover (no jump until the controller
meets the value); a toggle follows the CC's half; the sound follows; the
bindings are part of the state document (slots by position), survive a
restart and go with their slot; bad learn requests and bad bindings in a
state change nothing."""

import json
import time

import harness as h

args = h.parse_args()
CC = 7

with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    cl = h.Client(args.client, [], srv)
    osc = cl.osc_client()
    midi = cl.port("midi_in")

    def send(*values, cc=CC):
        probe.send_midi([midi], [h.cc(1, cc, v) for v in values], gap=256)
        osc.request("/cl/ping", reply="/cl/pong")
        time.sleep(0.05)

    def value(param):
        q = osc.request("/fx/0/" + param)
        return q.args[0] if q else None

    def state():
        return json.loads(osc.request("/cl/state/get", reply="/cl/state").args[0])

    osc.send("/fx/add", "compressor")
    osc.request("/cl/ping", reply="/cl/pong")
    sub = h.OscClient(port=cl.osc_port)
    sub.request("/cl/subscribe", reply="/cl/ok")

    # threshold: -60..0 dB, linear, default -20 (position 2/3)
    osc.send("/fx/learn", 0, "threshold")
    osc.request("/cl/ping", reply="/cl/pong")
    send(20)
    b = sub.wait_for("/fx/learn", timeout=10)
    h.check(b is not None and b.args == [0, "threshold", 1, CC],
            "learned channel 1 CC %d for slot 0 threshold (%r)" % (CC, b.args if b else None))
    h.check_close(value("threshold"), -20.0, 1e-6, "the learning CC does not move the parameter")

    send(40, 60)
    h.check_close(value("threshold"), -20.0, 1e-6,
                  "soft takeover: CCs below the parameter's position leave it alone")
    send(100)
    h.check_close(value("threshold"), -60 + 60 * 100 / 127, 1e-3,
                  "once the CC crossed it, the parameter follows (100/127 of -60..0)")
    send(10)
    h.check_close(value("threshold"), -60 + 60 * 10 / 127, 1e-3, "and keeps following (10/127)")
    fb = sub.wait_for("/fx/0/threshold", timeout=2)
    h.check(fb is not None, "a CC move is fed back to subscribers (%r)" % (fb,))

    osc.send("/fx/0/threshold", -30.0)   # position 0.5
    send(90)
    h.check_close(value("threshold"), -30.0, 1e-6, "after an OSC move a far CC does not jump it")
    send(70, 60)
    h.check_close(value("threshold"), -60 + 60 * 60 / 127, 1e-3, "crossing the value picks it up again")

    # the sound follows a learned makeup gain: ratio 1 makes it a plain gain
    osc.send("/fx/0/ratio", 1.0)
    osc.send("/fx/0/threshold", 0.0)
    osc.send("/fx/learn", 0, "makeup")
    osc.request("/cl/ping", reply="/cl/pong")
    send(0, cc=21)
    sub.wait_for("/fx/learn", timeout=10)
    send(0, 64, cc=21)
    makeup = value("makeup")
    h.check_close(makeup, 24 * 64 / 127, 1e-3, "CC 21 = 64 sets makeup to 64/127 of 24 dB")
    play = probe.play([cl.port("in_l"), cl.port("in_r")], sine=997, db=-20.0)
    time.sleep(0.3)
    cap = probe.capture([cl.port("out_l")], frames=24000)
    h.check_close(h.peak_db(cap.channels[0][4800:]), -20.0 + makeup, 0.1,
                  "the output level follows the CC-set makeup (%.2f dB)" % (-20 + makeup))
    play.stop()

    # bypass is a toggle: 64..127 on, 0..63 off
    osc.send("/fx/learn", 0, "bypass")
    osc.request("/cl/ping", reply="/cl/pong")
    send(0, cc=20)
    sub.wait_for("/fx/learn", timeout=10)
    send(127, cc=20)
    fb = sub.wait_for("/fx/0/bypass", timeout=10)
    h.check(fb is not None and fb.args == [1], "CC 20 = 127 bypasses slot 0 (%r)" % (fb,))
    send(3, cc=20)
    fb = sub.wait_for("/fx/0/bypass", timeout=10)
    h.check(fb is not None and fb.args == [0], "CC 20 = 3 brings it back (%r)" % (fb,))

    # bad learn requests: clear errors, nothing changes
    before = state()
    for a in [(5, "threshold"), (0, "nothing"), (-1, "ratio"), ("x", "ratio")]:
        e = osc.request("/fx/learn", *a, reply="/cl/error", timeout=2)
        h.check(e is not None and e.args[0] == "/fx/learn" and e.args[1],
                "/fx/learn %r -> /cl/error (%r)" % (a, e.args if e else None))
    h.check(state() == before, "nothing changed after refused learn requests")

    st = state()
    want = [{"channel": 1, "cc": CC, "slot": 0, "param": "threshold"},
            {"channel": 1, "cc": 21, "slot": 0, "param": "makeup"},
            {"channel": 1, "cc": 20, "slot": 0, "param": "bypass"}]
    h.check(all(w in st.get("midi", []) for w in want) and len(st["midi"]) == 3,
            "the bindings are part of the state: %r" % st.get("midi"))

    # a binding follows its slot when another slot goes in front of it
    osc.send("/fx/add", "peq", 0)
    osc.request("/cl/ping", reply="/cl/pong")
    time.sleep(0.1)
    moved = state()["midi"]
    h.check(all(b["slot"] == 1 for b in moved), "after an insert at 0 the bindings name slot 1: %r" % moved)
    osc.send("/fx/remove", 0)
    time.sleep(0.3)
    osc.request("/cl/ping", reply="/cl/pong")

    # bad bindings in a state document are refused and change nothing
    before = state()
    for bad in [{"channel": 17, "cc": 1, "slot": 0, "param": "ratio"},
                {"channel": 1, "cc": 1, "slot": 3, "param": "ratio"},
                {"channel": 1, "cc": 1, "slot": 0, "param": "wetness"},
                {"channel": 1, "cc": 128, "slot": 0, "param": "ratio"},
                {"channel": 1, "cc": 1, "slot": 0, "param": "ratio", "extra": 1}]:
        doc = dict(before, midi=[bad])
        e = osc.request("/cl/state/set", json.dumps(doc), reply="/cl/error", timeout=2)
        h.check(e is not None and e.args[1], "a binding %r is refused (%r)" % (bad, e.args if e else None))
    h.check(state() == before, "nothing changed after refused state documents")

    # unlearn
    osc.send("/fx/unlearn", 0, "makeup")
    osc.request("/cl/ping", reply="/cl/pong")
    h.check([b["param"] for b in state()["midi"]] == ["threshold", "bypass"],
            "/fx/unlearn 0 makeup removes that binding")

    # a restarted rack with that state follows CC 7 again
    st = state()
    h.check_equal(cl.stop(), 0, "exits 0")
    path = h.tmpdir() + "/fx.json"
    with open(path, "w") as f:
        json.dump(st, f)
    cl = h.Client(args.client, ["--state", path], srv)
    osc = cl.osc_client()
    midi = cl.port("midi_in")
    h.check_close(value("threshold"), 0.0, 1e-6, "the restored threshold is 0 dB")
    osc.send("/fx/0/threshold", -30.0)
    send(60, 70)
    h.check_close(value("threshold"), -60 + 60 * 70 / 127, 1e-3,
                  "the restored binding moves the threshold (60 -> 70 crosses -30 dB)")
    h.check(state()["midi"] == st["midi"], "the restored state has the same bindings")

    # removing the slot removes its bindings
    osc.send("/fx/remove", 0)
    time.sleep(0.3)
    osc.request("/cl/ping", reply="/cl/pong")
    h.check(state()["midi"] == [], "removing the slot removes its bindings")
    h.check_equal(cl.stop(), 0, "exits 0")
h.done()
