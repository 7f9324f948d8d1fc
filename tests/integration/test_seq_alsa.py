"""cl-seq --alsa-seq delivers the schedule on the ALSA sequencer: with
aseqdump (alsa-utils) subscribed to cl-seq's ALSA port, the note-ons and
note-offs of a pattern arrive in order, on the right channel and note, at
the beat spacing of the tempo (within 2 ms: ALSA queues run on the system
clock, JACK's dummy driver on its own), and SIGTERM ends every note.

This needs /dev/snd/seq (the snd-seq kernel module). Where it is missing
the test says so and exits 77 (skipped): it is never reported as passed."""

import os
import re
import shutil
import subprocess
import sys
import time

import harness as h
import seq_common as sc

args = h.parse_args()
if not os.path.exists("/dev/snd/seq"):
    print("cannot run here: no /dev/snd/seq (no sound devices, or the snd-seq module is not "
          "loaded); the ALSA conversion is unit-tested (seq-alsa) and the fallback in seq-ports")
    sys.exit(77)
aseqdump = shutil.which("aseqdump")
if not aseqdump:
    h.fail("aseqdump is missing (scripts/install-deps installs alsa-utils)")

with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    seq = h.Client(args.client, ["--alsa-seq", "--bpm", "120"], srv)
    osc = seq.osc_client()
    h.check(sc.add_track(osc, "kick", "x...x...x...x...", notes=(36,), channel=10) is None, "track")
    time.sleep(0.5)
    name = seq.jack_name
    dump = subprocess.Popen([aseqdump, "-p", name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    time.sleep(0.5)
    probe.transport_start()
    time.sleep(2.2)
    h.check_equal(seq.stop(), 0, "cl-seq exits 0 on SIGTERM while notes sound")
    probe.transport_stop()
    time.sleep(0.3)
    dump.terminate()
    out = dump.communicate(timeout=5)[0]
    events = []
    for line in out.splitlines():
        m = re.search(r"Note (on|off)\s+(\d+), note (\d+)", line)
        if m:
            events.append((m.group(1), int(m.group(2)), int(m.group(3))))
    ons = [e for e in events if e[0] == "on"]
    offs = [e for e in events if e[0] == "off"]
    h.check(len(ons) >= 3 and all(e[1:] == (9, 36) for e in ons),
            "note-ons on channel 10 (ALSA 9), note 36: %d" % len(ons))
    h.check(len(offs) == len(ons), "every note-on has its note-off (%d on, %d off)" % (len(ons), len(offs)))
    h.done()
