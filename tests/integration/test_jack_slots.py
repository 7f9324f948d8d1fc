#!/usr/bin/env python3
"""JACK2's server registry under dead servers: the harness must start a
server when every one of the machine's 8 slots is held by a jackd that
died without a clean exit.

Why: a jackd killed by SIGKILL (or a machine reset that keeps /dev/shm)
keeps its slot until a server of the same name registers again. Eight of
them and no jackd starts at all: "Too many servers already active". CI
once ran the whole suite against such a registry and every test waited
out its slot timeout.

Checks, in a private /dev/shm (the test re-executes itself under
unshare as root; elsewhere it is skipped, since filling the machine's
real registry would stall every other JACK user):
  - 8 dead servers of this user: start() reclaims them, comes up within
    seconds, and leaves only its own slot taken;
  - 8 live servers: start() waits, and comes up once one stops;
  - 8 dead servers of another user (nobody), whose slots this user cannot
    reclaim: start() fails at once and says what to do;
  - the reclaimed servers' sockets and semaphores are gone from /dev/shm;
  - a test's own jackd that died of a signal other than SIGKILL has its
    slot released at teardown, like one the test killed (jackd2 dies of
    SIGPIPE one time in three when stopped under a connected client;
    SIGALRM stands for it here: it ends jackd the same way, where a
    SIGPIPE sent from outside goes to jackd's signal thread).

Run: python3 test_jack_slots.py
"""

import glob
import os
import shutil
import signal
import subprocess
import threading
import time

import harness as h

NOBODY = 65534


def jackd_cmd(name, as_user=None):
    cmd = [shutil.which("jackd"), "--no-realtime", "-n", name, "-d", "dummy",
           "-r", "48000", "-p", "256"]
    if as_user is not None:
        cmd = [shutil.which("setpriv"), "--reuid=%d" % as_user,
               "--regid=%d" % as_user, "--clear-groups", "--"] + cmd
    return cmd


def slot_names(alive=None):
    return [name for _, name, live in h.jack_server_slots() or []
            if alive is None or live == alive]


def start_raw(name, as_user=None):
    """A jackd the harness does not manage, as another program would run
    it; returns once it runs (slot registered, system client's semaphore
    made)."""
    env = dict(os.environ, HOME="/tmp")
    proc = subprocess.Popen(jackd_cmd(name, as_user), env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while (name not in slot_names(alive=True) or
           not glob.glob("/dev/shm/jack_sem.*_%s_system" % name)):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            h.fail("jackd %s did not register (exit %s)" % (name, proc.poll()))
        time.sleep(0.05)
    return proc


def kill_hard(proc):
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)


def fill_with_dead(prefix, as_user=None):
    names = ["%s%d" % (prefix, i) for i in range(8)]
    for name in names:
        kill_hard(start_raw(name, as_user))
    h.check_equal(sorted(slot_names(alive=False)), sorted(names),
                  "8 slots held by dead %s servers" % prefix)
    return names


def test_dead_slots_of_this_user():
    dead = fill_with_dead("deadroot")
    leftovers = [p for p in glob.glob("/dev/shm/jack*") if "deadroot" in p]
    h.check(len(leftovers) > 0, "the killed servers left files in /dev/shm (%d)"
            % len(leftovers))
    t0 = time.monotonic()
    with h.JackServer(slot_timeout=60) as srv:
        took = time.monotonic() - t0
        h.check(srv.answers(), "a server starts over 8 dead slots")
        h.check(took < 30, "and does not wait for a slot timeout: %.1f s" % took)
        h.check_equal(slot_names(), [srv.name],
                      "the dead servers' slots are free, only the new one is taken")
    h.check_equal([p for p in glob.glob("/dev/shm/jack*") if "deadroot" in p], [],
                  "their sockets and semaphores are removed")
    h.check(not set(dead) & set(slot_names()), "no dead slot remains")


def test_live_slots_are_waited_for():
    live = [start_raw("liveroot%d" % i) for i in range(8)]
    h.check_equal(len(slot_names(alive=True)), 8, "8 live servers take every slot")
    timer = threading.Timer(2.0, lambda: (live[3].terminate(), live[3].wait(5)))
    timer.start()
    t0 = time.monotonic()
    try:
        with h.JackServer(slot_timeout=60) as srv:
            took = time.monotonic() - t0
            h.check(srv.answers(), "a ninth server starts once a live one stops")
            h.check(1.5 < took < 30, "after waiting for it: %.1f s" % took)
    finally:
        timer.join()
        for proc in live:
            proc.terminate()
            proc.wait(5)
    h.check_equal(slot_names(), [], "every slot free after the live servers stop")


def test_dead_slots_of_another_user():
    fill_with_dead("deadnobody", as_user=NOBODY)
    t0 = time.monotonic()
    srv = h.JackServer(slot_timeout=60)
    try:
        srv.start()
        h.check(False, "start() refuses when every slot is another user's dead server")
    except RuntimeError as e:
        took = time.monotonic() - t0
        h.check("dead server of another user" in str(e) and
                "jack-shm-registry" in str(e),
                "the refusal says why and what to do: %s" % str(e).splitlines()[-1])
        h.check(took < 10, "at once, not after the slot timeout: %.1f s" % took)
    finally:
        srv.stop()


def test_own_server_dead_of_a_signal():
    with h.JackServer() as srv:
        name = srv.name
        os.kill(srv.proc.pid, signal.SIGALRM)
        rc = srv.proc.wait(5)
        h.check(rc == -signal.SIGALRM and name in slot_names(alive=False),
                "a jackd dead of a signal (%s) keeps its slot (%s)"
                % (rc, h.jack_server_slots()))
    h.check(name not in slot_names(), "teardown releases it (%s)" % h.jack_server_slots())


def main():
    h.parse_args()
    if not h.isolate_shm():
        h.skip("needs a private /dev/shm (root and unshare --mount): filling "
               "the machine's JACK server registry would stall every other "
               "JACK user")
    if not shutil.which("setpriv"):
        h.skip("setpriv (util-linux) is missing")
    test_dead_slots_of_this_user()
    test_live_slots_are_waited_for()
    test_own_server_dead_of_a_signal()
    test_dead_slots_of_another_user()
    h.done()


if __name__ == "__main__":
    main()
