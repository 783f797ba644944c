"""Forward sessions (replies = true): dig through dgramd to a real dnsmasq
with responses = 1; the listener's ttl on the session's socket; 200
concurrent clients each getting only their own
replies; a unix client bound to a path relayed to a UDP backend and back
(an unbound one forwarded one-way and counted); a udp6 client to an IPv4
target; replies from the exact address the client sent to; idle expiry;
max_sessions full; a target killed (ICMP) marked down, hash and
round_robin moving to the other and back when it returns; reload keeping
a live session; -t refusing a table that cannot fit the open-file limit;
a 100,000-source churn with flat RSS and fd count; dgramctl sessions."""
import getpass
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from dgtest import Dgramd, check, eq, main, no_reply, run_dgramd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DGRAMCTL = os.environ.get("DGRAMCTL", os.path.join(ROOT, "dgramctl"))


class Echo:
    """A UDP backend answering "NAME:" + the request to its sender, in a thread."""

    def __init__(self, name, port=0, family=socket.AF_INET, host="127.0.0.1"):
        self.name = name.encode()
        self.s = socket.socket(family, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.s.bind((host, port))
        self.addr = self.s.getsockname()
        self.port = self.addr[1]
        self.count = 0
        self.stopping = False
        self.r, self.w = os.pipe()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while True:
            rl, _, _ = select.select([self.s, self.r], [], [])
            if self.r in rl:
                return
            while True:
                try:
                    data, peer = self.s.recvfrom(70000, socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    break
                self.count += 1
                try:
                    self.s.sendto(self.name + b":" + data, peer)
                except OSError:
                    pass

    def target(self):
        return "%s:%d" % (self.addr[0], self.port)

    def close(self):
        os.write(self.w, b"x")
        self.t.join()
        self.s.close()
        os.close(self.r)
        os.close(self.w)


def conf(targets, extra="", listener='type = "udp4"; address = "127.0.0.1"; port = 0;',
         name="in", head=""):
    return """%s
sockets = (
  { name = "%s"; %s
    handlers = ( { type = "forward"; to = [ %s ]; replies = true; %s } ); }
);
""" % (head, name, listener, ", ".join('"%s"' % t for t in targets), extra)


def ask(c, addr, data, timeout=3.0):
    """Sends data and returns the reply (or None)."""
    c.settimeout(timeout)
    c.sendto(data, addr)
    try:
        return c.recvfrom(70000)
    except socket.timeout:
        return None


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def wait_for(fn, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def dig(port, name, timeout=3):
    p = subprocess.run(["dig", "+short", "+tries=1", "+time=%d" % timeout, "@127.0.0.1",
                        "-p", str(port), name, "A"], capture_output=True, text=True,
                       timeout=timeout + 10)
    return p.stdout.strip()


def test_dig_through_dgramd_to_dnsmasq():
    if shutil.which("dig") is None or shutil.which("dnsmasq") is None:
        print("skip: dig or dnsmasq not installed (make deps)", flush=True)
        return "skip"
    t = tempfile.mkdtemp(prefix="dgramd-test-")
    port = free_port()
    # Answers test.example itself and never forwards a query anywhere.
    dm = subprocess.Popen(["dnsmasq", "--no-daemon", "--conf-file=/dev/null",
                           "--listen-address=127.0.0.1", "--port=%d" % port,
                           "--bind-interfaces", "--no-resolv", "--no-hosts", "--no-poll",
                           "--address=/test.example/127.0.0.5",
                           "--pid-file=%s/dnsmasq.pid" % t, "--user=%s" % getpass.getuser()],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        check(wait_for(lambda: dig(port, "ready.test.example", 1) == "127.0.0.5", 15),
              "dnsmasq answers")
        with Dgramd(conf(["127.0.0.1:%d" % port], 'mode = "hash"; responses = 1;')) as d:
            p = d.port("in")
            for i in range(5):
                eq(dig(p, "host%d.test.example" % i), "127.0.0.5", "dig through dgramd")
            st = d.wait_stat("in", "fwd.sessions_expired", 5)
            eq(st["fwd.sessions_created"], 5)
            eq(st["fwd.sessions_expired"], 5, "responses = 1 ends each session")
            eq(st["fwd.sessions"], 0)
            eq(st["fwd.127.0.0.1:%d.replies" % port], 5)
            eq(d.stop(), 0)
    finally:
        dm.terminate()
        dm.wait(10)


def test_200_concurrent_clients_get_only_their_replies():
    a, b = Echo("a"), Echo("b")
    t = tempfile.mkdtemp(prefix="dgramd-test-")
    try:
        with Dgramd(conf([a.target(), b.target()], 'mode = "round_robin";',
                         head='control_socket = "%s/control";' % t), tmpdir=t) as d:
            addr = d.udp("in")
            cs = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(200)]
            for c in cs:
                c.setblocking(False)
            want = {}
            for rnd in range(3):
                for i, c in enumerate(cs):
                    c.sendto(b"client %d round %d" % (i, rnd), addr)
                got = {}
                deadline = time.monotonic() + 10
                while len(got) < len(cs) and time.monotonic() < deadline:
                    rl, _, _ = select.select(cs, [], [], 0.5)
                    for c in rl:
                        data, peer = c.recvfrom(70000)
                        eq(peer, addr, "reply from the listening address")
                        got.setdefault(cs.index(c), []).append(data)
                eq(len(got), 200, "every client answered")
                for i, replies in got.items():
                    eq(len(replies), 1)
                    who, body = replies[0].split(b":", 1)
                    eq(body, b"client %d round %d" % (i, rnd), "only its own reply")
                    # A session keeps its target.
                    eq(want.setdefault(i, who), who)
            eq(sorted(set(want.values())), [b"a", b"b"], "round_robin spreads sessions")
            st = d.stats("in")
            eq(st["fwd.sessions"], 200)
            eq(st["fwd.sessions_created"], 200)
            eq(st["fwd.%s.replies" % a.target()] + st["fwd.%s.replies" % b.target()], 600)
            # dgramctl sessions: the 100 most recently active, or --all.
            out = subprocess.run([DGRAMCTL, "-s", t + "/control", "sessions"],
                                 capture_output=True, text=True, timeout=30)
            eq(out.returncode, 0, out.stderr)
            lines = out.stdout.splitlines()
            check(lines[0].split() == ["SOCKET", "CLIENT", "TARGET", "AGE", "IDLE", "IN", "OUT"],
                  lines[0])
            rows = [l.split() for l in lines[1:] if l.startswith("in ")]
            eq(len(rows), 100)
            check("100 more sessions" in lines[-1], lines[-1])
            ports = {c.getsockname()[1]: i for i, c in enumerate(cs)}
            for r in rows:
                port = int(r[1].rsplit(":", 1)[1])
                check(port in ports, r)
                eq(r[2], a.target() if want[ports[port]] == b"a" else b.target())
                eq(r[5:7], ["3", "3"], "datagrams each way")
            out = subprocess.run([DGRAMCTL, "-s", t + "/control", "sessions", "in", "--all"],
                                 capture_output=True, text=True, timeout=30)
            eq(len([l for l in out.stdout.splitlines() if l.startswith("in ")]), 200)
            for c in cs:
                c.close()
            eq(d.stop(), 0)
    finally:
        a.close()
        b.close()


def test_unix_client_relayed_to_udp_backend_and_back():
    a = Echo("a")
    t = tempfile.mkdtemp(prefix="dgramd-test-")
    try:
        lst = 'type = "unix_dgram"; path = "%s/in.sock";' % t
        with Dgramd(conf([a.target()], listener=lst)) as d:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            c.bind(t + "/client.sock")
            r = ask(c, t + "/in.sock", b"hello")
            check(r is not None, "the bound unix client gets the reply")
            eq(r[0], b"a:hello")
            eq(r[1], t + "/in.sock")
            ab = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            ab.bind("\0dgramd-test-%d" % os.getpid())
            eq(ask(ab, t + "/in.sock", b"abstract")[0], b"a:abstract")
            u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            u.sendto(b"unbound", t + "/in.sock")
            st = d.wait_stat("in", "fwd.unbound", 1)
            eq(st["fwd.unbound"], 1, "an unbound client is counted")
            check(wait_for(lambda: a.count >= 3, 5), "and forwarded one-way")
            eq(st["fwd.sessions"], 2)
            for s in (c, ab, u):
                s.close()
            eq(d.stop(), 0)
    finally:
        a.close()


def test_udp6_client_to_ipv4_target_and_exact_reply_address():
    a = Echo("a")
    try:
        with Dgramd(conf([a.target()], listener='type = "udp6"; address = "::1"; port = 0;')) as d:
            c = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            r = ask(c, ("::1", d.port("in")), b"six")
            check(r is not None, "udp6 client answered")
            eq(r[0], b"a:six")
            eq(r[1][:2], ("::1", d.port("in")))
            c.close()
            eq(d.stop(), 0)
        # A socket on all addresses answers from the address the client used.
        with Dgramd(conf([a.target()], listener='type = "udp4"; port = 0;')) as d:
            p = d.port("in")
            for dst in ("127.0.0.2", "127.0.0.3"):
                c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                c.bind(("127.0.0.9", 0))
                r = ask(c, (dst, p), b"to " + dst.encode())
                check(r is not None, "answered on " + dst)
                eq(r, (b"a:to " + dst.encode(), (dst, p)))
                c.close()
            eq(d.stop(), 0)
    finally:
        a.close()


def test_legs_carry_the_listeners_ttl():
    """A session's socket to the target carries the listener's ttl (as a
    one-way target's socket does): the backend sees it on each request."""
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.bind(("127.0.0.1", 0))
    b.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_RECVTTL", 12), 1)  # Linux value
    b.settimeout(5)
    target = "127.0.0.1:%d" % b.getsockname()[1]
    listener = 'type = "udp4"; address = "127.0.0.1"; port = 0; ttl = 7;'
    with Dgramd(conf([target], listener=listener)) as d:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.settimeout(5)
        for i in range(2):
            c.sendto(b"t %d" % i, d.udp("in"))
            data, anc, _, peer = b.recvmsg(100, socket.CMSG_SPACE(4))
            eq(data, b"t %d" % i)
            ttl = [int.from_bytes(v[:4], "little") for lvl, typ, v in anc
                   if lvl == socket.IPPROTO_IP and typ == socket.IP_TTL]
            eq(ttl, [7], "the leg's TTL")
            b.sendto(b"r " + data, peer)
            eq(c.recvfrom(100)[0], b"r t %d" % i)
        eq(d.stop(), 0)


def test_idle_expiry_closes_sessions_and_sockets():
    a = Echo("a")
    try:
        with Dgramd(conf([a.target()], "idle_timeout = 1;")) as d:
            addr = d.udp("in")
            base = fds(d.pid)
            cs = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(10)]
            for c in cs:
                check(ask(c, addr, b"x") is not None)
            st = d.stats("in")
            eq(st["fwd.sessions"], 10)
            eq(fds(d.pid), base + 10, "one socket per session")
            st = d.wait_stat("in", "fwd.sessions_expired", 10)
            eq(st["fwd.sessions"], 0, "expired after idle_timeout")
            eq(fds(d.pid), base, "their sockets closed")
            # A client coming back starts a new session.
            check(ask(cs[0], addr, b"again") is not None)
            eq(d.stats("in")["fwd.sessions_created"], 11)
            for c in cs:
                c.close()
            eq(d.stop(), 0)
    finally:
        a.close()


def test_max_sessions_full_drops_newcomers_keeps_live_ones():
    a = Echo("a")
    try:
        with Dgramd(conf([a.target()], "max_sessions = 3;")) as d:
            addr = d.udp("in")
            cs = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
            for c in cs:
                check(ask(c, addr, b"in") is not None)
            late = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            late.sendto(b"late 1", addr)
            late.sendto(b"late 2", addr)
            check(no_reply(late, 0.3), "no room: no session for a newcomer")
            st = d.wait_stat("in", "fwd.sessions_full", 2)
            eq(st["fwd.sessions_full"], 2)
            eq(st["fwd.sessions"], 3)
            for i, c in enumerate(cs):
                eq(ask(c, addr, b"still %d" % i)[0], b"a:still %d" % i, "live ones work")
            eq(a.count, 6, "the newcomer's datagrams never reached the target")
            for c in cs + [late]:
                c.close()
            eq(d.stop(), 0)
    finally:
        a.close()


def reply_from(c, addr, data, timeout=0.5):
    r = ask(c, addr, data, timeout)
    return None if r is None else r[0].split(b":", 1)[0]


def test_target_killed_marked_down_moved_and_back():
    a, b = Echo("a"), Echo("b")
    names = {b"a": a, b"b": b}
    try:
        with Dgramd(conf([a.target(), b.target()], 'mode = "hash";')) as d:
            addr = d.udp("in")
            c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            first = reply_from(c, addr, b"hi", 3)
            check(first in names, "answered")
            dead = names[first]
            other = b"a" if first == b"b" else b"b"
            port = dead.port
            dead.close()
            # The next datagram meets a closed port (ICMP): the target goes down,
            # and the session moves to the other target.
            got = wait_for(lambda: reply_from(c, addr, b"again") == other, 10)
            check(got, "the session moved to the other target")
            st = d.stats("in")
            eq(st["fwd.127.0.0.1:%d.down" % port], 1, "marked down")
            # New clients from the same address hash to the up target meanwhile.
            c2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            eq(reply_from(c2, addr, b"new", 3), other)
            # The target comes back: after its back-off, new sessions go there again.
            back = Echo(first.decode(), port=port)
            names[first] = back

            def returns():
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    return reply_from(s, addr, b"back?", 1) == first
                finally:
                    s.close()
            check(wait_for(returns, 15, 0.2), "back on its target once it is up")
            eq(d.stats("in")["fwd.127.0.0.1:%d.down" % port], 0)
            c.close()
            c2.close()
            eq(d.stop(), 0)
        # round_robin skips a down target for new sessions.
        dead = names[first]
        with Dgramd(conf([a.target() if first != b"a" else names[b"a"].target(),
                          b.target() if first != b"b" else names[b"b"].target()],
                         'mode = "round_robin";')) as d:
            addr = d.udp("in")
            port = dead.port
            dead.close()
            names[first] = None

            def down():
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.sendto(b"probe", addr)
                s.close()
                return d.stats("in").get("fwd.127.0.0.1:%d.down" % port) == 1
            check(wait_for(down, 10, 0.1), "round_robin target marked down")
            for i in range(4):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                eq(reply_from(s, addr, b"rr %d" % i, 3), other, "new sessions skip it")
                s.close()
            eq(d.stop(), 0)
    finally:
        for e in names.values():
            if e is not None and not e.s._closed:
                e.close()


def test_reload_keeps_a_live_session():
    a = Echo("a")
    try:
        with Dgramd(conf([a.target()], "idle_timeout = 30;")) as d:
            addr = d.udp("in")
            c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            eq(ask(c, addr, b"before")[0], b"a:before")
            base = fds(d.pid)
            start = len(d.lines)
            d.write_conf(conf([a.target()], "idle_timeout = 20; max_sessions = 10;"))
            d.send_signal(signal.SIGHUP)
            d.wait_line(r"reloaded", start)
            eq(ask(c, addr, b"after")[0], b"a:after")
            st = d.stats("in")
            eq(st["fwd.sessions"], 1)
            eq(st["fwd.sessions_created"], 1, "the same session, with its socket")
            eq(fds(d.pid), base)
            # A changed idle_timeout applies to the running table.
            start = len(d.lines)
            d.write_conf(conf([a.target()], "idle_timeout = 1;"))
            d.send_signal(signal.SIGHUP)
            d.wait_line(r"reloaded", start)
            st = d.wait_stat("in", "fwd.sessions_expired", 1)
            eq(st["fwd.sessions"], 0)
            c.close()
            eq(d.stop(), 0)
    finally:
        a.close()


def test_reload_with_changed_targets_keeps_sessions_of_kept_ones():
    a, b, n = Echo("a"), Echo("b"), Echo("n")
    try:
        with Dgramd(conf([a.target(), b.target()], 'mode = "round_robin";')) as d:
            addr = d.udp("in")
            ca = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            cb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            eq(reply_from(ca, addr, b"1", 3), b"a")
            eq(reply_from(cb, addr, b"1", 3), b"b")
            start = len(d.lines)
            d.write_conf(conf([a.target(), n.target()], 'mode = "round_robin";'))
            d.send_signal(signal.SIGHUP)
            d.wait_line(r"reloaded", start)
            st = d.stats("in")
            eq(st["fwd.sessions"], 1, "the session of the removed target closed")
            eq(reply_from(ca, addr, b"2", 3), b"a", "the kept target's session goes on")
            eq(d.stats("in")["fwd.sessions_created"], 2, "the same session")
            check(reply_from(cb, addr, b"2", 3) in (b"a", b"n"), "a new session elsewhere")
            eq(d.stats("in")["fwd.sessions_created"], 3)
            for c in (ca, cb):
                c.close()
            eq(d.stop(), 0)
    finally:
        for e in (a, b, n):
            e.close()


def test_check_refuses_table_beyond_open_file_limit():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard >= 2000000:
        print("skip: the open-file hard limit is above what max_sessions can ask", flush=True)
        return "skip"
    t = tempfile.mkdtemp(prefix="dgramd-test-")
    path = t + "/d.conf"
    with open(path, "w") as f:
        f.write(conf(["127.0.0.1:9", "127.0.0.1:10"], "max_sessions = 1000000;", name="big"))
    rc, _, err = run_dgramd(["-t", "-c", path])
    eq(rc, 78, err)
    check('socket "big"' in err and "max_sessions 1000000 x 2 legs" in err, err)
    with open(path, "w") as f:
        f.write(conf(["127.0.0.1:9", "127.0.0.1:10"], 'mode = "hash"; max_sessions = 1000;'))
    rc, _, err = run_dgramd(["-t", "-c", path])
    eq(rc, 0, err)
    # At start, dgramd raises its soft limit to the hard one.
    with Dgramd(conf(["127.0.0.1:9"])) as d:
        with open("/proc/%d/limits" % d.pid) as f:
            m = re.search(r"Max open files\s+(\d+)\s+(\d+)", f.read())
        eq(m.group(1), m.group(2), "soft open-file limit = hard")
        eq(d.stop(), 0)


def test_churn_100k_sources_flat_rss_and_fds():
    a = Echo("a")
    total, wave = 100000, 1000
    lst = 'type = "udp4"; address = "127.0.0.1"; port = 0; recv_buffer = 8388608;'
    try:
        with Dgramd(conf([a.target()], "responses = 1; idle_timeout = 2; max_sessions = 4096;",
                         listener=lst)) as d:
            addr = d.udp("in")
            base_fds = fds(d.pid)
            deadline = time.monotonic() + 200
            got = 0
            rss_warm = None
            n = 0
            while n < total:
                if time.monotonic() > deadline:
                    raise AssertionError("churn took too long (%d of %d sources)" % (n, total))
                # Sources: ephemeral ports on 127.0.x.y, a new address every wave.
                src = "127.0.%d.%d" % (1 + (n // wave) % 200, 1 + n // (200 * wave))
                cs = {}
                poll = select.poll()
                for _ in range(wave):
                    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    c.bind((src, 0))
                    c.setblocking(False)
                    c.sendto(b"s", addr)
                    cs[c.fileno()] = c
                    poll.register(c, select.POLLIN)
                left = set(cs)
                end = time.monotonic() + 10
                while left and time.monotonic() < end:
                    for fd, _ in poll.poll(500):
                        cs[fd].recv(100)
                        poll.unregister(fd)
                        left.discard(fd)
                        got += 1
                for c in cs.values():
                    c.close()
                n += wave
                if n == 10000:
                    rss_warm = rss_kib(d.pid)
            st = d.stats("in")
            eq(st["fwd.sessions_created"], total, "one session per source")
            eq(got, total, "every source answered")
            eq(st["fwd.sessions_full"], 0)
            rss_end = rss_kib(d.pid)
            # ASan's quarantine holds freed memory; there LeakSanitizer checks instead.
            if os.environ.get("SANITIZE") != "1":
                check(rss_end <= rss_warm + 1024, "RSS flat: %d KiB after 10k, %d KiB after "
                      "100k" % (rss_warm, rss_end))
            check(wait_for(lambda: d.stats("in")["fwd.sessions"] == 0, 10), "all ended")
            eq(fds(d.pid), base_fds, "fd count back to where it started")
            eq(d.stop(), 0)  # LeakSanitizer, under SANITIZE=1, fails the exit code
            print("# churn: %d sources, RSS %d KiB after 10k, %d KiB after 100k, fds %d"
                  % (total, rss_warm, rss_end, base_fds), flush=True)
    finally:
        a.close()


if __name__ == "__main__":
    main(globals())
