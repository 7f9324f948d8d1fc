"""cl-seq's optional outputs: --port-per-track sends each track's notes
to its own midi_out_N (the Nth track added) and nothing to midi_out;
--voice-outputs gives each voice its own pair besides the mix;
--alsa-seq on a machine without /dev/snd/seq says why it cannot and keeps
playing on JACK. (Delivery over ALSA is test seq-alsa-delivery, which
needs the sequencer device.)"""

import os
import time

import harness as h
import seq_common as sc

args = h.parse_args()
with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    seq = h.Client(args.client, ["--port-per-track", "--voice-outputs", "--alsa-seq", "--bpm", "240"], srv)
    osc = seq.osc_client()
    ports = [p for p in probe.port_names() if p.startswith(seq.jack_name + ":")]
    h.check(len(ports) == 3 + 32 + 64, "3 + 32 MIDI + 64 voice ports (%d)" % len(ports))
    h.check(seq.port("midi_out_32") in ports and seq.port("voice_32_r") in ports, "midi_out_32, voice_32_r")
    if not os.path.exists("/dev/snd/seq"):
        h.check(seq.wait_line(r"--alsa-seq: .*/dev/snd/seq.*JACK only", timeout=5) is not None,
                "without /dev/snd/seq, --alsa-seq says why and goes on with JACK only")
    h.check(sc.add_track(osc, "kick", "x...x...x...x...", notes=(36,), voice="kick") is None, "track 1: kick")
    h.check(sc.add_track(osc, "hat", "..x...x...x...x.", notes=(42,), voice="hat") is None, "track 2: hat")
    outs = [seq.port("midi_out"), seq.port("midi_out_1"), seq.port("midi_out_2")]
    rec = probe.record(midi=outs, transport=True)
    probe.transport_start()
    time.sleep(0.3)
    cap = probe.capture([seq.port("voice_1_l"), seq.port("voice_2_l"), seq.port("voice_3_l"),
                         seq.port("audio_out_l")], frames=24000)
    probe.transport_stop()
    time.sleep(0.2)
    r = rec.stop()
    by_port = {i: [e.data[1] for e in sc.note_ons(r) if e.port == i] for i in range(3)}
    h.check(not by_port[0], "nothing on midi_out with --port-per-track (%r)" % by_port[0][:4])
    h.check(by_port[1] and set(by_port[1]) == {36}, "track 1's notes on midi_out_1 (%r)" % by_port[1][:4])
    h.check(by_port[2] and set(by_port[2]) == {42}, "track 2's notes on midi_out_2 (%r)" % by_port[2][:4])
    peaks = [h.peak_db(c) for c in cap.channels]
    h.check(peaks[0] > -30 and peaks[1] > -40 and peaks[2] == -float("inf") and peaks[3] > -30,
            "voice_1 and voice_2 sound, voice_3 is silent, the mix sounds (%s)"
            % ", ".join("%.1f" % p for p in peaks))
    h.check_equal(seq.stop(), 0, "exits 0")

    # scripts/studio's demo pattern loads
    demo = os.path.join(os.path.dirname(__file__), "..", "..", "session", "demo-pattern.json")
    seq = h.Client(args.client, ["--pattern", demo], srv)
    q = seq.osc_client().request("/seq/tracks")
    h.check(q is not None and q.args == ["kick", "clap", "hat", "bass"],
            "the studio's demo pattern loads (%r)" % (q.args if q else None,))
    h.check_equal(seq.stop(), 0, "exits 0")
h.done()
