"""cl-transport benchmarks, each printed beside a peer run in the same
session on the same private dummy jackd:

- start-up: spawn -> clock port registered (seen by a JACK client that was
  already connected), and spawn -> first /cl/pong; peer: jack_midi_clock
  (Debian package jack-midi-clock) spawn -> its port registered.
  Goal: < 100 ms.
- resident memory after start-up (VmRSS). Goal: < 8 MB. Peer:
  jack_midi_clock.
- /cl/ping round trip over UDP loopback: median and p99 of 2000.
- MIDI clock placement error in frames against the exact position, over
  30 s at 133 BPM; peer: jack_midi_clock following cl-transport's BBT in
  the same run. Goal: 0.
"""

import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import harness as h                                          # noqa: E402
from transport_common import clock_frame, clocks             # noqa: E402

RUNS = 10
BPM = 133


def memory_kb(pid):
    """(resident, private) kB. Resident counts JACK's shared-memory graph
    and the shared libraries every JACK client maps; private (clean +
    dirty pages of this process alone) is what the program itself costs."""
    fields = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            w = line.split()
            if len(w) >= 2 and w[0].endswith(":") and w[1].isdigit():
                fields[w[0][:-1]] = int(w[1])
    return fields.get("Rss"), fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)


def port_appears(srv, probe_path, cmd, port, env=None):
    """Seconds from spawning cmd until `port` exists, as seen by a probe
    that was connected before the spawn; and the process (still running)."""
    watcher = subprocess.Popen([probe_path, "--name", h.unique_name("watch"), "wait-port", port,
                                "--timeout", "10"], env=srv.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)                       # the watcher is connected by now
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=dict(srv.env, **(env or {})),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watcher.wait(15)
    return time.monotonic() - t0, proc, watcher.returncode == 0


def stop(proc):
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def ms(x):
    return "%.1f ms" % (x * 1e3)


args = h.parse_args()
peer = None if "NOPEER" in os.environ else h.shutil.which("jack_midi_clock")

# --- start-up and memory. Each peer run gets a fresh server: after
# jack_midi_clock is stopped, the next client to open on that server waits
# about 4.5 s, which would otherwise be charged to whoever comes next.
ours, pongs, mem_ours = [], [], []
with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    for i in range(RUNS):
        name = h.unique_name("bt%d" % i)
        dt, proc, ok = port_appears(srv, probe.path, [args.client, "--name", name,
                                                      "--osc-port", "0"], name + ":clock_out")
        h.check(ok, "run %d: clock_out appeared after %s" % (i, ms(dt)))
        ours.append(dt)
        time.sleep(0.2)
        mem_ours.append(memory_kb(proc.pid))
        stop(proc)
        # spawn -> first /cl/pong, on a port that was free a moment ago
        free = h.socket.socket(h.socket.AF_INET, h.socket.SOCK_DGRAM)
        free.bind(("127.0.0.1", 0))
        target = free.getsockname()[1]
        free.close()
        osc = h.OscClient(port=target)
        t0 = time.monotonic()
        proc = subprocess.Popen([args.client, "--name", name, "--osc-port", str(target)],
                                env=srv.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        got = None
        while time.monotonic() - t0 < 5 and got is None:
            osc.send("/cl/ping")
            got = osc.wait_for("/cl/pong", timeout=0.002)
        if got is not None:
            pongs.append(time.monotonic() - t0)
        stop(proc)
        osc.close()

theirs, mem_theirs = [], []
if peer:
    for i in range(RUNS):
        with h.JackServer(rate=48000, period=256) as srv:
            probe = h.Probe(srv)
            dt, proc, ok = port_appears(srv, probe.path, [peer], "jack_midi_clock:mclk_out")
            if ok:
                theirs.append(dt)
                time.sleep(0.2)
                mem_theirs.append(memory_kb(proc.pid))
            stop(proc)

print("start-up to clock port registered: cl-transport median %s (of %d)%s"
      % (ms(statistics.median(ours)), RUNS,
         "; jack_midi_clock median %s" % ms(statistics.median(theirs)) if theirs else
         "; jack_midi_clock: not installed"))
print("start-up to first /cl/pong: cl-transport median %s" %
      (ms(statistics.median(pongs)) if pongs else "n/a"))
rss = statistics.median(m[0] for m in mem_ours) / 1024
own = statistics.median(m[1] for m in mem_ours) / 1024
line = "memory: cl-transport private %.2f MB (resident %.1f MB incl. JACK shm and shared libs)" % (own, rss)
if mem_theirs:
    line += "; jack_midi_clock private %.2f MB (resident %.1f MB)" % (
        statistics.median(m[1] for m in mem_theirs) / 1024,
        statistics.median(m[0] for m in mem_theirs) / 1024)
print(line)
h.check(statistics.median(ours) < 0.100, "start-up under 100 ms")
h.check(len(pongs) == RUNS and statistics.median(pongs) < 0.100, "first pong under 100 ms")
h.check(own < 8.0, "private memory under 8 MB")

with h.JackServer(rate=48000, period=256) as srv:
    probe = h.Probe(srv)
    # --- ping round trip and clock placement, with the peer clocking along
    name = h.unique_name("tp")
    cl = h.Client(args.client, ["--name", name, "--bpm", str(BPM)], srv)
    osc = cl.osc_client()
    rtt = []
    for i in range(2000):
        t0 = time.perf_counter()
        osc.send("/cl/ping", i)
        m = osc.wait_for("/cl/pong", timeout=1.0)
        if m is not None:
            rtt.append(time.perf_counter() - t0)
    rtt.sort()
    print("/cl/ping round trip: median %.0f us, p99 %.0f us (%d of 2000 answered)"
          % (statistics.median(rtt) * 1e6, rtt[int(len(rtt) * 0.99) - 1] * 1e6, len(rtt)))
    h.check(len(rtt) == 2000, "every ping answered")

    jmc = None
    midi = [name + ":clock_out"]
    if peer:
        jmc = subprocess.Popen([peer], env=srv.env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        h.check(probe.wait_port("jack_midi_clock:mclk_out"), "jack_midi_clock is up")
        midi.append("jack_midi_clock:mclk_out")
    rec = probe.record(midi=midi, transport=True)
    osc.send("/transport/play")
    time.sleep(30)
    osc.send("/transport/stop")
    time.sleep(0.3)
    r = rec.stop()
    h.check(r.complete and r.overruns == 0, "recording complete")

    def placement(port):
        ev = [e for e in clocks(r) if e.port == port and e.rolling]
        errs = [e.tframe - clock_frame(k, BPM) for k, e in enumerate(ev)]
        return ev, errs

    ev, errs = placement(0)
    worst = max(abs(e) for e in errs) if errs else None
    print("clock placement over %d clocks at %d BPM: cl-transport max error %s frames, "
          "mean |error| %.2f" % (len(ev), BPM, worst,
                                 statistics.mean(abs(e) for e in errs) if errs else -1))
    h.check(worst == 0, "cl-transport: every clock on its exact frame")
    if peer:
        ev2, errs2 = placement(1)
        if errs2:
            print("clock placement over %d clocks at %d BPM: jack_midi_clock max error %d frames, "
                  "mean |error| %.2f" % (len(ev2), BPM, max(abs(e) for e in errs2),
                                         statistics.mean(abs(e) for e in errs2)))
        else:
            print("jack_midi_clock sent no clocks")
        stop(jmc)
    else:
        print("jack_midi_clock: not installed (scripts/install-deps installs jack-midi-clock)")
    h.check_equal(cl.stop(), 0, "cl-transport exits 0")
h.done()
