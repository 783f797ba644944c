"""Multicast, inside a network namespace this test creates itself (never on
the host's interfaces): a udp4 socket with multicast_groups joins its group
(the kernel lists the membership and datagrams sent to the group arrive);
a forward to a group carries the receiving socket's multicast_ttl, seen by
a receiver through IP_RECVTTL; the options (multicast_ttl, multicast_loop)
are read back with getsockopt on dgramd's own sockets (pidfd_getfd)."""
import ctypes
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

from dgtest import Dgramd, check, eq, main, udp_client

GROUP_IN = "239.77.1.1"
GROUP_OUT = "239.77.1.2"


def in_netns():
    return os.environ.get("DGRAMD_TEST_NETNS") == "1"


def setup_netns():
    for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "link", "set", "lo", "multicast", "on"],
                ["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]):
        subprocess.run(cmd, check=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def group_receiver(group, port):
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    r.bind((group, port))
    mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton("127.0.0.1"))
    r.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    r.setsockopt(socket.IPPROTO_IP, 12, 1)  # IP_RECVTTL
    r.settimeout(2)
    return r


def recv_ttl(r):
    data, anc, _, _ = r.recvmsg(2000, socket.CMSG_SPACE(4))
    ttl = [struct.unpack("i", v[:4])[0] for (l, t, v) in anc
           if l == socket.IPPROTO_IP and t == 2]
    return data, ttl


libc = ctypes.CDLL(None, use_errno=True)
SYS_pidfd_open, SYS_pidfd_getfd = 434, 438


def their_udp_sockets(pid):
    """Duplicates of the UDP sockets of process pid, as python sockets."""
    pidfd = libc.syscall(SYS_pidfd_open, pid, 0)
    check(pidfd >= 0, "pidfd_open: errno %d" % ctypes.get_errno())
    socks = []
    try:
        for name in os.listdir("/proc/%d/fd" % pid):
            if not os.readlink("/proc/%d/fd/%s" % (pid, name)).startswith("socket:"):
                continue
            fd = libc.syscall(SYS_pidfd_getfd, pidfd, int(name), 0)
            check(fd >= 0, "pidfd_getfd: errno %d" % ctypes.get_errno())
            s = socket.socket(fileno=fd)
            if s.family == socket.AF_INET and s.type == socket.SOCK_DGRAM:
                socks.append(s)
            else:
                s.close()
    finally:
        os.close(pidfd)
    return socks


def conf(pin, pout, loop):
    return """sockets = (
  { name = "mc"; type = "udp4"; port = %d; multicast_groups = [ "%s" ];
    multicast_ttl = 5; multicast_loop = %s;
    handlers = ( { type = "forward"; to = [ "%s:%d" ]; } ); }
);
""" % (pin, GROUP_IN, "true" if loop else "false", GROUP_OUT, pout)


def run_case(loop):
    setup_done = True
    pin, pout = free_port(), free_port()
    t = tempfile.mkdtemp(prefix="dgramd-test-")
    d = Dgramd(conf(pin, pout, loop), tmpdir=t)
    with d:
        igmp = open("/proc/net/igmp").read()
        # /proc/net/igmp lists groups in hex, host byte order of the address bytes.
        want = "%08X" % struct.unpack("<I", socket.inet_aton(GROUP_IN))[0]
        check(want in igmp, "membership of %s listed:\n%s" % (GROUP_IN, igmp))
        rx = group_receiver(GROUP_OUT, pout)
        c = udp_client()
        c.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        c.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        for i in range(3):
            c.sendto(b"to the group %d" % i, (GROUP_IN, pin))
        st = d.wait_stat("mc", "received", 3)
        eq(st["received"], 3, "datagrams sent to the joined group arrive")
        got = []
        if loop:
            for i in range(3):
                data, ttl = recv_ttl(rx)
                got.append(data)
                eq(ttl, [5], "multicast_ttl carried by the forward")
            eq(got, [b"to the group %d" % i for i in range(3)])
        socks = their_udp_sockets(d.pid)
        eq(len(socks), 2, "the listener and the forward's outbound socket")
        for s in socks:
            port = s.getsockname()[1]
            what = "listener" if port == pin else "outbound"
            eq(s.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL), 5, what + " ttl")
            eq(s.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP), int(loop),
               what + " loop")
            s.close()
        st = d.wait_stat("mc", "sent", 3)
        eq(st["sent"], 3)
        eq(d.stop(), 0)


def test_multicast_join_ttl_and_loop():
    if not in_netns():
        return "skip"
    setup_netns()
    run_case(loop=True)
    run_case(loop=False)


if __name__ == "__main__":
    if not in_netns():
        # Re-run inside a fresh network namespace (needs root and unshare).
        if os.getuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
            print("skip test_multicast_join_ttl_and_loop (needs root, unshare and ip)")
            sys.exit(0)
        env = dict(os.environ, DGRAMD_TEST_NETNS="1")
        p = subprocess.run(["unshare", "--net", sys.executable] + sys.argv, env=env)
        sys.exit(p.returncode)
    main(globals())
