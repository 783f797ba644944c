"""Privilege drop, observed through /proc/PID/status: started as root with
user = "nobody", dgramd binds (a privileged port included), then runs with
real, effective, saved and filesystem uid and gid of nobody and only
nobody's groups, keeps serving, and still removes its unix socket on stop
(the socket sits in a directory nobody owns); with group set as well, that
group replaces the user's primary group; as root without user, a warning.
Skipped unless running as root with a "nobody" user."""
import os
import pwd
import grp
import re
import socket
import tempfile

from dgtest import Dgramd, check, eq, main, udp_client, unix_client


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def nobody():
    if os.geteuid() != 0:
        print("# not root: the privilege drop cannot be observed")
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        print("# no user nobody")
        return None


def free_privileged_port():
    for port in range(900, 1000):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    return None


def test_drop_to_nobody():
    pw = nobody()
    if pw is None:
        return "skip"
    port = free_privileged_port()
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    os.chmod(tmp, 0o755)    # nobody must reach run/ to remove the socket
    run = os.path.join(tmp, "run")
    os.mkdir(run)
    os.chown(run, pw.pw_uid, pw.pw_gid)
    d = Dgramd("""
user = "nobody";
sockets = (
  { name = "low"; type = "udp4"; address = "127.0.0.1"; port = %d;
    handlers = ( { type = "echo"; ignore_ports = [ 0 ]; } ); },
  { name = "u"; type = "unix_dgram"; path = "%s/u.sock";
    handlers = ( { type = "echo"; } ); }
);
""" % (port, run), tmpdir=tmp)
    with d:
        st = status(d.pid)
        want = [str(pw.pw_uid)] * 4
        eq(st["Uid"], want, "real, effective, saved, fs uid")
        eq(st["Gid"], [str(pw.pw_gid)] * 4, "real, effective, saved, fs gid")
        groups = sorted(int(g) for g in st["Groups"])
        want_groups = sorted({pw.pw_gid} | {g.gr_gid for g in grp.getgrall()
                                            if "nobody" in g.gr_mem})
        eq(groups, want_groups, "supplementary groups")
        eq(st["CapEff"], ["0000000000000000"], "no capabilities left")
        d.wait_line(r"dgramd: dropped privileges to user nobody \(uid %d\), gid %d$"
                    % (pw.pw_uid, pw.pw_gid))
        check(not any("running as root" in l for l in d.lines), "no root warning")
        c = udp_client()
        c.sendto(b"still serving", ("127.0.0.1", port))
        eq(c.recvfrom(100)[0], b"still serving")
        path = d.path("u")
        check(os.path.exists(path))
        eq(d.stop(), 0)
        check(not os.path.exists(path), "the unix socket was removed after the drop")


def test_drop_with_group():
    pw = nobody()
    if pw is None:
        return "skip"
    try:
        gr = grp.getgrnam("daemon")
    except KeyError:
        return "skip"
    d = Dgramd("""
user = "nobody";
group = "daemon";
sockets = ( { name = "a"; type = "udp4"; address = "127.0.0.1"; port = 0;
  handlers = ( { type = "echo"; } ); } );
""")
    with d:
        st = status(d.pid)
        eq(st["Uid"], [str(pw.pw_uid)] * 4)
        eq(st["Gid"], [str(gr.gr_gid)] * 4)
        check(str(gr.gr_gid) in st["Groups"], "the group is among the groups")
        check("0" not in st["Groups"], "root's group is gone")
        eq(d.stop(), 0)


def test_root_without_user_warns():
    if os.geteuid() != 0:
        return "skip"
    d = Dgramd("""
sockets = ( { name = "a"; type = "udp4"; address = "127.0.0.1"; port = 0;
  handlers = ( { type = "echo"; } ); } );
""")
    with d:
        d.wait_line(r"running as root; set \"user\" to drop privileges")
        eq(status(d.pid)["Uid"][1], "0")
        eq(d.stop(), 0)


if __name__ == "__main__":
    main(globals())
