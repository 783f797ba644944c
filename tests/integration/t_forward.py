"""The forward handler: fan-out to two UDP sinks without loss or duplicates
(sequence numbers), udp -> unix (path and abstract), unix -> udp with
logger(1) as the sender, udp4 -> udp6, a localhost:PORT target, the TTL the
receiver sees, broadcast to 127.255.255.255 with and without the option,
round_robin's exact rotation and hash's stickiness, replies from targets
never re-entering the chain, per-target and socket stats, the self-loop
guard (exit 78 with file:line), -t with an unresolvable name, and reload
keeping the targets' counters. Fault isolation is in t_forward_faults.py."""
import os
import re
import socket
import struct
import subprocess
import tempfile
import time

from dgtest import Dgramd, check, eq, main, no_local_resolver, no_reply, run_dgramd

RCVBUF = 4 << 20


class Sink:
    """A receiving socket standing for a forward target."""

    def __init__(self, family=socket.AF_INET, addr=("127.0.0.1", 0)):
        self.s = socket.socket(family, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        self.s.bind(addr)
        self.addr = self.s.getsockname()
        self.got = []

    def target(self):
        if self.s.family == socket.AF_UNIX:
            a = self.addr if isinstance(self.addr, str) else self.addr.decode()
            return "unix:" + ("@" + a[1:] if a.startswith("\0") else a)
        if self.s.family == socket.AF_INET6:
            return "[%s]:%d" % self.addr[:2]
        return "%s:%d" % self.addr

    def recv(self, n, timeout=5.0):
        """Receives until n more datagrams came (or timeout); returns them."""
        out = []
        self.s.settimeout(timeout)
        while len(out) < n:
            try:
                out.append(self.s.recvfrom(70000))
            except socket.timeout:
                break
        self.got += [d for d, _ in out]
        return out


def tmpdir():
    return tempfile.mkdtemp(prefix="dgramd-test-")


def fwd_conf(targets, listener='type = "udp4"; address = "127.0.0.1"; port = 0;',
             extra="", name="in"):
    return """
sockets = (
  { name = "%s"; %s
    handlers = ( { type = "forward"; to = [ %s ]; %s } ); }
);
""" % (name, listener, ", ".join('"%s"' % t for t in targets), extra)


def seqs(datas):
    return [int(d.split(b" ")[1]) for d in datas]


def send_paced(c, addr, total, sinks, chunk=100, prefix=b"seq"):
    """Sends total datagrams "prefix N" in chunks, letting every sink catch up."""
    for base in range(0, total, chunk):
        n = min(chunk, total - base)
        for i in range(base, base + n):
            c.sendto(b"%s %d" % (prefix, i), addr)
        for s in sinks:
            s.recv(n)


def test_fanout_two_udp_sinks_no_loss_no_dup():
    a, b = Sink(), Sink()
    with Dgramd(fwd_conf([a.target(), b.target()])) as d:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        total = 3000
        send_paced(c, d.udp("in"), total, [a, b])
        for s in (a, b):
            eq(sorted(seqs(s.got)), list(range(total)), "every datagram exactly once")
            eq(seqs(s.got), list(range(total)), "in order")
        st = d.stats("in")
        eq(st["received"], total)
        eq(st["sent"], 2 * total, "the socket's sent counts both targets")
        for s in (a, b):
            k = "fwd.%s." % s.target()
            eq((st[k + "sent"], st[k + "errors"], st[k + "queued"], st[k + "dropped"]),
               (total, 0, 0, 0))
        eq(d.stop(), 0)


def test_replies_from_targets_do_not_reenter():
    a = Sink()
    with Dgramd(fwd_conf([a.target()])) as d:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.sendto(b"ping", d.udp("in"))
        (data, src), = a.recv(1)
        eq(data, b"ping")
        check(src != d.udp("in"), "sent from an outbound socket, not the listener")
        for _ in range(5):
            a.s.sendto(b"answer", src)
        c.sendto(b"ping2", d.udp("in"))
        eq([x for x, _ in a.recv(1)], [b"ping2"])
        check(no_reply(a.s, 0.2), "the answers were not forwarded back")
        check(no_reply(c, 0.05), "nor sent to the client")
        st = d.stats("in")
        eq(st["received"], 2, "answers never reached the listener's chain")
        eq(st["fwd.%s.sent" % a.target()], 2)
        eq(d.stop(), 0)


def test_udp_to_unix_path_and_abstract():
    tmp = tmpdir()
    u = Sink(socket.AF_UNIX, tmp + "/sink.sock")
    ab = Sink(socket.AF_UNIX, "\0dgramd-fwd-test-%d" % os.getpid())
    with Dgramd(fwd_conf([u.target(), ab.target()]), tmpdir=tmp) as d:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        payloads = [b"one", b"", bytes(range(256)), b"x" * 3000]
        for p in payloads:
            c.sendto(p, d.udp("in"))
        eq([x for x, _ in u.recv(len(payloads))], payloads)
        eq([x for x, _ in ab.recv(len(payloads))], payloads)
        st = d.stats("in")
        eq(st["fwd.unix:%s/sink.sock.sent" % tmp], 4)
        eq(st["fwd.%s.sent" % ab.target()], 4)
        eq(d.stop(), 0)


def test_unix_to_udp_with_logger():
    tmp = tmpdir()
    a = Sink()
    conf = fwd_conf([a.target()], listener='type = "unix_dgram"; path = "%s/log.sock";' % tmp)
    with Dgramd(conf, tmpdir=tmp) as d:
        for i in range(3):
            subprocess.run(["logger", "-d", "-u", d.path("in"), "-t", "fwdtest",
                            "hello %d" % i], check=True, timeout=10)
        got = [x for x, _ in a.recv(3)]
        eq(len(got), 3)
        for i, g in enumerate(got):
            check(re.search(rb"fwdtest.*hello %d$" % i, g), "syslog line relayed: %r" % g)
        st = d.stats("in")
        eq(st["received"], 3)
        eq(st["fwd.%s.sent" % a.target()], 3)
        eq(d.stop(), 0)


def test_udp4_to_udp6():
    a = Sink(socket.AF_INET6, ("::1", 0))
    with Dgramd(fwd_conf([a.target()])) as d:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(10):
            c.sendto(b"v6 %d" % i, d.udp("in"))
        got = a.recv(10)
        eq(seqs([x for x, _ in got]), list(range(10)))
        eq(got[0][1][0], "::1", "sent from an IPv6 socket")
        eq(d.stats("in")["fwd.%s.sent" % a.target()], 10)
        eq(d.stop(), 0)


def test_localhost_target():
    port_probe = Sink()
    port = port_probe.addr[1]
    port_probe.s.close()
    fam, _, _, _, sa = socket.getaddrinfo("localhost", port, type=socket.SOCK_DGRAM)[0]
    a = Sink(fam, sa)
    with Dgramd(fwd_conf(["localhost:%d" % port])) as d:
        d.wait_line(r"forward to localhost:%d: " % port)
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(5):
            c.sendto(b"lh %d" % i, d.udp("in"))
        eq(seqs([x for x, _ in a.recv(5)]), list(range(5)))
        eq(d.stats("in")["fwd.localhost:%d.sent" % port], 5)
        eq(d.stop(), 0)


def test_forwarded_ttl_seen_by_receiver():
    a = Sink()
    a.s.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_RECVTTL", 12), 1)
    listener = 'type = "udp4"; address = "127.0.0.1"; port = 0; ttl = 9;'
    with Dgramd(fwd_conf([a.target()], listener=listener)) as d:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.sendto(b"ttl?", d.udp("in"))
        a.s.settimeout(5)
        data, anc, _, _ = a.s.recvmsg(100, socket.CMSG_SPACE(4))
        eq(data, b"ttl?")
        ttl = [struct.unpack("i", v[:4])[0] for (lvl, typ, v) in anc
               if lvl == socket.IPPROTO_IP and typ == 2]
        eq(ttl, [9], "the listener's ttl on the forwarded datagram")
        eq(d.stop(), 0)


def test_broadcast_with_and_without_option():
    a = Sink(addr=("127.255.255.255", 0))
    target = "127.255.255.255:%d" % a.addr[1]
    conf = """
sockets = (
  { name = "bc"; type = "udp4"; address = "127.0.0.1"; port = 0; broadcast = true;
    handlers = ( { type = "forward"; to = [ "%s" ]; } ); },
  { name = "nobc"; type = "udp4"; address = "127.0.0.1"; port = 0;
    handlers = ( { type = "forward"; to = [ "%s" ]; } ); }
);
""" % (target, target)
    with Dgramd(conf) as d:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(5):
            c.sendto(b"bc %d" % i, d.udp("bc"))
        eq(seqs([x for x, _ in a.recv(5)]), list(range(5)))
        for i in range(5):
            c.sendto(b"nobc %d" % i, d.udp("nobc"))
        st = d.wait_stat("nobc", "fwd.%s.errors" % target, 5)
        eq(st["fwd.%s.errors" % target], 5, "EACCES counted per datagram")
        eq(st["fwd.%s.sent" % target], 0)
        eq(st["send_errors"], 5)
        check(no_reply(a.s, 0.2), "nothing was broadcast without the option")
        eq(d.stats("bc")["fwd.%s.sent" % target], 5)
        d.wait_line(r"nobc: forward to %s: Permission denied" % re.escape(target))
        eq(d.stop(), 0)


def test_round_robin_exact_rotation():
    sinks = [Sink() for _ in range(3)]
    conf = fwd_conf([s.target() for s in sinks], extra='mode = "round_robin";')
    with Dgramd(conf) as d:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        total = 300
        for base in range(0, total, 30):
            for i in range(base, base + 30):
                c.sendto(b"rr %d" % i, d.udp("in"))
            for s in sinks:
                s.recv(10)
        for k, s in enumerate(sinks):
            eq(seqs(s.got), list(range(k, total, 3)), "target %d gets i mod 3 == %d" % (k, k))
        st = d.stats("in")
        eq([st["fwd.%s.sent" % s.target()] for s in sinks], [100, 100, 100])
        eq(d.stop(), 0)


def test_hash_sticks_to_sender_address():
    sinks = [Sink() for _ in range(3)]
    conf = fwd_conf([s.target() for s in sinks], extra='mode = "hash";')
    with Dgramd(conf) as d:
        senders = []
        for k in range(6):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.%d" % (k + 2), 0))
            senders.append(s)
        per = 20
        for rnd in range(per):
            for k, s in enumerate(senders):
                # A new source port now and then: only the address counts.
                if rnd == per // 2:
                    s.close()
                    s = senders[k] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.bind(("127.0.0.%d" % (k + 2), 0))
                s.sendto(b"h %d %d" % (rnd, k), d.udp("in"))
        d.wait_stat("in", "sent", per * len(senders))
        where = {}
        for t, s in enumerate(sinks):
            s.recv(per * len(senders), timeout=0.3)
            for x in s.got:
                where.setdefault(int(x.split()[2]), set()).add(t)
        eq(sum(len(s.got) for s in sinks), per * len(senders), "every datagram once")
        eq(sorted(where), list(range(len(senders))))
        for k, ts in where.items():
            eq(len(ts), 1, "sender 127.0.0.%d sticks to one target" % (k + 2))
        check(len(set().union(*where.values())) >= 2, "senders spread over targets")
        eq(d.stop(), 0)


def test_self_loop_refused():
    tmp = tmpdir()
    p = Sink()
    port = p.addr[1]
    p.s.close()
    cases = [
        ('type = "udp4"; address = "127.0.0.1"; port = %d;' % port, "127.0.0.1:%d" % port),
        ('type = "udp4"; address = "0.0.0.0"; port = %d;' % port, "127.0.0.1:%d" % port),
        ('type = "udp6"; address = "::"; port = %d;' % port, "[::1]:%d" % port),
        ('type = "unix_dgram"; path = "%s/self.sock";' % tmp, "unix:%s/self.sock" % tmp),
    ]
    for listener, target in cases:
        conf = os.path.join(tmp, "loop.conf")
        with open(conf, "w") as f:
            f.write(fwd_conf(["127.0.0.1:9", target], listener=listener))
        for args in (["-t", "-c", conf], ["-c", conf]):
            rc, _, err = run_dgramd(args)
            eq(rc, 78, "exit code for %s -> %s" % (listener, target))
            check(re.search(r"loop\.conf:4: sockets\.\[0\]\.handlers\.\[0\]\.to\.\[1\]: "
                            r".*own socket \"in\".*loop", err), err)
        check(not os.path.exists(tmp + "/self.sock"), "nothing bound")


def test_name_resolving_to_own_socket_is_skipped():
    p = Sink()
    port = p.addr[1]
    p.s.close()
    a = Sink()
    listener = 'type = "udp4"; address = "127.0.0.1"; port = %d;' % port
    with Dgramd(fwd_conf(["localhost:%d" % port, a.target()], listener=listener)) as d:
        d.wait_line(r"forward to localhost:%d: resolves to .* this very socket" % port)
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(5):
            c.sendto(b"self %d" % i, ("127.0.0.1", port))
        eq(seqs([x for x, _ in a.recv(5)]), list(range(5)))
        st = d.stats("in")
        eq(st["received"], 5, "nothing came back around")
        eq(st["fwd.localhost:%d.dropped" % port], 5)
        eq(st["fwd.localhost:%d.sent" % port], 0)
        eq(d.stop(), 0)


def test_bad_targets_are_config_errors():
    tmp = tmpdir()
    conf = os.path.join(tmp, "bad.conf")
    for target, msg in [("127.0.0.1", "must be HOST:PORT"), ("127.0.0.1:0", "port must be"),
                        ("bad host!:5", "not a valid"), ("unix:", "must be"),
                        ("[::1:5", "must be HOST:PORT")]:
        with open(conf, "w") as f:
            f.write(fwd_conf([target]))
        rc, _, err = run_dgramd(["-t", "-c", conf])
        eq(rc, 78, target)
        check(re.search(r"bad\.conf:4: sockets\.\[0\]\.handlers\.\[0\]\.to\.\[0\]: .*%s"
                        % re.escape(msg), err), err)
    for extra, key in [('mode = "random";', "mode"), ("queue = -1;", "queue"),
                       ("resolve_interval = 1000000;", "resolve_interval"), ("tos = 1;", "tos")]:
        with open(conf, "w") as f:
            f.write(fwd_conf(["127.0.0.1:9"], extra=extra))
        rc, _, err = run_dgramd(["-t", "-c", conf])
        eq(rc, 78, extra)
        check("handlers.[0].%s" % key in err, err)


def test_check_config_warns_on_unresolvable_name():
    if no_local_resolver():
        return "skip"
    tmp = tmpdir()
    conf = os.path.join(tmp, "dns.conf")
    with open(conf, "w") as f:
        f.write(fwd_conf(["no-such-host.invalid:514", "localhost:514"]))
    rc, _, err = run_dgramd(["-t", "-c", conf])
    eq(rc, 0, err)
    check(re.search(r"no-such-host\.invalid:514.*cannot resolve", err), err)
    check("localhost:514" not in err, "a name that resolves is not reported: " + err)


def test_name_resolved_through_dns():
    """A target named in DNS (the tests' resolver on loopback answers
    v4only.dgramd.test with 127.0.0.7) gets the datagrams at that address."""
    if no_local_resolver():
        return "skip"
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(("127.0.0.7", 0))
    r.settimeout(5)
    port = r.getsockname()[1]
    with Dgramd(fwd_conf(["v4only.dgramd.test:%d" % port])) as d:
        d.wait_line(r"forward to v4only\.dgramd\.test:%d: 127\.0\.0\.7:%d" % (port, port))
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(5):
            c.sendto(b"n %d" % i, d.udp("in"))
        got = [r.recvfrom(100)[0] for _ in range(5)]
        eq(seqs(got), list(range(5)))
        eq(d.stop(), 0)


def test_name_change_is_followed():
    """A target's name that moves to another address (here in the test
    namespace's own /etc/hosts, which glibc reads on every lookup) is
    followed within resolve_interval, without a reload."""
    if no_local_resolver():
        return "skip"
    hosts = open("/etc/hosts").read()
    name = "moving.dgramd.test"
    r8 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r8.bind(("127.0.0.8", 0))
    port = r8.getsockname()[1]
    r9 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r9.bind(("127.0.0.9", port))
    for s in (r8, r9):
        s.settimeout(5)
    try:
        with open("/etc/hosts", "a") as f:
            f.write("127.0.0.8\t%s\n" % name)
        with Dgramd(fwd_conf(["%s:%d" % (name, port)], extra="resolve_interval = 1;")) as d:
            d.wait_line(r"forward to %s:%d: 127\.0\.0\.8:%d" % (re.escape(name), port, port))
            c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            c.sendto(b"m 0", d.udp("in"))
            eq(r8.recvfrom(100)[0], b"m 0")
            start = len(d.lines)
            with open("/etc/hosts", "w") as f:
                f.write(hosts + "127.0.0.9\t%s\n" % name)
            d.wait_line(r"forward to %s:%d: 127\.0\.0\.9:%d" % (re.escape(name), port, port),
                        start, timeout=10)
            c.sendto(b"m 1", d.udp("in"))
            eq(r9.recvfrom(100)[0], b"m 1")
            check(no_reply(r8, 0.2), "the old address gets nothing more")
            eq(d.stats("in")["fwd.%s:%d.sent" % (name, port)], 2)
            eq(d.stop(), 0)
    finally:
        with open("/etc/hosts", "w") as f:
            f.write(hosts)


def test_unresolved_name_skipped_others_served():
    if no_local_resolver():
        return "skip"
    a = Sink()
    with Dgramd(fwd_conf(["no-such-host.invalid:514", a.target()],
                         extra="resolve_interval = 1;")) as d:
        d.wait_line(r"forward to no-such-host\.invalid:514: cannot resolve")
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(20):
            c.sendto(b"u %d" % i, d.udp("in"))
        eq(seqs([x for x, _ in a.recv(20)]), list(range(20)))
        # Signals keep reaching the reactor while lookups are retried
        # (a lookup thread must never take, and die of, SIGUSR2).
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            st = d.stats("in")
        eq(st["fwd.no-such-host.invalid:514.dropped"], 20)
        eq(st["fwd.%s.sent" % a.target()], 20)
        eq(d.stop(), 0)


def test_reload_keeps_targets_and_counters():
    a = Sink()
    d = Dgramd(fwd_conf([a.target()]))
    with d:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        addr = d.udp("in")
        for i in range(5):
            c.sendto(b"r %d" % i, addr)
        a.recv(5)
        start = len(d.lines)
        d.write_conf(fwd_conf([a.target()], extra='mode = "round_robin";'))
        d.send_signal(1)
        d.wait_line(r"reloaded", start)
        for i in range(5, 10):
            c.sendto(b"r %d" % i, addr)
        a.recv(5)
        eq(seqs(a.got), list(range(10)))
        eq(d.stats("in")["fwd.%s.sent" % a.target()], 10, "counters carried over")
        b = Sink()
        start = len(d.lines)
        d.write_conf(fwd_conf([b.target()]))
        d.send_signal(1)
        d.wait_line(r"reloaded", start)
        c.sendto(b"r 10", addr)
        eq([x for x, _ in b.recv(1)], [b"r 10"])
        check(no_reply(a.s, 0.2), "the old target gets nothing more")
        eq(d.stats("in")["fwd.%s.sent" % b.target()], 1)
        eq(d.stop(), 0)


if __name__ == "__main__":
    main(globals())
