"""cl-fx benchmarks, each printed beside peers run in the same run on the
same machine and the same input:

1. Offline. One input, 60 s of stereo 48 kHz float pink noise made by sox
   in /dev/shm (on disk, file I/O noise swamps these figures). Every cl-fx
   effect type alone (a one-slot chain document with settings that make it
   work: a band that boosts, a compressor that compresses, ...) and the
   5-effect chain peq (one band) -> compressor -> saturation -> delay ->
   freeverb (freeverb because sox's `reverb` is Freeverb's algorithm).
   Four figures per row, each a median of several runs, as realtime
   factors (60 s / time):
   - cl-fx wall: `cl-fx --offline --chain DOC in.wav out.wav --format
     float`, the whole process (read, DSP, write); cl-fx prints no timing
     of its own; runs alternate with sox's, and when the two are within
     18% of each other six more runs of each are added before the medians
     decide (the machine is shared: noise only ever adds time);
   - sox wall: sox with the nearest equivalent (`equalizer`, `bass`,
     `treble`, `highpass`, `lowpass`, `compand`, `overdrive`, `echo`,
     `echos`, `reverb`; the five chained for the chain), same files;
   - cl-fx DSP: fx-block-bench, cl-fx's effect chain alone (built by the
     same code as --offline) over 128-frame blocks of the input held in
     memory, timing only the process calls;
   - LV2 peers: lv2-block-host, each plugin's run() alone over 128-frame
     blocks of the same input held in memory (Debian's x42, calf, lsp and
     swh plugins, set so that they do the job). Mono plugins run as two
     instances, one per channel (--dual-mono), so every peer does the
     stereo job; mono-in/stereo-out reverbs (swh gverb, plate) take the
     left channel and make the whole stereo output.
   DSP against DSP, wall against wall: LV2 hosts differ too much in their
   I/O for the peers' wall times to mean anything. Both DSP timers sum the
   time of every block; a block over 50 times the median and over 200 us
   is a preemption (the machine is shared), not work, and counts as the
   median (both print how many). Each row's DSP figure and its fastest
   peer's come from alternating runs (5 each, medians), so that load from
   elsewhere hits both alike.
   Checks (each a failure of the benchmark when missed):
   - every row: cl-fx wall faster than sox's nearest equivalent;
   - every row: cl-fx DSP no slower than the fastest LV2 peer of the same
     job. A peer does the same job when it has the same parts: peers that
     do visibly less are listed with the reason and not checked: a plain
     delay line (no feedback, no dry mix) for the echo, and for the
     nonlinear types, curves applied at 48 kHz without anti-aliasing. The
     latter is measured, not assumed: a full-scale 10 kHz sine at full
     drive goes through every nonlinear peer and cl-fx type, and the
     worst component from 20 Hz to 5 kHz (all aliases: the harmonics of
     10 kHz lie above) is printed under the fundamental; a peer is the
     same job when it keeps it at -40 dB or lower;
   - a job none of whose peers ran fails (a benchmark does not pass by
     losing its peers); a peer that fails to load is printed with why.
2. Live. A private dummy jackd at 48 kHz with 64-frame periods (1333 us),
   cl-fx with the 5-effect chain, fed looped pink noise by cl-probe play,
   its outputs to system:playback. cl-fx's /cl/status reports the DSP
   time of its process callback (median and p99 over its cycles); beside
   it the same chain in fx-block-bench at 64-frame blocks and the five
   fastest LV2 peers of those jobs chained in lv2-block-host at 64-frame
   blocks (us per block, median and p99). Checks: the live median under
   25% of the period, and the chain at 64 frames no slower than the LV2
   peers' chain.

    python3 bench_fx.py --client cl-fx --probe cl-probe \\
        --lv2-host lv2-block-host --dsp-bench fx-block-bench
"""

import argparse
import array
import atexit
import cmath
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
SECONDS = 60
PERIOD = 64
PERIOD_US = PERIOD * 1e6 / RATE
SAME_JOB_ALIAS_DB = -40.0
CLOSE_RATIO = (0.85, 1.18)   # wall-time ratios this close get ...
CLOSE_EXTRA_RUNS = 6         # ... this many more runs of both

ap = argparse.ArgumentParser(add_help=False)
ap.add_argument("--lv2-host", help="path of lv2-block-host")
ap.add_argument("--dsp-bench", help="path of fx-block-bench")
ap.add_argument("--runs", type=int, default=5, help="wall-time runs per command (median)")
ap.add_argument("--dsp-runs", type=int, default=3, help="runs per LV2 peer's first figure (median)")
ap.add_argument("--pair-runs", type=int, default=5,
                help="alternating runs of cl-fx and its fastest peer per row (medians decide)")
ap.add_argument("--seconds", type=float, default=15.0, help="live measuring window")
own, rest = ap.parse_known_args()
args = h.parse_args(rest)
sox = shutil.which("sox")
if not sox:
    h.skip("sox is not installed (scripts/install-deps installs it)")
if not own.dsp_bench:
    h.fail("no fx-block-bench given (--dsp-bench): cl-fx's DSP cannot be timed")
if not own.lv2_host:
    h.fail("no lv2-block-host given (--lv2-host): it is built only when lilv-0 is found "
           "(liblilv-dev); without it there is no LV2 peer to compare with")

work = "/dev/shm/cl-bench-fx-%d" % os.getpid()
os.makedirs(work, exist_ok=True)
atexit.register(shutil.rmtree, work, True)
in_wav = os.path.join(work, "in.wav")
out_wav = os.path.join(work, "out.wav")


def db_gain(db):
    return 10.0 ** (db / 20.0)


# ---------------------------------------------------------------------------
# what is measured: rows (cl-fx, sox) and the LV2 peers of each job

PEQ8_FREQS = [100, 250, 500, 1000, 2000, 4000, 8000, 12000]
PEQ8_GAINS = [4, -4, 4, -4, 4, -4, 4, -4]
COMPAND = ["compand", "0.02,0.20", "-60,-60,-30,-15,-20,-10,0,-7", "-5", "-90", "0.1"]

CHAIN = [
    {"type": "peq", "params": {"freq4": 1000, "gain4": 6, "q4": 1}},
    {"type": "compressor", "params": {"threshold": -20, "ratio": 4, "attack": 5, "release": 50}},
    {"type": "saturation", "params": {"drive": 10}},
    {"type": "delay", "params": {"time": 250, "feedback": 35, "mix": 30}},
    {"type": "freeverb", "params": {"room": 0.5, "damp": 0.5, "mix": 0.25}},
]
CHAIN_JOBS = ["eq1", "compressor", "nonlinear", "delay", "reverb"]

# label, what, cl-fx effects, sox effect arguments, job
ROWS = [
    ("peq", "1 band +6 dB at 1 kHz, Q 1", [CHAIN[0]], ["equalizer", "1000", "1q", "6"], "eq1"),
    ("peq", "8 bands +-4 dB, Q 1",
     [{"type": "peq", "params": dict(("gain%d" % (i + 1), g) for i, g in enumerate(PEQ8_GAINS))}],
     sum((["equalizer", str(f), "1q", str(g)] for f, g in zip(PEQ8_FREQS, PEQ8_GAINS)), []),
     "eq8"),
    ("lowshelf", "+6 dB at 100 Hz", [{"type": "lowshelf", "params": {"freq": 100, "gain": 6}}],
     ["bass", "6", "100"], "lowshelf"),
    ("highshelf", "+6 dB at 8 kHz", [{"type": "highshelf", "params": {"freq": 8000, "gain": 6}}],
     ["treble", "6", "8000"], "highshelf"),
    ("highpass", "80 Hz, 12 dB/oct", [{"type": "highpass", "params": {"freq": 80}}],
     ["highpass", "80"], "highpass"),
    ("lowpass", "12 kHz, 12 dB/oct", [{"type": "lowpass", "params": {"freq": 12000}}],
     ["lowpass", "12000"], "lowpass"),
    ("compressor", "-20 dB, 4:1, 5/50 ms", [CHAIN[1]], COMPAND, "compressor"),
    ("limiter", "ceiling -10 dB, 2 ms look-ahead",
     [{"type": "limiter", "params": {"ceiling": -10, "release": 50, "lookahead": 2}}],
     ["compand", "0.001,0.05", "-10,-10,0,-10", "0", "-90", "0.002"], "limiter"),
    ("expander", "below -30 dB, 2:1", [{"type": "expander", "params": {"threshold": -30, "ratio": 2}}],
     ["compand", "0.001,0.1", "-90,-150,-30,-30", "0", "-90", "0"], "expander"),
    ("gate", "-30 dB, range -80 dB", [{"type": "gate", "params": {"threshold": -30}}],
     ["compand", "0.001,0.1", "-inf,-30.1,-inf,-30,-30", "0", "-90", "0"], "gate"),
    ("saturation", "drive 10 dB", [CHAIN[2]], ["overdrive", "10"], "nonlinear"),
    ("distortion", "drive 18 dB", [{"type": "distortion", "params": {"drive": 18}}],
     ["overdrive", "20"], "nonlinear"),
    ("waveshaper", "drive 6 dB, h2 .3, h3 .3",
     [{"type": "waveshaper", "params": {"drive": 6, "h2": 0.3, "h3": 0.3}}],
     ["overdrive", "10"], "nonlinear"),
    ("delay", "250 ms, feedback 35%, mix 30%", [CHAIN[3]], ["echo", "0.8", "0.9", "250", "0.5"],
     "delay"),
    ("pingpong", "250 ms, feedback 35%, mix 30%",
     [{"type": "pingpong", "params": {"time": 250, "feedback": 35, "mix": 30}}],
     ["echo", "0.8", "0.9", "250", "0.5"], "pingpong"),
    ("multitap", "4 taps, 125..500 ms", [{"type": "multitap"}],
     ["echos", "0.8", "0.7", "125", "0.5", "250", "0.4", "375", "0.3", "500", "0.2"], "multitap"),
    ("freeverb", "room .5, damp .5, mix .25", [CHAIN[4]], ["reverb", "50", "50", "100"], "reverb"),
    ("hall", "2.5 s, mix 25%", [{"type": "hall"}], ["reverb", "50", "50", "100"], "reverb"),
    ("plate", "2 s, mix 25%", [{"type": "plate"}], ["reverb", "50", "50", "100"], "reverb"),
    ("chain", "peq, compressor, saturation, delay, freeverb", CHAIN,
     ["equalizer", "1000", "1q", "6"] + COMPAND[0:] + ["overdrive", "10"]
     + ["echo", "0.8", "0.9", "250", "0.5"] + ["reverb", "50", "50", "100"], "chain"),
]

X42 = "http://gareus.org/oss/lv2/"
CALF = "http://calf.sourceforge.net/plugins/"
LSP = "http://lsp-plug.in/plugins/lv2/"
SWH = "http://plugin.org.uk/swh-plugins/"
FIL4_OFF = {"sec1": 0, "sec2": 0, "sec3": 0, "sec4": 0, "LSsec": 0, "HSsec": 0}


class Peer:
    """An LV2 plugin and its settings for a job; `less` says what it lacks
    (then it is shown, not checked)."""

    def __init__(self, name, uri, sets=None, dual=False, less=None):
        self.name, self.uri, self.sets, self.dual, self.less = name, uri, sets or {}, dual, less
        self.dsp = None      # median realtime factor
        self.error = None
        self.alias = None    # nonlinear peers: worst alias under the fundamental, dB
        self.result = None

    def args(self):
        a = [self.uri]
        for k, v in self.sets.items():
            a += ["--set", "%s=%s" % (k, v)]
        return a + (["--dual-mono"] if self.dual else [])


def lsp_bands(bands):
    """lsp para_equalizer settings: [(type, freq, gain dB, q)] in bands 0.."""
    s = {}
    for i, (ft, f, g, q) in enumerate(bands):
        s.update({"ft_%d" % i: ft, "f_%d" % i: f, "g_%d" % i: "%.6f" % db_gain(g), "q_%d" % i: q})
    return s


def peers_for(job):
    g6 = "%.6f" % db_gain(6)
    if job == "eq1":
        return [Peer("lsp para_equalizer_x16", LSP + "para_equalizer_x16_stereo",
                     lsp_bands([(1, 1000, 6, 1)])),
                Peer("x42 fil4", X42 + "fil4#stereo",
                     dict(FIL4_OFF, sec1=1, freq1=1000, gain1=6, q1=1.39)),
                Peer("calf Equalizer5Band", CALF + "Equalizer5Band",
                     {"p2_active": 1, "p2_freq": 1000, "p2_level": g6, "p2_q": 1}),
                Peer("swh singlePara", SWH + "singlePara", {"gain": 6, "fc": 1000, "bw": 1.39},
                     dual=True)]
    if job == "eq8":
        fil = {"HighPass": 1, "HPfreq": 20, "LowPass": 1, "LPfreq": 20000,
               "LSsec": 1, "LSgain": 4, "HSsec": 1, "HSgain": -4}
        for i in range(4):
            fil.update({"sec%d" % (i + 1): 1, "gain%d" % (i + 1): PEQ8_GAINS[i]})
        calf = {"hp_active": 1, "hp_freq": 20, "lp_active": 1, "lp_freq": 20000,
                "ls_active": 1, "ls_level": "%.6f" % db_gain(4),
                "hs_active": 1, "hs_level": "%.6f" % db_gain(-4)}
        for i in range(4):
            calf.update({"p%d_active" % (i + 1): 1, "p%d_level" % (i + 1): "%.6f" % db_gain(PEQ8_GAINS[i])})
        return [Peer("lsp para_equalizer_x16", LSP + "para_equalizer_x16_stereo",
                     lsp_bands([(1, f, g, 1) for f, g in zip(PEQ8_FREQS, PEQ8_GAINS)])),
                Peer("x42 fil4 (8 filters)", X42 + "fil4#stereo", fil),
                Peer("calf Equalizer8Band", CALF + "Equalizer8Band", calf)]
    if job == "lowshelf":
        return [Peer("lsp para_equalizer_x16", LSP + "para_equalizer_x16_stereo",
                     lsp_bands([(5, 100, 6, 0.707)])),
                Peer("x42 fil4", X42 + "fil4#stereo", dict(FIL4_OFF, LSsec=1, LSfreq=100, LSgain=6)),
                Peer("calf Equalizer5Band", CALF + "Equalizer5Band",
                     {"ls_active": 1, "ls_freq": 100, "ls_level": g6})]
    if job == "highshelf":
        return [Peer("lsp para_equalizer_x16", LSP + "para_equalizer_x16_stereo",
                     lsp_bands([(3, 8000, 6, 0.707)])),
                Peer("x42 fil4", X42 + "fil4#stereo", dict(FIL4_OFF, HSsec=1, HSfreq=8000, HSgain=6)),
                Peer("calf Equalizer5Band", CALF + "Equalizer5Band",
                     {"hs_active": 1, "hs_freq": 8000, "hs_level": g6})]
    if job in ("highpass", "lowpass"):
        hp = job == "highpass"
        f = 80 if hp else 12000
        return [Peer("lsp para_equalizer_x16", LSP + "para_equalizer_x16_stereo",
                     lsp_bands([(2 if hp else 4, f, 0, 0.707)])),
                Peer("x42 fil4", X42 + "fil4#stereo",
                     dict(FIL4_OFF, **({"HighPass": 1, "HPfreq": f} if hp else {"LowPass": 1, "LPfreq": f}))),
                Peer("calf Equalizer8Band", CALF + "Equalizer8Band",
                     {"hp_active": 1, "hp_freq": f, "hp_mode": 0} if hp else
                     {"lp_active": 1, "lp_freq": f, "lp_mode": 0}),
                Peer("swh butt%s_iir" % ("high" if hp else "low"),
                     SWH + ("butthigh_iir" if hp else "buttlow_iir"),
                     {"cutoff": f, "resonance": 0.707}, dual=True)]
    if job == "compressor":
        return [Peer("x42 darc", X42 + "darc#stereo",
                     {"threshold": -20, "Ratio": 0.75, "attack": 0.005, "release": 0.05}),
                Peer("swh sc4", SWH + "sc4", {"threshold": -20, "ratio": 4, "attack": 5, "release": 50}),
                Peer("calf Compressor", CALF + "Compressor",
                     {"threshold": 0.1, "ratio": 4, "attack": 5, "release": 50}),
                Peer("lsp compressor", LSP + "compressor_stereo", {"al": 0.1, "cr": 4, "at": 5, "rt": 50})]
    if job == "limiter":
        c = "%.6f" % db_gain(-10)
        return [Peer("x42 dpl", X42 + "dpl#stereo", {"threshold": -10, "release": 0.05}),
                Peer("swh fastLookaheadLimiter", SWH + "fastLookaheadLimiter",
                     {"limit": -10, "release": 0.05}),
                Peer("lsp limiter", LSP + "limiter_stereo", {"th": c, "lk": 2, "rt": 50}),
                Peer("calf Limiter", CALF + "Limiter", {"limit": c, "attack": 2, "release": 50})]
    if job == "expander":
        return [Peer("swh se4", SWH + "se4", {"threshold": -30, "ratio": 2, "attack": 1.5, "release": 100}),
                Peer("lsp expander", LSP + "expander_stereo",
                     {"em": 0, "al": "%.6f" % db_gain(-30), "er": 2, "at": 1, "rt": 100}),
                Peer("calf Gate (2:1)", CALF + "Gate",
                     {"threshold": "%.6f" % db_gain(-30), "ratio": 2, "range": "%.6f" % db_gain(-60),
                      "attack": 1, "release": 100})]
    if job == "gate":
        return [Peer("swh gate", SWH + "gate",
                     {"threshold": -30, "attack": 1, "hold": 50, "decay": 100, "range": -80,
                      "lf_fc": 25, "hf_fc": 20000}, dual=True),   # key filter open: the whole band
                Peer("lsp gate", LSP + "gate_stereo",
                     {"gt": "%.6f" % db_gain(-30), "gr": "%.6f" % db_gain(-80), "at": 1, "rt": 100}),
                Peer("calf Gate (20:1)", CALF + "Gate",
                     {"threshold": "%.6f" % db_gain(-30), "ratio": 20, "range": "%.6f" % db_gain(-80),
                      "attack": 1, "release": 100})]
    if job == "nonlinear":
        return [Peer("calf Saturator", CALF + "Saturator", {"drive": 3}),
                Peer("swh valve", SWH + "valve", {"q_p": 0, "dist_p": 0.5}, dual=True),
                Peer("swh foverdrive", SWH + "foverdrive", {"drive": 2}, dual=True),
                Peer("swh shaper", SWH + "shaper", {"shapep": 3}, dual=True),
                Peer("swh chebstortion", SWH + "chebstortion", {"dist": 1}, dual=True)]
    if job == "delay":
        return [Peer("calf VintageDelay", CALF + "VintageDelay",
                     {"timing": 1, "ms": 250, "feedback": 0.35, "amount": 0.3, "mix_mode": 0}),
                Peer("swh lcrDelay", SWH + "lcrDelay",
                     {"ldel": 250, "cdel": 250, "rdel": 250, "feedback": 35, "wet": 0.3}),
                Peer("swh fadDelay", SWH + "fadDelay", {"delay": 0.25, "fb_db": -9}, dual=True),
                Peer("swh delay_l", SWH + "delay_l", {"delay_time": 0.25}, dual=True,
                     less="a plain delay line: no feedback, no dry mix")]
    if job == "pingpong":
        return [Peer("calf VintageDelay ping-pong", CALF + "VintageDelay",
                     {"timing": 1, "ms": 250, "feedback": 0.35, "amount": 0.3, "mix_mode": 1})]
    if job == "multitap":
        return [Peer("lsp slap_delay (4 taps)", LSP + "slap_delay_stereo",
                     {"dm0": 1, "dt0": 125, "dm1": 1, "dt1": 250, "dm2": 1, "dt2": 375,
                      "dm3": 1, "dt3": 500}),
                Peer("swh tapeDelay (4 taps)", SWH + "tapeDelay",
                     {"t1d": 0.125, "t1a_db": -3, "t2d": 0.25, "t2a_db": -6, "t3d": 0.375,
                      "t3a_db": -9, "t4d": 0.5, "t4a_db": -12}, dual=True)]
    if job == "reverb":
        return [Peer("calf Reverb", CALF + "Reverb", {"decay_time": 2.5, "amount": 0.25}),
                Peer("swh gverb (mono in)", SWH + "gverb", {"roomsize": 50, "revtime": 2.5}),
                Peer("swh plate (mono in)", SWH + "plate", {"time": 2, "wet": 0.25})]
    return []


# ---------------------------------------------------------------------------
# running things


def parse_result(text):
    """The `result key=value ...` line of lv2-block-host / fx-block-bench."""
    for line in text.splitlines():
        if line.startswith("result "):
            return dict(w.split("=", 1) for w in line.split()[1:])
    return None


def run_result(cmd):
    """Run a DSP timer; (result dict, None) or (None, why)."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    res = parse_result(r.stdout)
    if r.returncode != 0 or res is None:
        why = (r.stderr.strip().splitlines() or ["exit status %d" % r.returncode])[-1]
        return None, why
    return res, None


def wall(cmd):
    """Seconds of one run, or None (printed) when it failed."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        print("FAILED (status %d): %s\n  %s" % (r.returncode, " ".join(cmd),
                                             r.stderr.strip().replace("\n", "\n  ")))
        return None
    return dt


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def chain_doc(path, effects):
    with open(path, "w") as f:
        json.dump({"schema": "cl-fx-chain/1", "effects": effects}, f)
    return path


def dsp_ours(doc, wav, block=128, runs=None):
    """Median realtime factor (and the last result) of fx-block-bench."""
    got, last, why = [], None, None
    for _ in range(runs or own.dsp_runs):
        res, why = run_result([own.dsp_bench, doc, wav, "--block", str(block)])
        if res:
            got.append(float(res["realtime"]))
            last = res
    return (statistics.median(got) if got else None), last, why


def dsp_peer(peer, runs=None):
    got = []
    for _ in range(runs or own.dsp_runs):
        res, why = run_result([own.lv2_host] + peer.args()[:1] + [in_wav] + peer.args()[1:])
        if res is None:
            peer.error = why
            return
        got.append(float(res["realtime"]))
        peer.result = res
    peer.dsp = statistics.median(got)


def wav_frames(path):
    """(frames, channels, rate, float) from a WAV header, or None."""
    try:
        with open(path, "rb") as f:
            data = f.read(4096)
        size = os.path.getsize(path)
    except OSError:
        return None
    if data[0:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    off, fmt = 12, None
    while off + 8 <= len(data):
        cid, n = data[off:off + 4], struct.unpack_from("<I", data, off + 4)[0]
        if cid == b"fmt ":
            fmt = struct.unpack_from("<HHIIHH", data, off + 8)
        elif cid == b"data":
            if fmt is None:
                return None
            tag, nch, rate, _, align, bits = fmt
            n = min(n, size - off - 8)
            return n // align, nch, rate, tag in (3, 0xFFFE) and bits == 32
        off += 8 + n + (n & 1)
    return None


def wav_rms_db(path, stride=97):
    """RMS in dBFS of every stride-th float sample of a float WAV (all
    finite?) -> (dB, finite)."""
    with open(path, "rb") as f:
        data = f.read()
    i = data.find(b"data")
    a = array.array("f")
    a.frombytes(data[i + 8:i + 8 + (len(data) - i - 8) // 4 * 4])
    sub = a[::stride]
    finite = all(math.isfinite(v) for v in sub)
    return (h.rms_db([v for v in sub if math.isfinite(v)]) if sub else -math.inf), finite


# ---------------------------------------------------------------------------
# spectra: how much a nonlinear effect aliases


def fft(x):
    """Radix-2 FFT of a list of complex numbers (length a power of 2)."""
    n = len(x)
    if n == 1:
        return x
    even, odd = fft(x[0::2]), fft(x[1::2])
    out = [0j] * n
    for k in range(n // 2):
        t = cmath.exp(-2j * math.pi * k / n) * odd[k]
        out[k], out[k + n // 2] = even[k] + t, even[k] - t
    return out


def worst_alias_db(samples, rate, f0=10000.0, lo=20.0, hi=5000.0, n=8192):
    """The strongest component from lo to hi Hz (for a 10 kHz input, all
    aliases: its harmonics lie above) under the fundamental, in dB, from
    a 4-term Blackman-Harris windowed spectrum of the last n samples
    (each tone summed over its main lobe, +-4 bins)."""
    x = samples[-n:]
    a = (0.35875, 0.48829, 0.14128, 0.01168)
    w = [a[0] - a[1] * math.cos(2 * math.pi * i / n) + a[2] * math.cos(4 * math.pi * i / n)
         - a[3] * math.cos(6 * math.pi * i / n) for i in range(n)]
    spec = fft([complex(x[i] * w[i]) for i in range(n)])
    power = [abs(v) ** 2 for v in spec[:n // 2]]
    bin_hz = rate / n

    def lobe(k):
        return sum(power[max(0, k - 4):k + 5])
    fund = lobe(round(f0 / bin_hz))
    worst = max(lobe(k) for k in range(max(5, int(lo / bin_hz)), int(hi / bin_hz)))
    return 10.0 * math.log10(max(worst, 1e-30) / fund)


def alias_of_wav(path):
    w = h.read_wav(path)
    return worst_alias_db(w.channels[0], w.rate)


# ---------------------------------------------------------------------------
# the input

r = subprocess.run([sox, "-n", "-r", str(RATE), "-c", "2", "-e", "float", "-b", "32", in_wav,
                    "synth", str(SECONDS), "pinknoise", "vol", "0.5"], capture_output=True, text=True)
info = wav_frames(in_wav) if r.returncode == 0 else None
if not h.check(info == (RATE * SECONDS, 2, RATE, True),
               "sox made %d s of stereo 48 kHz float pink noise in %s (%s)" % (SECONDS, work, info)):
    h.fail("no input: %s" % r.stderr.strip())

# ---------------------------------------------------------------------------
# offline: cl-fx and sox (wall), cl-fx DSP, LV2 peers

results = []
for i, (label, what, effects, sox_fx, job) in enumerate(ROWS):
    doc = chain_doc(os.path.join(work, "row%02d.json" % i), effects)
    ours, theirs = [], []
    for k in range(own.runs + CLOSE_EXTRA_RUNS):
        if k == own.runs:
            # a close race gets more runs of both before the medians decide
            mo, ms = median_or_none(ours), median_or_none(theirs)
            if not (mo and ms and CLOSE_RATIO[0] <= ms / mo <= CLOSE_RATIO[1]):
                break
        ours.append(wall([args.client, "--offline", "--chain", doc, in_wav, out_wav, "--format", "float"]))
        theirs.append(wall([sox, in_wav, "-e", "float", "-b", "32", out_wav] + sox_fx))
    ok_out = False
    got = wav_frames(out_wav)
    # the last sox run wrote out_wav; render ours once more to check it
    if wall([args.client, "--offline", "--chain", doc, in_wav, out_wav, "--format", "float"]):
        got = wav_frames(out_wav)
        level, finite = wav_rms_db(out_wav)
        ok_out = got == (RATE * SECONDS, 2, RATE, True) and finite and level > -60
        h.check(ok_out, "%s (%s): cl-fx --offline output: %s frames/channels/rate/float, "
                "finite %s, %.1f dBFS RMS" % (label, what, got, finite, level))
    dsp, res, why = dsp_ours(doc, in_wav, runs=1)
    h.check(dsp is not None, "%s (%s): fx-block-bench ran%s" % (label, what, "" if dsp else ": " + str(why)))
    results.append({"label": label, "what": what, "doc": doc, "job": job, "sox": " ".join(sox_fx),
                    "wall": SECONDS / median_or_none(ours) if median_or_none(ours) else None,
                    "sox_wall": SECONDS / median_or_none(theirs) if median_or_none(theirs) else None,
                    "dsp": dsp})
    print("# %-10s %-32s cl-fx wall %s, DSP %s; sox %s" % (
        label, what, *("%.0fx" % v if v else "-" for v in
                       (results[-1]["wall"], dsp, results[-1]["sox_wall"]))))

jobs = {}
for job in dict.fromkeys(row["job"] for row in results):
    if job == "chain":
        continue
    jobs[job] = peers_for(job)
    for p in jobs[job]:
        dsp_peer(p)
        print("# peer %-12s %-30s %s" % (job, p.name, "%.0fx" % p.dsp if p.dsp else "FAILED: " + str(p.error)))

# the nonlinear job: who aliases (a full-scale 10 kHz sine at full drive)
sine_wav = os.path.join(work, "sine10k.wav")
subprocess.run([sox, "-n", "-r", str(RATE), "-c", "2", "-e", "float", "-b", "32", sine_wav,
                "synth", "1", "sine", "10000", "vol", "1"], check=True)
FULL_DRIVE = {"calf Saturator": {"drive": 10}, "swh valve": {"dist_p": 1}, "swh foverdrive": {"drive": 3},
              "swh shaper": {"shapep": 10}, "swh chebstortion": {"dist": 3}}
for p in jobs.get("nonlinear", []):
    if p.error:
        continue
    alias_out = os.path.join(work, "alias.wav")
    full = Peer(p.name, p.uri, dict(p.sets, **FULL_DRIVE.get(p.name, {})), p.dual)
    res, why = run_result([own.lv2_host, full.uri, sine_wav] + full.args()[1:] + ["--out", alias_out])
    if res is None:
        p.less = "its alias level could not be measured: %s" % why
        continue
    p.alias = alias_of_wav(alias_out)
    if p.alias > SAME_JOB_ALIAS_DB:
        p.less = "no anti-aliasing: aliases at %.0f dB" % p.alias
ours_alias = {}
for t, drive in (("saturation", 36), ("distortion", 48), ("waveshaper", 24)):
    doc = chain_doc(os.path.join(work, "alias-%s.json" % t), [{"type": t, "params": {"drive": drive}}])
    alias_out = os.path.join(work, "alias.wav")
    if wall([args.client, "--offline", "--chain", doc, sine_wav, alias_out, "--format", "float"]):
        ours_alias[t] = alias_of_wav(alias_out)

# the LV2 chain: the fastest same-job peer of each of the chain's jobs


def fastest(peers):
    same = [p for p in peers if p.dsp and not p.less]
    return max(same, key=lambda p: p.dsp) if same else None


def lv2_cmd(peers, block=128):
    """lv2-block-host running `peers` in series on the input."""
    cmd = [own.lv2_host] + peers[0].args()[:1] + [in_wav, "--block", str(block)] + peers[0].args()[1:]
    for p in peers[1:]:
        cmd += ["--then"] + p.args()
    return cmd


chain_peers = [fastest(jobs.get(j, [])) for j in CHAIN_JOBS]
if all(chain_peers):
    jobs["chain"] = [Peer(" + ".join(p.name for p in chain_peers), "-")]
    res, why = run_result(lv2_cmd(chain_peers))
    jobs["chain"][0].dsp = float(res["realtime"]) if res else None
    jobs["chain"][0].error = why

# The decision: each row's DSP against the fastest same-job peer in
# alternating runs, so that a burst of load from elsewhere hits both.
for r in results:
    best = fastest(jobs.get(r["job"], []))
    r["peer"] = best
    r["peer_dsp"] = None
    if best is None:
        continue
    peer_cmd = lv2_cmd(chain_peers) if r["job"] == "chain" else lv2_cmd([best])
    mine, theirs = [], []
    for _ in range(own.pair_runs):
        res, _ = run_result([own.dsp_bench, r["doc"], in_wav])
        if res:
            mine.append(float(res["realtime"]))
        res, why = run_result(peer_cmd)
        if res:
            theirs.append(float(res["realtime"]))
    r["dsp"] = statistics.median(mine) if mine else None
    r["peer_dsp"] = statistics.median(theirs) if theirs else None

# ---------------------------------------------------------------------------
# the table


def x(v):
    return "%.0fx" % v if v else "-"


print()
print("Offline, %d s of stereo 48 kHz float pink noise in /dev/shm; realtime factors (60 s / time),"
      % SECONDS)
print("medians of %d runs (wall: whole process, file I/O included; %d when cl-fx and sox are within "
      "%.0f%%) and of %d (DSP: only the processing, 128-frame blocks in memory, cl-fx alternating "
      "with its fastest peer; other peers: %d runs)"
      % (own.runs, own.runs + CLOSE_EXTRA_RUNS, (CLOSE_RATIO[1] - 1) * 100, own.pair_runs,
         own.dsp_runs))
head = "%-11s %-32s %9s %9s | %-44s | %-34s | %s" % (
    "job", "cl-fx settings", "cl-fx DSP", "wall", "sox nearest equivalent (wall)",
    "fastest LV2 peer, same job (DSP)", "other LV2 peers (DSP)")
print(head)
print("-" * len(head))
for r in results:
    peers = jobs.get(r["job"], [])
    best = r["peer"]
    others = ["%s %s%s" % (p.name, x(p.dsp) if p.dsp else "FAILED (%s)" % p.error,
                           " [not checked: %s]" % p.less if p.less else "")
              for p in peers if p is not best]
    sox_text = r["sox"] if len(r["sox"]) <= 34 else r["sox"][:31] + "..."
    print("%-11s %-32s %9s %9s | %-36s %7s | %-26s %7s | %s" % (
        r["label"], r["what"][:32], x(r["dsp"]), x(r["wall"]), sox_text, x(r["sox_wall"]),
        best.name[:26] if best else "NONE RAN", x(r["peer_dsp"]), "; ".join(others)))
print()
if ours_alias or any(p.alias is not None for p in jobs.get("nonlinear", [])):
    print("Aliasing, full-scale 10 kHz sine at full drive, worst component 20 Hz..5 kHz under the "
          "fundamental (same job: %.0f dB or lower):" % SAME_JOB_ALIAS_DB)
    print("  cl-fx: " + ", ".join("%s %.0f dB" % (t, v) for t, v in ours_alias.items()))
    print("  LV2:   " + ", ".join("%s %s" % (p.name, "%.0f dB" % p.alias if p.alias is not None
                                               else "not measured")
                                  for p in jobs.get("nonlinear", [])))
    print()

for r in results:
    name = "%s (%s)" % (r["label"], r["what"])
    h.check(r["wall"] is not None and r["sox_wall"] is not None and r["wall"] > r["sox_wall"],
            "%s: cl-fx wall %s faster than sox %s (%s)" % (name, x(r["wall"]), x(r["sox_wall"]), r["sox"]))
    best = r["peer"]
    if best is None:
        print("NO SAME-JOB LV2 PEER RAN for %s: %s" % (r["job"], "; ".join(
            "%s: %s" % (p.name, p.error or p.less) for p in jobs.get(r["job"], []))))
    h.check(best is not None and r["dsp"] is not None and r["peer_dsp"] is not None
            and r["dsp"] >= r["peer_dsp"],
            "%s: cl-fx DSP %s no slower than the fastest LV2 peer of the job, %s %s"
            % (name, x(r["dsp"]), best.name if best else "(none ran)", x(r["peer_dsp"])))
for t, v in ours_alias.items():
    h.check(v <= SAME_JOB_ALIAS_DB, "cl-fx %s aliases at %.0f dB (<= %.0f dB: the job its peers "
            "are held to)" % (t, v, SAME_JOB_ALIAS_DB))

# ---------------------------------------------------------------------------
# live: the chain on JACK at 64-frame periods

chain_path = chain_doc(os.path.join(work, "chain5.json"), CHAIN)
feed_wav = os.path.join(work, "feed.wav")
subprocess.run([sox, "-n", "-r", str(RATE), "-c", "2", "-b", "32", "-e", "float", feed_wav,
                "synth", "10", "pinknoise", "vol", "0.5"], check=True, timeout=60)
live = {}
with h.JackServer(rate=RATE, period=PERIOD) as srv:
    probe = h.Probe(srv)
    cl = h.Client(args.client, ["--chain", chain_path], srv)
    osc = cl.osc_client()
    h.check(osc.request("/cl/ping", reply="/cl/pong") is not None, "cl-fx answers /cl/ping")
    feed = probe.play([cl.port("in_l"), cl.port("in_r")], wav=feed_wav, loop=True, name="feed")
    made = srv.connect(cl.port("out_l"), "system:playback_1") + \
        srv.connect(cl.port("out_r"), "system:playback_2")
    h.check_equal(made, 2, "cl-fx outputs connected to system:playback")
    cap = probe.capture([cl.port("out_l"), cl.port("out_r")], frames=RATE // 2, name="check")
    levels = [h.rms_db(c) for c in cap.channels]
    h.check(all(v > -40 for v in levels), "cl-fx's chain carries the noise live (%s dBFS)"
            % ", ".join("%.1f" % v for v in levels))

    def status():
        m = osc.request("/cl/status", timeout=3)
        return json.loads(m.args[0]) if m else None
    st0 = status()
    load = probe.load(own.seconds, 0.5, name="load")
    st1 = status()
    dsp = (st1 or {}).get("dsp", {})
    live = {"median": dsp.get("cycle_us_median"), "p99": dsp.get("cycle_us_p99"),
            "max": dsp.get("cycle_us_max"), "cycles": dsp.get("cycles"),
            "window": (dsp.get("cycles") or 0) - ((st0 or {}).get("dsp", {}).get("cycles") or 0),
            "load": load.median, "xruns": load.xruns}
    h.check(live["median"] is not None, "cl-fx /cl/status has dsp figures (%s)" % dsp)
    rc = cl.stop(timeout=5.0)
    h.check_equal(rc, 0, "cl-fx exits 0 on SIGTERM")
    feed.stop()

# the same chain, DSP only, at 64-frame blocks: ours and the LV2 peers',
# alternating; the run with the median us per block of each


def median_result(results):
    results = sorted(results, key=lambda m: float(m["us_per_block_median"]))
    return results[len(results) // 2] if results else None


mine64, theirs64, why64 = [], [], None
for _ in range(own.pair_runs):
    res, why64 = run_result([own.dsp_bench, chain_path, in_wav, "--block", str(PERIOD)])
    if res:
        mine64.append(res)
    if all(chain_peers):
        res, _ = run_result(lv2_cmd(chain_peers, block=PERIOD))
        if res:
            theirs64.append(res)
ours64, peers64 = median_result(mine64), median_result(theirs64)


def us(v):
    return "%.1f" % float(v) if v is not None else "-"


def pct(v):
    return "%.2f%%" % (float(v) / PERIOD_US * 100) if v is not None else "-"


print()
print("Live: the 5-effect chain at 48 kHz, %d-frame periods (%.0f us), jackd -S, dummy driver, "
      "%.0f s window" % (PERIOD, PERIOD_US, own.seconds))
head = "%-58s %10s %10s %10s %10s" % ("", "median us", "% period", "p99 us", "% period")
print(head)
print("-" * len(head))
print("%-58s %10s %10s %10s %10s" % ("cl-fx in JACK (its process callback, /cl/status)",
                                     us(live.get("median")), pct(live.get("median")),
                                     us(live.get("p99")), pct(live.get("p99"))))
if ours64:
    print("%-58s %10s %10s %10s %10s" % ("cl-fx chain, DSP only, 64-frame blocks (fx-block-bench)",
                                         us(ours64["us_per_block_median"]),
                                         pct(ours64["us_per_block_median"]),
                                         us(ours64["us_per_block_p99"]), pct(ours64["us_per_block_p99"])))
if peers64:
    print("%-58s %10s %10s %10s %10s" % ("LV2 peers chained, run() only, 64-frame blocks",
                                         us(peers64["us_per_block_median"]),
                                         pct(peers64["us_per_block_median"]),
                                         us(peers64["us_per_block_p99"]), pct(peers64["us_per_block_p99"])))
    print("  (%s)" % " -> ".join(p.name for p in chain_peers))
print("(JACK DSP load median %s%%, %s xruns in the window; cl-fx's figures cover its %s cycles, "
      "%s in the window; max %s us)" % ("%.2f" % live["load"] if live.get("load") is not None else "-",
                                        live.get("xruns"), live.get("cycles"), live.get("window"),
                                        us(live.get("max"))))
print()
h.check(live.get("median") is not None and live["median"] < 0.25 * PERIOD_US,
        "cl-fx live median %s us < 25%% of the period (%.0f us)" % (us(live.get("median")),
                                                                  0.25 * PERIOD_US))
h.check(ours64 is not None and peers64 is not None and
        float(ours64["us_per_block_median"]) <= float(peers64["us_per_block_median"]),
        "cl-fx chain at 64-frame blocks (%s us) no slower than the LV2 peers' chain (%s us)"
        % (us(ours64["us_per_block_median"]) if ours64 else why64,
           us(peers64["us_per_block_median"]) if peers64 else "did not run"))

shutil.rmtree(work, ignore_errors=True)
h.done()
