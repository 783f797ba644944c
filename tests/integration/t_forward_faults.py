"""Forward fault isolation: a dead UDP port and a missing unix path among
the targets while the healthy target gets every datagram; a datagram too
long for UDP counted while the others go out; a unix receiver
that appears later, or goes away and comes back, is picked up again; a
slow unix receiver (never reading, small buffer) fills its own bounded
queue, then drops, counted, while a UDP target keeps receiving everything,
and the queue drains in order once the receiver reads."""
import os
import socket
import time

from dgtest import Dgramd, check, eq, main
from t_forward import Sink, fwd_conf, send_paced, seqs, tmpdir


def unix_stats(st, target):
    k = "fwd.%s." % target
    return {n: st[k + n] for n in ("sent", "errors", "queued", "dropped")}


def test_dead_port_and_missing_path_do_not_hurt_healthy_target():
    tmp = tmpdir()
    dead = Sink()
    dead_target = dead.target()
    dead.s.close()
    missing = "unix:%s/missing.sock" % tmp
    a = Sink()
    with Dgramd(fwd_conf([dead_target, missing, a.target()]), tmpdir=tmp) as d:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        total = 1000
        send_paced(c, d.udp("in"), total, [a], chunk=50)
        eq(seqs(a.got), list(range(total)), "the healthy target got every datagram, in order")
        st = d.stats("in")
        eq(unix_stats(st, a.target()), {"sent": total, "errors": 0, "queued": 0, "dropped": 0})
        m = unix_stats(st, missing)
        eq(m, {"sent": 0, "errors": total, "queued": 0, "dropped": 0}, "missing path counted")
        # ICMP port unreachable is not reported on an unconnected UDP socket.
        eq(st["fwd.%s.sent" % dead_target] + st["fwd.%s.errors" % dead_target], total)
        eq(st["send_errors"], total + st["fwd.%s.errors" % dead_target])
        d.wait_line(r"forward to %s: (No such file|Connection refused)" % missing)
        errs = [l for l in d.lines if "forward to " + missing in l]
        check(len(errs) <= 6, "errors are logged at a limited rate: %d lines" % len(errs))
        eq(d.stop(), 0)


def test_message_too_long_counted_others_go_out():
    tmp = tmpdir()
    a = Sink()
    conf = fwd_conf([a.target()], listener='type = "unix_dgram"; path = "%s/in.sock";' % tmp)
    with Dgramd(conf, tmpdir=tmp) as d:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        # 65530 bytes fit a unix datagram but not an IPv4 UDP one (65507).
        for p in (b"before", b"x" * 65530, b"after"):
            c.sendto(p, d.path("in"))
        eq([x for x, _ in a.recv(2)], [b"before", b"after"])
        st = d.wait_stat("in", "fwd.%s.errors" % a.target(), 1)
        eq((st["fwd.%s.sent" % a.target()], st["fwd.%s.errors" % a.target()]), (2, 1))
        eq(st["send_errors"], 1)
        d.wait_line(r"forward to %s: Message too long" % a.target())
        eq(d.stop(), 0)


def test_unix_receiver_appearing_and_coming_back():
    tmp = tmpdir()
    path = tmp + "/late.sock"
    with Dgramd(fwd_conf(["unix:" + path]), tmpdir=tmp) as d:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.sendto(b"early 0", d.udp("in"))
        d.wait_stat("in", "fwd.unix:%s.errors" % path, 1)
        u = Sink(socket.AF_UNIX, path)
        c.sendto(b"late 1", d.udp("in"))
        eq([x for x, _ in u.recv(1)], [b"late 1"])
        u.s.close()
        os.unlink(path)
        c.sendto(b"gone 2", d.udp("in"))
        d.wait_stat("in", "fwd.unix:%s.errors" % path, 2)
        u = Sink(socket.AF_UNIX, path)
        c.sendto(b"back 3", d.udp("in"))
        eq([x for x, _ in u.recv(1)], [b"back 3"])
        st = unix_stats(d.stats("in"), "unix:" + path)
        eq(st, {"sent": 2, "errors": 2, "queued": 0, "dropped": 0})
        eq(d.stop(), 0)


def test_slow_unix_receiver_fills_only_its_queue():
    tmp = tmpdir()
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    path = tmp + "/slow.sock"
    slow.bind(path)
    a = Sink()
    qlen = 50
    conf = fwd_conf(["unix:" + path, a.target()], extra="queue = %d;" % qlen)
    with Dgramd(conf, tmpdir=tmp) as d:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        total = 1000
        send_paced(c, d.udp("in"), total, [a], chunk=50, prefix=b"slow" + b"." * 200)
        eq(seqs(a.got), list(range(total)), "the UDP target got everything meanwhile")
        st = d.stats("in")
        u = unix_stats(st, "unix:" + path)
        eq(u["queued"], qlen, "the slow target's queue is full")
        eq(u["errors"], 0)
        check(u["dropped"] > 0, "overflow dropped: %r" % u)
        eq(u["sent"] + u["queued"] + u["dropped"], total, "every datagram accounted for")
        eq(st["fwd.%s.sent" % a.target()], total)
        eq(st["dropped"], u["dropped"], "the socket's dropped sums the targets'")
        d.wait_line(r"forward to unix:%s: queue full" % path)
        # Now read: the queue drains, oldest first.
        got = []
        slow.settimeout(2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                got.append(slow.recv(1000))
            except socket.timeout:
                break
            if len(got) == total - u["dropped"]:
                break
        eq(len(got), total - u["dropped"], "what was sent or queued arrives")
        s = seqs(got)
        eq(s, sorted(s), "in order")
        eq(s[:u["sent"]], list(range(u["sent"])), "what went out before blocking comes first")
        u2 = unix_stats(d.stats("in"), "unix:" + path)
        eq(u2, {"sent": total - u["dropped"], "errors": 0, "queued": 0, "dropped": u["dropped"]})
        eq(d.stop(), 0)


if __name__ == "__main__":
    main(globals())
