"""The JACK server goes away and comes back: the client says so, keeps
answering OSC meanwhile (refusing what needs JACK with a reason, keeping
what it is told), and returns with the same ports and its state, working
again. Runs against any client; CLIENTS holds what differs."""

import re
import time

import harness as h


def transport_during(osc):
    e = osc.request("/transport/play", reply=re.compile("/cl/(ok|error)"))
    h.check(e is not None and e.address == "/cl/error" and "away" in e.args[1],
            "play without a server is refused with a reason (%r)" % (e,))
    osc.send("/transport/bpm", 133)      # remembered for when the server returns


def transport_after(cl, osc, probe):
    osc.send("/transport/play")
    time.sleep(1.0)
    t = probe.transport()
    h.check(t["state"] == "rolling" and t["bbt"] and t["bpm"] == 133.0,
            "rolling again at 133 BPM with BBT after the restart: %r" % t)


def mixer_during(osc):
    osc.send("/mixer/1/volume", -6.0)    # kept while the server is away
    osc.send("/mixer/1/pan", -1.0)
    q = osc.request("/mixer/1/volume")
    h.check(q is not None and q.args == [-6.0], "the mixer takes changes while the server is away")


def mixer_after(cl, osc, probe):
    play = probe.play([cl.port("ch1_in_l")], sine=997, db=0.0)
    time.sleep(0.2)
    cap = probe.capture([cl.port("master_out_l")], frames=24000)
    h.check_close(h.peak_db(cap.channels[0]), -6.0, 0.1,
                  "after the restart a sine comes out at the fader set while away")
    play.stop()


def fx_during(osc):
    osc.send("/fx/add", "peq")           # built now, running once the server is back
    q = osc.request("/fx/chain")
    h.check(q is not None and q.args == ["peq"], "the rack takes an edit while the server is away")


def fx_after(cl, osc, probe):
    play = probe.play([cl.port("in_l")], sine=997, db=-6.0)
    time.sleep(0.2)
    cap = probe.capture([cl.port("out_l")], frames=24000)
    h.check_close(h.peak_db(cap.channels[0]), -6.0, 0.1,
                  "after the restart a sine passes the (flat) chain at its level")
    play.stop()


def seq_during(osc):
    for path, a in [("/seq/track/add", ("kick",)), ("/seq/track/kick/pattern", ("X...X...X...X...",)),
                    ("/seq/track/kick/voice", ("kick",))]:
        osc.send(path, *a)                # kept while the server is away
    q = osc.request("/seq/tracks")
    h.check(q is not None and q.args == ["kick"], "the sequencer takes edits while the server is away")


def seq_after(cl, osc, probe):
    rec = probe.record(midi=[cl.port("midi_out")], transport=True)
    probe.transport_start()
    time.sleep(0.3)
    cap = probe.capture([cl.port("audio_out_l")], frames=24000)
    probe.transport_stop()
    time.sleep(0.2)
    r = rec.stop()
    h.check(h.peak_db(cap.channels[0]) > -30, "after the restart the kick voice sounds (%.1f dB)"
            % h.peak_db(cap.channels[0]))
    h.check(any(e.data[0] == 0x90 for e in r.events), "and the notes go out on midi_out")


CLIENTS = {
    "cl-fx": ([], ["in_l", "in_r", "midi_in", "out_l", "out_r"], fx_during, fx_after),
    "cl-seq": ([], ["audio_out_l", "audio_out_r", "midi_out"], seq_during, seq_after),
    "cl-transport": (["--click"], ["click_out", "clock_out"], transport_during, transport_after),
    "cl-mixer": (["--channels", "1", "--aux", "1"],
                 ["aux1_out_l", "aux1_out_r", "ch1_in_l", "ch1_in_r", "master_out_l",
                  "master_out_r", "midi_in"], mixer_during, mixer_after),
}

args = h.parse_args()
program = h.os.path.basename(args.client).replace("-rtsan", "")
extra, ports, during, after = CLIENTS[program]
with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    cl = h.Client(args.client, extra, srv)
    osc = cl.osc_client()
    mine = sorted(p for p in probe.port_names() if p.startswith(cl.jack_name + ":"))
    h.check_equal(mine, [cl.port(p) for p in ports], "ports before")

    srv.stop(kill=True)
    h.check(cl.wait_line(r"JACK server lost", timeout=10) is not None,
            "the client says the server is gone")
    h.check(cl.running(), "the client keeps running without a server")
    h.check(osc.request("/cl/ping", reply="/cl/pong") is not None, "OSC answers meanwhile")
    during(osc)

    srv.start()
    h.check(cl.wait_line(r"JACK server back", timeout=15) is not None,
            "the client says the server is back")
    h.check(probe.wait_port(cl.port(ports[-1]), timeout=10), "its ports are back")
    mine = sorted(p for p in probe.port_names() if p.startswith(cl.jack_name + ":"))
    h.check_equal(mine, [cl.port(p) for p in ports], "the same ports after")
    after(cl, osc, probe)
    h.check_equal(cl.stop(), 0, "exits 0 on SIGTERM")
h.done()
