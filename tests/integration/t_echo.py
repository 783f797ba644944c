"""Echo over udp4, udp6 and unix_dgram: byte-identical replies (binary, zero
length, 60000 bytes), the ephemeral port from the listening line, unbound
unix senders counted while the daemon keeps serving, ignored source ports,
oversize datagrams counted and dropped, the reply TTL seen by the receiver,
and SIGUSR2 counts that match what was sent."""
import os
import socket
import struct

from dgtest import Dgramd, check, eq, main, no_reply, udp_client, unix_client

PAYLOADS = [b"hello", b"", bytes(range(256)) * 4, os.urandom(60000)]


def conf(tmp, extra4="", extra_u=""):
    return """
sockets = (
  { name = "e4"; type = "udp4"; address = "127.0.0.1"; port = 0; %s
    handlers = ( { type = "echo"; } ); },
  { name = "e6"; type = "udp6"; address = "::1"; port = 0;
    handlers = ( { type = "echo"; } ); },
  { name = "eu"; type = "unix_dgram"; path = "%s/echo.sock"; %s
    handlers = ( { type = "echo"; } ); }
);
""" % (extra4, tmp, extra_u)


def start(**kw):
    import tempfile
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    return Dgramd(conf(tmp, **kw), tmpdir=tmp), tmp


def test_udp4_echo_binary_payloads():
    d, _ = start()
    with d:
        c = udp_client()
        addr = d.udp("e4")
        check(addr[1] != 0, "real port in the listening line")
        for p in PAYLOADS:
            c.sendto(p, addr)
            data, src = c.recvfrom(70000)
            eq(data, p, "echoed payload of %d bytes" % len(p))
            eq(src, addr, "reply comes from the address asked")
        st = d.stats("e4")
        eq(st["received"], len(PAYLOADS))
        eq(st["sent"], len(PAYLOADS))
        eq(st["bytes"], sum(len(p) for p in PAYLOADS))
        eq(d.stop(), 0)


def test_udp6_echo_binary_payloads():
    d, _ = start()
    with d:
        c = udp_client(socket.AF_INET6)
        addr = d.udp("e6")
        for p in PAYLOADS:
            c.sendto(p, addr)
            data, src = c.recvfrom(70000)
            eq(data, p)
            eq(src[:2], addr)
        eq(d.stop(), 0)


def test_unix_echo_bound_and_unbound_clients():
    d, tmp = start()
    with d:
        path = d.path("eu")
        eq(path, tmp + "/echo.sock")
        unbound = unix_client()
        for _ in range(3):
            unbound.sendto(b"nobody to answer", path)
        bound = unix_client(tmp + "/client.sock")
        for p in PAYLOADS[:3]:
            bound.sendto(p, path)
            data, src = bound.recvfrom(70000)
            eq(data, p)
            eq(src, path)
        st = d.stats("eu")
        eq(st["received"], 6)
        eq(st["echo.no_peer"], 3)
        eq(st["sent"], 3)
        check(no_reply(unbound, 0.1))
        eq(d.stop(), 0)


def test_oversize_counted_and_dropped():
    d, _ = start(extra4="max_size = 100;")
    with d:
        c = udp_client()
        addr = d.udp("e4")
        c.sendto(b"x" * 101, addr)
        c.sendto(b"y" * 5000, addr)
        c.sendto(b"z" * 100, addr)
        data, _ = c.recvfrom(70000)
        eq(data, b"z" * 100, "the datagram of exactly max_size passes")
        check(no_reply(c, 0.2), "oversize datagrams are not echoed, cut or whole")
        st = d.stats("e4")
        eq(st["truncated"], 2)
        eq(st["sent"], 1)
        eq(d.stop(), 0)


def test_reply_ttl_seen_by_receiver():
    d, _ = start(extra4="ttl = 3;")
    with d:
        c = udp_client()
        c.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_RECVTTL", 12), 1)
        c.sendto(b"ttl?", d.udp("e4"))
        data, anc, flags, src = c.recvmsg(100, socket.CMSG_SPACE(4))
        eq(data, b"ttl?")
        ttl = [struct.unpack("i", v[:4])[0] for (lvl, typ, v) in anc
               if lvl == socket.IPPROTO_IP and typ == 2]  # IP_TTL
        eq(ttl, [3], "TTL of the reply")
        eq(d.stop(), 0)


def test_ignored_source_ports_not_answered():
    d, _ = start()
    with d:
        try:
            c = udp_client(bind=("127.0.0.1", 11211))
        except OSError:
            return "skip"
        c.sendto(b"reflect me", d.udp("e4"))
        check(no_reply(c), "no answer to the memcached port")
        st = d.stats("e4")
        eq(st["echo.ignored"], 1)
        eq(d.stop(), 0)


if __name__ == "__main__":
    main(globals())
