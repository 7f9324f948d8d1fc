#!/usr/bin/env python3
"""Self-test of cl-probe and harness.py against a private dummy jackd.

The instrument is checked before anything is measured with it:
  - OSC encoding/decoding: exact bytes, every type, bundles, malformed
    packets, and round trips through liblo's oscsend and oscdump;
  - Client: OSC port discovery, environment, SIGTERM exit status,
    sanitizer report detection (with a tiny fake client);
  - play -> capture: a -6 dBFS 1 kHz sine (RMS, peak, frequency, phase
    continuity), impulses at frame-exact positions on two channels, a
    looped stereo WAV sample for sample;
  - record: MIDI events of jackd2's jack_midiseq at their exact frames,
    an empty MIDI port, one cycle line per period with the stopped and
    the rolling transport (cl-probe timebase as master: exact BBT);
  - send-midi -> record: control changes 1000 frames apart (so in
    different cycles) into two ports, at the exact frames the sender
    announced; --hold with --at; the usage errors of bad messages;
  - server teardown: stop, restart under the same name, kill -9 and
    leftover files, and a test process killed by SIGTERM or dying of an
    exception takes its jackd with it.

Run: python3 test_probe.py --probe build/tests/tools/cl-probe
"""

import glob
import math
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import time

import harness as h

RATE = 48000
PERIOD = 256


def f32(x):
    """x rounded to float32, as it travels through JACK and a float WAV."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


# ---------------------------------------------------------------------------
# OSC


def expect_malformed(data, what):
    try:
        h.osc_decode(data)
    except ValueError:
        h.check(True, "osc_decode rejects %s" % what)
        return
    h.check(False, "osc_decode rejects %s" % what)


def test_osc_codec():
    h.check_equal(h.osc_message("/a", 1), b"/a\0\0,i\0\0\0\0\0\x01",
                  "int message bytes")
    h.check_equal(h.osc_message("/abc", "hi"), b"/abc\0\0\0\0,s\0\0hi\0\0",
                  "string padding always adds a null")
    h.check_equal(h.osc_message("/b", ("d", 0.5), b"\x07"),
                  b"/b\0\0,db\0" + struct.pack(">d", 0.5) +
                  b"\0\0\0\x01\x07\0\0\0", "double and blob bytes")

    sent = ["/t/all", 1, 2.5, "str", b"\x01\x02\x03", True, False, None,
            ("d", 0.1), ("h", 1 << 40), ("S", "sym"), ("c", "x"), ("I",),
            ("m", b"\x90\x3c\x40\x00"), ("t", 5), ("r", 0x11223344),
            -2**31, 2**31]
    address, types, args = h.osc_decode_typed(h.osc_message(*sent))
    h.check_equal(address, "/t/all", "round trip address")
    h.check_equal(types, "ifsbTFNdhScImtrih", "round trip type tags")
    h.check_equal(args, [1, 2.5, "str", b"\x01\x02\x03", True, False, None,
                         0.1, 1 << 40, "sym", "x", math.inf,
                         b"\x90\x3c\x40\x00", 5, 0x11223344, -2**31, 2**31],
                  "round trip values")

    bundle = h.osc_bundle(("/x", 1), h.osc_message("/y", "z"),
                          h.osc_bundle(("/w", 2.0)), timetag=1)
    msgs = h.osc_decode_packet(bundle)
    h.check_equal([(m.address, m.args) for m in msgs],
                  [("/x", [1]), ("/y", ["z"]), ("/w", [2.0])],
                  "nested bundle decodes in order")
    expect_malformed(bundle, "a bundle (osc_decode is for messages)")

    good = h.osc_message("/abc", 5, "word")
    expect_malformed(good[:-4], "a truncated argument")
    expect_malformed(good + b"\0", "a size that is not a multiple of 4")
    expect_malformed(good + b"\0\0\0\0", "trailing bytes")
    expect_malformed(b"/abc\0\0\0\0", "a message without type tags")
    expect_malformed(b"/abc\0\0\0\0i\0\0\0\0\0\0\x01", "type tags without ','")
    expect_malformed(b"/abc\0x\0\0,\0\0\0", "non-zero string padding")
    expect_malformed(b"/a\0\0,z\0\0\0\0\0\x01", "an unknown type tag")
    expect_malformed(b"/a\0\0,b\0\0\xff\xff\xff\xff", "a negative blob size")
    expect_malformed(b"/a\0\0,b\0\0\0\0\0\x08abcd", "a blob past the end")
    expect_malformed(b"abc\0,i\0\0\0\0\0\x01", "an address without '/'")
    expect_malformed(b"/abc", "an unterminated address")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_osc_client_backlog():
    with h.OscClient() as a, h.OscClient() as b:
        a.send("/x", 1, port=b.port)
        a.send("/y", 2, port=b.port)
        a.send("/x", 3, port=b.port)
        m = b.wait_for("/y", timeout=2.0)
        h.check(m is not None and m.args == [2] and m.source == ("127.0.0.1", a.port),
                "wait_for finds /y past /x, with its source address")
        m = b.wait_for("/x", timeout=2.0, predicate=lambda m: m.args[0] == 3)
        h.check(m is not None and m.args == [3], "wait_for with a predicate")
        m = b.recv(1.0)
        h.check(m is not None and tuple(m) == ("/x", [1]),
                "recv serves the backlog first")
        h.check(b.recv(0.05) is None, "recv times out with None")
        a.send("/p", port=b.port)
        a.send("/q", port=b.port)
        h.check_equal(len(b.drain(settle=0.2)), 2, "drain returns what was pending")
        a.send_raw(b"/bad\0\0\0\0", port=b.port)
        try:
            b.recv(1.0)
            h.check(False, "recv raises on a malformed datagram")
        except ValueError:
            h.check(True, "recv raises on a malformed datagram")
        h.check(b.wait_for(re.compile(r"/n.*"), timeout=0.1) is None,
                "wait_for times out with None")


def test_oscsend_to_client():
    oscsend = h._which_or_fail("oscsend")
    with h.OscClient() as o:
        r = subprocess.run([oscsend, "127.0.0.1", str(o.port), "/from/oscsend",
                            "ihfdsScmTFNI", "42", "-5000000000", "1.5", "2.25",
                            "hi there", "sym", "x", "01020304"],
                           capture_output=True, text=True, timeout=10)
        h.check_equal(r.returncode, 0, "oscsend exit status")
        m = o.recv(5.0)
        h.check(m is not None, "OscClient received oscsend's message")
        if m is None:
            return
        h.check_equal(m.address, "/from/oscsend", "oscsend address")
        h.check_equal(m.types, "ihfdsScmTFNI", "oscsend type tags")
        h.check_equal(m.args, [42, -5000000000, 1.5, 2.25, "hi there", "sym",
                               "x", b"\x01\x02\x03\x04", True, False, None,
                               math.inf], "oscsend values")


def test_client_to_oscdump():
    port = free_udp_port()
    dump = h.Client(h._which_or_fail("oscdump"), ["-L", str(port)],
                    osc=False, name="oscdump")
    with h.OscClient(port=port) as o:
        ready = None
        for _ in range(100):  # until oscdump has bound its socket
            o.send("/ready")
            ready = dump.wait_line(r" /ready $|/ready\s*$", timeout=0.05)
            if ready:
                break
        h.check(ready is not None, "oscdump is listening")
        start = len(dump.lines)
        o.send("/to/oscdump", 7, ("h", -5000000000), 0.25, ("d", -1.125),
               "two words", ("S", "sym"), ("c", "q"),
               ("m", b"\x90\x3c\x40\x00"), True, False, None, ("I",),
               b"\x01\x02\x03")
        m = dump.wait_line(r"/to/oscdump .*", timeout=5.0, start=start)
        want = ("/to/oscdump ihfdsScmTFNIb 7 -5000000000 0.250000 -1.125000 "
                "\"two words\" 'sym 'q' MIDI [0x90 0x3c 0x40 0x00] #T #F Nil "
                "Infinitum [3b 0x1 0x2 0x3]")
        h.check_equal(m.group(0).strip() if m else None, want,
                      "oscdump prints what OscClient sent")
    dump.stop()


# ---------------------------------------------------------------------------
# Client (with a fake program under test)


FAKE_CLIENT = r"""
import os, signal, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("server=%s" % os.environ.get("JACK_DEFAULT_SERVER"), flush=True)
print("fake: OSC listening on udp://127.0.0.1:%d" % s.getsockname()[1],
      file=sys.stderr, flush=True)
while True:
    data, src = s.recvfrom(2048)
    if data.startswith(b"/cl/ping\0"):
        s.sendto(b"/cl/pong\0\0\0\0,\0\0\0", src)
    elif data.startswith(b"/fake/ubsan\0"):
        print("fake.c:1:2: runtime error: signed integer overflow",
              file=sys.stderr, flush=True)
"""


def test_fake_client(srv):
    c = h.Client(sys.executable, ["-c", FAKE_CLIENT], srv, name="fake")
    h.check(isinstance(c.osc_port, int) and c.osc_port > 0,
            "Client learnt the OSC port (%s)" % c.osc_port)
    h.check("--osc-port" in c.args, "Client asked for an ephemeral OSC port")
    h.check(c.jack_name == "%s-%d" % (os.path.basename(sys.executable), os.getpid())
            and c.args[-4:-2] == ["--name", c.jack_name],
            "Client gave a unique --name (%s)" % c.jack_name)
    h.check(c.wait_line("^server=" + re.escape(srv.name) + "$", 5.0) is not None,
            "Client runs with JACK_DEFAULT_SERVER of its server")
    osc = c.osc_client()
    h.check(osc.request("/cl/ping", reply="/cl/pong", timeout=2.0) is not None,
            "request /cl/ping -> /cl/pong")
    osc.close()
    h.check_equal(c.stop(), 0, "fake client exits 0 on SIGTERM")
    c.check_clean()
    h.check(True, "check_clean passes a clean client")

    bad = h.Client(sys.executable, ["-c", FAKE_CLIENT], srv, name="fake-ubsan")
    with bad.osc_client() as osc:
        osc.send("/fake/ubsan")
    h.check(bad.wait_line("runtime error:", 5.0) is not None,
            "fake UBSan report arrives")
    bad.stop()
    try:
        bad.check_clean()
        h.check(False, "check_clean raises on a sanitizer report")
    except AssertionError:
        h.check(True, "check_clean raises on a sanitizer report")
    h._clients.remove(bad)  # its report was the point; done() must not count it


# ---------------------------------------------------------------------------
# cl-probe: command line and graph


def test_cli(srv, probe):
    ports = {p["name"]: p for p in probe.ports()}
    h.check("system:capture_1" in ports and "system:playback_2" in ports,
            "ports lists the dummy driver's ports")
    cap = ports.get("system:capture_1", {})
    h.check(cap.get("direction") == "out" and cap.get("type") == "audio"
            and "physical" in cap.get("flags", ()),
            "system:capture_1 is a physical audio output")
    h.check_equal(cap.get("capture"), (PERIOD, PERIOD),
                  "dummy capture latency range is one period")
    r = probe.run("--server", srv.name + "-absent", "ports")
    h.check(r.returncode == 1 and "cannot connect" in r.stderr,
            "an absent server: exit 1 with a reason")
    h.check_equal(probe.run("play").returncode, 2, "play without --to: usage error")
    h.check_equal(probe.run("frobnicate").returncode, 2, "unknown command: usage error")
    h.check_equal(probe.run("capture", "--from", "a:b", "--frames", "x",
                            "-o", "/dev/null").returncode, 2,
                  "bad number: usage error")
    r = probe.run("record", "--help")
    h.check(r.returncode == 0 and "overruns" in r.stdout, "record --help")
    h.check(probe.wait_port("system:playback_1", timeout=1), "wait-port finds a port")
    t0 = time.monotonic()
    h.check(not probe.wait_port("nobody:nothing", timeout=0.3),
            "wait-port times out on a missing port")
    h.check(time.monotonic() - t0 < 5, "wait-port honours --timeout")


# ---------------------------------------------------------------------------
# play -> capture


def play_and_capture(probe, play_kwargs, outs, frames, name):
    """Start a play job, capture `outs` of it, stop it; retried on xruns.
    The Capture gets .play_start (frame time the play began) and .play_rc."""
    def measure():
        job = probe.play(**play_kwargs)
        cap = probe.capture([job.port(o) for o in outs], frames=frames, name=name)
        cap.play_rc = job.stop()
        cap.play_start = job.start_frame
        return cap
    cap = h.retry_on_xruns(measure)
    h.check_equal(cap.xruns, 0, "%s: measured without JACK xruns" % name)
    return cap


def test_sine(probe):
    gen = probe.play(["system:playback_1"], sine=1000, db=-6, name="gen")
    r = probe.run("--name", gen.name, "ports")
    h.check(r.returncode == 1, "a --name that is taken fails (exit %d)" % r.returncode)
    h.check(probe.wait_connection(gen.port("out_1"), "system:playback_1", timeout=2),
            "wait-connection sees play's connection")
    h.check(probe.wait_connection("system:playback_1", gen.port("out_1"), timeout=2),
            "wait-connection works in either order")
    h.check(not probe.wait_connection(gen.port("out_1"), "system:playback_2",
                                      timeout=0.3),
            "wait-connection times out on ports that are not connected")
    gen.stop()
    cap = play_and_capture(probe, dict(to=["system:playback_1"], sine=1000, db=-6,
                                       name="gen"), ["out_1"], RATE, "cap")
    h.check_equal(cap.play_rc, 0, "play exits 0 on SIGTERM")
    h.check_equal((cap.rate, len(cap.channels), cap.frames), (RATE, 1, RATE),
                  "capture wrote 1 s, 1 channel at 48 kHz")
    x = cap.channels[0]
    amp = 10 ** (-6 / 20)
    h.check_close(h.peak_db(x), -6.0, 0.01, "sine peak dBFS")
    h.check_close(h.rms_db(x), h.db(amp / math.sqrt(2)), 0.01, "sine RMS dBFS")
    freq = h.zero_crossing_frequency(x, RATE)
    h.check_close(freq, 1000.0, 1.0, "sine frequency by zero crossings (Hz)")
    # a sine's largest step between samples is 2 A sin(pi f / rate); any
    # discontinuity at a period boundary would be bigger
    step = max(abs(b - a) for a, b in zip(x, x[1:]))
    h.check(step <= 2 * amp * math.sin(math.pi * 1000 / RATE) + 1e-6,
            "sine is phase-continuous across periods (max step %.6f)" % step)


def test_impulses(probe):
    interval = 1000
    gain = f32(10 ** (-3 / 20))
    cap = play_and_capture(probe, dict(to=["system:playback_1", "system:playback_2"],
                                       impulse=True, interval=interval, db=-3,
                                       name="imp"),
                           ["out_1", "out_2"], 8 * interval, "cap-imp")
    # both report the frame time of their first working cycle, so the
    # impulses must sit exactly where those two numbers say
    offset = (cap.start_frame - cap.play_start) & 0xFFFFFFFF
    want = [i for i in range(cap.frames) if (offset + i) % interval == 0]
    for c in range(2):
        got = [i for i, v in enumerate(cap.channels[c]) if v != 0.0]
        h.check_equal(got, want, "channel %d: impulses at the frames that the "
                      "frame times predict" % (c + 1))
        h.check(all(cap.channels[c][i] == gain for i in want),
                "channel %d: impulse amplitude is 10^(-3/20)" % (c + 1))


def test_wav(probe):
    n = 1000
    left = [f32(i / n) for i in range(n)]
    right = [f32(-0.5 * math.sin(2 * math.pi * 7 * i / n)) for i in range(n)]
    path = os.path.join(h.tmpdir(), "stereo.wav")
    h.write_wav(path, RATE, [left, right])
    back = h.read_wav(path)
    h.check(back.rate == RATE and back.channels == [left, right],
            "write_wav/read_wav round trip")
    cap = play_and_capture(probe, dict(to=["system:playback_1", "system:playback_2"],
                                       wav=path, loop=True, name="wav"),
                           ["out_1", "out_2"], 3 * n, "cap-wav")
    offset = (cap.start_frame - cap.play_start) & 0xFFFFFFFF
    for c, src in enumerate((left, right)):
        want = [src[(offset + i) % n] for i in range(cap.frames)]
        h.check(cap.channels[c] == want,
                "looped WAV channel %d arrives sample for sample" % (c + 1))

    # a finite play ends by itself
    t0 = time.monotonic()
    short = probe.play(["system:playback_1"], sine=440, frames=4800, name="short")
    rc = short.wait(10.0)
    h.check_equal(rc, 0, "play --frames exits 0 when done")
    h.check(time.monotonic() - t0 < 5.0, "play --frames 4800 ends promptly")


# ---------------------------------------------------------------------------
# record


def cycle_of(rec, frame):
    """The cycle line whose period holds `frame`."""
    for c in rec.cycles:
        if c.frame <= frame < c.frame + rec.period:
            return c
    return None


def check_cycles(rec, what, want_count=None):
    h.check(rec.complete and rec.overruns == 0 and rec.truncated == 0,
            "%s: complete, overruns 0 (%s)" % (what, rec.overruns))
    h.check_equal(rec.lost_cycles(), 0, "%s: no cycle lost (JACK xruns: %s)" % (what, rec.xruns))
    h.check_equal((rec.rate, rec.period), (RATE, PERIOD), "%s: header" % what)
    if want_count is not None:
        h.check_equal(len(rec.cycles), want_count, "%s: cycle lines" % what)
    steps = {b.frame - a.frame for a, b in zip(rec.cycles, rec.cycles[1:])}
    h.check_equal(steps, {PERIOD}, "%s: cycles advance by one period" % what)


def check_events(rec, what, rolling):
    bad = []
    for e in rec.events:
        c = cycle_of(rec, e.frame)
        if c is None or e.tframe != c.pos_frame + (e.frame - c.frame) \
                or e.rolling != rolling:
            bad.append(e)
    h.check(rec.events and not bad,
            "%s: every event lies in a recorded cycle with tframe = pos.frame + "
            "offset and rolling=%d (bad: %s)" % (what, rolling, bad[:3]))


def test_record_stopped(srv, probe):
    midiseq = h._which_or_fail("jack_midiseq")
    # a 4800-frame loop: C4 on at 0 for 1000 frames, E4 on at 2400 for 100;
    # "quiet" has one note that starts past its loop, so it never sounds
    seq_name, quiet_name = h.unique_name("seq"), h.unique_name("quiet")
    seq_out, quiet_out = seq_name + ":out", quiet_name + ":out"
    seq = h.Client(midiseq, [seq_name, "4800", "0", "60", "1000", "2400", "64", "100"],
                   srv, osc=False, name="midiseq")
    quiet = h.Client(midiseq, [quiet_name, "48000", "48001", "60", "10"], srv,
                     osc=False, name="quiet")
    h.check(probe.wait_port(seq_out) and probe.wait_port(quiet_out),
            "jack_midiseq ports are up")
    def measure():
        job = probe.record(midi=[seq_out, quiet_out], transport=True,
                           seconds=0.5, name="rec")
        rec = job.result(30.0)
        rec.start_frame = job.start_frame
        return rec

    rec = h.retry_on_xruns(measure, valid=lambda r: r.lost_cycles() == 0)
    what = "stopped recording"
    check_cycles(rec, what, want_count=math.ceil(0.5 * RATE / PERIOD))
    h.check_equal(rec.cycles[0].frame if rec.cycles else None, rec.start_frame,
                  "%s: first cycle is the one 'recording' announced" % what)
    h.check(all(c.state == h.TRANSPORT_STOPPED and not c.valid_bbt and
                c.bpm == 0 and c.pos_frame == rec.cycles[0].pos_frame
                for c in rec.cycles),
            "%s: transport stopped, no BBT, position still" % what)
    h.check_equal(rec.ports, [seq_out, quiet_out], "%s: port names" % what)
    h.check_equal([e for e in rec.events if e.port == 1], [],
                  "%s: the empty port recorded no events" % what)

    def frames(data):
        return [e.frame for e in rec.events if e.port == 0 and e.data == data]

    on60, off60 = frames(b"\x90\x3c\x40"), frames(b"\x80\x3c\x40")
    on64, off64 = frames(b"\x90\x40\x40"), frames(b"\x80\x40\x40")
    h.check(len(on60) >= 4 and len(on64) >= 4,
            "%s: loop notes recorded (%d, %d)" % (what, len(on60), len(on64)))
    h.check({b - a for a, b in zip(on60, on60[1:])} == {4800} and
            {b - a for a, b in zip(on64, on64[1:])} == {4800},
            "%s: note-ons exactly 4800 frames apart" % what)
    h.check(all(f + 1000 in off60 for f in on60 if f + 1000 < rec.cycles[-1].frame)
            and all(f + 100 in off64 for f in on64 if f + 100 < rec.cycles[-1].frame),
            "%s: note-offs exactly 1000 and 100 frames after their note-ons" % what)
    h.check(all((f - on60[0]) % 4800 == 2400 for f in on64),
            "%s: E4 exactly 2400 frames after C4" % what)
    check_events(rec, what, rolling=False)
    return seq, quiet, seq_out


def bbt_of(frame, bpm=120.0, per_bar=4, tpb=1920):
    """(bar, beat, tick) of a frame, both counted from 1, as a timebase
    master that derives BBT from the frame computes it."""
    abs_tick = frame * bpm * tpb / (60.0 * RATE)
    abs_beat = math.floor(abs_tick / tpb)
    bar = abs_beat // per_bar
    return (bar + 1, abs_beat - bar * per_bar + 1,
            math.floor(abs_tick - abs_beat * tpb))


def test_record_rolling(srv, probe, seq_out):
    master = probe.timebase(bpm=120, meter=(4, 4), name="tb")
    probe.transport_locate(2 * RATE)
    t = probe.transport()
    h.check(t["frame"] == 2 * RATE and t["bbt"] and
            (t["bar"], t["beat"], t["tick"]) == (2, 1, 0),
            "locate 2 s while stopped: frame 96000 = bar 2 beat 1 tick 0 (%s)" % t)
    probe.transport_start()
    t = probe.wait_transport("rolling")
    h.check(t["state"] == "rolling" and t["bbt"] and t["bpm"] == 120.0
            and t["meter"] == (4.0, 4.0),
            "transport: rolling with BBT 120 BPM 4/4 (%s)" % t)

    n = 40
    rec = h.retry_on_xruns(lambda: probe.record(
        midi=[seq_out], transport=True, frames=n * PERIOD, name="rec-roll").result(30.0),
        valid=lambda r: r.lost_cycles() == 0)
    what = "rolling recording"
    check_cycles(rec, what, want_count=n)
    h.check(all(c.state == h.TRANSPORT_ROLLING and c.valid_bbt for c in rec.cycles),
            "%s: every cycle rolling with BBT" % what)
    h.check_equal({b.pos_frame - a.pos_frame for a, b in zip(rec.cycles, rec.cycles[1:])},
                  {PERIOD}, "%s: transport frame advances one period per cycle" % what)
    h.check(all((c.bpm, c.beats_per_bar, c.beat_type, c.ticks_per_beat) ==
                (120.0, 4.0, 4.0, 1920.0) for c in rec.cycles),
            "%s: 120 BPM, 4/4, 1920 ticks per beat" % what)
    bad = [c for c in rec.cycles if (c.bar, c.beat, c.tick) != bbt_of(c.pos_frame)
           or c.bar_start_tick != (c.bar - 1) * 4 * 1920]
    h.check(rec.cycles and not bad,
            "%s: every cycle's BBT is the master's exact BBT of its frame (bad: %s)"
            % (what, bad[:2]))
    check_events(rec, what, rolling=True)

    probe.transport_stop()
    h.check_equal(probe.wait_transport("stopped")["state"], "stopped",
                  "transport stopped again")
    h.check_equal(master.stop(), 0, "timebase master exits 0 on SIGTERM")
    t = probe.transport()
    h.check(not t["bbt"], "no BBT once the master is gone (%s)" % t)

    # until-signal: SIGTERM ends the recording with a complete file
    def measure():
        job = probe.record(transport=True, name="rec-sig")
        time.sleep(0.2)
        return job.stop()

    rec = h.retry_on_xruns(measure, valid=lambda r: r.lost_cycles() == 0)
    check_cycles(rec, "SIGTERM-ended recording")
    h.check(len(rec.cycles) >= 10, "SIGTERM-ended recording has cycles (%d)"
            % len(rec.cycles))


def test_metadata(srv, probe, seq_out):
    # JACK2 metadata is shared by every server of this user (see
    # JackServer.set_property): a parallel test's server going down can
    # remove the property between set and read, hence a few attempts
    for _ in range(3):
        ok = srv.set_property(seq_out, h.PRETTY_NAME, "Sequencer Out")
        ports = {p["name"]: p for p in probe.ports()}
        if ports.get(seq_out, {}).get("pretty") == "Sequencer Out":
            break
    h.check(ok, "jack_property set a pretty name")
    h.check_equal(ports.get(seq_out, {}).get("pretty"), "Sequencer Out",
                  "ports shows the JACK metadata pretty name")
    h.check_equal(ports.get(seq_out, {}).get("type"), "midi",
                  "the jack_midiseq port is a MIDI port")


# ---------------------------------------------------------------------------
# send-midi


SEND_USAGE_ERRORS = [
    (["b0,zz,64"], "is not a hex byte", "a byte that is not hex"),
    (["b0,80,64"], "data byte 80", "a data byte 0x80"),
    (["b0,07,64,01"], "has 4 bytes", "a message of 4 bytes"),
    (["07,64"], "not a status byte", "a first byte below 0x80"),
    (["b0,,64"], "is not a hex byte", "an empty byte"),
    (["b0,107"], "is not a hex byte", "a byte of 3 digits"),
    ([], "expected 1 to", "no message"),
]


def test_send_midi_usage(probe):
    h.check_equal(h.cc(1, 7, 100), b"\xb0\x07\x64", "cc(1, 7, 100)")
    h.check_equal(h.cc(16, 0, 127), b"\xbf\x00\x7f", "cc(16, 0, 127)")
    for bad in ((0, 7, 100), (17, 7, 100), (1, 128, 0), (1, 0, -1)):
        try:
            h.cc(*bad)
            h.check(False, "cc%r raises ValueError" % (bad,))
        except ValueError:
            h.check(True, "cc%r raises ValueError" % (bad,))
    # messages are checked before the probe looks for a server or a port
    for msgs, says, what in SEND_USAGE_ERRORS:
        r = probe.run("send-midi", "--to", "nobody:midi_in", *msgs)
        h.check(r.returncode == 2 and says in r.stderr,
                "send-midi rejects %s: exit 2 saying '%s' (exit %d, %r)"
                % (what, says, r.returncode, r.stderr.strip()))
    r = probe.run("send-midi", "b0,07,64")
    h.check(r.returncode == 2 and "--to PORT" in r.stderr,
            "send-midi without --to: exit 2 (exit %d)" % r.returncode)
    r = probe.run("send-midi", "--help")
    h.check(r.returncode == 0 and "b0,07,64" in r.stdout, "send-midi --help")


def test_send_midi(srv, probe):
    # the recorder's inputs need a source to exist: a jack_midiseq whose
    # only note starts past its loop, so it never sends anything
    midiseq = h._which_or_fail("jack_midiseq")
    silent_name = h.unique_name("silent")
    silent = h.Client(midiseq, [silent_name, "48000", "48001", "60", "10"], srv,
                      osc=False, name="silent")
    src = silent_name + ":out"
    h.check(probe.wait_port(src), "silent jack_midiseq port is up")
    ccs = [h.cc(1, 7, 100), h.cc(2, 10, 64), h.cc(16, 1, 0)]
    notes = [[0x90, 0x3C, 0x40], [0x80, 0x3C, 0x00]]
    gap, at = 1000, 300  # 1000 > PERIOD: each CC lands in its own cycle

    def measure():
        job = probe.record(midi=[src, src], transport=True, name="rec-send")
        ins = [job.port("midi_in_1"), job.port("midi_in_2")]
        rec_frames = probe.send_midi(ins, ccs, gap=gap, name="send")
        held = probe.send_midi_start([ins[0]], notes, at=at, name="held")
        time.sleep(0.1)  # ~19 cycles: an output buffer never cleared would repeat
        alive = held.proc.poll() is None
        held_rc = held.stop()
        time.sleep(0.02)
        rec = job.stop()
        rec.cc_frame, rec.held_frame = rec_frames, held.start_frame
        rec.held_alive, rec.held_rc = alive, held_rc
        return rec

    rec = h.retry_on_xruns(measure, valid=lambda r: r.lost_cycles() == 0)
    silent.stop()
    h.check(rec.complete and rec.overruns == 0 and rec.lost_cycles() == 0,
            "send-midi recording complete, no cycle lost (overruns %s, lost %s, xruns %s)"
            % (rec.overruns, rec.lost_cycles(), rec.xruns))
    h.check(isinstance(rec.cc_frame, int) and isinstance(rec.held_frame, int),
            "send_midi and send_midi_start give the frame time of their first "
            "cycle (%r, %r)" % (rec.cc_frame, rec.held_frame))
    h.check(rec.held_alive, "send-midi --hold stays connected after sending")
    h.check_equal(rec.held_rc, 0, "send-midi --hold exits 0 on SIGTERM")

    def frames_of(port, data):
        return [e.frame for e in rec.events if e.port == port and e.data == data]

    for port in (0, 1):
        got = [frames_of(port, c) for c in ccs]
        h.check(all(len(f) == 1 for f in got),
                "port %d: each CC recorded once (%s)" % (port + 1, got))
        if not all(len(f) == 1 for f in got):
            continue
        got = [f[0] for f in got]
        h.check_equal([b - a for a, b in zip(got, got[1:])], [gap, gap],
                      "port %d: CCs exactly %d frames apart" % (port + 1, gap))
        h.check_equal([f & 0xFFFFFFFF for f in got],
                      [(rec.cc_frame + i * gap) & 0xFFFFFFFF for i in range(3)],
                      "port %d: CC i at frame F + i * gap, F as announced"
                      % (port + 1))
    # the whole recording, in order: nothing more, nothing repeated
    want = [(p, (rec.cc_frame + i * gap) & 0xFFFFFFFF, c)
            for p in (0, 1) for i, c in enumerate(ccs)]
    want[3:3] = [(0, (rec.held_frame + at) & 0xFFFFFFFF, bytes(n)) for n in notes]
    got = [(e.port, e.frame & 0xFFFFFFFF, e.data)
           for e in sorted(rec.events, key=lambda e: (e.port, e.frame))]
    h.check_equal(got, want, "recording holds exactly the sent messages: "
                  "the held note on and off both at F + --at, in order")


# ---------------------------------------------------------------------------
# teardown


def leftovers(name):
    return glob.glob("/dev/shm/*%s*" % glob.escape(name)) + \
        glob.glob("/dev/shm/*/*%s*" % glob.escape(name))


def test_teardown(srv, probe):
    h.check_equal(srv.stop(), 0, "jackd exits 0 on SIGTERM")
    h.check(not srv.answers(), "a stopped server no longer answers")
    h.check_equal(probe.run("ports").returncode, 1, "probe fails on a stopped server")
    h.check_equal(leftovers(srv.name), [], "no files left in /dev/shm")
    srv.start()
    h.check(srv.answers(), "server restarts under the same name")
    srv.stop(kill=True)
    h.check(not srv.answers(), "a killed server no longer answers")
    h.check_equal(leftovers(srv.name), [], "no files left after kill -9")
    srv.start()
    h.check("system:capture_1" in probe.port_names(),
            "server restarts after kill -9 with its ports")

    # JACK2 has 8 server slots per user and a killed jackd keeps its slot:
    # the harness must give it back at teardown
    other = h.JackServer(rate=RATE, period=PERIOD)
    other.start()
    other.stop(kill=True)
    slots = h.jack_server_slots()
    h.check(slots is not None and any(n == other.name for _, n, _ in slots),
            "a killed server still holds its registry slot")
    other._teardown()
    slots = h.jack_server_slots()
    h.check(slots is not None and all(n != other.name for _, n, _ in slots),
            "teardown releases the slot of a killed server")


CHILD_TEST = r"""
import sys, time
import harness as h
h.parse_args(["--probe", sys.argv[1]])
srv = h.JackServer()
srv.start()
print(srv.name, flush=True)
if sys.argv[2] == "raise":
    raise RuntimeError("deliberate")
time.sleep(60)
"""


def test_killed_test(probe_path, mode):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.abspath(h.__file__))
    child = subprocess.Popen([sys.executable, "-c", CHILD_TEST, probe_path, mode],
                             env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    ready, _, _ = select.select([child.stdout], [], [], 15.0)
    name = child.stdout.readline().strip() if ready else ""
    h.check(name.startswith("cltest-"), "%s child started a server" % mode)
    if mode == "sigterm":
        child.send_signal(signal.SIGTERM)
    try:
        rc = child.wait(15.0)
    except subprocess.TimeoutExpired:
        child.kill()
        rc = child.wait(5.0)
    h.check_equal(rc, 128 + signal.SIGTERM if mode == "sigterm" else 1,
                  "%s child exit status" % mode)
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    gone = subprocess.run([probe_path, "ports"], env=env, capture_output=True,
                          timeout=10).returncode == 1
    h.check(bool(name) and gone, "%s child's jackd is gone" % mode)
    h.check_equal(leftovers(name) if name else None, [],
                  "%s child's server left no files" % mode)
    h.check(all(n != name for _, n, _ in h.jack_server_slots() or []),
            "%s child's server gave its registry slot back" % mode)


def main():
    args = h.parse_args()
    if not args.probe:
        h.fail("--probe PATH is required")
    t0 = time.monotonic()
    test_osc_codec()
    test_osc_client_backlog()
    test_oscsend_to_client()
    test_client_to_oscdump()
    with h.JackServer(rate=RATE, period=PERIOD) as srv:
        probe = h.Probe(srv)
        test_cli(srv, probe)
        test_fake_client(srv)
        test_sine(probe)
        test_impulses(probe)
        test_wav(probe)
        seq, quiet, seq_out = test_record_stopped(srv, probe)
        test_record_rolling(srv, probe, seq_out)
        test_metadata(srv, probe, seq_out)
        test_send_midi_usage(probe)
        test_send_midi(srv, probe)
        seq.stop()
        quiet.stop()
        test_teardown(srv, probe)
    test_killed_test(args.probe, "sigterm")
    test_killed_test(args.probe, "raise")
    h.check(time.monotonic() - t0 < 30.0,
            "self-test ran in %.1f s (< 30 s)" % (time.monotonic() - t0))
    h.done()


if __name__ == "__main__":
    main()
