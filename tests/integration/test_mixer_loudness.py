"""cl-mixer's loudness modes against an independent meter.

    python3 test_mixer_loudness.py --client PATH-TO-cl-mixer [--probe P]

No JACK: `cl-mixer --analyze`, `--apply` and `--offline` run on files.
sox makes 20 s of pink noise and a sine; ffmpeg's ebur128 filter (its own
BS.1770 implementation, not libebur128) measures the same files, and the
two meters must agree: integrated loudness within 0.5 LU, loudness range
within 1 LU, true peak within 0.5 dB (and never under the sample peak
that sox reports). Then --apply writes faders into a two-strip mix
document exactly as it prints them, and the mixdown of the applied mix
measures at the target: +-0.5 LU for one strip; for two uncorrelated
strips each at the target, the target + 3 LU. The true-peak ceiling and
error exits are checked on the way.
"""

import json
import math
import os
import re
import shutil
import subprocess
import wave

import harness as h

ANALYZE_LINE = re.compile(
    r"^(?P<file>.*): (?P<i>-?\d+\.\d) LUFS integrated, LRA (?P<lra>\d+\.\d) LU, "
    r"true peak (?P<tp>-?\d+\.\d|-inf) dBTP -> fader (?P<fader>[+-]\d+\.\d) dB "
    r"\((?P<how>.*)\)$")
APPLY_LINE = re.compile(
    r"^strips\[(?P<idx>\d+)\] (?:\"[^\"]*\" )?\((?P<file>[^)]*)\): volume (?P<old>\S+) -> "
    r"(?P<new>-?\d+\.\d) dB \((?P<how>.*)\)$")


def run(cmd, timeout=120):
    """Run a command; returns (exit status, stdout, stderr)."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def need(tool):
    path = shutil.which(tool)
    if path is None:
        h.fail("%s is not installed (scripts/install-deps installs it)" % tool)
    return path


def ffmpeg_meter(path):
    """ffmpeg's EBU R128 summary of a file: (I LUFS, LRA LU, true peak dBTP)."""
    code, _, err = run(["ffmpeg", "-nostdin", "-nostats", "-hide_banner", "-i", path,
                        "-af", "ebur128=peak=true", "-f", "null", "-"])
    if code != 0:
        h.fail("ffmpeg could not measure %s:\n%s" % (path, err[-2000:]))
    summary = err[err.rfind("Summary:"):]
    i = re.search(r"I:\s+(-?\d+\.\d) LUFS", summary)
    lra = re.search(r"LRA:\s+(\d+\.\d) LU", summary)
    peak = re.search(r"Peak:\s+(-?\d+\.\d|-inf) dBFS", summary)
    if not (i and lra and peak):
        h.fail("no ebur128 summary from ffmpeg for %s:\n%s" % (path, summary))
    return float(i.group(1)), float(lra.group(1)), float(peak.group(1))


def sox_sample_peak(path):
    """Sample peak in dBFS over all channels (sox stats' "Pk lev dB")."""
    code, _, err = run(["sox", path, "-n", "stats"])
    m = re.search(r"^Pk lev dB\s+(-?\d+\.\d+)", err, re.M)
    if code != 0 or not m:
        h.fail("sox stats failed on %s:\n%s" % (path, err))
    return float(m.group(1))


def analyze(client, path, *extra):
    """One --analyze line of cl-mixer, parsed (a dict), or None."""
    code, out, err = run([client, "--analyze", path] + list(extra))
    h.check_equal(code, 0, "cl-mixer --analyze %s exits 0 (stderr: %s)"
                  % (os.path.basename(path), err.strip()))
    lines = [l for l in out.splitlines() if l.strip()]
    m = ANALYZE_LINE.match(lines[0]) if len(lines) == 1 else None
    h.check(m is not None, "one analysis line in the documented form: %r" % out)
    if m is None:
        return None
    d = m.groupdict()
    for k in ("i", "lra", "tp", "fader"):
        d[k] = float(d[k])
    return d


def apply(client, mix, target, ceiling):
    """Run --apply; returns {strip index: printed new volume}."""
    code, out, err = run([client, "--apply", mix, "--target", str(target),
                          "--ceiling", str(ceiling)])
    h.check_equal(code, 0, "cl-mixer --apply %s exits 0 (stderr: %s)"
                  % (os.path.basename(mix), err.strip()))
    printed = {}
    for line in out.splitlines():
        m = APPLY_LINE.match(line)
        if m:
            printed[int(m.group("idx"))] = float(m.group("new"))
    h.check(re.search(r": \d+ of \d+ faders changed, master unchanged", out) is not None,
            "--apply ends with its summary line: %r" % out[-200:])
    return printed, out


def volumes(mix):
    with open(mix) as f:
        doc = json.load(f)
    return [s.get("volume") for s in doc["strips"]], doc


def main():
    args = h.parse_args()
    if not args.client:
        h.fail("--client PATH-TO-cl-mixer is required")
    client = args.client
    need("sox")
    need("ffmpeg")
    d = h.tmpdir()
    pink = os.path.join(d, "pink.wav")
    tone = os.path.join(d, "tone.wav")
    code, _, err = run(["sox", "-R", "-n", "-r", "48000", "-c", "2", "-b", "24", pink,
                        "synth", "20", "pinknoise", "vol", "0.3"])
    if code != 0:
        h.fail("sox could not make pink noise: " + err)
    code, _, err = run(["sox", "-R", "-n", "-r", "48000", "-c", "1", "-b", "24", tone,
                        "synth", "20", "sine", "440", "vol", "0.05"])
    if code != 0:
        h.fail("sox could not make a sine: " + err)

    # --- the analysis against ffmpeg --------------------------------------
    ours = analyze(client, pink)
    ref_i, ref_lra, ref_tp = ffmpeg_meter(pink)
    sample_peak = sox_sample_peak(pink)
    if ours is None:
        h.done()
    h.check_close(ours["i"], ref_i, 0.5, "integrated loudness of pink noise vs ffmpeg ebur128")
    h.check_close(ours["lra"], ref_lra, 1.0, "loudness range vs ffmpeg")
    h.check(ours["lra"] < 3.0, "steady pink noise has a small loudness range: %.1f LU" % ours["lra"])
    h.check_close(ours["tp"], ref_tp, 0.5, "true peak vs ffmpeg")
    h.check(sample_peak - 0.1 <= ours["tp"] <= sample_peak + 1.0,
            "true peak %.1f dBTP is at or a little over the sample peak %.2f dBFS"
            % (ours["tp"], sample_peak))
    # A stereo file through a centred strip is 3 dB quieter (constant-power
    # pan), so its fader is target - (I - 3.01).
    want_fader = -23.0 - (ours["i"] - 3.01)
    h.check_close(ours["fader"], want_fader, 0.11,
                  "proposed fader for a stereo file at -23 LUFS (pan law included)")
    h.check("brings it to -23.0 LUFS" in ours["how"] and "strip gain and pan -3.0 dB" in ours["how"],
            "the line says where the fader brings it: %r" % ours["how"])

    mono = analyze(client, tone, "--target", "-18")
    tone_i, _, tone_tp = ffmpeg_meter(tone)
    if mono:
        h.check_close(mono["i"], tone_i, 0.5, "integrated loudness of a mono sine vs ffmpeg")
        h.check_close(mono["tp"], tone_tp, 0.5, "true peak of a mono sine vs ffmpeg")
        h.check_close(mono["fader"], -18.0 - mono["i"], 0.11,
                      "a mono file's fader needs no pan-law correction")

    # The ceiling decides when the target would push the peak over it.
    capped = analyze(client, pink, "--target", "-5", "--ceiling", "-6")
    if capped:
        h.check("the -6.0 dBTP ceiling decides" in capped["how"],
                "a -5 LUFS target under a -6 dBTP ceiling: the ceiling decides: %r" % capped["how"])
        peak_after = float(re.search(r"peak (-?\d+\.\d) dBTP", capped["how"]).group(1))
        h.check(peak_after <= -6.0, "the proposed fader keeps the peak at %.1f <= -6.0 dBTP" % peak_after)
        h.check_close(capped["fader"] + ours["tp"] - 3.01, peak_after, 0.15,
                      "peak after the fader = file peak - 3 dB (pan) + fader")

    # --- --apply on a two-strip mix, then the mixdown ----------------------
    mix2 = os.path.join(d, "mix2.json")
    with open(mix2, "w") as f:
        json.dump({"schema": "cl-mixer-mix/1", "rate": 48000,
                   "strips": [{"file": "pink.wav", "name": "Noise", "gain": 0, "volume": -6,
                               "pan": 0, "sends": [-12, "-inf"]},
                              {"file": "tone.wav", "gain": 2, "volume": "-inf", "pan": 0.3}],
                   "master": {"volume": 0, "mute": False}}, f, indent=1)
    printed, out = apply(client, mix2, -23, -1)
    vols, doc = volumes(mix2)
    h.check_equal(sorted(printed), [0, 1], "--apply printed a change for both strips")
    h.check(all(printed.get(i) == vols[i] for i in range(2)),
            "the file holds the faders --apply printed: file %r, printed %r" % (vols, printed))
    h.check_close(vols[0], -23.0 - (ref_i - 3.01), 0.6,
                  "strip 0 (stereo pink, centre) fader from ffmpeg's measurement")
    h.check_close(vols[1], -23.0 - (tone_i + 2.0), 0.6,
                  "strip 1 (mono sine, gain +2, pan 0.3) fader from ffmpeg's measurement")
    h.check(doc["strips"][0]["sends"] == [-12, "-inf"] and doc["strips"][1]["pan"] == 0.3
            and doc["strips"][0]["name"] == "Noise" and doc["master"]["volume"] == 0,
            "--apply changed nothing but the faders")
    printed_again, out = apply(client, mix2, -23, -1)
    h.check("0 of 2 faders changed" in out, "a second --apply changes nothing: %r" % out[-120:])

    out2 = os.path.join(d, "mix2.wav")
    code, _, err = run([client, "--offline", mix2, "--output", out2])
    h.check_equal(code, 0, "--offline mixdown of the applied 2-strip mix (stderr: %s)" % err.strip())
    if code == 0:
        both_i, _, both_tp = ffmpeg_meter(out2)
        h.check_close(both_i, -23.0 + 10 * math.log10(2), 0.5,
                      "two uncorrelated strips at -23 LUFS each sum to -20 LUFS (ffmpeg)")

    # One strip: the mixdown lands on the target.
    mix1 = os.path.join(d, "mix1.json")
    with open(mix1, "w") as f:
        json.dump({"schema": "cl-mixer-mix/1",
                   "strips": [{"file": "pink.wav", "gain": 1.5, "volume": 0, "pan": -0.2}],
                   "master": {"volume": 0}}, f)
    printed, _ = apply(client, mix1, -20, -1)
    vols, _ = volumes(mix1)
    h.check(printed.get(0) == vols[0], "one-strip mix: file fader %r as printed %r" % (vols[0], printed))
    out1 = os.path.join(d, "mix1.wav")
    code, _, err = run([client, "--offline", mix1, "--output", out1, "--format", "24"])
    h.check_equal(code, 0, "--offline mixdown of the applied 1-strip mix (stderr: %s)" % err.strip())
    if code == 0:
        one_i, _, one_tp = ffmpeg_meter(out1)
        h.check_close(one_i, -20.0, 0.5, "the applied one-strip mixdown measures -20 LUFS (ffmpeg)")
        h.check(one_tp <= -1.0 + 0.5, "its true peak %.1f dBTP is under the -1 dBTP ceiling" % one_tp)
        again = analyze(client, out1)
        if again:
            h.check_close(again["i"], -20.0, 0.5, "and cl-mixer --analyze agrees: %.1f LUFS" % again["i"])

    out16 = os.path.join(d, "mix1-16.wav")
    code, _, err = run([client, "--offline", mix1, "--output", out16, "--format", "16"])
    width = None
    if code == 0:
        with wave.open(out16) as w:
            width = w.getsampwidth()
    h.check(code == 0 and width == 2,
            "--format 16 writes a 16-bit WAV (exit %d, %r bytes a sample, stderr: %s)"
            % (code, width, err.strip()))
    bad = os.path.join(d, "mix1-8.wav")
    code, _, err = run([client, "--offline", mix1, "--output", bad, "--format", "8"])
    h.check(code == 2 and 'unknown sample format "8" (want float, 24 or 16)' in err
            and not os.path.exists(bad),
            "--format 8 is bad usage (exit 2), named, nothing written: %d %r" % (code, err.strip()))

    # --- errors --------------------------------------------------------------
    garbage = os.path.join(d, "garbage.wav")
    with open(garbage, "wb") as f:
        f.write(b"RIFF....WAVEnot really")
    code, out, err = run([client, "--analyze", garbage])
    h.check(code == 1 and "garbage.wav is not an audio file" in err,
            "--analyze of a garbage file exits 1 and names it: %d %r" % (code, err.strip()))
    broken = os.path.join(d, "broken.json")
    with open(broken, "w") as f:
        f.write('{"schema": "cl-mixer-mix/1", "strips": [{"file": "nothere.wav", "volume": 1}]}')
    before = open(broken).read()
    code, out, err = run([client, "--apply", broken])
    h.check(code == 1 and "cannot open nothere.wav" in err and open(broken).read() == before,
            "--apply with a missing file exits 1, names it and leaves the mix alone: %d %r"
            % (code, err.strip()))
    code, out, err = run([client, "--offline", broken, "--output", os.path.join(d, "x.wav")])
    h.check(code == 1 and not os.path.exists(os.path.join(d, "x.wav")),
            "--offline with a missing file exits 1 and writes nothing: %r" % err.strip())
    h.done()


if __name__ == "__main__":
    main()
