"""The VOICES section of man/cl-seq.1 is exactly what `cl-seq --voices-doc`
prints from the voice parameter tables; the README names every voice and
parameter; the man page lists every OSC method cl-seq --osc-doc prints."""

import os
import subprocess

import harness as h

args = h.parse_args()
root = os.path.join(os.path.dirname(__file__), "..", "..")
with open(os.path.join(root, "man", "cl-seq.1")) as f:
    text = f.read()
begin, end = ".\\\" BEGIN VOICES", ".\\\" END VOICES"
h.check(begin in text and end in text, "the man page marks its generated section")
section = text.split(begin, 1)[1].split("\n", 1)[1].split(end, 1)[0]
r = subprocess.run([args.client, "--voices-doc"], capture_output=True, text=True, timeout=10)
h.check(r.returncode == 0 and r.stdout, "cl-seq --voices-doc runs")
h.check(section == r.stdout, "man/cl-seq.1's VOICES section equals --voices-doc "
        "(regenerate it with cl-seq --voices-doc)")
for v in ("kick", "snare", "hat", "clap", "acid"):
    h.check(".SS %s\n" % v in section, "the page documents the %s voice" % v)

with open(os.path.join(root, "README.md")) as f:
    readme = f.read()
rsec = readme.split("<!-- BEGIN VOICES", 1)[-1].split("<!-- END VOICES", 1)[0]
missing = []
for block in r.stdout.split(".SS ")[1:]:
    kind = block.split("\n", 1)[0]
    names = [l.split("\t")[0] for l in block.split(".TS\n")[1].split(".TE")[0].strip().split("\n")[2:]]
    row = next((l for l in rsec.splitlines() if l.startswith("| `%s` |" % kind)), "")
    missing += ["%s.%s" % (kind, n) for n in names if "`%s`" % n not in row]
h.check("<!-- BEGIN VOICES" in readme and not missing,
        "README lists every voice and parameter (missing: %s)" % missing[:5])

doc = subprocess.run([args.client, "--osc-doc"], capture_output=True, text=True, timeout=10).stdout
paths = [l.split()[0] for l in doc.splitlines() if l.strip().startswith("/seq")]
page = text.replace("\\fR", "").replace("\\fP", "").replace("\\fI", "").replace("\\fB", "")
undocumented = [p for p in paths if [x for x in p.split("/") if x and x != "*"][-1] not in page]
h.check(len(paths) >= 20 and not undocumented, "every /seq method is on the man page (%d; missing %s)"
        % (len(paths), undocumented[:5]))
h.done()
