"""cl-transport's OSC surface: bound to 127.0.0.1 only, ping, queries,
feedback to subscribers for every change, /transport/state at 30 Hz while
rolling, tap tempo, loop, state documents (get/set/save/load, refusals that
change nothing), /cl/status, --osc-doc, /cl/quit."""

import json
import os
import re
import subprocess
import time

import harness as h

args = h.parse_args()

# --osc-doc lists every method without touching JACK
doc = subprocess.run([args.client, "--osc-doc"], capture_output=True, text=True, timeout=10)
h.check(doc.returncode == 0, "--osc-doc exits 0")
for m in ("/transport/play", "/transport/locate_bbt", "/transport/bpm", "/transport/loop",
          "/transport/tap", "/cl/ping", "/cl/subscribe", "/cl/state/save"):
    h.check(m in doc.stdout, "--osc-doc lists " + m)

with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    name = h.unique_name("tp")
    cl = h.Client(args.client, ["--name", name], srv)
    osc = cl.osc_client()

    # --- bound to loopback only
    ss = subprocess.run(["ss", "-H", "-u", "-l", "-n", "-p"], capture_output=True, text=True)
    mine = [l for l in ss.stdout.splitlines() if ":%d " % cl.osc_port in l + " "]
    h.check(mine and all(re.search(r"\b127\.0\.0\.1:%d\b" % cl.osc_port, l) for l in mine),
            "the OSC socket listens on 127.0.0.1:%d only (ss: %r)" % (cl.osc_port, mine))

    h.check(osc.request("/cl/ping", reply="/cl/pong") is not None, "/cl/ping -> /cl/pong")

    # --- a subscriber on its own socket
    sub = h.OscClient(port=cl.osc_port)
    ok = sub.request("/cl/subscribe", reply="/cl/ok")
    h.check(ok is not None and ok.args[:1] == ["/cl/subscribe"], "/cl/subscribe -> /cl/ok")

    osc.send("/transport/bpm", 140)
    fb = sub.wait_for("/transport/bpm")
    h.check(fb is not None and abs(fb.args[0] - 140) < 1e-4, "subscriber hears /transport/bpm 140")
    osc.send("/transport/meter", 3, 4)
    fb = sub.wait_for("/transport/meter")
    h.check(fb is not None and fb.args == [3, 4], "subscriber hears /transport/meter 3 4")
    osc.send("/transport/meter", 4, 4)
    sub.wait_for("/transport/meter")
    q = osc.request("/transport/meter")
    h.check(q is not None and q.args == [4, 4], "/transport/meter query answers 4 4")

    # --- 30 Hz state while rolling
    osc.send("/transport/play")
    first = sub.wait_for("/transport/state", predicate=lambda m: m.args[0] == 1, timeout=3)
    h.check(first is not None, "a /transport/state with playing=1 on start")
    h.check(first is not None and first.types == "ifffiiih",
            "/transport/state types are ifffiiih (%r)" % (first.types if first else None))
    sub.drain()
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 2.0:
        m = sub.wait_for("/transport/state", timeout=2.0 - (time.monotonic() - t0))
        if m:
            n += 1
    h.check(54 <= n <= 66, "%d /transport/state messages in 2 s (30 Hz +-10%%: 54..66)" % n)

    # --- tap tempo: 5 taps 0.5 s apart -> 120 BPM
    # judged against the taps' real spacing: a loaded machine wakes late
    sent = []
    for i in range(5):
        osc.send("/transport/tap")
        sent.append(time.monotonic())
        time.sleep(0.5)
    tapped = 60.0 * (len(sent) - 1) / (sent[-1] - sent[0])
    q = osc.request("/transport/bpm")
    h.check(q is not None and abs(q.args[0] - tapped) < 2,
            "tap tempo 0.5 s apart -> %.1f BPM, as tapped (%r)" % (tapped, q))

    # --- loop 0..1 s: the position never passes 48000 and jumps back
    rec = probe.record(transport=True)
    osc.send("/transport/loop", 0.0, 1.0)
    fb = sub.wait_for("/transport/loop")
    h.check(fb is not None and fb.args == [0.0, 1.0], "subscriber hears /transport/loop 0 1")
    osc.send("/transport/locate", 0.0)      # a loop acts when the playhead reaches its end
    time.sleep(3.5)
    r = rec.stop()
    cyc = [c for c in r.cycles if c.state == 1]
    settle = [c for c in cyc if c.frame > cyc[0].frame + 48000] if cyc else []
    jumps = sum(1 for a, b in zip(cyc, cyc[1:]) if b.pos_frame < a.pos_frame)
    h.check(jumps >= 2, "the loop jumped back %d times in 3.5 s" % jumps)
    h.check(settle and max(c.pos_frame + 256 for c in settle) <= 48000,
            "no cycle plays past the loop end (max end %s)" %
            (max(c.pos_frame + 256 for c in settle) if settle else None))
    osc.send("/transport/loop", "off")
    fb = sub.wait_for("/transport/loop")
    h.check(fb is not None and fb.args == ["off"], "loop off is echoed")

    # --- state documents
    st = osc.request("/cl/state/get", reply="/cl/state")
    doc = json.loads(st.args[0]) if st else {}
    h.check(doc.get("schema") == "cl-transport/1" and doc.get("meter") == [4, 4],
            "/cl/state/get returns a cl-transport/1 document: %r" % doc)
    new = dict(doc, bpm=100.0)
    ok = osc.request("/cl/state/set", json.dumps(new), reply=re.compile("/cl/(ok|error)"))
    h.check(ok is not None and ok.address == "/cl/ok", "/cl/state/set accepted (%r)" % (ok,))
    q = osc.request("/transport/bpm")
    h.check(q is not None and q.args[0] == 100.0, "bpm is 100 after state/set")

    bad_docs = [
        "{not json", json.dumps(dict(doc, schema="cl-transport/9")),
        json.dumps(dict(doc, schema="cl-mixer/1")), json.dumps(dict(doc, bpm=1e9)),
        json.dumps(dict(doc, bpm="fast")), json.dumps(dict(doc, meter=[4, 3])),
        json.dumps(dict(doc, bmp=120)), '{"schema": "cl-transport/1", "bpm": 90, "bpm": 91}',
        "[" * 100 + "]" * 100,
    ]
    for b in bad_docs:
        e = osc.request("/cl/state/set", b, reply=re.compile("/cl/(ok|error)"))
        h.check(e is not None and e.address == "/cl/error" and e.args[0] == "/cl/state/set"
                and e.args[1], "state/set refuses %.40s: %r" % (b, e.args if e else None))
    q = osc.request("/transport/bpm")
    h.check(q is not None and q.args[0] == 100.0, "bpm still 100 after the refused documents")

    path = os.path.join(h.tmpdir(), "t.json")
    ok = osc.request("/cl/state/save", path, reply=re.compile("/cl/(ok|error)"))
    h.check(ok is not None and ok.address == "/cl/ok", "/cl/state/save -> /cl/ok")
    with open(path) as f:
        saved = json.load(f)
    h.check(saved.get("bpm") == 100.0 and saved.get("schema") == "cl-transport/1",
            "the saved file holds the state")
    h.check(not [x for x in os.listdir(h.tmpdir()) if ".tmp" in x], "no temporary left behind")
    with open(path, "w") as f:
        f.write('{"schema": "cl-transport/1", "bpm": 97.5, "meter": [7, 8]}')
    ok = osc.request("/cl/state/load", path, reply=re.compile("/cl/(ok|error)"))
    h.check(ok is not None and ok.address == "/cl/ok", "/cl/state/load -> /cl/ok")
    q = osc.request("/transport/meter")
    h.check(q is not None and q.args == [7, 8], "meter 7/8 after load")
    corrupt = os.path.join(h.tmpdir(), "corrupt.json")
    with open(corrupt, "w") as f:
        f.write('{"schema": "cl-transport/1", "bpm": ')
    e = osc.request("/cl/state/load", corrupt, reply=re.compile("/cl/(ok|error)"))
    h.check(e is not None and e.address == "/cl/error", "a corrupt file is refused")
    e = osc.request("/cl/state/load", "/nonexistent/x.json", reply=re.compile("/cl/(ok|error)"))
    h.check(e is not None and e.address == "/cl/error" and "No such file" in e.args[1],
            "a missing file is refused with the reason (%r)" % (e,))
    q = osc.request("/transport/bpm")
    h.check(q is not None and q.args[0] == 97.5, "bpm unchanged by the refused loads")

    # --- status
    s = osc.request("/cl/status")
    status = json.loads(s.args[0]) if s else {}
    h.check(status.get("transport", {}).get("playing") is True and
            status.get("jack", {}).get("timebase_master") is True,
            "/cl/status says playing, timebase master: %r" % status)

    # --- unsubscribe stops feedback
    ok = sub.request("/cl/unsubscribe", reply="/cl/ok")
    h.check(ok is not None, "/cl/unsubscribe -> /cl/ok")
    sub.drain(0.2)
    osc.send("/transport/bpm", 111)
    h.check(sub.wait_for("/transport/bpm", timeout=0.5) is None, "no feedback after unsubscribe")

    # --- quit
    ok = osc.request("/cl/quit", reply="/cl/ok")
    h.check(ok is not None, "/cl/quit -> /cl/ok")
    h.check_equal(cl.wait(10), 0, "cl-transport exits 0 after /cl/quit")

    # --- --state at start: stale temporaries swept, the document applied
    with open(path, "w") as f:
        f.write('{"schema": "cl-transport/1", "bpm": 88.5, "meter": [5, 4]}')
    stale = os.path.join(h.tmpdir(), ".t.json.tmp-Ab12Cd")
    with open(stale, "w") as f:
        f.write("half a document")
    cl = h.Client(args.client, ["--state", path], srv)
    osc = cl.osc_client()
    q = osc.request("/transport/bpm")
    h.check(q is not None and q.args[0] == 88.5, "--state applied: bpm 88.5 (%r)" % (q,))
    q = osc.request("/transport/meter")
    h.check(q is not None and q.args == [5, 4], "--state applied: meter 5/4")
    h.check(not os.path.exists(stale), "a stale temporary beside the state file was swept")
    h.check_equal(cl.stop(), 0, "exits 0")
    bad = os.path.join(h.tmpdir(), "bad.json")
    with open(bad, "w") as f:
        f.write('{"schema": "cl-transport/7"}')
    r = subprocess.run([args.client, "--state", bad, "--osc-port", "0", "--name",
                        h.unique_name("bad")], env=srv.env, capture_output=True, text=True,
                       timeout=20)
    h.check(r.returncode == 1 and "newer than this program" in r.stderr,
            "a state file of an unknown schema version: exit 1 with the reason (%d, %r)"
            % (r.returncode, r.stderr.strip().splitlines()[-1:]))
h.done()
