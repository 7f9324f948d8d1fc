"""Harness for CoreLogic Studio integration tests (Python 3 stdlib only).

Every integration test is a plain script that meson runs as

    python3 test_x.py --client PATH --probe PATH [--rtsan]

with PYTHONPATH pointing here. A test starts its own dummy jackd under a
unique server name, starts the real client under test, drives it over OSC
and measures real port signals and MIDI with the `cl-probe` JACK client.
It prints one "ok"/"not ok" line per check and exits 0 (all passed),
1 (a check failed or something broke) or 77 (skipped, reason printed).

    import harness as h

    args = h.parse_args()
    with h.JackServer() as srv:                    # private jackd -d dummy
        probe = h.Probe(srv)
        cl = h.Client(args.client, [], srv)        # --name mix-PID, OSC port
        osc = cl.osc_client()                      # UDP socket -> client
        reply = osc.request("/cl/ping", reply="/cl/pong")
        h.check(reply is not None, "client answers /cl/ping")
        rec = probe.record(midi=[cl.port("midi_out")], transport=True)
        ...                                        # make it play
        r = rec.stop()                             # -> Recording
        h.check(r.overruns == 0 and r.lost_cycles() == 0, "recording complete")
        h.check(cl.stop() == 0, "client exits 0 on SIGTERM")
        cl.check_clean()                           # RT/ASan/UBSan reports
    h.done()                                       # summary, exit status

Every process the harness starts (jackd, clients, probes) is registered
and torn down at exit: by the context managers, an atexit hook, and
SIGTERM/SIGINT/SIGHUP handlers (meson sends SIGTERM on timeout). Children
also get SIGTERM from the kernel if the test process dies (setpriv
--pdeathsig), so start them from the main thread.

done() also fails the test when any Client or cl-probe printed a
sanitizer report (RealtimeSanitizer "Real-time violation",
AddressSanitizer, LeakSanitizer, UBSan "runtime error:"), even if the test
never called check_clean().

Things JACK2 shares between the servers of one user, which parallel tests
must respect:
  - client names: an opening client binds /dev/shm/jack_<client>_<uid>_0
    whatever its server, so same-named clients opening at the same moment
    in two tests can steal each other's socket. Client() and Probe give
    every client unique_name(...) (base-PID) unless told otherwise;
    build port names with .port("out_l");
  - 8 server slots, for the whole machine: a killed jackd keeps its slot
    until a server of its name runs again, which teardown does for the
    servers a test killed; JackServer.start() reclaims the slots of other
    dead servers (reclaim_dead_server_slots) and waits for live ones;
  - metadata (pretty names): see JackServer.set_property.
On a loaded machine the dummy driver can xrun (jackd itself wakes late);
most such xruns skip no client, but one that does looks like a bug in the
client under test, so a frame-exact measurement goes through
retry_on_xruns(measure, valid=...): taken again only when it both saw
xruns and failed its checks (Recording.lost_cycles() tells whether the
probe itself missed a cycle).
Never call Popen.wait() without a timeout in a test: the signal handler
must be able to reap children.
"""

import argparse
import atexit
import collections
import fcntl
import glob
import math
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ARGS = None  # the namespace parse_args() returned

# ---------------------------------------------------------------------------
# results


_checks = {"run": 0, "failed": 0}


def parse_args(argv=None):
    """Parse the common test arguments: --client PATH, --probe PATH,
    --rtsan. The result is also kept in harness.ARGS (Probe and Client use
    it for defaults)."""
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", help="the program under test")
    ap.add_argument("--probe", help="path of cl-probe")
    ap.add_argument("--transport", help="cl-transport, for tests that need a timebase master")
    ap.add_argument("--rtsan", action="store_true",
                    help="the client is a RealtimeSanitizer build")
    ARGS = ap.parse_args(argv)
    return ARGS


def _say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def check(cond, msg):
    """Count one check; print "ok N - msg" or "not ok N - msg". Returns
    bool(cond) so a test can stop early on a failed precondition."""
    _checks["run"] += 1
    n = _checks["run"]
    if cond:
        _say("ok %d - %s" % (n, msg))
        return True
    _checks["failed"] += 1
    _say("not ok %d - %s" % (n, msg))
    return False


def check_close(value, expected, tol, msg):
    """check(|value - expected| <= tol) with the numbers in the message."""
    ok = value is not None and abs(value - expected) <= tol
    return check(ok, "%s: got %r, expected %r +- %r" % (msg, value, expected, tol))


def check_equal(value, expected, msg):
    """check(value == expected) with both values in the message."""
    return check(value == expected, "%s: got %r, expected %r" % (msg, value, expected))


def skip(reason):
    """Exit 77 (meson: skipped) after saying why."""
    _say("SKIP: " + reason)
    sys.exit(77)


def fail(msg):
    """Exit 1 at once after saying why."""
    _say("FAIL: " + msg)
    sys.exit(1)


def done():
    """Stop the clients and probes still running (so that reports printed
    at exit, such as LeakSanitizer's, are seen), check them all for
    sanitizer reports, print the summary and exit: 0 when checks ran and
    all passed, else 1."""
    for job in _probe_jobs:
        if job.proc.poll() is None:
            job.stop()
    for c in list(_clients):
        if c.running():
            c.stop()
        c._join_readers(2.0)
        bad = c.violations()
        check(not bad, "%s printed no sanitizer report%s" % (
            c.name, "" if not bad else ": " + bad[0]))
    if _probe_runs[0]:
        for job in _probe_jobs:
            job._join_readers(2.0)
            _probe_reports.extend(_sanitizer_lines(job.lines))
        check(not _probe_reports, "cl-probe printed no sanitizer report%s" % (
            "" if not _probe_reports else ": " + _probe_reports[0]))
    run, failed = _checks["run"], _checks["failed"]
    if run == 0:
        _say("FAIL: no checks ran")
        sys.exit(1)
    _say("# %d checks, %d failed" % (run, failed))
    sys.exit(1 if failed else 0)


def failed_count():
    """Number of failed checks so far."""
    return _checks["failed"]


def isolate_shm():
    """Run the rest of this test in a private mount namespace with its own
    /dev/shm, where JACK keeps client sockets, server slots and the
    metadata store. JACK2 shares all three among every server of a user,
    so port UUIDs (and thus pretty names) of parallel tests collide. Call
    it first thing in a test that checks metadata: the test re-executes
    itself under unshare(1) as root; elsewhere it says so and goes on
    unisolated. Returns True when isolated."""
    if os.environ.get("CL_TEST_PRIVATE_SHM") == "1":
        return True
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or not unshare:
        _say("# note: no private /dev/shm (needs root and unshare); JACK metadata "
             "checks may see other tests' ports")
        return False
    probe = subprocess.run([unshare, "--mount", "--propagation", "private", "--", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        _say("# note: unshare --mount refused here; running without a private /dev/shm")
        return False
    env = dict(os.environ, CL_TEST_PRIVATE_SHM="1")
    cmd = [unshare, "--mount", "--propagation", "private", "--", "sh", "-c",
           'mount -t tmpfs -o mode=1777 tmpfs /dev/shm && exec "$0" "$@"',
           sys.executable] + sys.argv
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(unshare, cmd, env)


_names = {}


def unique_name(base):
    """A JACK client name no other test on this machine uses: base-PID,
    then base-PID-2, ... JACK2 binds each opening client's notification
    socket at /dev/shm/jack_<client>_<uid>_0 whatever the server, so two
    tests opening same-named clients at the same moment on their own
    servers can steal each other's socket."""
    n = _names.get(base, 0) + 1
    _names[base] = n
    return "%s-%d" % (base, os.getpid()) + ("" if n == 1 else "-%d" % n)


_tmpdir = None


def tmpdir():
    """A private folder for this test's files; removed at exit when every
    check passed, kept (and its path printed) otherwise."""
    global _tmpdir
    if _tmpdir is None:
        _tmpdir = tempfile.mkdtemp(prefix="cltest-")
    return _tmpdir


def _tmpdir_cleanup():
    if _tmpdir is None or not os.path.isdir(_tmpdir):
        return
    if _checks["failed"] or _checks.get("crashed"):
        sys.stderr.write("harness: test files kept in %s\n" % _tmpdir)
    else:
        shutil.rmtree(_tmpdir, ignore_errors=True)


# ---------------------------------------------------------------------------
# process registry and teardown


_live = []          # objects with _teardown(), in start order
_clients = []       # every Client ever started (for done())
_probe_jobs = []    # every background cl-probe (for done())
_probe_reports = [] # sanitizer lines of cl-probe runs
_probe_runs = [0]   # cl-probe invocations
_counter = [0]
_main_pid = os.getpid()


def _register(obj):
    _live.append(obj)


def _unregister(obj):
    try:
        _live.remove(obj)
    except ValueError:
        pass


def teardown_all():
    """Stop every process the harness started, newest first (clients
    before their servers). Safe to call more than once."""
    if os.getpid() != _main_pid:
        return
    for obj in reversed(list(_live)):
        try:
            obj._teardown()
        except Exception as e:  # keep tearing down the rest
            sys.stderr.write("harness: teardown of %r failed: %s\n" % (obj, e))
    _tmpdir_cleanup()


def _on_signal(signum, frame):
    sys.stderr.write("harness: signal %d, tearing down\n" % signum)
    teardown_all()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + signum)


def _excepthook(exc_type, exc, tb):
    _checks["crashed"] = True
    _previous_excepthook(exc_type, exc, tb)


_previous_excepthook = sys.excepthook
sys.excepthook = _excepthook
atexit.register(teardown_all)
if threading.current_thread() is threading.main_thread():
    for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(_sig, _on_signal)


_SETPRIV = shutil.which("setpriv")


def _wrap(cmd):
    """Prefix cmd so the child gets SIGTERM if the test process dies."""
    if _SETPRIV:
        return [_SETPRIV, "--pdeathsig", "TERM", "--"] + list(cmd)
    return list(cmd)


def _terminate(proc, timeout, group=False, sig=signal.SIGTERM):
    """Send sig (to the process group if group), wait up to timeout by
    polling, then SIGKILL. Returns the exit status (negative = signal).
    Polls instead of wait() so that it works from a signal handler."""
    if proc is None:
        return None
    if proc.poll() is not None:
        return proc.returncode

    def send(s):
        try:
            if group:
                os.killpg(proc.pid, s)
            else:
                proc.send_signal(s)
        except (ProcessLookupError, PermissionError):
            pass

    send(sig)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if proc.poll() is None:
        send(signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
    return proc.returncode


class _LineReader:
    """Reads a child's stream line by line in a thread into a shared list,
    echoing each line to our stderr with a prefix; wakes waiters."""

    def __init__(self, stream, prefix, sink, cond, on_line=None, echo=True):
        self._stream = stream
        self._prefix = prefix
        self._sink = sink
        self._cond = cond
        self._on_line = on_line
        self._echo = echo
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for raw in iter(self._stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if self._echo:
                sys.stderr.write("%s%s\n" % (self._prefix, line))
                sys.stderr.flush()
            with self._cond:
                self._sink.append(line)
                if self._on_line:
                    self._on_line(line)
                self._cond.notify_all()
        self._stream.close()
        with self._cond:
            self._cond.notify_all()


# ---------------------------------------------------------------------------
# JACK server


def _which_or_fail(name):
    path = shutil.which(name)
    if not path:
        skip("%s is not installed" % name)
    return path


class JackServer:
    """A private `jackd --no-realtime [-S] -n NAME -d dummy -r RATE -p
    PERIOD` under a unique name.

    JackServer(rate=48000, period=256, name=None, driver_args=(),
               jackd_args=(), timeout=10.0, slot_timeout=120.0, sync=True)

    sync=True runs jackd in synchronous mode (-S): the server waits for
    the clients every cycle, so a client that is late on a loaded machine
    does not cause an xrun (the dummy driver still xruns when jackd itself
    wakes up late; see retry_on_xruns). In this mode the driver's playback
    ports report one period of latency instead of two.
    Attributes: name, rate, period, env (os.environ + JACK_DEFAULT_SERVER
    and JACK_NO_START_SERVER=1), proc, log (jackd's output lines), killed.
    start() may be called again after stop() (same name)."""

    def __init__(self, rate=48000, period=256, name=None, driver_args=(),
                 jackd_args=(), timeout=10.0, slot_timeout=120.0, sync=True):
        _counter[0] += 1
        self.name = name or "cltest-%d-%d-%06x" % (
            os.getpid(), _counter[0], random.randrange(1 << 24))
        self.rate = rate
        self.period = period
        self.driver_args = list(driver_args)
        self.jackd_args = list(jackd_args)
        self.timeout = timeout
        self.slot_timeout = slot_timeout
        self.sync = sync
        self.killed = False   # jackd died holding its registry slot (SIGKILL, SIGPIPE)
        self.reclaim = True   # free dead servers' slots when the registry is full
        self.env = dict(os.environ)
        self.env["JACK_DEFAULT_SERVER"] = self.name
        self.env["JACK_NO_START_SERVER"] = "1"
        self.proc = None
        self.log = []
        self._cond = threading.Condition()
        self._readers = []

    def __repr__(self):
        return "JackServer(%s)" % self.name

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        # its clients and probes go first, as in a studio: a test that
        # raised inside the block would otherwise stop the server under
        # them, and jackd may die of SIGPIPE writing to a closing client
        for obj in reversed(list(_live)):
            if obj is not self and self in (getattr(obj, "server", None),
                                             getattr(getattr(obj, "probe", None),
                                                     "server", None)):
                obj._teardown()
        self._teardown()
        return False

    def start(self):
        """Start jackd and wait until a client can connect. Raises
        RuntimeError with jackd's output when it does not come up.

        JACK2's server registry has 8 slots for all servers of the
        machine; when they are taken, jackd says "Too many servers already
        active". Slots of servers that died without a clean exit are
        reclaimed at once (reclaim_dead_server_slots); slots of live
        servers (parallel tests) are waited for, up to slot_timeout
        seconds. When every slot is held by a dead server this user cannot
        reclaim, start() fails at once with the way out."""
        if self.running():
            return self
        slot_deadline = time.monotonic() + self.slot_timeout
        said = False
        while True:
            first = len(self.log)
            if self._launch():
                return self
            full = any("Too many servers" in l for l in self.log[first:])
            if full and self.reclaim and reclaim_dead_server_slots(self.env):
                continue
            slots = jack_server_slots()
            hopeless = slots is not None and not any(alive for _, _, alive in slots)
            if not full or hopeless or time.monotonic() > slot_deadline:
                raise RuntimeError("jackd %s exited with %s:\n%s\nslots: %s%s" % (
                    self.name, self.proc.returncode, "\n".join(self.log[first:]),
                    slots, "\nevery slot is held by a dead server of another "
                    "user: start and stop `jackd -n NAME -d dummy` as that user, "
                    "or remove /dev/shm/jack-shm-registry when no jackd runs"
                    if full and hopeless else ""))
            if not said:
                sys.stderr.write("harness: all JACK server slots taken (%s); "
                                 "waiting for one\n" % (slots,))
                said = True
            time.sleep(0.2 + random.random() * 0.3)

    def _launch(self):
        """Start jackd once; True when it answers, False when it exited."""
        jackd = _which_or_fail("jackd")
        self._remove_leftovers()
        cmd = [jackd, "--no-realtime"] + (["-S"] if self.sync else []) + [
            "-n", self.name] + self.jackd_args + [
            "-d", "dummy", "-r", str(self.rate), "-p", str(self.period)
        ] + self.driver_args
        self.proc = subprocess.Popen(
            _wrap(cmd), env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True)
        _register(self)
        self._readers = [_LineReader(self.proc.stdout, "[jackd %s] " % self.name,
                                     self.log, self._cond)]
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                for r in self._readers:
                    r.thread.join(2.0)
                _unregister(self)
                return False
            if self.answers():
                self.killed = False
                return True
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("jackd %s did not answer within %g s" % (
            self.name, self.timeout))

    def _release_slot(self):
        # A jackd that died unclean keeps its slot in the server registry until
        # a server of the same name starts again: start and stop cleanly
        # once, so that killed servers do not use up the 8 slots.
        if self.killed and not self.running():
            try:
                self.start()
            except RuntimeError as e:
                sys.stderr.write("harness: cannot release the slot of %s: %s\n"
                                 % (self.name, e))
            self.stop()

    def answers(self):
        """True when a client can connect to this server name now."""
        probe = ARGS.probe if ARGS and ARGS.probe else None
        if probe:
            cmd = [probe, "--name", "answers-%d" % os.getpid(), "ports"]
        else:
            cmd = [_which_or_fail("jack_lsp")]
        try:
            r = subprocess.run(cmd, env=self.env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=5)
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 0

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, kill=False, timeout=5.0):
        """Stop jackd: SIGTERM (SIGKILL at once when kill=True, as a crash
        would), SIGKILL after timeout; remove files it left behind.
        Returns jackd's exit status."""
        if self.proc is None:
            return None
        rc = _terminate(self.proc, timeout, group=True,
                        sig=signal.SIGKILL if kill else signal.SIGTERM)
        # not only SIGKILL leaves the slot taken: jackd can die of SIGPIPE
        # while it tells a closing client that it shuts down, or have died
        # before this stop
        self.killed = rc == -signal.SIGKILL or self._left_its_slot()
        for r in self._readers:
            r.thread.join(2.0)
        if not self.killed:  # else teardown must still release the slot
            _unregister(self)
        self._remove_leftovers()
        return rc

    def _left_its_slot(self):
        return any(name == self.name and not alive
                   for _, _, name, alive in _registry_slots() or [])

    def _teardown(self):
        self.stop(timeout=3.0)
        self._release_slot()
        _unregister(self)

    def _remove_leftovers(self):
        # jackd removes these itself on a clean exit; after SIGKILL the
        # sockets and semaphores of this server name stay in /dev/shm
        name = glob.escape(self.name)
        for pattern in ("/dev/shm/jack_sem.*_%s_*" % name,
                        "/dev/shm/jack_%s_*" % name,
                        "/dev/shm/jack-*/%s" % name,
                        "/dev/shm/jack-*/%s/*" % name):
            for path in sorted(glob.glob(pattern), reverse=True):
                try:
                    if os.path.isdir(path) and not os.path.islink(path):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        os.unlink(path)
                except OSError:
                    pass

    def connect(self, a, b):
        """Connect port a to port b with jack_connect; True on success."""
        r = subprocess.run([_which_or_fail("jack_connect"), a, b], env=self.env,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10)
        return r.returncode == 0

    def disconnect(self, a, b):
        """Disconnect port a from port b with jack_disconnect; True on
        success."""
        r = subprocess.run([_which_or_fail("jack_disconnect"), a, b],
                           env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10)
        return r.returncode == 0

    def set_property(self, port, key, value):
        """Set JACK metadata on a port with jack_property; True on success.

        Beware: JACK2 keeps metadata in one database per user, keyed by
        UUIDs that every server numbers the same way (port index + 1), and
        removes a port's properties when a port with that UUID goes away
        on ANY server. Parallel tests can therefore see their pretty names
        vanish or another test's appear; read them back soon after they
        are set, and retry once when a value is missing."""
        r = subprocess.run([_which_or_fail("jack_property"), "--port", "-s",
                            port, key, value], env=self.env,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10)
        return r.returncode == 0


PRETTY_NAME = "http://jackaudio.org/metadata/pretty-name"


def _registry_slots():
    """JACK2's server registry (/dev/shm/jack-shm-registry) as a list of
    (pid, uid, server name, alive) for every taken slot, or None when the
    file is missing or not in the layout of jackd2 1.9."""
    try:
        with open("/dev/shm/jack-shm-registry", "rb") as f:
            data = f.read(4096)
        magic, _, _, _, hdr_len, _ = struct.unpack_from("<IHxxIiii", data, 0)
    except (OSError, struct.error):
        return None
    entry = 4 + 264 - 4  # pid_t + char[257], padded to 4
    if magic != 0x4A41434B or hdr_len != 24 + 8 * entry:
        return None
    out = []
    for i in range(8):
        off = 24 + i * entry
        pid = struct.unpack_from("<i", data, off)[0]
        if not pid:
            continue
        raw = data[off + 4:off + 4 + 257].split(b"\0")[0].decode("utf-8", "replace")
        # jackd registers "jack-UID:NAME:"
        m = re.match(r"jack-(\d+):(.*):$", raw)
        uid, name = (int(m.group(1)), m.group(2)) if m else (None, raw)
        out.append((pid, uid, name, _is_jackd(pid)))
    return out


def _is_jackd(pid):
    # JACK itself asks kill(pid, 0); a dead server's pid may since have
    # gone to another program, which must not count as a live server
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip() in ("jackd", "jackdbus")
    except OSError:
        return False


def jack_server_slots():
    """JACK2's server registry (/dev/shm/jack-shm-registry): list of
    (pid, server name, alive) for every taken slot, or None when the file
    is missing or not in the layout of jackd2 1.9 (for diagnostics)."""
    slots = _registry_slots()
    return None if slots is None else [(pid, name, alive)
                                       for pid, _, name, alive in slots]


def reclaim_dead_server_slots(env=None):
    """Free the registry slots of this user's servers that died without a
    clean exit (SIGKILL, a crash, a machine reset under a kept /dev/shm).
    JACK2 frees such a slot only when a server of the same name registers
    again, so each is started once under its name and stopped cleanly,
    which also removes the sockets and semaphores it left. Returns the
    names reclaimed. Meant for a full registry: nothing else frees these
    slots, and eight of them stop every jackd on the machine."""
    # one reclaimer at a time: a second jackd of the same name would fail,
    # and its leftover cleanup would remove the first one's sockets
    try:
        lock = open(os.path.join(tempfile.gettempdir(),
                                 "cl-harness-jack-reclaim-%d.lock" % os.getuid()), "a")
    except OSError as e:   # reclaim unserialised rather than not at all
        sys.stderr.write("harness: no reclaim lock (%s)\n" % e)
        return _reclaim_dead_server_slots_locked(env)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _reclaim_dead_server_slots_locked(env)
    finally:
        lock.close()


def _reclaim_dead_server_slots_locked(env):
    reclaimed = []
    for pid, uid, name, alive in _registry_slots() or []:
        if alive or uid != os.getuid() or not name:
            continue
        server = JackServer(name=name, slot_timeout=0)
        server.reclaim = False
        if env:
            server.env = dict(env, JACK_DEFAULT_SERVER=name)
        try:
            server.start()
        except RuntimeError:
            # another test reclaimed it first, or the pid turned out alive
            continue
        finally:
            server.stop()
        sys.stderr.write("harness: reclaimed the JACK server slot of dead "
                         "server %s (pid %d)\n" % (name, pid))
        reclaimed.append(name)
    return reclaimed


# ---------------------------------------------------------------------------
# client under test


OSC_LINE = re.compile(r"OSC listening on udp://([\d.]+):(\d+)")
SANITIZER_MARKS = ("Real-time violation", "ERROR: AddressSanitizer",
                   "ERROR: LeakSanitizer", "runtime error:")


def sanitizer_env(base, rtsan=False):
    """A copy of base with sanitizer options (kept where base sets them):
    ASan/LSan and UBSan stop at the first error; RTSan too (its default;
    LLVM 19 reads no RTSAN_OPTIONS at all, later releases do)."""
    env = dict(base)
    if rtsan:
        env.setdefault("RTSAN_OPTIONS", "halt_on_error=1")
    env.setdefault("ASAN_OPTIONS", "halt_on_error=1:detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


def _sanitizer_lines(lines):
    return [l for l in lines if any(m in l for m in SANITIZER_MARKS)]


class Client:
    """A program under test, started against `server`.

    Client(path, args=(), server=None, rtsan=None, name=None, osc=True,
           osc_timeout=10.0, env=None, jack_name=None)

    - JACK client name (.jack_name): the `--name` in args if there is
      one; else, for an OSC client (osc=True), `--name` is appended with
      jack_name or unique_name(program) (see unique_name for why); pass
      jack_name=False to keep the program's default name. .port("x")
      gives "<jack_name>:x";
    - env: the server's env (JACK_DEFAULT_SERVER) + sanitizer options +
      the given extra env entries;
    - osc=True: appends `--osc-port 0` unless args already name a port,
      and waits for the line "OSC listening on udp://ADDR:PORT" (stdout
      or stderr), setting .osc_host and .osc_port;
    - rtsan=None: use harness.ARGS.rtsan.
    stdout and stderr lines are collected in .lines and echoed to the
    test's stderr prefixed with [name]."""

    def __init__(self, path, args=(), server=None, rtsan=None, name=None,
                 osc=True, osc_timeout=10.0, env=None, jack_name=None):
        if not path:
            fail("no client program given (--client)")
        self.path = path
        self.args = list(args)
        self.server = server
        self.name = name or os.path.basename(path)
        given = [a.split("=", 1)[1] if "=" in a else self.args[i + 1]
                 for i, a in enumerate(self.args)
                 if (a == "--name" and i + 1 < len(self.args))
                 or a.startswith("--name=")]
        if given:
            self.jack_name = given[-1]
        elif jack_name is False or not osc:
            self.jack_name = None
        else:
            self.jack_name = jack_name or unique_name(os.path.basename(path))
            self.args += ["--name", self.jack_name]
        if rtsan is None:
            rtsan = bool(ARGS and ARGS.rtsan)
        self.rtsan = rtsan
        self.env = sanitizer_env(server.env if server else os.environ, rtsan)
        if env:
            self.env.update(env)
        if osc and not any(a == "--osc-port" or a.startswith("--osc-port=")
                           for a in self.args):
            self.args += ["--osc-port", "0"]
        self.lines = []
        self.osc_host = None
        self.osc_port = None
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            _wrap([path] + self.args), env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        _register(self)
        _clients.append(self)
        prefix = "[%s] " % self.name
        self._readers = [
            _LineReader(self.proc.stderr, prefix, self.lines, self._cond, self._see),
            _LineReader(self.proc.stdout, prefix, self.lines, self._cond, self._see),
        ]
        if osc:
            m = self.wait_line(OSC_LINE, osc_timeout)
            if not m:
                self.stop()
                raise RuntimeError("%s: no 'OSC listening on' line within %g s "
                                   "(exit status %s)" % (self.name, osc_timeout,
                                                         self.proc.returncode))

    def __repr__(self):
        return "Client(%s)" % self.name

    def _see(self, line):
        if self.osc_port is None:
            m = OSC_LINE.search(line)
            if m:
                self.osc_host = m.group(1)
                self.osc_port = int(m.group(2))

    def wait_line(self, pattern, timeout=10.0, start=0):
        """Wait for an output line (from index start on) matching the regex
        pattern; returns the re.Match, or None on timeout or exit."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        i = start
        with self._cond:
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    i += 1
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                if self.proc.poll() is not None and all(
                        not r.thread.is_alive() for r in self._readers):
                    return None
                self._cond.wait(min(left, 0.1))

    def running(self):
        return self.proc.poll() is None

    def port(self, short):
        """Full name of one of the client's ports: port("midi_out")."""
        return "%s:%s" % (self.jack_name, short)

    def osc_client(self):
        """An OscClient whose default target is this client's OSC port."""
        return OscClient(port=self.osc_port, host=self.osc_host or "127.0.0.1")

    @property
    def url(self):
        return "osc.udp://%s:%d/" % (self.osc_host or "127.0.0.1", self.osc_port)

    def signal(self, sig):
        """Send a signal (e.g. signal.SIGKILL to simulate a crash)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout=10.0):
        """Wait for the client to exit by itself; its exit status, or None
        if it still runs after timeout."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._join_readers(2.0)
        return self.proc.returncode

    def stop(self, timeout=10.0):
        """SIGTERM, wait up to timeout (then SIGKILL); returns the exit
        status (0 expected; negative = killed by that signal)."""
        rc = _terminate(self.proc, timeout)
        self._join_readers(2.0)
        _unregister(self)
        if rc is not None and rc != 0:
            sys.stderr.write("[%s] exit status %s\n" % (self.name, rc))
        return rc

    def _join_readers(self, timeout):
        if self.proc.poll() is None:
            return
        for r in self._readers:
            r.thread.join(timeout)

    def _teardown(self):
        self.stop(timeout=3.0)

    def violations(self):
        """Output lines that are sanitizer reports."""
        with self._cond:
            return _sanitizer_lines(self.lines)

    def check_clean(self):
        """Raise AssertionError when the client printed a real-time
        violation, an ASan/LSan error or a UBSan runtime error."""
        self._join_readers(2.0)
        bad = self.violations()
        if bad:
            raise AssertionError("%s: sanitizer report:\n%s" % (
                self.name, "\n".join(bad)))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is None:
            self.check_clean()
        return False


# ---------------------------------------------------------------------------
# OSC over UDP


def _osc_string(s):
    data = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    data += b"\0"
    return data + b"\0" * (-len(data) % 4)


def _osc_blob(b):
    b = bytes(b)
    return struct.pack(">i", len(b)) + b + b"\0" * (-len(b) % 4)


_NO_DATA_TAGS = "TFNI"


def _osc_arg(tag, value):
    if tag == "i":
        return struct.pack(">i", int(value))
    if tag == "h":
        return struct.pack(">q", int(value))
    if tag == "f":
        return struct.pack(">f", float(value))
    if tag == "d":
        return struct.pack(">d", float(value))
    if tag in "sS":
        return _osc_string(value)
    if tag == "b":
        return _osc_blob(value)
    if tag == "c":
        return struct.pack(">i", ord(value) if isinstance(value, str) else int(value))
    if tag == "t":
        return struct.pack(">Q", int(value))
    if tag == "r":
        return struct.pack(">I", int(value))
    if tag == "m":
        b = bytes(value)
        if len(b) != 4:
            raise ValueError("OSC 'm' takes 4 bytes")
        return b
    if tag in _NO_DATA_TAGS:
        return b""
    raise ValueError("unknown OSC type tag %r" % tag)


def osc_message(address, *args):
    """Encode an OSC message. Python values map to: int -> i (h when it
    does not fit 32 bits), float -> f, str -> s, bytes -> b, True -> T,
    False -> F, None -> N. A tuple (tag, value) sends an exact type:
    ('d', 1.0), ('h', 5), ('S', 'sym'), ('c', 'x'), ('t', 1), ('m', b'1234'),
    ('r', 0xff0000ff), ('I',) for infinitum, ('T',)/('F',)/('N',)."""
    tags = ","
    body = b""
    for a in args:
        if isinstance(a, tuple):
            if not a or not isinstance(a[0], str) or len(a[0]) != 1:
                raise ValueError("typed argument must be (tag, value): %r" % (a,))
            tag = a[0]
            value = a[1] if len(a) > 1 else None
        elif a is True:
            tag, value = "T", None
        elif a is False:
            tag, value = "F", None
        elif a is None:
            tag, value = "N", None
        elif isinstance(a, int):
            tag, value = ("i" if -2**31 <= a < 2**31 else "h"), a
        elif isinstance(a, float):
            tag, value = "f", a
        elif isinstance(a, str):
            tag, value = "s", a
        elif isinstance(a, (bytes, bytearray, memoryview)):
            tag, value = "b", a
        else:
            raise TypeError("cannot send %r over OSC" % (a,))
        tags += tag
        body += _osc_arg(tag, value)
    return _osc_string(address) + _osc_string(tags) + body


def osc_bundle(*elements, timetag=1):
    """Encode an OSC bundle; each element is encoded bytes (a message or a
    bundle) or a tuple (address, *args). timetag 1 means "immediately"."""
    out = b"#bundle\0" + struct.pack(">Q", timetag)
    for e in elements:
        data = osc_message(*e) if isinstance(e, (tuple, list)) else bytes(e)
        out += struct.pack(">i", len(data)) + data
    return out


def _read_string(data, off):
    end = data.find(b"\0", off)
    if end < 0:
        raise ValueError("OSC string not terminated at offset %d" % off)
    nxt = (end + 4) & ~3
    if nxt > len(data):
        raise ValueError("OSC string padding runs past the end")
    if any(data[end:nxt]):
        raise ValueError("OSC string padding not zero at offset %d" % end)
    return data[off:end].decode("utf-8", "surrogateescape"), nxt


def _need(data, off, n):
    if off + n > len(data):
        raise ValueError("OSC argument runs past the end (offset %d)" % off)


class OscMsg(tuple):
    """(address, args) with extras: .address, .args, .types (the type tag
    string without ','), .source ((host, port) it came from, or None)."""

    def __new__(cls, address, args, types="", source=None):
        t = super().__new__(cls, (address, args))
        t.types = types
        t.source = source
        return t

    @property
    def address(self):
        return self[0]

    @property
    def args(self):
        return self[1]


def osc_decode_typed(data):
    """Decode one OSC message -> (address, types, args). Raises ValueError
    on anything malformed (including a bundle: see osc_decode_packet)."""
    data = bytes(data)
    if len(data) % 4 or not data:
        raise ValueError("OSC packet size %d is not a multiple of 4" % len(data))
    if data.startswith(b"#bundle\0"):
        raise ValueError("OSC bundle, not a message")
    address, off = _read_string(data, 0)
    if not address.startswith("/"):
        raise ValueError("OSC address %r does not start with '/'" % address)
    if off >= len(data):
        raise ValueError("OSC message without a type tag string")
    tags, off = _read_string(data, off)
    if not tags.startswith(","):
        raise ValueError("OSC type tags %r do not start with ','" % tags)
    args = []
    for tag in tags[1:]:
        if tag in "ic":
            _need(data, off, 4)
            v = struct.unpack_from(">i", data, off)[0]
            args.append(chr(v) if tag == "c" else v)
            off += 4
        elif tag in "rm":
            _need(data, off, 4)
            args.append(struct.unpack_from(">I", data, off)[0] if tag == "r"
                        else data[off:off + 4])
            off += 4
        elif tag == "f":
            _need(data, off, 4)
            args.append(struct.unpack_from(">f", data, off)[0])
            off += 4
        elif tag in "hdt":
            _need(data, off, 8)
            fmt = {"h": ">q", "d": ">d", "t": ">Q"}[tag]
            args.append(struct.unpack_from(fmt, data, off)[0])
            off += 8
        elif tag in "sS":
            s, off = _read_string(data, off)
            args.append(s)
        elif tag == "b":
            _need(data, off, 4)
            n = struct.unpack_from(">i", data, off)[0]
            if n < 0:
                raise ValueError("OSC blob with negative size")
            off += 4
            _need(data, off, n)
            args.append(data[off:off + n])
            off += n + (-n % 4)
            if off > len(data):
                raise ValueError("OSC blob padding runs past the end")
        elif tag == "T":
            args.append(True)
        elif tag == "F":
            args.append(False)
        elif tag == "N":
            args.append(None)
        elif tag == "I":
            args.append(math.inf)
        else:
            raise ValueError("unknown OSC type tag %r" % tag)
    if off != len(data):
        raise ValueError("%d bytes after the last OSC argument" % (len(data) - off))
    return address, tags[1:], args


def osc_decode(data):
    """Decode one OSC message -> (address, [args]); raises ValueError on
    malformed data or a bundle. Types: i h -> int, f d -> float, s S c ->
    str, b m -> bytes, T F -> bool, N -> None, I -> math.inf, t r -> int."""
    address, _, args = osc_decode_typed(data)
    return address, args


def osc_decode_packet(data, source=None):
    """Decode a message or a (nested) bundle -> list of OscMsg."""
    data = bytes(data)
    if not data.startswith(b"#bundle\0"):
        address, types, args = osc_decode_typed(data)
        return [OscMsg(address, args, types, source)]
    if len(data) < 16 or len(data) % 4:
        raise ValueError("OSC bundle too short or misaligned")
    off = 16
    out = []
    while off < len(data):
        _need(data, off, 4)
        n = struct.unpack_from(">i", data, off)[0]
        off += 4
        if n <= 0 or n % 4:
            raise ValueError("OSC bundle element size %d" % n)
        _need(data, off, n)
        out += osc_decode_packet(data[off:off + n], source)
        off += n
    return out


class OscClient:
    """A UDP socket on 127.0.0.1:<ephemeral> talking OSC.

    OscClient(port=None, host='127.0.0.1'): default target for send().
    .port is our own port (give it to /cl/subscribe), .url our OSC URL.
    Received messages that a wait_for() passed over stay in a backlog
    that recv() and later wait_for() calls serve first."""

    def __init__(self, port=None, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.target = (host, port) if port else None
        self.backlog = collections.deque()

    @property
    def url(self):
        return "osc.udp://127.0.0.1:%d/" % self.port

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _dest(self, port, host):
        if port:
            return (host or "127.0.0.1", port)
        if not self.target:
            raise ValueError("OscClient: no target port")
        return (host or self.target[0], self.target[1])

    def send(self, address, *args, port=None, host=None):
        """Send one message to port (default: the target)."""
        self.sock.sendto(osc_message(address, *args), self._dest(port, host))

    def send_raw(self, data, port=None, host=None):
        """Send any bytes as one datagram."""
        self.sock.sendto(bytes(data), self._dest(port, host))

    def _recv_socket(self, timeout):
        """One datagram decoded into the backlog; False on timeout."""
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return False
        data, src = self.sock.recvfrom(65536)
        self.backlog.extend(osc_decode_packet(data, src))
        return True

    def recv(self, timeout=1.0):
        """Next message (backlog first) as OscMsg, or None after timeout.
        A malformed datagram raises ValueError."""
        if not self.backlog:
            self._recv_socket(timeout)
        return self.backlog.popleft() if self.backlog else None

    @staticmethod
    def _matches(msg, address, predicate):
        if isinstance(address, re.Pattern):
            if not address.fullmatch(msg.address):
                return False
        elif address is not None and msg.address != address:
            return False
        return predicate is None or predicate(msg)

    def wait_for(self, address, timeout=2.0, predicate=None):
        """First message whose address equals `address` (a str, or a
        compiled regex that must fullmatch; None = any) and for which
        predicate(msg) is true; others stay in the backlog. None on
        timeout."""
        for i, msg in enumerate(self.backlog):
            if self._matches(msg, address, predicate):
                del self.backlog[i]
                return msg
        deadline = time.monotonic() + timeout
        while True:
            seen = len(self.backlog)
            if not self._recv_socket(deadline - time.monotonic()):
                return None
            for i in range(seen, len(self.backlog)):
                msg = self.backlog[i]
                if self._matches(msg, address, predicate):
                    del self.backlog[i]
                    return msg

    def drain(self, settle=0.0):
        """Empty the backlog and the socket (waiting `settle` seconds for
        stragglers); returns what was dropped."""
        while self._recv_socket(settle):
            pass
        out = list(self.backlog)
        self.backlog.clear()
        return out

    def request(self, address, *args, reply=None, timeout=2.0, port=None,
                predicate=None):
        """Send address(*args) and wait for the reply address (default:
        the same address); the OscMsg, or None on timeout."""
        self.send(address, *args, port=port)
        return self.wait_for(reply or address, timeout, predicate)


# ---------------------------------------------------------------------------
# WAV files and signal numbers


class Wav:
    """rate, channels (list of lists of floats, -1..1), frames."""

    def __init__(self, rate, channels):
        self.rate = rate
        self.channels = channels
        self.frames = len(channels[0]) if channels else 0


def read_wav(path):
    """Read a RIFF WAV file (PCM 16/24/32, float 32/64, plain or
    WAVE_FORMAT_EXTENSIBLE) -> Wav."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 12 or data[0:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("%s: not a RIFF WAVE file" % path)
    off = 12
    fmt = None
    body = None
    while off + 8 <= len(data):
        cid = data[off:off + 4]
        size = struct.unpack_from("<I", data, off + 4)[0]
        chunk = data[off + 8:off + 8 + size]
        if cid == b"fmt ":
            fmt = chunk
        elif cid == b"data":
            body = chunk
        off += 8 + size + (size & 1)
    if fmt is None or body is None:
        raise ValueError("%s: no fmt or data chunk" % path)
    tag, nch, rate, _, align, bits = struct.unpack_from("<HHIIHH", fmt, 0)
    if tag == 0xFFFE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]
    width = bits // 8
    n = len(body) // width
    if tag == 3 and bits == 32:
        samples = struct.unpack_from("<%df" % n, body)
    elif tag == 3 and bits == 64:
        samples = struct.unpack_from("<%dd" % n, body)
    elif tag == 1 and bits == 16:
        samples = [v / 32768.0 for v in struct.unpack_from("<%dh" % n, body)]
    elif tag == 1 and bits == 32:
        samples = [v / 2147483648.0 for v in struct.unpack_from("<%di" % n, body)]
    elif tag == 1 and bits == 24:
        samples = [int.from_bytes(body[i:i + 3], "little", signed=True) / 8388608.0
                   for i in range(0, n * 3, 3)]
    else:
        raise ValueError("%s: unsupported WAV format %d/%d bits" % (path, tag, bits))
    frames = n // nch
    return Wav(rate, [list(samples[c:frames * nch:nch]) for c in range(nch)])


def write_wav(path, rate, channels):
    """Write channels (lists of floats, equal length) as a 32-bit float
    WAV file."""
    nch = len(channels)
    frames = len(channels[0])
    inter = [channels[c][i] for i in range(frames) for c in range(nch)]
    body = struct.pack("<%df" % len(inter), *inter)
    fmt = struct.pack("<HHIIHHH", 3, nch, rate, rate * nch * 4, nch * 4, 32, 0)
    fact = struct.pack("<I", frames)
    riff = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"fact" + struct.pack("<I", 4) + fact
            + b"data" + struct.pack("<I", len(body)) + body)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(riff)) + riff)


def db(x):
    """20*log10(x); -inf for 0."""
    return 20.0 * math.log10(x) if x > 0 else -math.inf


def rms(samples):
    return math.sqrt(sum(v * v for v in samples) / len(samples)) if samples else 0.0


def rms_db(samples):
    return db(rms(samples))


def peak(samples):
    return max((abs(v) for v in samples), default=0.0)


def peak_db(samples):
    return db(peak(samples))


def zero_crossing_frequency(samples, rate):
    """Frequency from upward zero crossings, each located by linear
    interpolation between samples; None with fewer than 2 crossings."""
    times = []
    for i in range(1, len(samples)):
        a, b = samples[i - 1], samples[i]
        if a < 0.0 <= b:
            times.append(i - 1 + a / (a - b))
    if len(times) < 2:
        return None
    return (len(times) - 1) * rate / (times[-1] - times[0])


def retry_on_xruns(measure, attempts=3, valid=None):
    """Call measure() (returning a Recording or Capture) until it reports
    no JACK xrun, at most `attempts` times; returns the last result. An
    xrun on a loaded machine skips a cycle, which would otherwise look
    like a bug in the client under test; check result.xruns == 0 after.
    With valid(result), a result that passes it is kept even with xruns
    (on a busy machine most xruns miss the clients measured), and the
    caller checks the result itself, not its xruns: a measurement that
    fails with no xrun is never taken again."""
    for i in range(attempts):
        result = measure()
        if not result.xruns or (valid is not None and valid(result)):
            return result
        sys.stderr.write("harness: %d xrun(s) during a measurement%s\n" % (
            result.xruns, "; measuring again" if i + 1 < attempts else ""))
        if i + 1 < attempts:
            time.sleep(0.2 + random.random() * 0.5)  # out of step with the load
    return result


# ---------------------------------------------------------------------------
# cl-probe


MidiEvent = collections.namedtuple("MidiEvent", "port frame tframe rolling data")
MidiEvent.__doc__ = ("port index, absolute frame, transport frame, rolling "
                     "(bool), data (bytes)")
Cycle = collections.namedtuple(
    "Cycle", "frame state pos_frame valid_bbt bar beat tick bpm "
             "beats_per_bar beat_type ticks_per_beat bar_start_tick")
Cycle.__doc__ = "one `cycle` line of cl-probe record --transport"

TRANSPORT_STOPPED, TRANSPORT_ROLLING, TRANSPORT_LOOPING, TRANSPORT_STARTING = 0, 1, 2, 3


def cc(channel, controller, value):
    """The 3 bytes of a MIDI control change: channel 1..16, controller and
    value 0..127. cc(1, 7, 100) == b"\\xb0\\x07\\x64"."""
    if not (1 <= channel <= 16 and 0 <= controller <= 127 and 0 <= value <= 127):
        raise ValueError("cc(%r, %r, %r): channel 1..16, controller and value "
                         "0..127" % (channel, controller, value))
    return bytes((0xB0 | (channel - 1), controller, value))


def _midi_arg(message):
    """One `cl-probe send-midi` MSG ("b0,07,64") from bytes or a list of
    ints; cl-probe itself checks that it is a valid message."""
    return ",".join("%02x" % b for b in bytes(message))


class Recording:
    """A parsed `cl-probe record` file: events (MidiEvent list), cycles
    (Cycle list), overruns, truncated, xruns (JACK xruns while recording:
    cycles may be missing), rate, period, ports (names), complete (the
    final `overruns` line was written), path."""

    def __init__(self, path):
        self.path = path
        self.events = []
        self.cycles = []
        self.overruns = None
        self.truncated = None
        self.xruns = None
        self.rate = None
        self.period = None
        self.ports = []
        with open(path) as f:
            for line in f:
                w = line.split()
                if not w:
                    continue
                if w[0] == "midi":
                    self.events.append(MidiEvent(
                        int(w[1]), int(w[2]), int(w[3]), w[4] == "1",
                        bytes(int(x, 16) for x in w[5:])))
                elif w[0] == "cycle":
                    self.cycles.append(Cycle(
                        int(w[1]), int(w[2]), int(w[3]), w[4] == "1",
                        int(w[5]), int(w[6]), int(w[7]), float(w[8]),
                        float(w[9]), float(w[10]), float(w[11]), float(w[12])))
                elif w[0] == "overruns":
                    self.overruns = int(w[1])
                elif w[0] == "truncated":
                    self.truncated = int(w[1])
                elif w[0] == "xruns":
                    self.xruns = int(w[1])
                elif w[:3] == ["#", "cl-probe", "record"]:
                    self.rate = int(w[w.index("rate") + 1])
                    self.period = int(w[w.index("period") + 1])
                elif w[:2] == ["#", "port"]:
                    self.ports.append(w[3])
        self.complete = self.overruns is not None

    def lost_cycles(self):
        """Cycles missing between the recorded ones (a recording made with
        transport=True has a line per cycle); None without cycle lines. An
        xrun that skipped the probe shows here; most xruns on a busy
        machine skip nobody, and then this is 0."""
        if not self.cycles or not self.period:
            return None
        return sum((b.frame - a.frame) // self.period - 1
                   for a, b in zip(self.cycles, self.cycles[1:]))


class Capture:
    """A `cl-probe capture` result: rate, channels (lists of floats),
    frames, start_frame (JACK frame time of the first captured frame),
    xruns (JACK xruns during the capture: gaps are possible), path."""

    def __init__(self, path, start_frame, xruns=0):
        w = read_wav(path)
        self.path = path
        self.rate = w.rate
        self.channels = w.channels
        self.frames = w.frames
        self.start_frame = start_frame
        self.xruns = xruns


class ProbeJob:
    """A cl-probe running in the background. .name (its JACK client
    name), .lines (stdout+stderr), .start_frame (from its "playing/
    capturing/recording from cycle frame_time F" or "sent N messages from
    cycle frame_time F" line), .proc."""

    READY = re.compile(r"^(playing|capturing|recording|sent \d+ messages) from cycle "
                       r"frame_time (\d+)|^(timebase master)")

    def __init__(self, probe, args, name, ready=True, timeout=15.0):
        self.probe = probe
        self.name = name
        self.lines = []
        self.start_frame = None
        self._cond = threading.Condition()
        cmd = [probe.path, "--name", name] + list(args)
        self.proc = subprocess.Popen(
            _wrap(cmd), env=probe.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _register(self)
        _probe_jobs.append(self)
        _probe_runs[0] += 1
        prefix = "[probe %s] " % name
        self._readers = [
            _LineReader(self.proc.stdout, prefix, self.lines, self._cond),
            _LineReader(self.proc.stderr, prefix, self.lines, self._cond),
        ]
        if ready:
            self.wait_ready(timeout)

    def port(self, short):
        """Full name of one of this probe's ports: port("out_1")."""
        return "%s:%s" % (self.name, short)

    def wait_ready(self, timeout=15.0):
        """Wait for the "... from cycle frame_time F" line; raises
        RuntimeError when the probe exits or times out first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    m = self.READY.match(line)
                    if m:
                        if m.group(2):
                            self.start_frame = int(m.group(2))
                        return self.start_frame
                if time.monotonic() >= deadline or (
                        self.proc.poll() is not None
                        and not any(r.thread.is_alive() for r in self._readers)):
                    break
                self._cond.wait(0.05)
        raise RuntimeError("probe %s did not start (status %s):\n%s" % (
            self.name, self.proc.poll(), "\n".join(self.lines)))

    def _join_readers(self, timeout):
        if self.proc.poll() is None:
            return
        for r in self._readers:
            r.thread.join(timeout)

    def wait(self, timeout=30.0):
        """Wait for exit; the exit status, or None when still running."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._join_readers(2.0)
        _unregister(self)
        return self.proc.returncode

    def stop(self, timeout=10.0):
        """SIGTERM and wait; the exit status."""
        rc = _terminate(self.proc, timeout)
        self._join_readers(2.0)
        _unregister(self)
        return rc

    def _teardown(self):
        _terminate(self.proc, 2.0)
        _unregister(self)


class PlayJob(ProbeJob):
    """`cl-probe play` in the background; stop() or wait() it."""


class CaptureJob(ProbeJob):
    """`cl-probe capture` in the background; result() -> Capture."""

    def __init__(self, probe, args, name, path, ready, timeout):
        self.path = path
        super().__init__(probe, args, name, ready, timeout)

    def result(self, timeout=60.0):
        rc = self.wait(timeout)
        if rc != 0:
            self.stop()
            raise RuntimeError("capture %s failed (status %s):\n%s" % (
                self.name, rc, "\n".join(self.lines)))
        m = x = None
        for line in self.lines:
            m = re.match(r"captured (\d+) frames from cycle frame_time (\d+)", line) or m
            x = re.match(r"xruns (\d+)$", line) or x
        if not m:
            raise RuntimeError("capture %s printed no result line" % self.name)
        return Capture(self.path, int(m.group(2)), int(x.group(1)) if x else 0)


class RecordJob(ProbeJob):
    """`cl-probe record` in the background; stop() (SIGTERM) or result()
    (fixed length) -> Recording."""

    def __init__(self, probe, args, name, path, ready, timeout):
        self.path = path
        super().__init__(probe, args, name, ready, timeout)

    def stop(self, timeout=10.0):
        rc = super().stop(timeout)
        if rc != 0:
            raise RuntimeError("record %s failed (status %s):\n%s" % (
                self.name, rc, "\n".join(self.lines)))
        return Recording(self.path)

    def result(self, timeout=60.0):
        rc = self.wait(timeout)
        if rc != 0:
            super().stop()
            raise RuntimeError("record %s failed (status %s):\n%s" % (
                self.name, rc, "\n".join(self.lines)))
        return Recording(self.path)


class LoadSamples:
    """A `cl-probe load` result: samples (jack_cpu_load() values, percent
    of the period), xruns (JACK xruns meanwhile), median (None when no
    sample was taken)."""

    def __init__(self, samples, xruns):
        self.samples = samples
        self.xruns = xruns
        ordered = sorted(samples)
        n = len(ordered)
        self.median = None if not n else (
            ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2)


class LoadJob(ProbeJob):
    """`cl-probe load` in the background; result() -> LoadSamples."""

    READY = re.compile(r"^(sampling load) from frame_time (\d+)")

    def result(self, timeout=60.0):
        rc = self.wait(timeout)
        if rc != 0:
            self.stop()
            raise RuntimeError("load %s failed (status %s):\n%s" % (
                self.name, rc, "\n".join(self.lines)))
        samples, xruns = [], None
        for line in self.lines:
            w = line.split()
            if len(w) == 2 and w[0] == "load":
                samples.append(float(w[1]))
            elif len(w) == 2 and w[0] == "xruns":
                xruns = int(w[1])
        if xruns is None:
            raise RuntimeError("load %s printed no xruns line" % self.name)
        return LoadSamples(samples, xruns)


class Probe:
    """cl-probe subcommands against one server. Probe(server, path=None)
    (path defaults to harness.ARGS.probe). Background jobs run under
    unique_name(name or "probe") (so "gen" becomes "gen-PID"): build port
    names with job.port("out_1") (ports: out_i, in_i, midi_in_i,
    midi_out)."""

    def __init__(self, server, path=None):
        self.server = server
        self.path = path or (ARGS.probe if ARGS else None)
        if not self.path:
            fail("no cl-probe given (--probe)")
        self.env = sanitizer_env(server.env)
        self._n = 0

    def _name(self, name):
        return unique_name(name or "probe")

    def run(self, *args, timeout=30.0):
        """Run `cl-probe ARGS...` to completion -> CompletedProcess (text).
        The probe runs under a unique client name unless ARGS set one."""
        head = [] if "--name" in args else ["--name", unique_name("clprobe")]
        r = subprocess.run([self.path] + head + [str(a) for a in args],
                           env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        _probe_runs[0] += 1
        _probe_reports.extend(_sanitizer_lines(r.stderr.splitlines()))
        return r

    def ports(self):
        """All ports: list of dicts name, direction ('in'/'out'), type
        ('audio'/'midi'/'other'), capture (min, max), playback (min, max),
        flags (set), pretty (str, '' when none)."""
        r = self.run("ports")
        if r.returncode != 0:
            raise RuntimeError("cl-probe ports failed: " + r.stderr)
        out = []
        for line in r.stdout.splitlines():
            f = line.split("\t")
            kv = dict(x.split("=", 1) for x in f[3:])
            out.append({
                "name": f[0], "direction": f[1], "type": f[2],
                "capture": tuple(int(v) for v in kv["capture"].split(":")),
                "playback": tuple(int(v) for v in kv["playback"].split(":")),
                "flags": set(x for x in kv["flags"].split(",") if x),
                "pretty": kv["pretty"],
            })
        return out

    def port_names(self):
        return [p["name"] for p in self.ports()]

    def wait_port(self, name, timeout=10.0):
        """True once port `name` exists, False after timeout."""
        return self.run("wait-port", name, "--timeout", timeout,
                        timeout=timeout + 10).returncode == 0

    def wait_connection(self, a, b, timeout=10.0):
        """True once ports a and b are connected, False after timeout."""
        return self.run("wait-connection", a, b, "--timeout", timeout,
                        timeout=timeout + 10).returncode == 0

    def transport(self):
        """The transport now: dict state ('rolling', 'stopped', ...),
        frame, bbt (bool), bar, beat, tick, bpm, meter ((n, d) floats)."""
        r = self.run("transport")
        if r.returncode != 0:
            raise RuntimeError("cl-probe transport failed: " + r.stderr)
        kv = dict(x.split("=", 1) for x in r.stdout.split())
        n, d = kv["meter"].split("/")
        return {"state": kv["state"], "frame": int(kv["frame"]),
                "bbt": kv["bbt"] == "1", "bar": int(kv["bar"]),
                "beat": int(kv["beat"]), "tick": int(kv["tick"]),
                "bpm": float(kv["bpm"]), "meter": (float(n), float(d))}

    def transport_start(self):
        """Ask JACK to start the transport (it rolls from the next cycle)."""
        self._transport_action("--start")

    def transport_stop(self):
        """Ask JACK to stop the transport."""
        self._transport_action("--stop")

    def transport_locate(self, frame):
        """Ask JACK to move the transport to `frame`."""
        self._transport_action("--locate", int(frame))

    def _transport_action(self, *args):
        r = self.run("transport", *args)
        if r.returncode != 0:
            raise RuntimeError("cl-probe transport %s failed: %s" % (args, r.stderr))

    def wait_transport(self, state, timeout=5.0):
        """Poll until the transport state is `state` ('rolling',
        'stopped', ...); the last transport() dict either way."""
        deadline = time.monotonic() + timeout
        t = self.transport()
        while t["state"] != state and time.monotonic() < deadline:
            time.sleep(0.02)
            t = self.transport()
        return t

    def wait_until(self, predicate, timeout=60.0):
        """Poll transport() until predicate(dict) holds; that dict, or None
        after `timeout` seconds. Tests wait on transport frames, not on
        wall time: a loaded machine runs the dummy driver late."""
        deadline = time.monotonic() + timeout
        while True:
            t = self.transport()
            if predicate(t):
                return t
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def wait_frame(self, frame, timeout=60.0):
        """Wait until the transport rolls past `frame`; True if it did."""
        return self.wait_until(lambda t: t["state"] == "rolling" and
                               t["frame"] > frame, timeout) is not None

    def timebase(self, bpm=120.0, meter=(4, 4), ticks=1920, name=None,
                 timeout=15.0):
        """Start `cl-probe timebase`: a timebase master whose BBT follows
        the frame exactly (ticks = frame*bpm*ticks/(60*rate), bar and beat
        from 1). Returns its ProbeJob once it is master; stop() it."""
        args = ["timebase", "--bpm", repr(float(bpm)),
                "--meter", "%g/%g" % tuple(meter), "--ticks", repr(float(ticks))]
        return ProbeJob(self, args, self._name(name or "timebase"), True, timeout)

    def play(self, to, sine=None, db=None, wav=None, impulse=False,
             interval=None, frames=None, seconds=None, loop=False, name=None,
             ready=True, timeout=15.0):
        """Start `cl-probe play` into the ports `to` (a list); returns a
        PlayJob once the signal flows (ready=True). Without frames/seconds
        it plays until stop()."""
        args = ["play"]
        if sine is not None:
            args += ["--sine", repr(float(sine))]
        if db is not None:
            args += ["--db", repr(float(db))]
        if wav:
            args += ["--wav", wav]
        if impulse:
            args += ["--impulse"]
        if interval:
            args += ["--interval", str(int(interval))]
        if frames:
            args += ["--frames", str(int(frames))]
        if seconds:
            args += ["--seconds", repr(float(seconds))]
        if loop:
            args += ["--loop"]
        for t in to:
            args += ["--to", t]
        return PlayJob(self, args, self._name(name), ready, timeout)

    def capture_start(self, sources, frames=None, seconds=None, name=None,
                      pcm24=False, ready=True, timeout=15.0):
        """Start `cl-probe capture` from the ports `sources`; returns a
        CaptureJob (after the "capturing" line when ready=True)."""
        name = self._name(name)
        path = os.path.join(tmpdir(), "%s-%d.wav" % (name, _counter[0]))
        _counter[0] += 1
        args = ["capture", "-o", path]
        args += ["--frames", str(int(frames))] if frames else [
            "--seconds", repr(float(seconds))]
        if pcm24:
            args += ["--pcm24"]
        for s in sources:
            args += ["--from", s]
        return CaptureJob(self, args, name, path, ready, timeout)

    def capture(self, sources, frames=None, seconds=None, name=None,
                timeout=60.0):
        """Capture to completion -> Capture."""
        return self.capture_start(sources, frames, seconds, name,
                                  ready=False).result(timeout)

    def record(self, midi=(), transport=False, frames=None, seconds=None,
               name=None, ready=True, timeout=15.0):
        """Start `cl-probe record`; returns a RecordJob once recording
        (ready=True). Without frames/seconds it records until stop()."""
        name = self._name(name)
        path = os.path.join(tmpdir(), "%s-%d.txt" % (name, _counter[0]))
        _counter[0] += 1
        args = ["record", "-o", path]
        if frames:
            args += ["--frames", str(int(frames))]
        elif seconds:
            args += ["--seconds", repr(float(seconds))]
        else:
            args += ["--until-signal"]
        if transport:
            args += ["--transport"]
        for m in midi:
            args += ["--midi", m]
        return RecordJob(self, args, name, path, ready, timeout)

    @staticmethod
    def _send_midi_args(to, messages, gap, at, hold):
        if isinstance(to, str):
            to = [to]
        args = ["send-midi"]
        for t in to:
            args += ["--to", t]
        if gap:
            args += ["--gap", str(int(gap))]
        if at:
            args += ["--at", str(int(at))]
        if hold:
            args += ["--hold"]
        return args + [_midi_arg(m) for m in messages]

    def send_midi(self, to, messages, gap=0, name=None, timeout=15.0, at=0):
        """Run `cl-probe send-midi` to completion: its midi_out, connected
        to every port of `to` (a list), writes `messages` (bytes or lists
        of ints, 1..3 bytes each, e.g. cc(1, 7, 100)), message i at frame
        F + at + i * gap. Returns F (int): the frame time of the first full
        cycle after the connections. Raises RuntimeError when the probe
        fails (bad message: its reason; exit status and output)."""
        args = self._send_midi_args(to, messages, gap, at, False)
        r = self.run("--name", self._name(name or "send"), *args, timeout=timeout)
        m = re.search(r"^sent \d+ messages from cycle frame_time (\d+)$",
                      r.stdout, re.M)
        if r.returncode != 0 or not m:
            raise RuntimeError("cl-probe send-midi failed (status %s):\n%s%s" % (
                r.returncode, r.stdout, r.stderr))
        return int(m.group(1))

    def send_midi_start(self, to, messages, gap=0, at=0, hold=True, name=None,
                        timeout=15.0):
        """Start `cl-probe send-midi` (with --hold unless hold=False) in
        the background; returns its ProbeJob once every message is written
        (.start_frame = F as in send_midi). With hold its midi_out stays
        connected, sending nothing more, until stop()."""
        args = self._send_midi_args(to, messages, gap, at, hold)
        return ProbeJob(self, args, self._name(name or "send"), True, timeout)

    def load_start(self, seconds, every=0.5, name=None, timeout=15.0):
        """Start `cl-probe load`: the server's DSP load (jack_cpu_load(),
        percent) sampled every `every` seconds for `seconds`. Returns a
        LoadJob once sampling began; .result() -> LoadSamples. The sampler
        has no process callback, so it adds no load of its own."""
        args = ["load", "--seconds", repr(float(seconds)), "--every", repr(float(every))]
        return LoadJob(self, args, self._name(name or "load"), True, timeout)

    def load(self, seconds, every=0.5, name=None):
        """load_start(...).result(): sample the DSP load to completion."""
        job = self.load_start(seconds, every, name)
        return job.result(timeout=seconds + 30.0)
