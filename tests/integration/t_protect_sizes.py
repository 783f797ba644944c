"""Zero-length, maximum-size and truncated datagrams on every handler type
(echo, log, forward): a zero-length datagram is a datagram (echoed,
logged as one line, forwarded); the largest one passes whole (65535 bytes
on unix sockets, 65507, the IPv4 maximum payload, on udp4); one byte over
max_size is counted as truncated= and reaches no handler (no echo, no log
line, nothing forwarded), while the daemon keeps serving."""
import os
import socket
import tempfile
import time

from dgtest import Dgramd, check, eq, main, no_reply, udp_client, unix_client

SMALL = 1000


def conf(tmp, log):
    return """
sockets = (
  { name = "echo"; type = "unix_dgram"; path = "%(t)s/echo.sock";
    handlers = ( { type = "echo"; } ); },
  { name = "echo-small"; type = "unix_dgram"; path = "%(t)s/echo-small.sock"; max_size = %(s)d;
    handlers = ( { type = "echo"; } ); },
  { name = "echo4"; type = "udp4"; address = "127.0.0.1"; port = 0;
    handlers = ( { type = "echo"; } ); },
  { name = "log"; type = "unix_dgram"; path = "%(t)s/log.sock";
    handlers = ( { type = "log"; file = "%(l)s"; format = "raw"; } ); },
  { name = "log-small"; type = "unix_dgram"; path = "%(t)s/log-small.sock"; max_size = %(s)d;
    handlers = ( { type = "log"; file = "%(l)s"; format = "raw"; } ); },
  { name = "fwd"; type = "unix_dgram"; path = "%(t)s/fwd.sock";
    handlers = ( { type = "forward"; to = [ "unix:%(t)s/sink.sock" ]; } ); },
  { name = "fwd-small"; type = "unix_dgram"; path = "%(t)s/fwd-small.sock"; max_size = %(s)d;
    handlers = ( { type = "forward"; to = [ "unix:%(t)s/sink.sock" ]; } ); }
);
""" % {"t": tmp, "l": log, "s": SMALL}


def start():
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    log = os.path.join(tmp, "out.log")
    sink = unix_client(os.path.join(tmp, "sink.sock"))
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    return Dgramd(conf(tmp, log), tmpdir=tmp), tmp, log, sink


MAXU = bytes(i % 251 for i in range(65535))
MAX4 = MAXU[:65507]


def log_lines(d, log, n, timeout=5.0):
    """The lines of log once it holds n (bounded wait: flushed before sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        d.stats("log")
        lines = open(log, "rb").read().split(b"\n")[:-1] if os.path.exists(log) else []
        if len(lines) >= n or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_echo_sizes():
    d, tmp, _, _ = start()
    with d:
        c = unix_client(os.path.join(tmp, "c.sock"))
        for p in (b"", MAXU):
            c.sendto(p, d.path("echo"))
            eq(c.recvfrom(70000)[0], p, "unix echo of %d bytes" % len(p))
        c.sendto(b"x" * (SMALL + 1), d.path("echo-small"))
        check(no_reply(c), "a truncated datagram is not echoed")
        c.sendto(b"y" * SMALL, d.path("echo-small"))
        eq(c.recvfrom(70000)[0], b"y" * SMALL)
        u = udp_client()
        for p in (b"", MAX4):
            u.sendto(p, d.udp("echo4"))
            eq(u.recvfrom(70000)[0], p, "udp4 echo of %d bytes" % len(p))
        eq(d.stats("echo-small")["truncated"], 1)
        st = d.stats("echo")
        eq((st["received"], st["sent"], st["truncated"]), (2, 2, 0))
        eq(d.stop(), 0)


def test_log_sizes():
    d, tmp, log, _ = start()
    with d:
        c = unix_client()
        c.sendto(b"", d.path("log"))
        c.sendto(MAXU, d.path("log"))
        c.sendto(b"z" * (SMALL + 1), d.path("log-small"))
        c.sendto(b"w" * SMALL, d.path("log-small"))
        lines = log_lines(d, log, 3)
        eq(len(lines), 3, "one line per datagram passed on")
        check(any(len(l) >= 65535 for l in lines), "the 65535-byte datagram logged whole")
        check(not any(b"z" * 100 in l for l in lines), "the truncated one is not logged")
        check(any(l.endswith(b"w" * SMALL) for l in lines))
        eq(d.stats("log-small")["truncated"], 1)
        eq(d.stop(), 0)


def test_forward_sizes():
    d, tmp, _, sink = start()
    with d:
        c = unix_client()
        c.sendto(b"", d.path("fwd"))
        eq(sink.recvfrom(70000)[0], b"")
        c.sendto(MAXU, d.path("fwd"))
        eq(sink.recvfrom(70000)[0], MAXU)
        c.sendto(b"q" * (SMALL + 1), d.path("fwd-small"))
        c.sendto(b"v" * SMALL, d.path("fwd-small"))
        eq(sink.recvfrom(70000)[0], b"v" * SMALL, "the truncated one was not forwarded")
        check(no_reply(sink))
        eq(d.stats("fwd-small")["truncated"], 1)
        eq(d.stats("fwd")["received"], 2)
        eq(d.stop(), 0)


if __name__ == "__main__":
    main(globals())
