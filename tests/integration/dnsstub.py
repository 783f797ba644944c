"""A small DNS responder for the tests, on loopback only.

tests/netns.sh starts it on 127.0.0.1:53 inside the test namespace, where
/etc/resolv.conf names it, so no name a test (or dgramd -t) resolves ever
leaves the host. It answers A and AAAA queries for the names under the
zones below with loopback addresses, NXDOMAIN for anything else (so
"no-such-host.invalid" fails at once), and NODATA for other types under
its zones. One query per datagram; malformed ones are ignored.

  python3 dnsstub.py [--port 53] [--ready FILE]
"""
import argparse
import socket
import struct
import sys

# Zone suffix -> (IPv4, IPv6). The documentation names of the shipped
# examples resolve to loopback; dgramd.test is the tests' own zone.
ZONES = {
    "dgramd.test": ("127.0.0.1", "::1"),
    "example.com": ("127.0.0.1", "::1"),
    "example.net": ("127.0.0.1", "::1"),
    "example.org": ("127.0.0.1", "::1"),
}
# Names that resolve to a particular loopback address (for tests that
# check that the answer, not a guess, is used).
NAMES = {
    "v4only.dgramd.test": ("127.0.0.7", None),
    "v6only.dgramd.test": (None, "::1"),
}


def lookup(name):
    name = name.lower().rstrip(".")
    if name in NAMES:
        return NAMES[name]
    for z, addrs in ZONES.items():
        if name == z or name.endswith("." + z):
            return addrs
    return None


def parse_name(msg, off):
    labels = []
    while True:
        if off >= len(msg):
            raise ValueError("short name")
        n = msg[off]
        off += 1
        if n == 0:
            return ".".join(labels), off
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n


def answer(query):
    qid, flags, qd, _, _, _ = struct.unpack("!HHHHHH", query[:12])
    if qd != 1 or flags & 0x8000:
        return None
    name, off = parse_name(query, 12)
    qtype, qclass = struct.unpack("!HH", query[off:off + 4])
    question = query[12:off + 4]
    addrs = lookup(name)
    rd = flags & 0x0100
    answers = b""
    count = 0
    rcode = 0
    if addrs is None:
        rcode = 3  # NXDOMAIN
    elif qclass == 1 and qtype == 1 and addrs[0]:
        answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + \
            socket.inet_pton(socket.AF_INET, addrs[0])
        count = 1
    elif qclass == 1 and qtype == 28 and addrs[1]:
        answers = b"\xc0\x0c" + struct.pack("!HHIH", 28, 1, 60, 16) + \
            socket.inet_pton(socket.AF_INET6, addrs[1])
        count = 1
    hdr = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd | 0x0080 | rcode, 1, count, 0, 0)
    return hdr + question + answers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--ready")
    a = ap.parse_args()
    socks = []
    for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            s.bind((host, a.port))
        except OSError as e:
            if fam == socket.AF_INET:
                raise
            print("dnsstub: no IPv6 listener: %s" % e, file=sys.stderr)
            continue
        socks.append(s)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")
    import select
    while True:
        r, _, _ = select.select(socks, [], [])
        for s in r:
            q, peer = s.recvfrom(4096)
            try:
                resp = answer(q)
            except (ValueError, struct.error):
                resp = None
            if resp is not None:
                s.sendto(resp, peer)


if __name__ == "__main__":
    main()
