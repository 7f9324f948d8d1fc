"""The JACK server goes away and comes back: cl-transport says so, keeps
answering OSC meanwhile (refusing transport commands with a reason), and
returns with the same ports, as timebase master, rolling again when told."""

import re
import time

import harness as h

args = h.parse_args()
with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    name = h.unique_name("tp")
    cl = h.Client(args.client, ["--name", name, "--click"], srv)
    osc = cl.osc_client()
    ports = sorted(p for p in probe.port_names() if p.startswith(name + ":"))
    h.check_equal(ports, [name + ":click_out", name + ":clock_out"], "ports before")

    srv.stop(kill=True)
    h.check(cl.wait_line(r"JACK server lost", timeout=10) is not None,
            "the client says the server is gone")
    h.check(cl.running(), "the client keeps running without a server")
    h.check(osc.request("/cl/ping", reply="/cl/pong") is not None, "OSC answers meanwhile")
    e = osc.request("/transport/play", reply=re.compile("/cl/(ok|error)"))
    h.check(e is not None and e.address == "/cl/error" and "away" in e.args[1],
            "play without a server is refused with a reason (%r)" % (e,))
    osc.send("/transport/bpm", 133)      # remembered for when the server returns

    srv.start()
    h.check(cl.wait_line(r"JACK server back", timeout=15) is not None,
            "the client says the server is back")
    h.check(probe.wait_port(name + ":clock_out", timeout=10), "clock_out is back")
    ports = sorted(p for p in probe.port_names() if p.startswith(name + ":"))
    h.check_equal(ports, [name + ":click_out", name + ":clock_out"], "the same ports after")

    osc.send("/transport/play")
    time.sleep(1.0)
    t = probe.transport()
    h.check(t["state"] == "rolling" and t["bbt"] and t["bpm"] == 133.0,
            "rolling again at 133 BPM with BBT after the restart: %r" % t)
    h.check_equal(cl.stop(), 0, "cl-transport exits 0 on SIGTERM")
h.done()
