"""Socket activation with systemd-socket-activate --datagram: a UDP port and
a unix path passed under FileDescriptorName= names are served, with the
config socket's options applied (TTL seen via IP_RECVTTL); mixed mode (one
socket passed, others bound by dgramd); a passed socket whose name matches no
config socket, or of the wrong type or path, is a config error (exit 78)
that names it; a LISTEN_PID for another process is ignored."""
import os
import shutil
import socket
import tempfile

import dgtest
from dgtest import Dgramd, check, eq, main, udp_client, unix_client

HERE = os.path.dirname(os.path.abspath(__file__))
ACTIVATE = shutil.which("systemd-socket-activate")
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IP_TTL = 2


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def activated(conf, tmp, listen, names, datagram=True):
    """Runs dgramd under systemd-socket-activate, which binds every address
    of listen and execs dgramd (same pid) on the first datagram."""
    wrapper = os.path.join(tmp, "activate.sh")
    args = " ".join("-l '%s'" % a for a in listen)
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec '%s' %s %s --fdname=%s '%s' \"$@\"\n"
                % (ACTIVATE, "--datagram" if datagram else "", args, ":".join(names), dgtest.DGRAMD))
    os.chmod(wrapper, 0o755)
    saved = dgtest.DGRAMD
    dgtest.DGRAMD = wrapper
    try:
        d = Dgramd(conf, tmpdir=tmp, expect=0)
    finally:
        dgtest.DGRAMD = saved
    for a in listen:
        d.wait_line(r"Listening on %s as \d+\." % a.replace(".", r"\."))
    return d


def test_udp_port_activated_with_ttl():
    if ACTIVATE is None:
        return "skip"
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    port = free_port()
    conf = """
sockets = ( { name = "relay"; type = "udp4"; address = "127.0.0.1"; port = %d; ttl = 12;
              handlers = ( { type = "echo"; } ); } );
""" % port
    d = activated(conf, tmp, ["127.0.0.1:%d" % port], ["relay"])
    with d:
        c = udp_client()
        c.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
        # The first datagram starts dgramd, which serves it from the queue.
        for payload in (b"first", b"second"):
            c.sendto(payload, ("127.0.0.1", port))
            data, anc, _, src = c.recvmsg(100, socket.CMSG_SPACE(4))
            eq(data, payload)
            eq(src, ("127.0.0.1", port))
            ttls = [int.from_bytes(v[:4], "little") for lvl, typ, v in anc
                    if lvl == socket.IPPROTO_IP and typ == IP_TTL]
            eq(ttls, [12], "TTL of the reply (ttl = 12 applied to the passed socket)")
        d.wait_listening(1)
        eq(d.addrs["relay"], ("udp4", "127.0.0.1:%d" % port))
        eq(d.stats("relay")["received"], 2)
        eq(d.stop(), 0)


def test_unix_path_activated_and_kept():
    if ACTIVATE is None:
        return "skip"
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    path = os.path.join(tmp, "act.sock")
    conf = """
sockets = ( { name = "devlog"; type = "unix_dgram"; path = "%s";
              handlers = ( { type = "echo"; } ); } );
""" % path
    d = activated(conf, tmp, [path], ["devlog"])
    with d:
        u = unix_client(os.path.join(tmp, "client.sock"))
        u.sendto(b"hello", path)
        eq(u.recvfrom(100), (b"hello", path))
        d.wait_listening(1)
        eq(d.addrs["devlog"], ("unix_dgram", path))
        eq(d.stop(), 0)
        # Adopted sockets are never unlinked: the file belongs to systemd.
        check(os.path.exists(path), "the passed socket's file is left in place")


def test_mixed_mode():
    if ACTIVATE is None:
        return "skip"
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    port = free_port()
    upath = os.path.join(tmp, "act.sock")
    conf = """
sockets = (
  { name = "own"; type = "udp4"; address = "127.0.0.1"; port = 0;
    handlers = ( { type = "echo"; } ); },
  { name = "act"; type = "udp4"; address = "127.0.0.1"; port = %d;
    handlers = ( { type = "echo"; } ); },
  { name = "actu"; type = "unix_dgram"; path = "%s";
    handlers = ( { type = "echo"; } ); },
  { name = "ownu"; type = "unix_dgram"; path = "%s/own.sock";
    handlers = ( { type = "echo"; } ); }
);
""" % (port, upath, tmp)
    d = activated(conf, tmp, ["127.0.0.1:%d" % port, upath], ["act", "actu"])
    with d:
        c = udp_client()
        c.sendto(b"a", ("127.0.0.1", port))
        eq(c.recvfrom(10)[0], b"a")
        d.wait_listening(4)
        c.sendto(b"o", d.udp("own"))
        eq(c.recvfrom(10)[0], b"o")
        u = unix_client(os.path.join(tmp, "client.sock"))
        for name in ("actu", "ownu"):
            u.sendto(name.encode(), d.path(name))
            eq(u.recvfrom(10)[0], name.encode())
        eq(d.stop(), 0)
        check(os.path.exists(upath), "passed unix socket kept")
        check(not os.path.exists(os.path.join(tmp, "own.sock")), "own unix socket removed")


def expect_config_error(conf, tmp, listen, names, needle, datagram=True):
    d = activated(conf, tmp, listen, names, datagram)
    with d:
        if not datagram:
            host, port = listen[0].rsplit(":", 1)
            c = socket.create_connection((host, int(port)))
            listen = [None]
        elif listen[0].startswith("/"):
            c = unix_client()
        else:
            c = udp_client()
            host, port = listen[0].rsplit(":", 1)
            listen = [(host, int(port))]
        if listen[0] is not None:
            c.sendto(b"start", listen[0])
        rc = d.proc.wait(dgtest.TIMEOUT)
        eq(rc, 78, "exit code")
        d.wait_line(needle)
        check(not any(" listening " in l for l in d.lines), "nothing listening")


def test_unmatched_name_is_config_error():
    if ACTIVATE is None:
        return "skip"
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    port = free_port()
    conf = """
sockets = (
  { name = "relay"; type = "udp4"; address = "127.0.0.1"; port = 0;
    handlers = ( { type = "echo"; } ); },
  { name = "u"; type = "unix_dgram"; path = "%s/u.sock"; handlers = ( { type = "echo"; } ); }
);
""" % tmp
    expect_config_error(conf, tmp, ["127.0.0.1:%d" % port], ["bogus"],
                        r'dgramd: .*dgramd\.conf: systemd passed socket "bogus" \(fd 3\), '
                        r'but no socket of that name is configured')
    check(not os.path.exists(os.path.join(tmp, "u.sock")), "nothing created on disk")


def test_wrong_type_is_config_error():
    if ACTIVATE is None:
        return "skip"
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    port = free_port()
    conf = """
sockets = ( { name = "relay"; type = "udp6"; address = "::1"; port = %d;
              handlers = ( { type = "echo"; } ); } );
""" % port
    expect_config_error(conf, tmp, ["127.0.0.1:%d" % port], ["relay"],
                        r"relay: socket passed by systemd \(fd 3\) does not match the config: "
                        r"it is udp4 127\.0\.0\.1:%d, the config declares udp6 \[::1\]:%d"
                        % (port, port))


def test_wrong_port_or_address_is_config_error():
    if ACTIVATE is None:
        return "skip"
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    port, other = free_port(), free_port()
    conf = """
sockets = ( { name = "relay"; type = "udp4"; address = "127.0.0.1"; port = %d;
              handlers = ( { type = "echo"; } ); } );
""" % port
    expect_config_error(conf, tmp, ["127.0.0.1:%d" % other], ["relay"],
                        r"relay: socket passed by systemd \(fd 3\) does not match the config: "
                        r"it is udp4 127\.0\.0\.1:%d, the config declares udp4 127\.0\.0\.1:%d"
                        % (other, port))
    conf = """
sockets = ( { name = "relay"; type = "udp4"; address = "127.0.0.2"; port = 0;
              handlers = ( { type = "echo"; } ); } );
"""
    expect_config_error(conf, tmp, ["127.0.0.1:%d" % other], ["relay"],
                        r"relay: socket passed by systemd \(fd 3\) does not match the config")


def test_stream_socket_is_config_error():
    if ACTIVATE is None:
        return "skip"
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    port = free_port()
    conf = """
sockets = ( { name = "relay"; type = "udp4"; address = "127.0.0.1"; port = %d;
              handlers = ( { type = "echo"; } ); } );
""" % port
    expect_config_error(conf, tmp, ["127.0.0.1:%d" % port], ["relay"],
                        r"relay: socket passed by systemd \(fd 3\) does not match the config: "
                        r"it is a stream socket", datagram=False)


def test_wrong_path_is_config_error():
    if ACTIVATE is None:
        return "skip"
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    conf = """
sockets = ( { name = "devlog"; type = "unix_dgram"; path = "%s/declared.sock";
              handlers = ( { type = "echo"; } ); } );
""" % tmp
    expect_config_error(conf, tmp, [os.path.join(tmp, "other.sock")], ["devlog"],
                        r"devlog: socket passed by systemd \(fd 3\) does not match the config")
    check(not os.path.exists(os.path.join(tmp, "declared.sock")), "nothing bound")


def test_listen_pid_of_another_process_is_ignored():
    tmp = tempfile.mkdtemp(prefix="dgramd-test-")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    conf = """
sockets = ( { name = "relay"; type = "udp4"; address = "127.0.0.1"; port = 0;
              handlers = ( { type = "echo"; } ); } );
"""
    e = {"SD_LISTEN_TEST_FDS": str(s.fileno()), "SD_LISTEN_TEST_EXEC": dgtest.DGRAMD,
         "SD_LISTEN_TEST_PID": "1", "LISTEN_FDNAMES": "bogus"}
    saved = dgtest.DGRAMD
    dgtest.DGRAMD = os.path.join(HERE, "sd_listen.py")
    try:
        d = Dgramd(conf, tmpdir=tmp, env=e, pass_fds=[s.fileno()])
    finally:
        dgtest.DGRAMD = saved
    with d:
        # Not for us: dgramd binds its own socket and "bogus" is no error.
        check(d.udp("relay") != s.getsockname(), "bound its own socket")
        c = udp_client()
        c.sendto(b"x", d.udp("relay"))
        eq(c.recvfrom(10)[0], b"x")
        eq(d.stop(), 0)
    s.close()


if __name__ == "__main__":
    main(globals())
