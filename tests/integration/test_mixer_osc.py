"""cl-mixer's OSC surface: every change reaches subscribers as the message
that would set it, queries answer current values, meters arrive at 30 Hz,
bad messages get /cl/error and change nothing, state documents and scenes
(ids that could leave the store refused), --osc-doc, ports and names."""

import json
import math
import os
import re
import subprocess
import time

import harness as h

h.isolate_shm()          # the pretty-name check must not see other tests' ports
args = h.parse_args()

doc = subprocess.run([args.client, "--osc-doc"], capture_output=True, text=True, timeout=10)
h.check(doc.returncode == 0 and "/mixer/*/volume" in doc.stdout and "/mixer/scene/recall" in doc.stdout,
        "--osc-doc lists the mixer methods")

with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    store = h.tmpdir()
    cl = h.Client(args.client, ["--channels", "3", "--aux", "2", "--store", store], srv)
    osc = cl.osc_client()
    names = sorted(p for p in probe.port_names() if p.startswith(cl.jack_name + ":"))
    want = sorted([cl.port("ch%d_in_%s" % (n, s)) for n in (1, 2, 3) for s in "lr"] +
                  [cl.port(x) for x in ("master_out_l", "master_out_r", "aux1_out_l", "aux1_out_r",
                                        "aux2_out_l", "aux2_out_r", "midi_in")])
    h.check_equal(names, want, "ports of 3 stereo strips, 2 aux buses")

    sub = h.OscClient(port=cl.osc_port)
    h.check(sub.request("/cl/subscribe", reply="/cl/ok") is not None, "subscribed")

    # --- every change echoed as the message that would set it
    changes = [
        ("/mixer/1/gain", (3.5,), [3.5]),
        ("/mixer/1/volume", (-6.0,), [-6.0]),
        ("/mixer/1/pan", (-0.25,), [-0.25]),
        ("/mixer/1/mute", (1,), [1]),
        ("/mixer/1/solo", ("on",), [1]),
        ("/mixer/1/phase", (True,), [1]),
        ("/mixer/2/send/1", (-12.0,), [-12.0]),
        ("/mixer/2/send/2/pre", (1,), [1]),
        ("/mixer/3/name", ("Kick",), ["Kick"]),
        ("/mixer/master/volume", (-3.0,), [-3.0]),
        ("/mixer/master/mute", (1,), [1]),
        ("/mixer/2/volume", ("-inf",), ["-inf"]),
    ]
    for path, a, echoed in changes:
        osc.send(path, *a)
        fb = sub.wait_for(path, timeout=2)
        h.check(fb is not None and fb.args == echoed, "%s %r echoed as %r (%r)" % (
            path, a, echoed, fb.args if fb else None))
        q = osc.request(path, reply=path)
        h.check(q is not None and q.args == echoed, "%s answers %r when asked" % (path, echoed))
    fb = sub.wait_for("/mixer/2/volume/norm", timeout=1)
    h.check(fb is not None and fb.args == [0.0], "a -inf fader is at position 0")
    osc.send("/mixer/2/volume/norm", 0.75)
    fb = sub.wait_for("/mixer/2/volume", timeout=2)
    h.check(fb is not None and abs(fb.args[0]) < 1e-4, "position 0.75 is 0 dB (%r)" % (fb,))
    pretty = {p["name"]: p["pretty"] for p in probe.ports()}
    h.check(pretty.get(cl.port("ch3_in_l")) == "Kick L", "strip name becomes the ports' pretty name (%r)"
            % pretty.get(cl.port("ch3_in_l")))
    for path, v in (("/mixer/1/mute", 0), ("/mixer/1/solo", 0), ("/mixer/1/phase", 0),
                    ("/mixer/master/mute", 0)):
        osc.send(path, v)

    # --- meters at 30 Hz
    ch1 = probe.play([cl.port("ch1_in_l")], sine=997, db=-6.0)
    time.sleep(0.3)
    sub.drain()
    t0 = time.monotonic()
    strip1 = []
    while time.monotonic() - t0 < 2.0:
        m = sub.wait_for("/mixer/meter", timeout=0.5, predicate=lambda x: x.args[0] == 1)
        if m:
            strip1.append(m)
    n = len(strip1)
    h.check(54 <= n <= 66, "%d meter messages for strip 1 in 2 s (30 Hz +-10%%)" % n)
    h.check(strip1 and len(strip1[-1].args) == 4 and strip1[-1].types == "ifff",
            "/mixer/meter <n> <peak> <rms> <hold> (ifff)")
    master = sub.wait_for("/mixer/meter", timeout=1, predicate=lambda x: x.args[0] == "master")
    h.check(master is not None, "master meter too")
    aux = sub.wait_for("/mixer/meter", timeout=1, predicate=lambda x: x.args[0] == "aux1")
    h.check(aux is not None, "aux meters too")
    ch1.stop()

    # --- bad messages: /cl/error, nothing changes, still running
    before = json.loads(osc.request("/cl/state/get", reply="/cl/state").args[0])
    bad = [
        ("/mixer/1/volume", ("loud",)), ("/mixer/0/volume", (-6.0,)), ("/mixer/999/volume", (-6.0,)),
        ("/mixer/1/volume", (("f", float("nan")),)), ("/mixer/1/volume", (("f", float("-inf")),)),
        ("/mixer/1/volume", (13.0,)), ("/mixer/1/pan", (1.5,)), ("/mixer/1/pan", ("",)),
        ("/mixer/1/gain", (30,)), ("/mixer/1/name", ("",)), ("/mixer/1/mute", ("maybe",)),
        ("/mixer/1/send/3", (-6.0,)), ("/mixer/1/send/0", (-6.0,)), ("/mixer/x/volume", (0,)),
        ("/mixer/1/volume", (1.0, 2.0)), ("/mixer/1/nothing", (1,)), ("/mixer/master/pan", (0,)),
        ("/mixer/scene/recall", ("../escape",)), ("/mixer/scene/recall", ("missing",)),
        ("/mixer/scene/save", ("",)), ("/mixer/scene/recall", ("loud", -1.0)),
        ("/mixer/learn", (9, "volume")), ("/mixer/learn", (1, "nothing")),
    ]
    for path, a in bad:
        e = osc.request(path, *a, reply="/cl/error", timeout=2)
        h.check(e is not None and e.args[0] == path and e.args[1],
                "%s %r -> /cl/error (%r)" % (path, a, e.args if e else None))
    after = json.loads(osc.request("/cl/state/get", reply="/cl/state").args[0])
    h.check(before == after, "nothing changed after %d refused messages" % len(bad))
    h.check(osc.request("/cl/ping", reply="/cl/pong") is not None and cl.running(), "still running")

    # --- state documents
    s = dict(after)
    s["strips"] = [dict(after["strips"][0], volume=-12.0, pan=0.5)]
    ok = osc.request("/cl/state/set", json.dumps(s), reply=re.compile("/cl/(ok|error)"))
    h.check(ok is not None and ok.address == "/cl/ok", "state/set of one strip accepted")
    q = osc.request("/mixer/1/volume")
    h.check(q is not None and q.args == [-12.0], "strip 1 at -12 dB")
    q = osc.request("/mixer/3/name")
    h.check(q is not None and q.args == ["Kick"], "strips the document does not name keep their state")
    for baddoc in (dict(after, schema="cl-mixer/2"), dict(after, strips=after["strips"] * 2),
                   dict(after, strips=[dict(after["strips"][0], pan=3)]),
                   dict(after, strips=[dict(after["strips"][0], sends=[0, 0, 0])]),
                   dict(after, master={"volume": "loud"}), dict(after, extra=1),
                   dict(after, midi=[{"channel": 17, "cc": 7, "strip": 1, "param": "volume"}])):
        e = osc.request("/cl/state/set", json.dumps(baddoc), reply=re.compile("/cl/(ok|error)"))
        h.check(e is not None and e.address == "/cl/error", "refused: %s" % e.args[1] if e else "no reply")
    q = osc.request("/mixer/1/volume")
    h.check(q is not None and q.args == [-12.0], "still -12 dB after the refused documents")

    # --- scenes
    ok = osc.request("/mixer/scene/save", "verse")
    h.check(ok is not None, "scene verse saved")
    path = os.path.join(store, "scenes", "verse.json")
    with open(path) as f:
        sc = json.load(f)
    h.check(sc.get("schema") == "cl-mixer/1" and len(sc.get("strips", [])) == 3, "scene file is a state document")
    osc.send("/mixer/1/volume", 0.0)
    osc.request("/mixer/scene/save", "chorus")
    osc.request("/mixer/scene/recall", "verse", reply="/cl/ping", timeout=0.3)
    fb = sub.wait_for("/mixer/1/volume", timeout=2, predicate=lambda m: m.args == [-12.0])
    h.check(fb is not None, "recall echoes the changed parameters")
    lst = osc.request("/mixer/scene/list")
    h.check(lst is not None and lst.args == ["chorus", "verse"], "scene list (%r)" % (lst,))
    with open(os.path.join(store, "scenes", "broken.json"), "w") as f:
        f.write('{"schema": "cl-mixer/1", "strips": [')
    e = osc.request("/mixer/scene/recall", "broken", reply=re.compile("/cl/(ok|error)"))
    h.check(e is not None and e.address == "/cl/error", "a corrupt scene is refused (%r)" % (e,))
    q = osc.request("/mixer/1/volume")
    h.check(q is not None and q.args == [-12.0], "and changes nothing")

    h.check_equal(cl.stop(), 0, "cl-mixer exits 0 on SIGTERM")

    # --- a mono mixer has mono inputs
    mono = h.Client(args.client, ["--channels", "2", "--mono", "--aux", "0"], srv)
    names = sorted(p for p in probe.port_names() if p.startswith(mono.jack_name + ":"))
    h.check_equal(names, sorted([mono.port(x) for x in ("ch1_in", "ch2_in", "master_out_l",
                                                         "master_out_r", "midi_in")]),
                  "ports of a mono mixer without aux")
    h.check_equal(mono.stop(), 0, "exits 0")

    # --- a big mixer stops promptly: jackd 1.9.21 used to block a client
    # with many named ports inside jack_client_close
    big = h.Client(args.client, ["--channels", "64", "--aux", "4"], srv)
    h.check(probe.wait_port(big.port("ch64_in_r")), "64 stereo strips up")
    t0 = time.monotonic()
    rc = big.stop()
    h.check(rc == 0 and time.monotonic() - t0 < 3.0,
            "64 strips: exit 0 within 3 s of SIGTERM (%s after %.2f s)" % (rc, time.monotonic() - t0))
h.done()
