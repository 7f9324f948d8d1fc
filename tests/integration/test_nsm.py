"""A CoreLogic client under a session manager: a fake NSM server (real OSC
over UDP) sees the announce, opens a session folder, and only then does the
client join JACK under the client id NSM gave; state changes report dirty,
save writes the state atomically and reports clean, and a restarted client
loads what was saved. Runs against any client: CLIENTS says how to change
its state, which port it has, and where the change shows in its document."""

import json
import os
import time

import harness as h

# program -> (app name, a port, OSC change, query, value read back, value in state.json)
CLIENTS = {
    "cl-transport": ("cl-transport", "clock_out", ("/transport/bpm", 99), "/transport/bpm", 99.0,
                     lambda d: d.get("bpm")),
    "cl-mixer": ("cl-mixer", "master_out_l", ("/mixer/1/volume", -6.0), "/mixer/1/volume", -6.0,
                 lambda d: d.get("strips", [{}])[0].get("volume")),
    "cl-fx": ("cl-fx", "out_l", ("/fx/add", "delay"), "/fx/chain", "delay",
              lambda d: (d.get("chain", {}).get("effects") or [{}])[0].get("type")),
    "cl-seq": ("cl-seq", "midi_out", ("/seq/swing", 0.25), "/seq/swing", 0.25,
               lambda d: d.get("pattern", {}).get("swing")),
}

args = h.parse_args()
program = os.path.basename(args.client).replace("-rtsan", "")
app, port, change, query, value, in_doc = CLIENTS[program]
with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    nsm = h.OscClient()
    client_id = h.unique_name("nsmtp")
    session = os.path.join(h.tmpdir(), "session", client_id)

    def start():
        cl = h.Client(args.client, [], srv, env={"NSM_URL": nsm.url}, name=program + "-nsm")
        ann = nsm.wait_for("/nsm/server/announce", timeout=10)
        return cl, ann

    cl, ann = start()
    h.check(ann is not None and ann.args[0] == app and ann.args[1] == ":dirty:message:"
            and ann.args[3:5] == [1, 1] and ann.args[5] == cl.pid,
            "announce: name, :dirty:message:, API 1.1, pid (%r)" % (ann.args if ann else None,))
    src = ann.source if ann else None
    nsm.send("/reply", "/nsm/server/announce", "welcome", "fake-nsm", ":server-control:",
             port=src[1])
    time.sleep(0.5)
    h.check(not any(p.startswith(client_id + ":") for p in probe.port_names()),
            "no JACK client before /nsm/client/open")

    nsm.send("/nsm/client/open", session, "Test Session", client_id, port=src[1])
    rep = nsm.wait_for("/reply", timeout=10)
    h.check(rep is not None and rep.args[0] == "/nsm/client/open" and rep.source == src,
            "/reply to open, from the announcing socket (%r)" % (rep,))
    h.check(probe.wait_port(client_id + ":" + port, timeout=10),
            "the JACK client appears under NSM's client id after open")
    h.check(os.path.isdir(session), "the session folder exists")

    osc = cl.osc_client()
    osc.send(*change)
    d = nsm.wait_for("/nsm/client/is_dirty", timeout=5)
    h.check(d is not None and d.source == src, "a change of state reports is_dirty")
    nsm.send("/nsm/client/save", port=src[1])
    rep = nsm.wait_for("/reply", timeout=5)
    h.check(rep is not None and rep.args[0] == "/nsm/client/save", "/reply to save")
    c = nsm.wait_for("/nsm/client/is_clean", timeout=5)
    h.check(c is not None, "is_clean after save")
    path = os.path.join(session, "state.json")
    with open(path) as f:
        doc = json.load(f)
    h.check(doc.get("schema") == program + "/1" and in_doc(doc) == value,
            "state.json holds the change: %r" % doc)
    h.check_equal(cl.stop(), 0, "exits 0 on SIGTERM (NSM's quit)")

    # a restart loads the saved state before joining JACK
    cl, ann = start()
    src = ann.source if ann else None
    nsm.send("/nsm/client/open", session, "Test Session", client_id, port=src[1])
    h.check(nsm.wait_for("/reply", timeout=10) is not None, "/reply to the second open")
    h.check(probe.wait_port(client_id + ":" + port, timeout=10), "ports again")
    q = osc.request(query, port=cl.osc_port)
    h.check(q is not None and q.args[0] == value, "the restarted client has the saved state (%r)" % (q,))

    # a corrupt state file makes open fail with a reason and no JACK client
    h.check_equal(cl.stop(), 0, "exits 0")
    with open(path, "w") as f:
        f.write("{corrupt")
    cl, ann = start()
    src = ann.source if ann else None
    nsm.send("/nsm/client/open", session, "Test Session", client_id, port=src[1])
    err = nsm.wait_for("/error", timeout=10)
    h.check(err is not None and err.args[0] == "/nsm/client/open" and err.args[2],
            "open of a corrupt state answers /error with a reason (%r)" % (err,))
    time.sleep(0.5)
    h.check(not any(p.startswith(client_id + ":") for p in probe.port_names()),
            "no JACK client after a failed open")
    with open(path) as f:
        h.check(f.read() == "{corrupt", "the corrupt file is left as it was")
    h.check_equal(cl.stop(), 0, "exits 0")
h.done()
