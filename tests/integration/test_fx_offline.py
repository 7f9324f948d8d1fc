"""cl-fx live and offline run the same DSP: a file played through a chain
on the JACK ports comes out with the very samples `cl-fx --offline`
renders from the same file and chain (within float rounding). Also the
offline command line: its errors exit 1 naming the problem and leave no
output."""

import json
import math
import os
import random
import subprocess
import time

import harness as h

RATE = 48000
args = h.parse_args()
tmp = h.tmpdir()

# 1 s of a 330 Hz sine with a noise burst, stereo
rnd = random.Random(7)
left = [0.25 * math.sin(2 * math.pi * 330 * i / RATE) + (0.2 * (rnd.random() - 0.5) if 20000 < i < 24000 else 0)
        for i in range(RATE)]
right = [0.2 * math.sin(2 * math.pi * 550 * i / RATE) for i in range(RATE)]
src = os.path.join(tmp, "in.wav")
h.write_wav(src, RATE, [left, right])
chain = {"schema": "cl-fx-chain/1", "effects": [
    {"type": "peq", "params": {"freq1": 330, "gain1": 6, "q1": 2}},
    {"type": "compressor", "params": {"threshold": -24, "ratio": 4, "attack": 2, "release": 80}},
    {"type": "delay", "params": {"time": 125, "feedback": 40, "mix": 30}},
    {"type": "freeverb", "params": {"room": 0.6, "mix": 0.2}}]}
chain_path = os.path.join(tmp, "chain.json")
with open(chain_path, "w") as f:
    json.dump(chain, f)

# --- offline render
out = os.path.join(tmp, "out.wav")
r = subprocess.run([args.client, "--offline", "--chain", chain_path, src, out],
                   capture_output=True, text=True, timeout=60)
h.check(r.returncode == 0 and os.path.exists(out), "cl-fx --offline renders (%s)" % r.stderr.strip()[-200:])
ref = h.read_wav(out)
h.check(ref.frames == RATE and len(ref.channels) == 2, "offline output: 1 s, stereo")

with h.JackServer(rate=RATE, period=256) as srv:
    probe = h.Probe(srv)
    cl = h.Client(args.client, ["--chain", chain_path], srv)
    cap_job = probe.capture_start([cl.port("out_l"), cl.port("out_r")], frames=RATE * 2)
    time.sleep(0.2)
    play = probe.play([cl.port("in_l"), cl.port("in_r")], wav=src)
    play.wait(10)
    cap = cap_job.result()
    # where the file's first frame came out: the play and capture frame
    # times, allowing for one period either way (the graph order)
    base = play.start_frame - cap.start_frame
    best = None
    for shift in range(-512, 513):
        i0 = base + shift
        if i0 < 0 or i0 + RATE > cap.frames:
            continue
        err = max(abs(cap.channels[0][i0 + k] - ref.channels[0][k]) for k in range(0, RATE, 97))
        if best is None or err < best[0]:
            best = (err, shift)
    h.check(best is not None, "the live output holds the whole file")
    if best:
        i0 = base + best[1]
        worst = max(abs(cap.channels[c][i0 + k] - ref.channels[c][k]) for c in (0, 1) for k in range(RATE))
        peak = max(abs(v) for v in ref.channels[0])
        h.check(worst <= 1e-5 and peak > 0.1,
                "live = offline sample for sample: worst difference %.2g over 1 s x 2 (aligned at %+d frames "
                "from the frame times)" % (worst, best[1]))
    h.check_equal(cl.stop(), 0, "cl-fx exits 0")

# --- offline errors
cases = [
    (["--offline", "--chain", chain_path, os.path.join(tmp, "missing.wav"), out + "2.wav"], "cannot open"),
    (["--offline", "--chain", os.path.join(tmp, "nochain.json"), src, out + "3.wav"], "nochain.json"),
    (["--offline", "--chain", chain_path, src, out + ".mp3"], ".mp3"),
]
with open(os.path.join(tmp, "garbage.wav"), "wb") as f:
    f.write(b"RIFF....WAVEjunkjunkjunk")
cases.append((["--offline", "--chain", chain_path, os.path.join(tmp, "garbage.wav"), out + "4.wav"],
              "garbage.wav"))
for argv, want in cases:
    r = subprocess.run([args.client] + argv, capture_output=True, text=True, timeout=30)
    target = argv[-1]
    h.check(r.returncode == 1 and want in r.stderr and not os.path.exists(target),
            "refused with exit 1 naming %r, nothing written (%d: %s)" % (want, r.returncode,
                                                                       r.stderr.strip()[-120:]))
r = subprocess.run([args.client, "--offline", src, out], capture_output=True, text=True, timeout=30)
h.check(r.returncode == 2, "--offline without --chain is bad usage (exit 2)")
bad = out + "-8bit.wav"
r = subprocess.run([args.client, "--offline", "--chain", chain_path, src, bad, "--format", "8"],
                   capture_output=True, text=True, timeout=30)
h.check(r.returncode == 2 and 'unknown sample format "8" (want float, 24 or 16)' in r.stderr
        and not os.path.exists(bad),
        "--format 8 is bad usage (exit 2), named, nothing written: %d %r"
        % (r.returncode, r.stderr.strip()[-120:]))
h.done()
