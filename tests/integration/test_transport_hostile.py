"""Malformed and hostile datagrams at cl-transport: each gets /cl/error (or
is dropped when its framing is broken), none changes the state, /cl/ping
still answers after every one, and the client keeps running clean."""

import struct
import time

import harness as h

args = h.parse_args()


def pad(b):
    return b + b"\0" * (-len(b) % 4)


def s(x):
    return pad(x.encode() + b"\0")


ping = h.osc_message("/cl/ping")

# (description, datagram, the address /cl/error must name, or None when the
#  framing is broken and a silent drop is as good as an error)
cases = [
    ("wrong type: bpm as a word", h.osc_message("/transport/bpm", "fast"), "/transport/bpm"),
    ("wrong type: bpm as a blob", h.osc_message("/transport/bpm", b"\x01\x02"), "/transport/bpm"),
    ("NaN bpm", h.osc_message("/transport/bpm", ("f", float("nan"))), "/transport/bpm"),
    ("-inf bpm", h.osc_message("/transport/bpm", ("d", float("-inf"))), "/transport/bpm"),
    ("bpm out of range", h.osc_message("/transport/bpm", 9999), "/transport/bpm"),
    ("empty string bpm", h.osc_message("/transport/bpm", ""), "/transport/bpm"),
    ("too many arguments", h.osc_message("/transport/play", 1, 2, 3), "/transport/play"),
    ("meter 4/3", h.osc_message("/transport/meter", 4, 3), "/transport/meter"),
    ("bar 0", h.osc_message("/transport/locate_bbt", 0), "/transport/locate_bbt"),
    ("beat 9 of 4", h.osc_message("/transport/locate_bbt", 2, 9, 0), "/transport/locate_bbt"),
    ("negative seconds", h.osc_message("/transport/locate", -1.0), "/transport/locate"),
    ("frame past 2^32", h.osc_message("/transport/locate_frame", ("h", 1 << 40)),
     "/transport/locate_frame"),
    ("unknown address", h.osc_message("/transport/explode"), "/transport/explode"),
    ("10 kB string", h.osc_message("/transport/bpm", "9" * 10000), "/transport/bpm"),
    ("loop end before start", h.osc_message("/transport/loop", 5.0, 1.0), "/transport/loop"),
    ("loop maybe", h.osc_message("/transport/loop", "maybe"), "/transport/loop"),
    ("state/set not JSON", h.osc_message("/cl/state/set", "{{{"), "/cl/state/set"),
    ("empty datagram", b"", None),
    ("no leading slash", s("transport/play") + s(","), None),
    ("address not terminated", b"/transport/play", None),
    ("bad padding", b"/cl/ping\0\0\0\0,\0\0\x01", None),
    ("type tag missing its comma", s("/cl/ping") + s("i") + struct.pack(">i", 1), None),
    ("truncated int", s("/transport/bpm") + s(",i") + b"\0\0", None),
    ("truncated string", s("/transport/bpm") + s(",s") + b"120\0"[:3], None),
    ("blob size cut short", s("/transport/bpm") + s(",b") + b"\0\0", None),
    ("blob longer than datagram", s("/transport/bpm") + s(",b") + struct.pack(">i", 1000) + b"abcd", None),
    ("negative blob size", s("/transport/bpm") + s(",b") + struct.pack(">i", -4) + b"abcd", None),
    ("unknown type tag", s("/transport/bpm") + s(",Q") + b"abcd", None),
    ("zero-length bundle element at the end", s("#bundle") + b"\0" * 8 + struct.pack(">i", 0), None),
    ("bundle element overruns", s("#bundle") + b"\0" * 8 + struct.pack(">i", 64) + ping, None),
    ("deep bundles", None, None),  # built below
    ("64 kB datagram", s("/cl/ping") + s(",s") + s("x" * 65000), None),
    ("random bytes", bytes(range(256)) * 4, None),
]

deep = ping
for _ in range(40):
    deep = h.osc_bundle(deep)
cases = [(d, deep if d == "deep bundles" else b, a) for d, b, a in cases]

with h.JackServer(rate=48000, period=256) as srv:
    name = h.unique_name("tp")
    cl = h.Client(args.client, ["--name", name, "--bpm", "123"], srv)
    osc = cl.osc_client()
    for desc, data, address in cases:
        osc.drain()
        try:
            osc.send_raw(data)
        except OSError as e:      # a datagram the kernel refuses is as good as dropped
            h.check(True, "%s: refused by the kernel (%s)" % (desc, e))
            continue
        if address is not None:
            err = osc.wait_for("/cl/error", timeout=2.0)
            h.check(err is not None and err.args[0] == address and len(err.args) == 2
                    and err.args[1], "%s -> /cl/error %s: %r" % (desc, address,
                                                                err.args if err else None))
        pong = osc.request("/cl/ping", reply="/cl/pong", timeout=2.0)
        h.check(pong is not None and cl.running(), "%s: still answers /cl/ping" % desc)

    # a well-formed bundle still works, and nothing above changed the tempo
    osc.send_raw(h.osc_bundle(h.osc_message("/transport/bpm"), h.osc_message("/cl/ping")))
    h.check(osc.wait_for("/cl/pong") is not None, "a bundle of two messages: both dispatched")
    q = osc.wait_for("/transport/bpm")
    h.check(q is not None and abs(q.args[0] - 123) < 1e-4, "bpm still 123 (%r)" % (q,))
    q = osc.request("/transport/meter")
    h.check(q is not None and q.args == [4, 4], "meter still 4/4")

    # a flood of garbage does not stop the client either
    for i in range(2000):
        osc.send_raw(b"\xff" * (4 * (i % 50 + 1)))
    time.sleep(0.5)
    osc.drain(0.2)
    h.check(osc.request("/cl/ping", reply="/cl/pong", timeout=3.0) is not None,
            "answers /cl/ping after 2000 garbage datagrams")
    h.check_equal(cl.stop(), 0, "cl-transport exits 0 on SIGTERM")
h.done()
