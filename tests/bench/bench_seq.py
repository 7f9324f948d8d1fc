"""cl-seq benchmarks, each printed beside a peer measured in the same run
on the same machine (issue 5):

1. Event placement error in frames over --bars (1000) bars at 120, 133.33,
   174 and 199 BPM, 48 kHz, 256-frame periods. cl-transport is the
   timebase master; cl-seq plays a kick on every beat (gate 0.5) and a
   hat on every 16th (gate 0.25); `cl-probe record --transport` captures
   its midi_out with the transport frame of every event. The expected
   frame of musical position b (beats) is ceil(b * 60 * rate / bpm), the
   rule of clients/cl-seq/timing.h; every note-on and note-off is
   compared, and the error must be 0 (the physical limit). The peer,
   Hydrogen (h2cli, package hydrogen), runs headless on the same server
   in the same run with the same pattern (GMRockKit kick and closed hat,
   4 on the floor and 16ths), JACK audio, JACK-MIDI out and JACK
   transport following; its note-ons are recorded on another port of the
   same recorder and each expected beat/16th is matched to the nearest
   one. (Hydrogen follows the transport position but not the master's
   tempo, so its song is written at the same tempo; it writes MIDI from
   its own "Hydrogen-midi" client at frames 0, 1, 2 ... of a cycle.)
   1000 bars at 120 BPM are 33 minutes: the graph runs in JACK freewheel
   mode (`jack_freewheel y`; note that `jack_freewheel on` reads "o" as
   "no" and only prints "failed to reset freewheel mode"). A short check
   first proves that freewheel advances the transport faster than real
   time; if it does not, the benchmark says why and measures the bar
   count that fits about 3 minutes of real time instead.
2. Pattern save and load latency. Over OSC: /seq/pattern/save and
   /seq/pattern/load round trips (median, p99 of --runs each, slots
   round robin, each save with a previous version to back up) with the
   store on the real disk (ext4 under /tmp) and on /dev/shm, beside the
   /cl/ping round trip (the OSC floor). In C (bench-seq-save, linked with
   patterndoc.c): seq_slot_save() (what cl-seq answers after: the new
   version and the previous one durable), the filing of the previous
   version into backups/ that follows the answer, and seq_slot_load(),
   beside a bare write+fsync of the same bytes to the same folder,
   interleaved, plus a step-by-step replay of both. Goals: save within 2x
   of the bare fsync cost (printed PASS/FAIL with the breakdown; it does
   not fail the benchmark), load p99 under 1 ms (fails it).
3. DSP time per 64-frame period (1333 us) for 8 tracks with voices (2
   kick, snare, 2 hat, clap, 2 acid) on busy patterns: cl-seq's own cycle
   time from /cl/status (median, p99), its JACK DSP load and process CPU
   over --dsp-seconds; the peer is Hydrogen playing 8 GMRockKit
   instruments on the same patterns (JACK DSP load and process CPU),
   each beside the load of the same server with only cl-transport
   rolling (measured first, on each server). Both servers run in JACK2's
   default asynchronous mode: in synchronous mode (-S) Hydrogen holds the
   whole graph for 5 s and more while it activates its MIDI client.

Fails (exit 1) on a cl-seq placement error other than 0 (or a recording
that cannot prove it: missing cycles, lost records, missing events) and
on a load p99 over 1 ms. Hydrogen not running here is reported, with its
error, not failed.

    python3 bench_seq.py --client cl-seq --transport cl-transport \\
        --probe cl-probe --save-bench bench-seq-save
"""

import argparse
import bisect
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from fractions import Fraction

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import harness as h                                          # noqa: E402
import seq_common as sc                                      # noqa: E402

RATE = 48000
PLACE_PERIOD = 256
DSP_PERIOD = 64
DSP_PERIOD_US = DSP_PERIOD * 1e6 / RATE
TEMPOS = (120, 133.33, 174, 199)
FREEWHEEL_MIN_SPEED = 5.0      # x real time: below this, freewheel "does not work"
REALTIME_BUDGET_S = 180.0      # music time measured when freewheel does not work
H2_SETTLE_S = 2.0              # after its ports appear, Hydrogen still loads samples
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The placement pattern (cl-seq tracks and Hydrogen instruments alike).
KICK = "X...X...X...X..."
HAT16 = "x" * 16
# The DSP pattern: track -> (voice, notes, steps, Hydrogen GMRockKit
# instrument id playing the same steps).
DSP_TRACKS = [
    ("kick", "kick", [36], "X...X...X...X...", 0),
    ("kick2", "kick", [35], "..x...x...x.x..x", 5),
    ("snare", "snare", [38], "....X.......X.x.", 2),
    ("hat", "hat", [42], "xxXxxxXxxxXxxxXx", 6),
    ("openhat", "hat", [46], "..x...x...x...x.", 10),
    ("clap", "clap", [39], "....x.......x..x", 3),
    ("acid", "acid", [36, 39, 43, 48, 46], "xxXx.xXxxXxxXx.x", 7),
    ("acid2", "acid", [48, 51, 55, 60], "x.xXxxXxx.xXxxXx", 9),
]
DSP_VOICES = {"kick2": {"freq": 65.0, "decay": 0.3}, "openhat": {"decay": 0.5},
              "acid": {"cutoff": 600.0, "res": 0.7, "env_amount": 3000.0},
              "acid2": {"cutoff": 1500.0, "res": 0.5, "tune": 12.0, "drive": 0.5}}

ap = argparse.ArgumentParser(add_help=False)
ap.add_argument("--save-bench", help="path of bench-seq-save")
ap.add_argument("--bars", type=int, default=1000, help="bars per tempo (placement)")
ap.add_argument("--runs", type=int, default=200, help="save/load round trips of each kind")
ap.add_argument("--dsp-seconds", type=float, default=10.0, help="DSP measuring window")
own, rest = ap.parse_known_args()
args = h.parse_args(rest)
if not args.transport:
    h.fail("needs --transport (cl-transport)")
if not own.save_bench:
    h.fail("needs --save-bench (bench-seq-save)")
H2CLI = shutil.which("h2cli")
JACK_FREEWHEEL = shutil.which("jack_freewheel")
H2_DATA = "/usr/share/hydrogen/data"
H2_SONG_BASE = os.path.join(H2_DATA, "demo_songs", "GM_kit_demo1.h2song")
H2_CONF_BASE = os.path.join(H2_DATA, "hydrogen.default.conf")
H2_BANNER = ("Hydrogen 1.", "Copyright", "WARRANTY", "free software", "certain conditions")
work = h.tmpdir()
T_START = time.monotonic()


def elapsed():
    return "%.0f s" % (time.monotonic() - T_START)


def fs_type_of(path):
    """File system type of the mount holding path (from /proc/mounts)."""
    best, kind = "", "?"
    real = os.path.realpath(path)
    with open("/proc/mounts") as f:
        for line in f:
            w = line.split()
            mnt = w[1].replace("\\040", " ")
            if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                best, kind = mnt, w[2]
    return kind


# the "disk" stores must be on a real disk, not a RAM file system
disk = work if fs_type_of(work) not in ("tmpfs", "ramfs") else os.getcwd()


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def quantiles(values):
    """(median, p99) of a list (None, None when empty)."""
    if not values:
        return None, None
    v = sorted(values)
    return statistics.median(v), v[min(len(v) - 1, int(len(v) * 0.99))]


def fmt(x, spec="%.1f"):
    return spec % x if x is not None else "-"


def verdict(ok):
    return "PASS" if ok else "FAIL"


# ---------------------------------------------------------------------------
# JACK freewheel and Hydrogen


def freewheel(srv, on):
    """Switch the server's freewheel mode with jack_freewheel; (ok, what it
    printed). jack_freewheel exits 0 even when it fails."""
    if not JACK_FREEWHEEL:
        return False, "jack_freewheel is not installed (package jackd2)"
    r = subprocess.run([JACK_FREEWHEEL, "y" if on else "n"], env=srv.env, capture_output=True,
                       text=True, timeout=30)
    said = (r.stdout + r.stderr).strip()
    said = " ".join(l for l in said.splitlines() if not l.startswith("Jack:"))
    return r.returncode == 0 and "fail" not in said, said


def transport_frame(tosc):
    """cl-transport's transport frame from /cl/status, or None."""
    m = tosc.request("/cl/status", timeout=3)
    try:
        return json.loads(m.args[0])["transport"]["frame"] if m else None
    except (ValueError, KeyError, TypeError):
        return None


def hydrogen_files(folder, bpm, notes):
    """A HOME with a Hydrogen configuration (JACK audio, JACK-MIDI, JACK
    transport, no auto-connections) and a one-bar looping song at bpm
    built from the GMRockKit demo song; notes = [(instrument, steps)].
    Every instrument sends MIDI on channel 10. Returns (home, song)."""
    home = os.path.join(folder, "h2home")
    os.makedirs(os.path.join(home, ".hydrogen"), exist_ok=True)
    with open(H2_CONF_BASE) as f:
        conf = f.read()
    for a, b in (("<audio_driver>Auto</audio_driver>", "<audio_driver>JACK</audio_driver>"),
                 ("<driverName>ALSA</driverName>", "<driverName>JACK-MIDI</driverName>"),
                 ("<jack_connect_defaults>true<", "<jack_connect_defaults>false<")):
        if a not in conf:
            raise RuntimeError("%s has no %s: another Hydrogen version" % (H2_CONF_BASE, a))
        conf = conf.replace(a, b)
    with open(os.path.join(home, ".hydrogen", "hydrogen.conf"), "w") as f:
        f.write(conf)
    tree = ET.parse(H2_SONG_BASE)
    root = tree.getroot()
    for key, value in (("bpm", repr(float(bpm))), ("humanize_time", "0"),
                       ("humanize_velocity", "0"), ("swing_factor", "0"),
                       ("loopEnabled", "true"), ("mode", "song")):
        root.find(key).text = value
    for ins in root.find("instrumentList"):
        ins.find("midiOutChannel").text = "9"
    patterns = root.find("patternList")
    for p in list(patterns):
        patterns.remove(p)
    pat = ET.SubElement(patterns, "pattern")
    for key, value in (("name", "bench"), ("category", "bench"), ("size", "192"),
                       ("denominator", "4"), ("info", "")):
        ET.SubElement(pat, key).text = value
    note_list = ET.SubElement(pat, "noteList")
    for ins, steps in notes:
        for i, c in enumerate(steps):
            if c == ".":
                continue
            n = ET.SubElement(note_list, "note")
            for key, value in (("position", str(12 * i)), ("leadlag", "0"),
                               ("velocity", "1" if c == "X" else "0.8"), ("pan", "0"),
                               ("pitch", "0"), ("probability", "1"), ("key", "C0"),
                               ("length", "-1"), ("instrument", str(ins)),
                               ("note_off", "false")):
                ET.SubElement(n, key).text = value
    seq = root.find("patternSequence")
    for g in list(seq):
        seq.remove(g)
    ET.SubElement(ET.SubElement(seq, "group"), "patternID").text = "bench"
    song = os.path.join(folder, "bench-%g.h2song" % bpm)
    tree.write(song, encoding="UTF-8", xml_declaration=True)
    return home, song


def start_hydrogen(srv, probe, folder, bpm, notes):
    """h2cli playing a song on srv; (Client, None) once its ports are up
    and it has settled, or (None, why it cannot run)."""
    if not H2CLI:
        return None, "h2cli is not installed (Debian package hydrogen)"
    if not os.path.exists(H2_SONG_BASE):
        return None, "%s is missing (package hydrogen-data)" % H2_SONG_BASE
    try:
        home, song = hydrogen_files(folder, bpm, notes)
        h2 = h.Client(H2CLI, ["-d", "jack", "-s", song], srv, osc=False, name="h2cli",
                      env={"HOME": home})
    except (OSError, RuntimeError, ET.ParseError, AttributeError) as e:
        return None, "cannot set Hydrogen up: %s" % e
    # While it starts, Hydrogen can hold the graph long enough that no
    # other client can open: ask again until the deadline.
    deadline = time.monotonic() + 45
    up = False
    while not up and h2.running() and time.monotonic() < deadline:
        up = probe.wait_port("Hydrogen:out_L", timeout=5) and probe.wait_port(
            "Hydrogen-midi:TX", timeout=5)
    if not up or not h2.running():
        rc = stop_hydrogen(h2)
        said = [l for l in h2.lines if l.strip() and not any(
            b in l for b in H2_BANNER)][-3:]
        try:
            with open(os.path.join(home, ".hydrogen", "hydrogen.log"), errors="replace") as f:
                said += [l.strip() for l in f if "(E)" in l][-3:]
        except OSError:
            pass
        return None, "h2cli did not bring up Hydrogen:out_L and Hydrogen-midi:TX " \
                     "(exit status %s): %s" % (rc, " | ".join(said) or "no output")
    time.sleep(H2_SETTLE_S)
    return h2, None


def stop_hydrogen(h2):
    """h2cli quits cleanly on SIGINT only (SIGTERM kills it mid-graph and
    then stalls jackd for the next client to close). Its exit status."""
    h2.signal(signal.SIGINT)
    rc = h2.wait(15)
    return rc if rc is not None else h2.stop()


# ---------------------------------------------------------------------------
# 1. placement


def freewheel_check():
    """Does freewheel run the transport faster than real time here?
    (speed in x real time or None, message)."""
    with h.JackServer(rate=RATE, period=PLACE_PERIOD) as srv:
        tp = h.Client(args.transport, ["--bpm", "120"], srv, name="cl-transport")
        tosc = tp.osc_client()
        ok, said = freewheel(srv, True)
        if not ok:
            tp.stop()
            return None, "jack_freewheel y failed: %s" % (said or "no message")
        tosc.send("/transport/play")
        time.sleep(0.2)
        f0, t0 = transport_frame(tosc), time.monotonic()
        time.sleep(1.0)
        f1, t1 = transport_frame(tosc), time.monotonic()
        tosc.send("/transport/stop")
        off, said_off = freewheel(srv, False)
        tp.stop()
        if f0 is None or f1 is None:
            return None, "cl-transport did not answer /cl/status while freewheeling"
        speed = (f1 - f0) / RATE / (t1 - t0)
        msg = "freewheel: the transport advanced %d frames in %.2f s of wall time (%.0fx real " \
              "time)%s" % (f1 - f0, t1 - t0, speed, "" if off else
                           "; jack_freewheel n failed: " + said_off)
        return speed, msg


def expected(positions, bpm):
    return [sc.beat_frame(b, bpm) for b in positions]


def nearest_errors(got, want, tolerance):
    """Match every wanted frame to the nearest got frame: (errors of the
    matched ones, missing count)."""
    errs, missing = [], 0
    for w in want:
        i = bisect.bisect_left(got, w)
        cands = [got[j] for j in (i - 1, i) if 0 <= j < len(got)]
        g = min(cands, key=lambda x: abs(x - w)) if cands else None
        if g is None or abs(g - w) > tolerance:
            missing += 1
        else:
            errs.append(g - w)
    return errs, missing


def placement_run(bpm, bars, use_freewheel):
    """One tempo: cl-seq (and Hydrogen when it runs) over `bars` bars.
    Returns a dict of results. The server runs asynchronously when it
    freewheels (the freewheel driver waits for the whole graph anyway):
    in synchronous mode (-S) Hydrogen holds the graph for 5 s and more
    while it activates its MIDI client."""
    end = sc.beat_frame(bars * 4, bpm)
    res = {"bpm": bpm, "bars": bars, "end": end}
    with h.JackServer(rate=RATE, period=PLACE_PERIOD, sync=not use_freewheel) as srv:
        probe = h.Probe(srv)
        tp = h.Client(args.transport, ["--bpm", repr(float(bpm))], srv, name="cl-transport")
        seq = h.Client(args.client, [], srv, name="cl-seq")
        tosc, osc = tp.osc_client(), seq.osc_client()
        err = sc.add_track(osc, "kick", KICK, notes=(36,), gate=0.5, channel=10)
        err = err or sc.add_track(osc, "hat", HAT16, notes=(42,), gate=0.25, channel=10)
        h.check(err is None, "%g BPM: cl-seq set up (kick on every beat, hat on every 16th): %r"
                % (bpm, err.args if err else None))
        h2, res["h2_note"] = start_hydrogen(srv, probe, os.path.join(work, "h2-%g" % bpm), bpm,
                                            [(0, KICK), (6, HAT16)])
        ports = [seq.port("midi_out")] + (["Hydrogen-midi:TX"] if h2 else [])
        rec = probe.record(midi=ports, transport=True)
        fw, res["fw_note"] = freewheel(srv, True) if use_freewheel else (False, "")
        t0 = time.monotonic()
        tosc.send("/transport/play")
        music = bars * 4 * 60.0 / bpm
        if use_freewheel and not fw:   # worked in the check, not now: no 30 minutes
            deadline = t0 + 10
            res["fw_note"] = "jack_freewheel y failed: " + (res["fw_note"] or "no message")
        else:
            deadline = t0 + (240.0 if fw else music * 1.2 + 30)
        frame = 0
        while time.monotonic() < deadline:
            frame = transport_frame(tosc) or frame
            if frame > end + PLACE_PERIOD:
                break
            time.sleep(0.05 if fw else 0.2)
        res["wall"] = time.monotonic() - t0
        res["frames"] = frame
        tosc.send("/transport/stop")
        if fw:
            off, said = freewheel(srv, False)
            if not off:
                print("# jack_freewheel n failed: " + said)
        probe.wait_transport("stopped", timeout=10)
        r = rec.stop()
        if h2:
            res["h2_exit"] = stop_hydrogen(h2)
        res["seq_exit"] = seq.stop()
        tp.stop()
    res["freewheel"] = fw

    # no cycle missing while rolling, nothing lost
    gaps = [(p.pos_frame, c.pos_frame) for p, c in zip(r.cycles, r.cycles[1:])
            if p.state == 1 and c.state == 1 and c.pos_frame != p.pos_frame + r.period]
    res["recording_ok"] = r.complete and r.overruns == 0 and not gaps and (fw or r.xruns == 0)
    res["recording"] = "cycles %d, overruns %s, xruns %s, gaps %s" % (
        len(r.cycles), r.overruns, r.xruns, gaps[:3])
    res["reached"] = frame > end
    c0 = r.cycles[0].frame if r.cycles else 0

    # cl-seq: every note-on and note-off, exactly
    ev = [e for e in r.events if e.port == 0 and e.rolling and e.tframe < end]
    want = {
        "kick on": expected(range(bars * 4), bpm),
        "kick off": expected((k + Fraction(1, 8) for k in range(bars * 4)), bpm),
        "hat on": expected((Fraction(j, 4) for j in range(bars * 16)), bpm),
        "hat off": expected((Fraction(j, 4) + Fraction(1, 16) for j in range(bars * 16)), bpm),
    }
    errors, mismatch, count = [], [], 0
    for key, frames in want.items():
        note = 36 if key.startswith("kick") else 42
        got = sorted(e.tframe for e in ev if _is(e, note, key.endswith("on")))
        if len(got) != len(frames):
            mismatch.append("%s: %d events, want %d" % (key, len(got), len(frames)))
        errors += [g - w for g, w in zip(got, frames)]
        count += len(got)
    ons = [e for e in ev if _is(e, None, True)]
    inside = sum(1 for e in ons if (e.frame - c0) % r.period)
    res["seq_events"] = count
    res["seq_worst"] = max((abs(x) for x in errors), default=None)
    res["seq_mean"] = statistics.fmean(abs(x) for x in errors) if errors else None
    res["seq_mismatch"] = mismatch
    res["seq_inside"] = 100.0 * inside / len(ons) if ons else None

    # Hydrogen: note-ons only (it sends a note-off right before each
    # note-on), each wanted one matched to the nearest
    if h2:
        herr, hmiss, hcount = [], 0, 0
        for note, frames, step in ((36, want["kick on"], 1), (42, want["hat on"], Fraction(1, 4))):
            got = sorted(e.tframe for e in r.events
                         if e.port == 1 and e.rolling and _is(e, note, True))
            e_, m_ = nearest_errors(got, frames, float(sc.frames_per_beat(bpm) * step / 2))
            herr += e_
            hmiss += m_
            hcount += sum(1 for g in got if g < end)
        res["h2_events"] = hcount
        res["h2_errors"] = herr
        res["h2_missing"] = hmiss
        res["h2_extra"] = hcount - len(herr)   # note-ons left over after matching
        hons = [e for e in r.events if e.port == 1 and e.rolling and _is(e, None, True)]
        res["h2_offsets"] = sorted(set((e.frame - c0) % r.period for e in hons))[:6]
    return res


def _is(e, note, on):
    """Is MIDI event e a note-on (on) / note-off (not on) of note (None:
    any)?"""
    d = e.data
    if len(d) != 3 or (note is not None and d[1] != note):
        return False
    is_on = d[0] & 0xF0 == 0x90 and d[2] > 0
    is_off = d[0] & 0xF0 == 0x80 or (d[0] & 0xF0 == 0x90 and d[2] == 0)
    return is_on if on else is_off


print("# %s: recordings in %s (%s); disk stores in %s (%s)" % (
    elapsed(), work, fs_type_of(work), disk, fs_type_of(disk)))
speed, fw_msg = freewheel_check()
print("# " + fw_msg)
use_fw = speed is not None and speed >= FREEWHEEL_MIN_SPEED
bars = own.bars
if not use_fw:
    per_bar = sum(4 * 60.0 / b for b in TEMPOS)
    bars = max(1, min(own.bars, int(REALTIME_BUDGET_S / per_bar)))
    print("# FREEWHEEL DOES NOT WORK HERE (%s): measuring %d bars per tempo in real time "
          "instead of %d" % (fw_msg, bars, own.bars))

results = []
for bpm in TEMPOS:
    res = placement_run(bpm, bars, use_fw)
    results.append(res)
    print("# %s: %g BPM done: %d frames in %.1f s (%.0fx real time)%s" % (
        elapsed(), bpm, res["frames"], res["wall"], res["frames"] / RATE / res["wall"],
        "" if "h2_errors" in res else "; Hydrogen: " + str(res["h2_note"])))
    h.check(res["reached"] and res["recording_ok"],
            "%g BPM: %d bars rolled and recorded completely (%s%s)" % (
                bpm, bars, res["recording"],
                "" if res["freewheel"] == use_fw else "; " + res["fw_note"]))
    h.check(not res["seq_mismatch"] and res["seq_worst"] == 0,
            "%g BPM: cl-seq placed all %d note-ons and note-offs of %d bars at the exact frame "
            "(worst error %s frames%s)" % (bpm, res["seq_events"], bars, res["seq_worst"],
                                          "; " + "; ".join(res["seq_mismatch"])
                                          if res["seq_mismatch"] else ""))
    h.check(res["seq_exit"] == 0, "%g BPM: cl-seq exits 0" % bpm)

print()
print("Event placement error in frames over %d bars per tempo, 48 kHz, %d-frame periods, %s"
      % (bars, PLACE_PERIOD, "JACK freewheel mode" if use_fw else "REAL TIME (no freewheel)"))
print("(cl-seq: every note-on and note-off of a kick on each beat and a hat on each 16th; "
      "Hydrogen: the note-ons of the same pattern, each matched to the nearest)")
head = "%-8s | %8s %6s %6s %9s | %8s %6s %7s %8s %8s %6s | %s" % (
    "BPM", "cl-seq n", "worst", "mean", "in-cycle", "H2 n", "worst", "mean", "exact", "missing",
    "extra", "x real time")
print(head)
print("-" * len(head))
for res in results:
    herr = res.get("h2_errors")
    print("%-8g | %8d %6s %6s %8s%% | %8s %6s %7s %7s%% %8s %6s | %.0fx" % (
        res["bpm"], res["seq_events"], fmt(res["seq_worst"], "%d"),
        fmt(res["seq_mean"], "%.2f"), fmt(res["seq_inside"], "%.0f"),
        res.get("h2_events", "-"),
        fmt(max((abs(x) for x in herr), default=None) if herr else None, "%d"),
        fmt(statistics.fmean(abs(x) for x in herr) if herr else None, "%.1f"),
        fmt(100.0 * sum(1 for x in herr if x == 0) / len(herr) if herr else None, "%.1f"),
        res.get("h2_missing", "-"), res.get("h2_extra", "-"), res["frames"] / RATE / res["wall"]))
for res in results:
    if "h2_errors" in res:
        herr = res["h2_errors"]
        print("Hydrogen %g BPM: errors from %d to %+d frames; its note-ons sit at offsets %s "
              "of their cycles (exit status %s)" % (res["bpm"], min(herr), max(herr),
                                                   res["h2_offsets"], res.get("h2_exit")))
    else:
        print("Hydrogen %g BPM: NOT MEASURED: %s" % (res["bpm"], res["h2_note"]))
print("(in-cycle: share of cl-seq note-ons not at a cycle's first frame, i.e. placed inside "
      "the cycle; H2 n: Hydrogen's note-ons before the end, missing: wanted notes with none "
      "within half a step, extra: note-ons beyond one per wanted note)")
worst_seq = max((r["seq_worst"] for r in results if r["seq_worst"] is not None), default=None)
print("goal: placement error 0 frames -> cl-seq %s (worst %s)" % (
    verdict(worst_seq == 0 and all(not r["seq_mismatch"] for r in results)), worst_seq))
print()
sys.stdout.flush()

# ---------------------------------------------------------------------------
# 2. save and load latency


def pattern_doc():
    """The 8-track pattern document of the DSP benchmark (also saved and
    loaded): a realistic slot."""
    return {"schema": "cl-seq-pattern/1", "name": "bench 8", "genre": "techno",
            "tags": ["bench"], "swing": 0.0, "seed": 1,
            "tracks": [{"name": n, "channel": 10 if v != "acid" else 1 + (n == "acid2"),
                        "pattern": steps, "notes": notes,
                        "gate": 0.9 if v == "acid" else 0.5, "voice": v}
                       for n, v, notes, steps, _ in DSP_TRACKS],
            "voices": DSP_VOICES}


pattern_path = os.path.join(work, "bench8.json")
with open(pattern_path, "w") as f:
    json.dump(pattern_doc(), f, indent=1)

ANSWER = re.compile(r"/seq/pattern/(save|load)|/cl/error|/cl/pong")


def round_trips(osc, address, make_args, reply, n):
    """n round trips of address(*make_args(i)) -> (times in us, errors)."""
    times, errors = [], []
    for i in range(n):
        t0 = time.perf_counter()
        osc.send(address, *make_args(i))
        m = osc.wait_for(ANSWER, timeout=5)
        dt = (time.perf_counter() - t0) * 1e6
        if m is None or m.address != reply:
            errors.append(m.args if m else "no answer in 5 s")
        else:
            times.append(dt)
    return times, errors


SLOTS = 16
osc_rows = []
for label, parent in (("disk", disk), ("/dev/shm", "/dev/shm")):
    store = tempfile.mkdtemp(prefix="cl-bench-seq-", dir=parent)
    try:
        with h.JackServer(rate=RATE, period=PLACE_PERIOD) as srv:
            seq = h.Client(args.client, ["--store", store, "--pattern", pattern_path], srv,
                           name="cl-seq")
            osc = seq.osc_client()
            warm, werr = round_trips(osc, "/seq/pattern/save", lambda i: (i + 1,),
                                     "/seq/pattern/save", SLOTS)
            ping, perr = round_trips(osc, "/cl/ping", lambda i: (), "/cl/pong", own.runs)
            save, serr = round_trips(osc, "/seq/pattern/save", lambda i: (1 + i % SLOTS,),
                                     "/seq/pattern/save", own.runs)
            load, lerr = round_trips(osc, "/seq/pattern/load", lambda i: (1 + i % SLOTS,),
                                     "/seq/pattern/load", own.runs)
            st = osc.request("/cl/status", timeout=3)
            tracks = json.loads(st.args[0])["pattern"]["tracks"] if st else []
            backups = len(os.listdir(os.path.join(store, "patterns", "backups")))
            rc = seq.stop()
        errs = werr + perr + serr + lerr
        h.check(not errs and len(tracks) == len(DSP_TRACKS) and rc == 0,
                "%s store (%s): %d saves, %d loads and %d pings answered without error, the "
                "8 tracks still there, cl-seq exits 0 (%s)" % (
                    label, fs_type_of(store), len(save), len(load), len(ping), errs[:2]))
        h.check(backups == len(save), "%s store: each save backed up the previous version "
                "(%d backups for %d saves)" % (label, backups, len(save)))
        osc_rows.append((label, fs_type_of(store), quantiles(ping), quantiles(save),
                         quantiles(load)))
    finally:
        shutil.rmtree(store, ignore_errors=True)

cstore = tempfile.mkdtemp(prefix="cl-bench-seq-c-", dir=disk)
try:
    r = subprocess.run([own.save_bench, pattern_path, cstore, str(own.runs)],
                       capture_output=True, text=True, timeout=300)
finally:
    shutil.rmtree(cstore, ignore_errors=True)
cres = {}
for line in r.stdout.splitlines():
    w = line.split()
    if not w:
        continue
    if w[0] == "bytes":
        cres["bytes"] = int(w[1])
    elif len(w) == 5:
        cres[w[0]] = {"n": int(w[1]), "median": float(w[2]), "p99": float(w[3]),
                      "mean": float(w[4])}
h.check(r.returncode == 0 and "save" in cres and "bare" in cres and "load" in cres,
        "bench-seq-save ran (status %d%s)" % (r.returncode, ": " + r.stderr.strip()
                                              if r.returncode else ""))

print("Pattern save and load latency, %d of each (slots 1..%d round robin; every save backs "
      "up a previous version), %d-byte document of 8 tracks with voices" % (
          own.runs, SLOTS, cres.get("bytes", 0)))
head = "%-42s %12s %12s" % ("", "median us", "p99 us")
print(head)
print("-" * len(head))
for label, kind, ping, save, load in osc_rows:
    print("%-42s %12s %12s" % ("OSC /cl/ping, %s store" % label, fmt(ping[0]), fmt(ping[1])))
    print("%-42s %12s %12s" % ("OSC /seq/pattern/save, %s (%s)" % (label, kind), fmt(save[0]),
                               fmt(save[1])))
    print("%-42s %12s %12s" % ("OSC /seq/pattern/load, %s" % label, fmt(load[0]), fmt(load[1])))
if "save" in cres:
    for key, label in (("save", "C seq_slot_save, disk"),
                       ("filing", "C filing into backups/ (after answer)"),
                       ("save_and_filing", "C save + filing, disk"),
                       ("bare", "C bare write+fsync, disk"), ("load", "C seq_slot_load, disk")):
        print("%-42s %12.1f %12.1f" % (label, cres[key]["median"], cres[key]["p99"]))
print("(OSC round trips include the Python client's send and wake-up: /cl/ping is that floor)")

ratio = cres["save"]["median"] / cres["bare"]["median"] if "save" in cres else None
print("goal: save within 2x of the bare fsync cost: seq_slot_save median %s us / bare %s us "
      "= %s -> %s" % (fmt(cres.get("save", {}).get("median")),
                      fmt(cres.get("bare", {}).get("median")), fmt(ratio, "%.2f"),
                      verdict(ratio is not None and ratio <= 2.0)))
if ratio is not None:
    both = cres["save_and_filing"]["median"] / cres["bare"]["median"]
    print("  with the filing into backups/ that follows the answer: %.2fx bare" % both)
    steps = [(k[5:], v["median"]) for k, v in cres.items() if k.startswith("step_")]
    print("  where the time goes (median of each step, replayed with the same calls; "
          "sum %.0f us):" % cres["replay_total"]["median"])
    for name, t in steps:
        print("    %-26s %8.1f us%s" % (name, t, "  (after the answer)"
                                        if name.startswith("file_") else ""))
    step = dict(steps)
    fs_mand = step["write_temp"] + step["fsync_temp"] + step["close_temp"] + \
        step["exchange"] + step["fsync_slots_folder"]
    print("  the atomic write alone (temporary, fsync, exchange, folder fsync) is %.0f us = "
          "%.2fx bare: two fsyncs that must follow each other where the bare write has one" % (
              fs_mand, fs_mand / cres["bare"]["median"]))
disk_load = next((row[4] for row in osc_rows if row[0] == "disk"), (None, None))
print("goal: load under 1 ms: OSC round trip p99 %s us (disk store), C p99 %s us -> %s" % (
    fmt(disk_load[1]), fmt(cres.get("load", {}).get("p99")),
    verdict(disk_load[1] is not None and disk_load[1] < 1000
            and cres.get("load", {}).get("p99", 1e9) < 1000)))
h.check(disk_load[1] is not None and disk_load[1] < 1000 and "load" in cres
        and cres["load"]["p99"] < 1000,
        "pattern load p99 under 1 ms (OSC round trip %s us, C %s us)" % (
            fmt(disk_load[1]), fmt(cres.get("load", {}).get("p99"))))
print()
sys.stdout.flush()

# ---------------------------------------------------------------------------
# 3. DSP time per 64-frame period


def measure(probe, pid, seconds):
    """Process CPU of pid (% of one core) and JACK DSP load over the same
    window -> (cpu_pct, LoadSamples)."""
    job = probe.load_start(seconds, 0.5, name="load")
    c0, t0 = cpu_seconds(pid), time.monotonic()
    res = job.result(timeout=seconds + 30)
    c1, t1 = cpu_seconds(pid), time.monotonic()
    return 100.0 * (c1 - c0) / (t1 - t0), res


def audible(probe, ports):
    """RMS dBFS of 0.2 s of each port."""
    cap = probe.capture(ports, frames=RATE // 5, name="check")
    return [h.rms_db(ch) for ch in cap.channels]


base_seconds = min(8.0, own.dsp_seconds)
ours = {}
with h.JackServer(rate=RATE, period=DSP_PERIOD, sync=False) as srv:
    probe = h.Probe(srv)
    tp = h.Client(args.transport, ["--bpm", "120", "--play"], srv, name="cl-transport")
    base = probe.load(base_seconds, 0.5, name="base")
    seq = h.Client(args.client, ["--pattern", pattern_path], srv, name="cl-seq")
    osc = seq.osc_client()
    made = srv.connect(seq.port("audio_out_l"), "system:playback_1") + srv.connect(
        seq.port("audio_out_r"), "system:playback_2")
    levels = audible(probe, [seq.port("audio_out_l"), seq.port("audio_out_r")])
    h.check(made == 2 and all(v > -40 for v in levels),
            "cl-seq's 8 voices sound on audio_out_l/r (%s dBFS)"
            % ", ".join("%.1f" % v for v in levels))
    cpu, load = measure(probe, seq.pid, own.dsp_seconds)
    m = osc.request("/cl/status", timeout=3)
    st = json.loads(m.args[0]) if m else {}
    dsp = st.get("dsp", {})
    ours = {"median": dsp.get("cycle_us_median"), "p99": dsp.get("cycle_us_p99"),
            "max": dsp.get("cycle_us_max"), "cycles": dsp.get("cycles"), "cpu": cpu,
            "load": load.median, "xruns": load.xruns, "base": base.median,
            "rolling": st.get("transport", {}).get("rolling"),
            "tracks": len(st.get("pattern", {}).get("tracks", []))}
    h.check(ours["median"] is not None and ours["rolling"] and ours["tracks"] == len(DSP_TRACKS),
            "cl-seq /cl/status: rolling with %s tracks, dsp figures %s" % (ours["tracks"], dsp))
    h.check(seq.stop() == 0, "cl-seq exits 0")
    tp.stop()

theirs, h2_dsp_note = None, None
with h.JackServer(rate=RATE, period=DSP_PERIOD, sync=False) as srv:
    probe = h.Probe(srv)
    tp = h.Client(args.transport, ["--bpm", "120", "--play"], srv, name="cl-transport")
    base2 = probe.load(base_seconds, 0.5, name="base")
    h2, h2_dsp_note = start_hydrogen(srv, probe, os.path.join(work, "h2-dsp"), 120,
                                     [(ins, steps) for _, _, _, steps, ins in DSP_TRACKS])
    if h2:
        made = srv.connect("Hydrogen:out_L", "system:playback_1") + srv.connect(
            "Hydrogen:out_R", "system:playback_2")
        levels = audible(probe, ["Hydrogen:out_L", "Hydrogen:out_R"])
        if made == 2 and all(v > -40 for v in levels):
            cpu, load = measure(probe, h2.pid, own.dsp_seconds)
            theirs = {"cpu": cpu, "load": load.median, "xruns": load.xruns, "base": base2.median}
        else:
            h2_dsp_note = "Hydrogen's output is silent (%s dBFS): nothing to measure" % (
                ", ".join("%.1f" % v for v in levels))
        stop_hydrogen(h2)
    tp.stop()


def row(label, median, p99, load, base_load, cpu):
    extra = load - base_load if load is not None and base_load is not None else None
    print("%-30s %10s %10s %9s %10s %12s %10s" % (
        label, fmt(median), fmt(p99),
        fmt(median / DSP_PERIOD_US * 100 if median is not None else None, "%.2f%%"),
        fmt(load, "%.2f%%"), fmt(extra, "%.2f%%") + (" (%s us)" % fmt(
            extra / 100 * DSP_PERIOD_US) if extra is not None else ""), fmt(cpu, "%.1f%%")))


print("DSP time per %d-frame period (%.0f us), 8 tracks with voices on busy patterns, 120 BPM, "
      "jackd dummy (asynchronous), %.0f s window" % (DSP_PERIOD, DSP_PERIOD_US, own.dsp_seconds))
head = "%-30s %10s %10s %9s %10s %12s %10s" % ("", "us median", "us p99", "% period",
                                               "JACK load", "load - idle", "proc CPU")
print(head)
print("-" * (len(head) + 10))
row("cl-seq (own cycle time)", ours.get("median"), ours.get("p99"), ours.get("load"),
    ours.get("base"), ours.get("cpu"))
row("idle server (cl-transport)", None, None, ours.get("base"), None, None)
if theirs:
    row("Hydrogen 8 GMRockKit instr.", None, None, theirs["load"], theirs["base"], theirs["cpu"])
    row("idle server (cl-transport)", None, None, theirs["base"], None, None)
else:
    print("%-30s NOT MEASURED: %s" % ("Hydrogen", h2_dsp_note))
print("(cl-seq's cycle time is timed inside its process callback over all %s cycles since it "
      "started, all rolling; max %s us. JACK load is the median of jack_cpu_load() every "
      "0.5 s; xruns in the window: cl-seq %s, Hydrogen %s)" % (
          ours.get("cycles"), fmt(ours.get("max")), ours.get("xruns"),
          theirs["xruns"] if theirs else "-"))
print("# total %s" % elapsed())
h.done()
