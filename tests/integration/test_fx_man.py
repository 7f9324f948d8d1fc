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
h.done()
