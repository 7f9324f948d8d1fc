"""cl-mixer benchmarks, each printed beside a peer run in the same run on
the same machine:

1. Live: 64 stereo strips, 4 aux buses and master on a private dummy jackd
   at 48 kHz with 64-frame periods (1333 us; the harness's synchronous
   mode, jackd -S). Every strip gets a spread pan and all 4 sends at
   -10 dB post-fader over OSC; one cl-probe plays a looped stereo pink
   noise into all 128 inputs (its 2 outputs fanned out with jack_connect)
   and the master goes to system:playback. Over a window of --seconds:
   - cl-mixer's own cycle time (from /cl/status, measured inside its
     process callback): median and p99, as a share of the period;
   - process CPU (utime+stime from /proc/PID/stat, % of one core) and the
     JACK DSP load (median of jack_cpu_load() every 0.5 s, cl-probe load);
   - the same for jack_mix_box (jack_mixer's headless engine, package
     jack-mixer) with 64 stereo channels on a fresh server fed the same
     way (it sometimes crashes at start: up to 3 attempts, reported);
   - the floor: bench-mix-floor, the bare arithmetic of the same mix as a
     plain C loop (-O2), in us per period;
   - the load of the feeding probe alone, before any mixer runs.
   Checks: cl-mixer's median cycle under 2% of the period; cl-mixer at
   least 4x lighter than jack_mix_box by process CPU (fails when
   jack_mix_box could not run: a benchmark does not pass by losing its
   peer).
2. Offline mixdown of 16 one-minute stereo float files in /dev/shm
   (different signals): cl-mixer --offline (a cl-mixer-mix/1 document
   with pans and sends) against `sox -m` of the same files, median of 3
   runs each, as realtime factors; both outputs are checked (60 s, stereo,
   48 kHz float, finite, not silent anywhere).

    python3 bench_mixer.py --client cl-mixer --probe cl-probe --floor bench-mix-floor
"""

import argparse
import atexit
import array
import json
import math
import os
import shutil
import statistics
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import harness as h                                          # noqa: E402

RATE = 48000
PERIOD = 64
PERIOD_US = PERIOD * 1e6 / RATE
STRIPS = 64
AUX = 4
SEND_DB = -10.0
PEER_ATTEMPTS = 3
OFFLINE_FILES = 16
OFFLINE_SECONDS = 60
OFFLINE_RUNS = 3
CLK_TCK = os.sysconf("SC_CLK_TCK")

ap = argparse.ArgumentParser(add_help=False)
ap.add_argument("--floor", help="path of bench-mix-floor")
ap.add_argument("--seconds", type=float, default=20.0, help="live measuring window")
own, rest = ap.parse_known_args()
args = h.parse_args(rest)
if not own.floor:
    h.fail("no bench-mix-floor given (--floor)")
sox = shutil.which("sox")
if not sox:
    h.skip("sox is not installed (scripts/install-deps installs it)")
jmb_path = shutil.which("jack_mix_box")

work = "/dev/shm/cl-bench-mixer-%d" % os.getpid()
os.makedirs(work, exist_ok=True)
atexit.register(shutil.rmtree, work, True)


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        rest_fields = f.read().rsplit(")", 1)[1].split()
    return (int(rest_fields[11]) + int(rest_fields[12])) / CLK_TCK


def pct(x):
    return "%.2f%%" % x if x is not None else "-"


def us(x):
    return "%.1f" % x if x is not None else "-"


def fan_out(srv, feed, targets_l, targets_r):
    """Connect the feeder's out_1 to every left input, out_2 to every
    right one; the number of connections made."""
    made = 0
    for a, targets in ((feed.port("out_1"), targets_l), (feed.port("out_2"), targets_r)):
        for t in targets:
            made += srv.connect(a, t)
    return made


def measure(probe, pid, seconds):
    """Process CPU of pid (% of one core) and JACK DSP load samples over
    the same window -> (cpu_pct, LoadSamples)."""
    job = probe.load_start(seconds, 0.5, name="load")
    c0, t0 = cpu_seconds(pid), time.monotonic()
    res = job.result(timeout=seconds + 30)
    c1, t1 = cpu_seconds(pid), time.monotonic()
    return 100.0 * (c1 - c0) / (t1 - t0), res


def signal_db(probe, ports):
    """RMS in dBFS of 0.1 s of each port."""
    cap = probe.capture(ports, frames=RATE // 10, name="check")
    return [h.rms_db(ch) for ch in cap.channels]


def status(osc):
    """cl-mixer's /cl/status document, or None."""
    m = osc.request("/cl/status", timeout=3)
    return json.loads(m.args[0]) if m else None


# ---------------------------------------------------------------------------
# the floor

r = subprocess.run([own.floor], capture_output=True, text=True, timeout=120)
floor_us = None
if r.returncode == 0 and r.stdout.startswith("periods"):
    w = r.stdout.split()
    floor_us = float(w[w.index("us_per_period") + 1])
h.check(floor_us is not None, "bench-mix-floor ran (%s)" % r.stdout.strip())

# a looped stereo pink noise: 10 s, independent left and right
feed_wav = os.path.join(work, "feed.wav")
subprocess.run([sox, "-n", "-r", str(RATE), "-c", "2", "-b", "32", "-e", "float", feed_wav,
                "synth", "10", "pinknoise", "vol", "0.25"], check=True, timeout=60)

# ---------------------------------------------------------------------------
# live: cl-mixer

ours = {}
with h.JackServer(rate=RATE, period=PERIOD) as srv:
    probe = h.Probe(srv)
    feed = probe.play(["system:playback_1", "system:playback_2"], wav=feed_wav, loop=True,
                      name="feed")
    base = probe.load(min(8.0, own.seconds), 0.5, name="base")
    print("feeder alone: JACK DSP load median %.2f%% (%d samples, %d xruns)"
          % (base.median, len(base.samples), base.xruns))

    cl = h.Client(args.client, ["--channels", str(STRIPS), "--aux", str(AUX)], srv)
    osc = cl.osc_client()
    h.check(osc.request("/cl/ping", reply="/cl/pong") is not None, "cl-mixer answers /cl/ping")
    for n in range(1, STRIPS + 1):
        osc.send("/mixer/%d/pan" % n, -1.0 + 2.0 * (n - 1) / (STRIPS - 1))
        for k in range(1, AUX + 1):
            osc.send("/mixer/%d/send/%d" % (n, k), SEND_DB)
        if n % 16 == 0:  # let the socket drain: no datagram lost
            osc.request("/cl/ping", reply="/cl/pong")
    state_path = os.path.join(work, "state.json")
    ok = osc.request("/cl/state/save", state_path, reply="/cl/ok", timeout=5)
    strips = json.load(open(state_path))["strips"] if ok else []
    h.check(len(strips) == STRIPS and all(
        s["sends"] == [SEND_DB] * AUX and s["send_pre"] == [False] * AUX
        and abs(s["pan"] - (-1.0 + 2.0 * i / (STRIPS - 1))) < 1e-4
        for i, s in enumerate(strips)),
        "cl-mixer state: %d strips, every send %g dB post-fader, pans spread" % (STRIPS, SEND_DB))

    made = fan_out(srv, feed, [cl.port("ch%d_in_l" % n) for n in range(1, STRIPS + 1)],
                   [cl.port("ch%d_in_r" % n) for n in range(1, STRIPS + 1)])
    made += srv.connect(cl.port("master_out_l"), "system:playback_1")
    made += srv.connect(cl.port("master_out_r"), "system:playback_2")
    h.check_equal(made, 2 * STRIPS + 2, "cl-mixer: connections made")
    levels = signal_db(probe, [cl.port("master_out_l"), cl.port("master_out_r"),
                               cl.port("aux1_out_l"), cl.port("aux4_out_r")])
    h.check(all(v > -40 for v in levels), "cl-mixer master and aux carry the mix (%s dBFS)"
            % ", ".join("%.1f" % v for v in levels))

    st0 = status(osc)
    cpu, load = measure(probe, cl.pid, own.seconds)
    st1 = status(osc)
    dsp = st1["dsp"] if st1 else {}
    ours = {"cpu": cpu, "load": load.median, "xruns": load.xruns,
            "median": dsp.get("cycle_us_median"), "p99": dsp.get("cycle_us_p99"),
            "max": dsp.get("cycle_us_max"), "cycles": dsp.get("cycles"),
            "window": dsp.get("cycles", 0) - (st0["dsp"]["cycles"] if st0 else 0)}
    h.check(st1 is not None and ours["median"] is not None, "cl-mixer /cl/status has dsp figures")
    rc = cl.stop(timeout=5.0)
    if not h.check_equal(rc, 0, "cl-mixer exits 0 on SIGTERM within 5 s"):
        print("# a hang in jack_client_close: JACK2 1.9.21 jackd blocks writing property-"
              "change notifications to the closing client when more than ~20 of its ports "
              "carry metadata (pretty names) and the client did not unregister them first")
    feed.stop()

# ---------------------------------------------------------------------------
# live: jack_mix_box

theirs = None
peer_note = ""
attempts = []
if not jmb_path:
    peer_note = "jack_mix_box is not installed (scripts/install-deps installs jack-mixer)"
for attempt in range(1, PEER_ATTEMPTS + 1 if jmb_path else 1):
    with h.JackServer(rate=RATE, period=PERIOD) as srv:
        probe = h.Probe(srv)
        name = h.unique_name("jmb")
        ccs = [str(20 + i) for i in range(STRIPS)]
        jmb = h.Client(jmb_path, ["-n", name, "-s"] + ccs, srv, osc=False, name="jack_mix_box")
        up = probe.wait_port("%s:Channel %d R" % (name, STRIPS), timeout=10)
        time.sleep(1.0)
        if not up or not jmb.running():
            rc = jmb.stop()
            attempts.append("attempt %d: %s (exit status %s)" % (
                attempt, "crashed at start" if not jmb.running() or rc else "ports missing", rc))
            print("jack_mix_box " + attempts[-1])
            continue
        feed = probe.play(["system:playback_1", "system:playback_2"], wav=feed_wav, loop=True,
                          name="feed")
        made = fan_out(srv, feed, ["%s:Channel %d L" % (name, n) for n in range(1, STRIPS + 1)],
                       ["%s:Channel %d R" % (name, n) for n in range(1, STRIPS + 1)])
        made += srv.connect("%s:MAIN L" % name, "system:playback_1")
        made += srv.connect("%s:MAIN R" % name, "system:playback_2")
        h.check_equal(made, 2 * STRIPS + 2, "jack_mix_box: connections made")
        levels = signal_db(probe, ["%s:MAIN L" % name, "%s:MAIN R" % name])
        h.check(all(v > -40 for v in levels), "jack_mix_box MAIN carries the mix (%s dBFS)"
                % ", ".join("%.1f" % v for v in levels))
        cpu, load = measure(probe, jmb.pid, own.seconds)
        alive = jmb.running()
        rc = jmb.stop()
        feed.stop()
        attempts.append("attempt %d: ran (exit status %s on SIGTERM)" % (attempt, rc))
        if not alive:
            attempts[-1] = "attempt %d: died during the measurement (status %s)" % (attempt, rc)
            print("jack_mix_box " + attempts[-1])
            continue
        theirs = {"cpu": cpu, "load": load.median, "xruns": load.xruns}
        break
if jmb_path and theirs is None:
    peer_note = "jack_mix_box could not run in %d attempts" % PEER_ATTEMPTS

# ---------------------------------------------------------------------------
# live: the table

print()
print("Live mix, 64 stereo strips, 4 aux + master, 48 kHz, %d-frame period (%.0f us), "
      "jackd -S (sync), dummy driver, %.0f s window" % (PERIOD, PERIOD_US, own.seconds))
head = "%-26s %12s %12s %12s %14s %12s" % ("", "DSP us/cycle", "% of period",
                                           "process CPU", "CPU us/period", "JACK load")
print("(at %d cycles/s a share of the period is the same share of one core)" % (RATE // PERIOD))
print(head)
print("-" * len(head))
print("%-26s %12s %12s %12s %14s %12s" % ("floor (C loop, -O2)", us(floor_us),
      pct(floor_us / PERIOD_US * 100 if floor_us else None),
      pct(floor_us / PERIOD_US * 100 if floor_us else None), us(floor_us), "-"))
print("%-26s %12s %12s %12s %14s %12s" % (
    "cl-mixer (median)", us(ours.get("median")),
    pct(ours["median"] / PERIOD_US * 100 if ours.get("median") is not None else None),
    pct(ours.get("cpu")), us(ours["cpu"] / 100 * PERIOD_US if ours.get("cpu") is not None else None),
    pct(ours.get("load"))))
print("%-26s %12s %12s" % ("cl-mixer (p99)", us(ours.get("p99")),
      pct(ours["p99"] / PERIOD_US * 100 if ours.get("p99") is not None else None)))
if theirs:
    print("%-26s %12s %12s %12s %14s %12s" % (
        "jack_mix_box", "-", "-", pct(theirs["cpu"]), us(theirs["cpu"] / 100 * PERIOD_US),
        pct(theirs["load"])))
else:
    print("%-26s %s" % ("jack_mix_box", "NOT MEASURED: " + peer_note))
print("%-26s %12s %12s %12s %14s %12s" % ("feeder alone (baseline)", "-", "-", "-", "-",
                                          pct(base.median)))
print("(process CPU includes libjack's wake-ups and the control thread; DSP us/cycle is "
      "timed inside cl-mixer's process callback, over all %s cycles since start, %s of "
      "them in the window; cl-mixer max %s us)" % (ours.get("cycles"), ours.get("window"),
                                                 us(ours.get("max"))))
print("xruns during the window (JACK's own late wake-ups count too): cl-mixer %s, "
      "jack_mix_box %s" % (ours.get("xruns"), theirs["xruns"] if theirs else "-"))
print("jack_mix_box launches: " + ("; ".join(attempts) if attempts else peer_note))
if theirs and ours.get("cpu"):
    print("process CPU ratio jack_mix_box / cl-mixer: %.1fx" % (theirs["cpu"] / ours["cpu"]))
print()

limit = PERIOD_US * 0.02
h.check(ours.get("median") is not None and ours["median"] < limit,
        "cl-mixer median cycle %s us < 2%% of the period (%.1f us)" % (us(ours.get("median")), limit))
if theirs is None:
    print("FAILED TO MEASURE THE PEER: " + peer_note)
h.check(theirs is not None and ours.get("cpu") is not None and ours["cpu"] * 4 <= theirs["cpu"],
        "cl-mixer at least 4x lighter than jack_mix_box by process CPU (%s vs %s)"
        % (pct(ours.get("cpu")), pct(theirs["cpu"]) if theirs else peer_note))

# ---------------------------------------------------------------------------
# offline mixdown


def wav_check(path):
    """(frames, rate, channels, float32, finite, per-10 s RMS dBFS of each
    channel) of a float WAV, reading every 5th frame for the levels."""
    with open(path, "rb") as f:
        data = f.read()
    if data[0:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    off, fmt, body = 12, None, None
    while off + 8 <= len(data):
        cid, size = data[off:off + 4], struct.unpack_from("<I", data, off + 4)[0]
        if cid == b"fmt ":
            fmt = data[off + 8:off + 8 + size]
        elif cid == b"data":
            body = (off + 8, min(size, len(data) - off - 8))
        off += 8 + size + (size & 1)
    if fmt is None or body is None:
        return None
    tag, nch, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt, 0)
    if tag == 0xFFFE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]
    is_float = tag == 3 and bits == 32
    samples = array.array("f")
    samples.frombytes(data[body[0]:body[0] + body[1] - body[1] % 4])
    frames = len(samples) // nch
    levels, finite = [], True
    seg = 10 * rate
    for start in range(0, frames, seg):
        row = []
        for c in range(nch):
            sub = samples[start * nch + c:min(frames, start + seg) * nch:5 * nch]
            finite = finite and all(math.isfinite(v) for v in sub)
            row.append(h.rms_db(sub))
        levels.append(row)
    return frames, rate, nch, is_float, finite, levels


def timed(cmd):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return time.perf_counter() - t0, r


signals = ["pinknoise vol 0.3", "sine %d sine %d vol 0.3", "brownnoise vol 0.3",
           "sawtooth %d vol 0.2"]
files, procs = [], []
for i in range(OFFLINE_FILES):
    path = os.path.join(work, "src%02d.wav" % (i + 1))
    spec = signals[i % len(signals)]
    spec = spec % tuple(55 * (i + 1) * (j + 2) // 2 for j in range(spec.count("%d")))
    files.append(path)
    procs.append(subprocess.Popen([sox, "-n", "-r", str(RATE), "-c", "2", "-b", "32", "-e",
                                   "float", path, "synth", str(OFFLINE_SECONDS)] + spec.split()))
h.check(all(p.wait(120) == 0 for p in procs), "sox made %d source files" % OFFLINE_FILES)

mix_path = os.path.join(work, "mix.json")
with open(mix_path, "w") as f:
    json.dump({"schema": "cl-mixer-mix/1", "rate": RATE,
               "strips": [{"file": os.path.basename(p), "gain": 0, "volume": -6,
                           "pan": -1.0 + 2.0 * i / (OFFLINE_FILES - 1),
                           "sends": [SEND_DB] * AUX}
                          for i, p in enumerate(files)],
               "master": {"volume": 0}}, f)
out_ours = os.path.join(work, "out-cl-mixer.wav")
out_sox = os.path.join(work, "out-sox.wav")
t_ours, t_sox = [], []
for run in range(OFFLINE_RUNS):
    dt, r = timed([args.client, "--offline", mix_path, "--output", out_ours])
    if r.returncode == 0:
        t_ours.append(dt)
    else:
        print("cl-mixer --offline failed (status %d): %s" % (r.returncode, r.stderr.strip()))
    dt, r = timed([sox, "-m"] + files + ["-b", "32", "-e", "float", out_sox])
    if r.returncode == 0:
        t_sox.append(dt)
    else:
        print("sox -m failed (status %d): %s" % (r.returncode, r.stderr.strip()))
h.check(len(t_ours) == OFFLINE_RUNS, "cl-mixer --offline succeeded %d times" % OFFLINE_RUNS)
h.check(len(t_sox) == OFFLINE_RUNS, "sox -m succeeded %d times" % OFFLINE_RUNS)

for label, path in (("cl-mixer", out_ours), ("sox -m", out_sox)):
    info = wav_check(path) if os.path.exists(path) else None
    if not h.check(info is not None, "%s output is a WAV file" % label):
        continue
    frames, rate, nch, is_float, finite, levels = info
    h.check(frames == RATE * OFFLINE_SECONDS and rate == RATE and nch == 2 and is_float,
            "%s output: %d frames at %d Hz, %d channels, float %s (expected %d, %d, 2, True)"
            % (label, frames, rate, nch, is_float, RATE * OFFLINE_SECONDS, RATE))
    quietest = min(min(row) for row in levels)
    h.check(finite and quietest > -40,
            "%s output is finite and not silent: quietest 10 s channel RMS %.1f dBFS"
            % (label, quietest))

if t_ours and t_sox:
    m_ours, m_sox = statistics.median(t_ours), statistics.median(t_sox)
    print()
    print("Offline mixdown, %d stereo float files of %d s at 48 kHz, in /dev/shm "
          "(median of %d runs)" % (OFFLINE_FILES, OFFLINE_SECONDS, OFFLINE_RUNS))
    print("  cl-mixer --offline (pan, fader, 4 sends): %.3f s wall, %.0fx realtime"
          % (m_ours, OFFLINE_SECONDS / m_ours))
    print("  sox -m (plain sum):                      %.3f s wall, %.0fx realtime"
          % (m_sox, OFFLINE_SECONDS / m_sox))
    print("  ratio: cl-mixer %.1fx the speed of sox -m" % (m_sox / m_ours))
    print()

shutil.rmtree(work, ignore_errors=True)
h.done()
