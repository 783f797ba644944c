"""Live reload (SIGHUP): a listener added by reload answers, a removed one
stops answering and its unix file is gone, a changed port is served on the
new port only; kept sockets keep their fd and their counters; an invalid
file (syntax or semantic error) changes nothing and the error names the
line; a reload whose new socket cannot bind changes nothing; a thousand
reloads leave the fd count and RSS where they were."""
import os
import re
import signal
import socket
import tempfile
import time

from dgtest import Dgramd, check, eq, main, no_reply, udp_client, unix_client

ECHO = 'handlers = ( { type = "echo"; } );'


def sock_udp(name, port, extra=""):
    return '{ name = "%s"; type = "udp4"; address = "127.0.0.1"; port = %d; %s %s }' % (
        name, port, extra, ECHO)


def sock_unix(name, path):
    return '{ name = "%s"; type = "unix_dgram"; path = "%s"; %s }' % (name, path, ECHO)


def conf(*socks):
    return "sockets = (\n  " + ",\n  ".join(socks) + "\n);\n"


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def reload(d, expect_ok=True):
    start = len(d.lines)
    d.send_signal(signal.SIGHUP)
    if expect_ok:
        d.wait_line(r"dgramd: reloaded ", start)
    else:
        d.wait_line(r"reload failed; the running configuration stays in force", start)
    return start


def echo_ok(addr, family=socket.AF_INET, payload=b"ping"):
    c = udp_client(family, timeout=2)
    c.sendto(payload, addr)
    data, _ = c.recvfrom(1000)
    return data == payload


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def test_add_remove_and_move_listeners():
    t = tempfile.mkdtemp(prefix="dgramd-test-")
    p1, p2, p3 = free_port(), free_port(), free_port()
    d = Dgramd(conf(sock_udp("a", p1), sock_unix("u", t + "/u.sock")), tmpdir=t)
    with d:
        check(echo_ok(("127.0.0.1", p1)))
        before = d.stats("a")
        # Add "b", remove "u", keep "a".
        d.write_conf(conf(sock_udp("a", p1), sock_udp("b", p2)))
        start = reload(d)
        d.wait_line(r"dgramd: listening b udp4 127.0.0.1:%d$" % p2, start)
        check(echo_ok(("127.0.0.1", p2)), "the added listener answers")
        check(echo_ok(("127.0.0.1", p1)), "the kept listener still answers")
        check(not os.path.exists(t + "/u.sock"), "the removed unix socket file is gone")
        eq(d.stats("a")["received"], before["received"] + 1, "kept socket keeps its counters")
        check(not any(re.search(r"listening a ", l) for l in d.lines[start:]),
              "the kept socket is not re-bound")
        # Move "b" to another port.
        d.write_conf(conf(sock_udp("a", p1), sock_udp("b", p3)))
        reload(d)
        check(echo_ok(("127.0.0.1", p3)), "served on the new port")
        c = udp_client()
        c.sendto(b"old port", ("127.0.0.1", p2))
        check(no_reply(c), "not served on the old port")
        eq(d.stop(), 0)


def test_invalid_config_changes_nothing():
    t = tempfile.mkdtemp(prefix="dgramd-test-")
    p1 = free_port()
    good = conf(sock_udp("a", p1))
    d = Dgramd(good, tmpdir=t)
    with d:
        # A syntax error on line 3.
        d.write_conf("sockets = (\n  " + sock_udp("a", p1) + ",\n  { name = ; }\n);\n")
        start = reload(d, expect_ok=False)
        d.wait_line(r"%s:3: syntax error" % re.escape(d.conf_path), start)
        check(echo_ok(("127.0.0.1", p1)), "old config keeps serving")
        # A semantic error on line 2.
        d.write_conf("sockets = (\n  " + sock_udp("a", p1, "ttl = 300;") + "\n);\n")
        start = reload(d, expect_ok=False)
        d.wait_line(r"%s:2: sockets.\[0\].ttl: must be 1..255, got 300" %
                    re.escape(d.conf_path), start)
        check(echo_ok(("127.0.0.1", p1)), "old config keeps serving")
        eq(d.stop(), 0)


def test_bind_failure_changes_nothing():
    t = tempfile.mkdtemp(prefix="dgramd-test-")
    p1, p2 = free_port(), free_port()
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    busy = holder.getsockname()[1]
    d = Dgramd(conf(sock_udp("a", p1), sock_unix("u", t + "/u.sock")), tmpdir=t)
    with d:
        # Would add "c" and "n", remove "u" and move "a": "n" cannot bind.
        d.write_conf(conf(sock_udp("a", p2), sock_unix("c", t + "/c.sock"),
                          sock_udp("n", busy)))
        start = reload(d, expect_ok=False)
        d.wait_line(r"n: bind 127.0.0.1:%d: Address already in use" % busy, start)
        check(echo_ok(("127.0.0.1", p1)), "old socket still served")
        check(os.path.exists(t + "/u.sock"), "old unix socket kept")
        check(not os.path.exists(t + "/c.sock"), "new unix socket not left behind")
        c = unix_client(t + "/client.sock")
        c.sendto(b"still here", t + "/u.sock")
        eq(c.recvfrom(100)[0], b"still here")
        e = udp_client()
        e.sendto(b"x", ("127.0.0.1", p2))
        check(no_reply(e), "the new port was not kept open")
        eq(d.stop(), 0)
    holder.close()


def test_options_updated_in_place():
    t = tempfile.mkdtemp(prefix="dgramd-test-")
    p1 = free_port()
    d = Dgramd(conf(sock_udp("a", p1, "ttl = 5;")), tmpdir=t)
    with d:
        def reply_ttl():
            c = udp_client()
            c.setsockopt(socket.IPPROTO_IP, 12, 1)  # IP_RECVTTL
            c.sendto(b"ttl", ("127.0.0.1", p1))
            data, anc, _, _ = c.recvmsg(100, socket.CMSG_SPACE(4))
            return [int.from_bytes(v[:4], "little") for (l, ty, v) in anc if ty == 2]
        eq(reply_ttl(), [5])
        d.write_conf(conf(sock_udp("a", p1, "ttl = 9;")))
        reload(d)
        eq(reply_ttl(), [9], "new ttl applied to the kept socket")
        d.write_conf(conf(sock_udp("a", p1)))
        reload(d)
        with open("/proc/sys/net/ipv4/ip_default_ttl") as f:
            default_ttl = int(f.read())
        eq(reply_ttl(), [default_ttl], "a removed ttl goes back to the system default")
        eq(d.stop(), 0)


def test_unix_mode_updated_in_place():
    t = tempfile.mkdtemp(prefix="dgramd-test-")
    path = t + "/u.sock"
    unix = '{ name = "u"; type = "unix_dgram"; path = "%s"; mode = "%s"; %s }'
    d = Dgramd(conf(unix % (path, "0600", ECHO)), tmpdir=t)
    with d:
        eq(os.stat(path).st_mode & 0o777, 0o600)
        ino = os.stat(path).st_ino
        d.write_conf(conf(unix % (path, "0666", ECHO)))
        reload(d)
        eq(os.stat(path).st_mode & 0o777, 0o666, "new mode applied to the kept socket file")
        eq(os.stat(path).st_ino, ino, "the same socket file: not re-bound")
        eq(d.stop(), 0)


def test_thousand_reloads_no_leak():
    t = tempfile.mkdtemp(prefix="dgramd-test-")
    p1, p2 = free_port(), free_port()
    confs = [conf(sock_udp("a", p1), sock_unix("u", t + "/u.sock")),
             conf(sock_udp("a", p1, "ttl = 7;"), sock_udp("b", p2))]
    d = Dgramd(confs[0], tmpdir=t)
    with d:
        for i in range(20):   # warm up allocator caches
            d.write_conf(confs[(i + 1) % 2])
            reload(d)
        fds0, rss0 = fd_count(d.pid), rss_kb(d.pid)
        n = 1000
        for i in range(n):
            d.write_conf(confs[(i + 1) % 2])
            reload(d)
        check(echo_ok(("127.0.0.1", p1)))
        fds1, rss1 = fd_count(d.pid), rss_kb(d.pid)
        print("fds %d -> %d, rss %d kB -> %d kB after %d reloads" % (fds0, fds1, rss0, rss1, n))
        eq(fds1, fds0, "fd count")
        if os.environ.get("SANITIZE") != "1":
            # ASan's quarantine holds freed memory; there LeakSanitizer checks instead.
            check(rss1 - rss0 < 1024, "RSS grew by %d kB" % (rss1 - rss0))
        eq(d.stop(), 0)  # LeakSanitizer, under SANITIZE=1, fails the exit code


if __name__ == "__main__":
    main(globals())
