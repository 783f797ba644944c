"""rate_limit with exact counts: per socket (rate = 1, burst = 5: of 20
back-to-back datagrams exactly 5 are echoed, 15 counted limited=), per
sender (each IP address has its own bucket whatever its port; a unix
sender is limited by uid), one "rate limit exceeded" line when dropping
starts and one "dropped N datagrams" line with the count when it ends,
never a line per datagram, and the buckets kept across a reload that
leaves the socket and the limit unchanged (but reset when the limit
changes). With rate = 1/s, a back-to-back burst sent within milliseconds
cannot earn an extra token, so the counts are exact."""
import os
import re
import signal
import socket
import tempfile
import time

from dgtest import Dgramd, check, eq, main, udp_client, unix_client


def burst(ip, addr, n, port=0):
    """Sends n datagrams back to back from ip; returns how many were echoed."""
    c = udp_client(bind=(ip, port), timeout=0.5)
    try:
        for i in range(n):
            c.sendto(b"%d" % i, addr)
        got = 0
        while True:
            try:
                c.recvfrom(100)
                got += 1
            except socket.timeout:
                return got
    finally:
        c.close()


def count(lines, rx):
    return sum(1 for l in lines if re.search(rx, l))


def test_per_socket_exact():
    d = Dgramd("""
sockets = ( { name = "a"; type = "udp4"; address = "127.0.0.1"; port = 0;
  rate_limit = { rate = 1; burst = 5; };
  handlers = ( { type = "echo"; } ); } );
""")
    with d:
        addr = d.udp("a")
        eq(burst("127.0.0.1", addr, 20), 5)
        # The socket shares one bucket: another sender gets nothing now.
        eq(burst("127.0.0.2", addr, 3), 0)
        st = d.stats("a")
        eq(st["received"], 23)
        eq(st["limited"], 18)
        eq(st["sent"], 5)
        d.wait_line(r"dgramd: a: rate limit exceeded, dropping \(first from 127\.0\.0\.1\)$")
        d.wait_line(r"dgramd: a: rate limit: dropped 18 datagrams \(first from 127\.0\.0\.1\) in ",
                    timeout=5)
        eq(count(d.lines, r"rate limit exceeded"), 1)
        eq(count(d.lines, r"rate limit: dropped"), 1)
        eq(d.stop(), 0)


def test_per_source_exact():
    d = Dgramd("""
sockets = ( { name = "p"; type = "udp4"; address = "127.0.0.1"; port = 0;
  rate_limit = { rate = 1; burst = 4; per_source = true; sources = 16; };
  handlers = ( { type = "echo"; } ); } );
""")
    with d:
        addr = d.udp("p")
        eq(burst("127.0.0.2", addr, 10), 4)
        # Same address, other port: same bucket, already empty.
        eq(burst("127.0.0.2", addr, 3), 0)
        eq(burst("127.0.0.3", addr, 10), 4)
        eq(burst("127.0.0.4", addr, 2), 2)
        st = d.stats("p")
        eq(st["received"], 25)
        eq(st["limited"], 15)
        eq(st["sent"], 10)
        eq(st["rate_limit.senders"], 3)
        eq(st["rate_limit.capacity"], 16)
        d.wait_line(r"dgramd: p: rate limit: dropped 15 datagrams from 2 senders "
                    r"\(first 127\.0\.0\.2\) in ", timeout=5)
        eq(count(d.lines, r"rate limit exceeded"), 1)
        eq(d.stop(), 0)


def test_per_source_unix_by_uid():
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    d = Dgramd("""
sockets = ( { name = "u"; type = "unix_dgram"; path = "%s/u.sock";
  rate_limit = { rate = 1; burst = 3; per_source = true; };
  handlers = ( { type = "echo"; } ); } );
""" % tmp, tmpdir=tmp)
    with d:
        # Two sockets of the same uid share one bucket.
        a, b = unix_client(tmp + "/a.sock"), unix_client(tmp + "/b.sock")
        for _ in range(3):
            a.sendto(b"a", d.path("u"))
            b.sendto(b"b", d.path("u"))
        got = 0
        for c in (a, b):
            c.settimeout(0.5)
            try:
                while True:
                    c.recvfrom(10)
                    got += 1
            except socket.timeout:
                pass
        eq(got, 3)
        st = d.stats("u")
        eq(st["limited"], 3)
        eq(st["rate_limit.senders"], 1)
        d.wait_line(r"dgramd: u: rate limit exceeded, dropping \(first from uid %d\)"
                    % os.getuid())
        eq(d.stop(), 0)


def test_state_kept_across_reload():
    conf = """
sockets = ( { name = "a"; type = "udp4"; address = "127.0.0.1"; port = 0;
  rate_limit = { rate = 1; burst = %d; per_source = true; };
  handlers = ( { type = "echo"; } ); }%s );
"""
    extra = """,
  { name = "b"; type = "udp4"; address = "127.0.0.1"; port = 0;
    handlers = ( { type = "echo"; } ); }"""
    d = Dgramd(conf % (5, ""))
    with d:
        addr = d.udp("a")
        t0 = time.monotonic()
        eq(burst("127.0.0.5", addr, 10), 5)
        # Reload with socket "a" unchanged: its buckets survive.
        d.write_conf(conf % (5, extra))
        start = len(d.lines)
        d.send_signal(signal.SIGHUP)
        d.wait_line(r"reloaded", start)
        got = burst("127.0.0.5", addr, 10)
        elapsed = time.monotonic() - t0
        # A new bucket would give 5; the kept one only what accrued since.
        check(got <= int(elapsed) and got < 5, "got %d after %.2fs" % (got, elapsed))
        # A changed limit starts afresh.
        d.write_conf(conf % (3, extra))
        start = len(d.lines)
        d.send_signal(signal.SIGHUP)
        d.wait_line(r"reloaded", start)
        eq(burst("127.0.0.5", addr, 10), 3)
        eq(d.stop(), 0)


if __name__ == "__main__":
    main(globals())
