"""cl-transport --follow under another timebase master (a second
cl-transport): the follower's MIDI clocks land on exactly the master's
frames, it reports the master's tempo, and it refuses tempo changes (the
master owns them) while play and stop still work for everyone."""

import json
import re
import time

import harness as h
from transport_common import clocks

BPM = 133

args = h.parse_args()
with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    master = h.Client(args.client, ["--bpm", str(BPM), "--meter", "3/4"], srv, name="master")
    follower = h.Client(args.client, ["--follow"], srv, name="follower")
    mosc, fosc = master.osc_client(), follower.osc_client()
    h.check(probe.wait_port(master.port("clock_out")) and probe.wait_port(follower.port("clock_out")),
            "both clock outputs exist")
    e = fosc.request("/transport/bpm", 90, reply=re.compile("/cl/(ok|error)"))
    h.check(e is not None and e.address == "/cl/error" and "master" in e.args[1],
            "the follower refuses a tempo change (%r)" % (e,))
    rec = probe.record(midi=[master.port("clock_out"), follower.port("clock_out")], transport=True)
    fosc.send("/transport/play")           # any client may start the transport
    # 4 s of transport frames, not of wall time: a loaded machine runs the
    # dummy driver late
    h.check(probe.wait_frame(4 * 48000), "the transport rolled 4 s")
    s = fosc.request("/cl/status")
    st = json.loads(s.args[0]) if s else {}
    h.check(st.get("transport", {}).get("bpm") == 133.0 and
            st.get("jack", {}).get("timebase_master") is False,
            "the follower reports the master's 133 BPM, not master itself: %r" % st)
    mosc.send("/transport/stop")
    h.check(probe.wait_transport("stopped")["state"] == "stopped", "stopped")
    time.sleep(0.3)                        # the Stop message's cycle reaches the recording
    r = rec.stop()
    ours = [e.tframe for e in clocks(r) if e.port == 0 and e.rolling]
    theirs = [e.tframe for e in clocks(r) if e.port == 1 and e.rolling]
    h.check(len(ours) > 150, "%d master clocks in 4 s" % len(ours))
    diff = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), None)
    h.check(len(theirs) == len(ours) and diff is None,
            "the follower's %d clocks are on the master's %d frames (first difference at %s)"
            % (len(theirs), len(ours), diff))
    rt1 = [e.data for e in r.events if e.port == 1 and e.data != b"\xf8"]
    h.check(rt1[:1] == [b"\xfa"] and rt1[-1:] == [b"\xfc"],
            "the follower sends Start and Stop too (%r)" % rt1)
    h.check_equal(follower.stop(), 0, "follower exits 0")
    h.check_equal(master.stop(), 0, "master exits 0")
h.done()
