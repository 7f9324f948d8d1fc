"""The EFFECTS section of man/cl-fx.1 is exactly what `cl-fx --effects-doc`
prints from the parameter tables, so the page lists every effect and every
parameter with the ranges the code uses."""

import os
import subprocess

import harness as h

args = h.parse_args()
page = os.path.join(os.path.dirname(__file__), "..", "..", "man", "cl-fx.1")
with open(page) as f:
    text = f.read()
begin, end = ".\\\" BEGIN EFFECTS", ".\\\" END EFFECTS"
h.check(begin in text and end in text, "the man page marks its generated section")
section = text.split(begin, 1)[1].split("\n", 1)[1].split(end, 1)[0]
r = subprocess.run([args.client, "--effects-doc"], capture_output=True, text=True, timeout=10)
h.check(r.returncode == 0 and r.stdout, "cl-fx --effects-doc runs")
h.check(section == r.stdout, "man/cl-fx.1's EFFECTS section equals --effects-doc "
        "(regenerate it with cl-fx --effects-doc)")
for t in ("peq", "lowshelf", "highshelf", "highpass", "lowpass", "compressor", "limiter", "expander",
          "gate", "saturation", "distortion", "waveshaper", "delay", "pingpong", "multitap",
          "freeverb", "hall", "plate"):
    h.check(".SS %s\n" % t in section, "the page documents %s" % t)
readme = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
with open(readme) as f:
    rtext = f.read()
rsec = rtext.split("<!-- BEGIN EFFECTS", 1)[-1].split("<!-- END EFFECTS", 1)[0]
blocks = r.stdout.split(".SS ")[1:]
missing = []
for b in blocks:
    tid = b.split("\n", 1)[0]
    names = [l.split("\t")[0] for l in b.split(".TS\n")[1].split(".TE")[0].strip().split("\n")[2:]]
    row = next((l for l in rsec.splitlines() if l.startswith("| `%s` |" % tid)), "")
    missing += ["%s.%s" % (tid, n) for n in names if "`%s`" % n not in row]
h.check(len(blocks) == 18 and not missing,
        "README lists every effect and parameter (missing: %s)" % missing[:5])

# scripts/studio's demo chain renders offline
import struct
import wave
tmp = h.tmpdir()
with wave.open(tmp + "/in.wav", "wb") as w:
    w.setnchannels(2)
    w.setsampwidth(2)
    w.setframerate(48000)
    w.writeframes(b"".join(struct.pack("<hh", 8000, -8000) for _ in range(4800)))
chain = os.path.join(os.path.dirname(__file__), "..", "..", "session", "demo-chain.json")
r = subprocess.run([args.client, "--offline", "--chain", chain, tmp + "/in.wav", tmp + "/out.wav"],
                   capture_output=True, text=True, timeout=30)
h.check(r.returncode == 0 and os.path.getsize(tmp + "/out.wav") > 4800 * 8,
        "the studio's demo chain renders (%s)" % r.stderr.strip()[-200:])
h.done()
