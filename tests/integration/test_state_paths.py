"""/cl/state/save and /cl/state/load over a socket that listens beyond
loopback (--osc-bind 0.0.0.0, for a tablet) take only files inside the
store root: paths outside it, ".." and symbolic links leading out, and
every path when there is no store root, are refused with the reason and
nothing is written or read. On the default loopback socket any path works
(the sender is a local user). Runs against any client."""

import json
import os

import harness as h

args = h.parse_args()
tmp = h.tmpdir()
store = os.path.join(tmp, "store")
outside = os.path.join(tmp, "outside")
os.makedirs(store)
os.makedirs(outside)
os.symlink(outside, os.path.join(store, "escape"))

with h.JackServer(rate=48000, period=256) as srv:
    cl = h.Client(args.client, ["--osc-bind", "0.0.0.0", "--store", store], srv)
    osc = h.OscClient(port=cl.osc_port, host="127.0.0.1")
    ok = osc.request("/cl/state/save", store + "/state.json", reply="/cl/ok")
    h.check(ok is not None and os.path.exists(store + "/state.json"), "a file in the store root is saved")
    ok = osc.request("/cl/state/load", store + "/state.json", reply="/cl/ok")
    h.check(ok is not None, "and loaded")
    with open(os.path.join(outside, "secret.json"), "w") as f:
        json.dump({"schema": "x/1"}, f)
    for path in [outside + "/state.json", store + "/../outside/state.json", store + "/escape/state.json",
                 "/etc/passwd", "state.json", store + "/..", "/tmp"]:
        for verb in ("save", "load"):
            e = osc.request("/cl/state/" + verb, path, reply="/cl/error")
            h.check(e is not None and e.args[1], "%s %s refused (%s)" % (verb, path, e.args[1] if e else None))
    h.check(os.listdir(outside) == ["secret.json"], "nothing was written outside the store")
    os.symlink(outside + "/secret.json", store + "/link.json")
    e = osc.request("/cl/state/load", store + "/link.json", reply="/cl/error")
    h.check(e is not None and "link" in e.args[1], "a symlink in the store is not followed (%s)"
            % (e.args[1] if e else None))
    h.check_equal(cl.stop(), 0, "exits 0")

    cl = h.Client(args.client, ["--osc-bind", "0.0.0.0"], srv)
    osc = h.OscClient(port=cl.osc_port, host="127.0.0.1")
    e = osc.request("/cl/state/save", store + "/again.json", reply="/cl/error")
    h.check(e is not None and "store root" in e.args[1] and not os.path.exists(store + "/again.json"),
            "without a store root, a network socket takes no state paths (%s)" % (e.args[1] if e else None))
    h.check_equal(cl.stop(), 0, "exits 0")

    cl = h.Client(args.client, [], srv)
    osc = cl.osc_client()
    ok = osc.request("/cl/state/save", outside + "/local.json", reply="/cl/ok")
    h.check(ok is not None and os.path.exists(outside + "/local.json"),
            "on the loopback socket any path works (a local user)")
    h.check_equal(cl.stop(), 0, "exits 0")
h.done()
