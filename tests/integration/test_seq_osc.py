"""cl-seq's OSC surface and voices on a real server with cl-transport:
every track field answers and feeds back; /seq/step reaches subscribers
at a capped rate; the built-in voices sound on audio_out_l/r while a
pattern plays and are silent once stopped; bad OSC, bad slots (0, 129,
"abc", an empty slot, a corrupt slot file, a wrong-schema slot) get
/cl/error with the reason and change nothing; /seq/pattern/list lists
filled slots; a save over a slot files the previous version in
patterns/backups/ right after its answer, and a previous version a crash
left kept beside its slot is filed when cl-seq starts; without BBT cl-seq
says so and plays at its own --bpm."""

import json
import math
import os
import re
import time

import harness as h
import seq_common as sc

args = h.parse_args()
if not args.transport:
    h.fail("needs --transport (cl-transport)")


def peak_db(samples):
    p = max((abs(x) for x in samples), default=0.0)
    return 20 * math.log10(p) if p > 0 else -math.inf


with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    store = h.tmpdir() + "/store"
    os.makedirs(store + "/patterns/slots")
    # what a crash between a save's answer and its filing leaves: the
    # previous version of slot 3 kept beside the slot
    crash_left = json.dumps({"schema": "cl-seq-pattern/1", "name": "before the crash",
                             "tracks": [{"name": "a", "pattern": "x..."}]}) + "\n"
    with open(store + "/patterns/slots/.slot_003.json.kept-Ab3xZ9", "w") as f:
        f.write(crash_left)
    tp = h.Client(args.transport, ["--bpm", "240"], srv, name="cl-transport")
    seq = h.Client(args.client, ["--store", store], srv)
    tosc, osc = tp.osc_client(), seq.osc_client()
    sub = h.OscClient(port=seq.osc_port)
    sub.request("/cl/subscribe", reply="/cl/ok")

    h.check(sc.add_track(osc, "kick", "X...x...X...x...", notes=(36,), voice="kick", channel=10) is None,
            "kick track with the kick voice")
    h.check(sc.add_track(osc, "bass", "x.xx.x.xx.x.x.xx", notes=(36, 39, 43), voice="acid",
                         gate=0.6) is None, "bass track with the acid voice")
    h.check(sc.add_track(osc, "fast", "x" * 16, notes=(60,), step="1/64", channel=3) is None,
            "a track of 1/64 steps: 64 steps a second at 240 BPM")
    fb = sub.wait_for("/seq/track/bass/voice", timeout=2)
    h.check(fb is not None and fb.args == ["acid"], "voice change fed back (%r)" % (fb,))

    # fields answer their values
    for path, want in [("/seq/track/bass/pattern", ["x.xx.x.xx.x.x.xx"]), ("/seq/track/bass/notes", [36, 39, 43]),
                       ("/seq/track/kick/channel", [10]), ("/seq/track/bass/voice", ["acid"]),
                       ("/seq/track/bass/step", ["1/16"]), ("/seq/tracks", ["kick", "bass", "fast"])]:
        q = osc.request(path)
        h.check(q is not None and q.args == want, "%s answers %r (%r)" % (path, want, q.args if q else None))
    q = osc.request("/seq/track/bass/gate")
    h.check(q is not None and abs(q.args[0] - 0.6) < 1e-6, "gate answers 0.6")
    osc.send("/seq/track/bass/voice/cutoff", 800.0)
    fb = sub.wait_for("/seq/track/bass/voice/cutoff", timeout=2)
    h.check(fb is not None and abs(fb.args[0] - 800) < 1e-3, "a voice parameter is set and fed back")

    # voices sound while playing, silence when stopped
    cap_ports = [seq.port("audio_out_l"), seq.port("audio_out_r")]
    tosc.send("/transport/play")
    probe.wait_transport("rolling")
    time.sleep(0.3)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.5:
        sub.wait_for("/seq/step", timeout=0.05)    # what queued up before the window
    steps = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3.0:
        m = sub.wait_for("/seq/step", timeout=0.2)
        if m:
            steps.append(m.args)
    cap = probe.capture(cap_ports, frames=48000)
    h.check(peak_db(cap.channels[0]) > -30 and peak_db(cap.channels[1]) > -30,
            "voices are audible while the pattern plays (peaks %.1f, %.1f dB)"
            % (peak_db(cap.channels[0]), peak_db(cap.channels[1])))
    h.check(all(-1.0 <= x <= 1.0 for x in cap.channels[0]), "the voice mix stays within full scale")
    kick_steps = [a for a in steps if a[0] == "kick"]
    h.check(len(kick_steps) >= 5 and all(a[1] in (1, 5, 9, 13) for a in kick_steps),
            "/seq/step kick <1|5|9|13> reaches subscribers (%r)" % kick_steps[:6])
    fast = [a for a in steps if a[0] == "fast"]
    h.check(45 <= len(fast) <= 3 * 30 + 2,
            "/seq/step is capped at 30 per second per track: %d for 192 steps in 3 s" % len(fast))
    tosc.send("/transport/stop")
    probe.wait_transport("stopped")
    time.sleep(1.5)
    cap = probe.capture(cap_ports, frames=24000)
    h.check(peak_db(cap.channels[0]) < -90 and peak_db(cap.channels[1]) < -90,
            "silent when stopped (peaks %.1f, %.1f dB)" % (peak_db(cap.channels[0]), peak_db(cap.channels[1])))

    # slots: save, list, and bad slots
    h.check(osc.request("/seq/pattern/name", "Acid test", reply="/cl/error", timeout=0.3) is None, "name set")
    saved = osc.request("/seq/pattern/save", "7", reply=re.compile("/seq/pattern/save|/cl/error"))
    h.check(saved is not None and saved.address == "/seq/pattern/save" and saved.args == [7],
            "save takes the slot as text too ('7')")
    lst = osc.request("/seq/pattern/list")
    h.check(lst is not None and lst.args == [7, "Acid test"], "/seq/pattern/list -> 7 'Acid test' (%r)"
            % (lst.args if lst else None,))
    backups = store + "/patterns/backups"

    def listing(folder, prefix):
        return sorted(n for n in os.listdir(folder) if n.startswith(prefix))

    filed = listing(backups, "slot_003-")
    h.check(len(filed) == 1 and open(os.path.join(backups, filed[0])).read() == crash_left
            and listing(store + "/patterns/slots", ".") == [],
            "the version a crash left kept beside slot 3 was filed at start, byte for byte (%s)" % filed)
    with open(store + "/patterns/slots/slot_007.json") as f:
        first_save = f.read()
    h.check(osc.request("/seq/pattern/name", "Acid test 2", reply="/cl/error", timeout=0.3) is None,
            "name changed")
    saved = osc.request("/seq/pattern/save", 7, reply=re.compile("/seq/pattern/save|/cl/error"))
    h.check(saved is not None and saved.address == "/seq/pattern/save", "slot 7 saved again")
    deadline = time.monotonic() + 2.0
    # the backup link comes first, the kept name goes once the link is durable
    while (not listing(backups, "slot_007-") or listing(store + "/patterns/slots", ".")) \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    filed = listing(backups, "slot_007-")
    h.check(len(filed) == 1 and re.fullmatch(r"slot_007-\d{8}T\d{6}Z\.json", filed[0])
            and open(os.path.join(backups, filed[0])).read() == first_save
            and listing(store + "/patterns/slots", ".") == [],
            "the previous version of slot 7 is filed as %s, byte for byte, nothing left beside "
            "the slot (%s)" % (filed, listing(store + "/patterns/slots", ".")))
    lst = osc.request("/seq/pattern/list")
    h.check(lst is not None and lst.args == [7, "Acid test 2"], "slot 7 holds the new version (%r)"
            % (lst.args if lst else None,))
    os.makedirs(store + "/patterns/slots", exist_ok=True)
    with open(store + "/patterns/slots/slot_009.json", "w") as f:
        f.write('{"schema": "cl-seq-pattern/1", "tracks": [{"name": "a", "pattern": "x')
    with open(store + "/patterns/slots/slot_010.json", "w") as f:
        json.dump({"schema": "cl-fx-chain/1", "effects": []}, f)
    with open(store + "/patterns/slots/slot_011.json", "w") as f:
        json.dump({"schema": "cl-seq-pattern/1", "tracks": [{"name": "a", "pattern": "xq"}]}, f)
    before = osc.request("/cl/state/get", reply="/cl/state").args[0]
    bad = [("/seq/pattern/load", (0,)), ("/seq/pattern/load", (129,)), ("/seq/pattern/load", ("abc",)),
           ("/seq/pattern/load", (77,)), ("/seq/pattern/load", (9,)), ("/seq/pattern/load", (10,)),
           ("/seq/pattern/load", (11,)), ("/seq/pattern/load", (5.5,)), ("/seq/pattern/load", ()),
           ("/seq/pattern/load", (7, "later")), ("/seq/pattern/save", (0,)), ("/seq/pattern/save", ("x5",)),
           ("/seq/track/nope/pattern", ("x...",)), ("/seq/track/bass/pattern", ("x.q.",)),
           ("/seq/track/bass/pattern", ("x" * 65,)), ("/seq/track/bass/pattern", ("",)),
           ("/seq/track/bass/notes", (128,)), ("/seq/track/bass/notes", ("C4",)),
           ("/seq/track/bass/velocity", (0,)), ("/seq/track/bass/velocity", (200,)),
           ("/seq/track/bass/gate", (3.0,)), ("/seq/track/bass/swing", (0.9,)),
           ("/seq/track/bass/channel", (17,)), ("/seq/track/bass/step", ("1/7",)),
           ("/seq/track/bass/voice", ("piano",)), ("/seq/track/bass/voice/nothing", (1.0,)),
           ("/seq/track/bass/voice/cutoff", (1e9,)), ("/seq/track/bass/probability", (99, 50)),
           ("/seq/track/bass/ratchet", (1, 9)), ("/seq/track/add", ("bass",)),
           ("/seq/track/add", ("bad name",)), ("/seq/track/remove", ("ghost",)),
           ("/seq/swing", (0.8,)), ("/seq/bpm", (5,))]
    for path, a in bad:
        e = osc.request(path, *a, reply="/cl/error", timeout=2)
        h.check(e is not None and e.args[0] == path and e.args[1],
                "%s %r -> /cl/error (%s)" % (path, a, e.args[1] if e else None))
    after = osc.request("/cl/state/get", reply="/cl/state").args[0]
    h.check(before == after, "nothing changed after %d refused messages" % len(bad))
    e = osc.request("/seq/pattern/load", 77, reply="/cl/error")
    h.check(e is not None and "empty" in e.args[1], "an empty slot says so (%s)" % (e.args[1] if e else None))
    e = osc.request("/seq/pattern/load", 129, reply="/cl/error")
    h.check(e is not None and "1..128" in e.args[1], "slot 129: the range is named (%s)" % (e.args[1] if e else None))

    # a raw, broken datagram changes nothing either
    osc.send_raw(b"/seq/track/bass/pattern\x00,s\x00\x00abc")
    h.check(osc.request("/cl/ping", reply="/cl/pong") is not None, "still answering after a broken datagram")
    h.check_equal(seq.stop(), 0, "cl-seq exits 0")
    tp.stop()

# without a timebase master: own tempo, and it says so
with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    seq = h.Client(args.client, ["--bpm", "150"], srv)
    osc = seq.osc_client()
    h.check(sc.add_track(osc, "kick", "x...x...x...x...", notes=(36,)) is None, "kick track")
    rec = probe.record(midi=[seq.port("midi_out")], transport=True)
    probe.transport_start()
    time.sleep(2.0)
    probe.transport_stop()
    time.sleep(0.2)
    r = rec.stop()
    ons = [e.tframe for e in sc.note_ons(r) if e.rolling]
    want = [sc.beat_frame(k, 150) for k in range(len(ons))]
    h.check(len(ons) >= 4 and ons == want, "no BBT: beats at 150 BPM from the transport frame (%s vs %s)"
            % (ons[:3], want[:3]))
    h.check(seq.wait_line(r"no timebase master gives BBT", timeout=3) is not None, "it says there is no BBT")
    st = json.loads(osc.request("/cl/status", reply="/cl/status").args[0])
    h.check(st["transport"]["clock"] == "own", "/cl/status says clock own")
    h.check_equal(seq.stop(), 0, "cl-seq exits 0")
h.done()
