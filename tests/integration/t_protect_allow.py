"""Allow lists: `allow` CIDRs on udp4 and udp6 sockets (IPv4 senders, IPv6
senders, IPv4-mapped senders on a dual-stack udp6 socket matched against
IPv4 rules, ::ffff:0:0/96 rules, an empty list that lets no one in), and
`allow_uids` / `allow_gids` on a unix socket, with datagrams sent as other
users through setpriv (skipped unless running as root). Denied datagrams
reach no handler (no echo, no log line) and are counted as denied=."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

from dgtest import Dgramd, check, eq, main, no_reply, udp_client

HAVE_V6 = socket.has_ipv6


def send_from(ip, addr, payload=None, family=socket.AF_INET):
    """Sends payload from ip (port 0) to addr; returns the reply or None.
    Without a payload a reply is not expected: wait only briefly."""
    c = udp_client(family, bind=(ip, 0), timeout=2.0 if payload else 0.3)
    payload = payload or b"ping"
    try:
        c.sendto(payload, addr)
        try:
            data, _ = c.recvfrom(70000)
            return data
        except socket.timeout:
            return None
    finally:
        c.close()


def test_allow_ipv4():
    d = Dgramd("""
sockets = ( { name = "a"; type = "udp4"; address = "127.0.0.1"; port = 0;
  allow = [ "127.0.0.0/30", "10.0.0.0/8", "::1" ];
  handlers = ( { type = "echo"; } ); } );
""")
    with d:
        addr = d.udp("a")
        eq(send_from("127.0.0.1", addr, b"one"), b"one")
        eq(send_from("127.0.0.3", addr, b"three"), b"three")
        eq(send_from("127.0.0.4", addr), None, "127.0.0.4 is outside 127.0.0.0/30")
        eq(send_from("127.0.1.1", addr), None)
        st = d.stats("a")
        eq(st["received"], 4)
        eq(st["denied"], 2)
        eq(st["sent"], 2)
        eq(d.stop(), 0)


def test_allow_empty_list_denies_everyone():
    d = Dgramd("""
sockets = ( { name = "a"; type = "udp4"; address = "127.0.0.1"; port = 0;
  allow = [ ];
  handlers = ( { type = "echo"; } ); } );
""")
    with d:
        addr = d.udp("a")
        for ip in ("127.0.0.1", "127.0.0.2"):
            eq(send_from(ip, addr), None)
        st = d.wait_stat("a", "denied", 2)
        eq(st["denied"], 2)
        eq(st["sent"], 0)
        eq(d.stop(), 0)


def test_allow_ipv6_and_mapped():
    if not HAVE_V6:
        return "skip"
    d = Dgramd("""
sockets = ( { name = "d"; type = "udp6"; address = "::"; port = 0; ipv6_only = false;
  allow = [ "127.0.0.2/32", "::1/128" ];
  handlers = ( { type = "echo"; } ); } );
""")
    with d:
        port = d.port("d")
        # An IPv4 sender arrives as ::ffff:127.0.0.2 and matches the IPv4 rule.
        eq(send_from("127.0.0.2", ("127.0.0.1", port), b"v4 ok"), b"v4 ok")
        eq(send_from("127.0.0.1", ("127.0.0.1", port)), None)
        eq(send_from("::1", ("::1", port), b"v6 ok", socket.AF_INET6), b"v6 ok")
        st = d.stats("d")
        eq(st["received"], 3)
        eq(st["denied"], 1)
        eq(st["sent"], 2)
        eq(d.stop(), 0)


def test_allow_mapped_rule_and_v6_rule_do_not_cross():
    if not HAVE_V6:
        return "skip"
    d = Dgramd("""
sockets = ( { name = "d"; type = "udp6"; address = "::"; port = 0; ipv6_only = false;
  allow = [ "::ffff:127.0.0.0/104" ];
  handlers = ( { type = "echo"; } ); },
  { name = "v6all"; type = "udp6"; address = "::"; port = 0; ipv6_only = false;
  allow = [ "::/0" ];
  handlers = ( { type = "echo"; } ); } );
""")
    with d:
        port = d.port("d")
        # ::ffff:127.0.0.0/104 is the IPv4 rule 127.0.0.0/8.
        eq(send_from("127.0.0.9", ("127.0.0.1", port), b"x"), b"x")
        eq(send_from("::1", ("::1", port), b"y", socket.AF_INET6), None)
        p6 = d.port("v6all")
        # ::/0 is every IPv6 sender, but an IPv4 sender is matched as IPv4.
        eq(send_from("::1", ("::1", p6), b"z", socket.AF_INET6), b"z")
        eq(send_from("127.0.0.1", ("127.0.0.1", p6)), None)
        eq(d.stats("d")["denied"], 1)
        eq(d.stats("v6all")["denied"], 1)
        eq(d.stop(), 0)


SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for i in range(int(sys.argv[2])):
    s.sendto(b"from uid %d" % __import__("os").getuid(), sys.argv[1])
"""


def send_as(uid, gid, path, n):
    """Sends n datagrams to path as uid/gid (setpriv); raises on failure."""
    subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups",
                    sys.executable, "-c", SENDER, path, str(n)], check=True, timeout=20)


def test_allow_uids_and_gids_unix():
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        print("# needs root and setpriv to send as other users")
        return "skip"
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    os.chmod(tmp, 0o755)
    log = os.path.join(tmp, "uids.log")
    d = Dgramd("""
sockets = (
  { name = "byuid"; type = "unix_dgram"; path = "%s/uid.sock"; mode = "0666";
    allow_uids = ( 65534, "root" );
    handlers = ( { type = "log"; file = "%s"; format = "raw"; } ); },
  { name = "bygid"; type = "unix_dgram"; path = "%s/gid.sock"; mode = "0666";
    allow_gids = [ 65534 ];
    handlers = ( { type = "echo"; } ); },
  { name = "none"; type = "unix_dgram"; path = "%s/none.sock"; mode = "0666";
    allow_uids = [ ];
    handlers = ( { type = "echo"; } ); }
);
""" % (tmp, log, tmp, tmp), tmpdir=tmp)
    with d:
        send_as(65534, 65534, d.path("byuid"), 2)   # allowed by uid
        send_as(0, 0, d.path("byuid"), 1)           # allowed by name "root"
        send_as(1, 1, d.path("byuid"), 3)           # daemon: denied
        send_as(1, 65534, d.path("bygid"), 2)       # allowed by gid
        send_as(65534, 1, d.path("bygid"), 4)       # wrong gid: denied
        send_as(0, 0, d.path("none"), 1)            # empty list: no one
        st = d.wait_stat("byuid", "received", 6)
        eq(st["received"], 6)
        eq(st["denied"], 3)
        st = d.wait_stat("bygid", "received", 6)
        eq(st["denied"], 4)
        eq(st.get("echo.no_peer"), 2, "allowed datagrams reached echo (unbound senders)")
        st = d.wait_stat("none", "received", 1)
        eq(st["denied"], 1)
        eq(d.stop(), 0)
        with open(log) as f:
            lines = f.read().splitlines()
        eq(len(lines), 3, "log lines: %r" % lines)
        eq(sum("from uid 65534" in l for l in lines), 2)
        eq(sum("from uid 0" in l for l in lines), 1)
        check(not any("from uid 1" in l for l in lines), "a denied datagram was logged")


if __name__ == "__main__":
    main(globals())
