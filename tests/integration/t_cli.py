"""The command line and the life cycle: -h, -V, usage errors (64), -t (0 or
78), config errors naming file:line with nothing created on disk (78), a
stale socket file replaced, a non-socket at the path refused and left
untouched (71), a port in use (71), SIGTERM and SIGINT exiting 0 and
removing the socket files dgramd created."""
import os
import signal
import socket
import tempfile
import time

from dgtest import Dgramd, check, eq, main, run_dgramd, unix_client


def tmpdir():
    return tempfile.mkdtemp(prefix="dgramd-test-")


def unix_conf(path, name="u"):
    return """sockets = ( { name = "%s"; type = "unix_dgram"; path = "%s";
  handlers = ( { type = "echo"; } ); } );
""" % (name, path)


def test_help_and_version():
    rc, out, err = run_dgramd(["-h"])
    eq(rc, 0)
    check("usage: dgramd" in out and "--config" in out, out)
    rc, out, err = run_dgramd(["--version"])
    eq(rc, 0)
    check(out.startswith("dgramd "), out)


def test_usage_errors_exit_64():
    for args in (["-x"], ["--bogus"], ["-c"], ["extra-arg"]):
        rc, out, err = run_dgramd(args)
        eq(rc, 64, "dgramd %s" % " ".join(args))
        check("usage:" in err, err)


def test_check_mode_ok_and_error():
    t = tmpdir()
    good = os.path.join(t, "good.conf")
    with open(good, "w") as f:
        f.write(unix_conf(t + "/never.sock"))
    rc, out, err = run_dgramd(["-t", "-c", good])
    eq(rc, 0, err)
    # As dgramd(8) says: "dgramd: FILE: configuration OK (1 socket)".
    check("dgramd: %s: configuration OK (1 socket)\n" % good in err, err)
    check(not os.path.exists(t + "/never.sock"), "-t binds nothing")
    bad = os.path.join(t, "bad.conf")
    with open(bad, "w") as f:
        f.write('sockets = (\n  { name = "a"; type = "udp4"; port = 0;\n'
                '    ttl = 300; handlers = ( { type = "echo"; } ); }\n);\n')
    rc, out, err = run_dgramd(["--test", "--config", bad])
    eq(rc, 78)
    eq(err.strip(), "dgramd: %s:3: sockets.[0].ttl: must be 1..255, got 300" % bad)
    # Issue 14: an integer wider than 32 bits is refused, as written.
    with open(bad, "w") as f:
        f.write('sockets = (\n  { name = "a"; type = "udp4";\n    port = 4294974796;'
                ' handlers = ( { type = "echo"; } ); }\n);\n')
    rc, out, err = run_dgramd(["-t", "-c", bad])
    eq(rc, 78)
    eq(err.strip(), "dgramd: %s:3: sockets.[0].port: out of range (got 4294974796)" % bad)


def test_config_error_creates_nothing():
    t = tmpdir()
    conf = os.path.join(t, "c.conf")
    with open(conf, "w") as f:
        f.write('sockets = (\n'
                '  { name = "ok"; type = "unix_dgram"; path = "%s/first.sock";\n'
                '    handlers = ( { type = "echo"; } ); },\n'
                '  { name = "bad"; type = "unix_dgram"; path = "%s/second.sock";\n'
                '    mode = "rw"; handlers = ( { type = "echo"; } ); }\n);\n' % (t, t))
    rc, out, err = run_dgramd(["-c", conf])
    eq(rc, 78)
    check("%s:5: sockets.[1].mode: must be an octal mode" % conf in err, err)
    eq(sorted(os.listdir(t)), ["c.conf"], "nothing created on disk")


def test_syntax_error_names_line():
    t = tmpdir()
    conf = os.path.join(t, "c.conf")
    with open(conf, "w") as f:
        f.write('log_level = "info";\nsockets = (\n  { name = "a"; type = = "udp4"; }\n);\n')
    rc, out, err = run_dgramd(["-c", conf])
    eq(rc, 78)
    check("%s:3: syntax error" % conf in err, err)


def test_missing_config_file():
    rc, out, err = run_dgramd(["-c", "/nonexistent/dgramd.conf"])
    eq(rc, 78)
    check("/nonexistent/dgramd.conf: cannot read" in err, err)


def test_sigterm_and_sigint_remove_socket_files():
    for sig in (signal.SIGTERM, signal.SIGINT):
        t = tmpdir()
        d = Dgramd(unix_conf(t + "/s.sock"), tmpdir=t)
        with d:
            check(os.path.exists(t + "/s.sock"))
            eq(d.stop(sig), 0)
            check(not os.path.exists(t + "/s.sock"), "socket file removed")


def doubled_stop_conf(t, extra):
    socks = ['{ name = "in"; type = "unix_dgram"; path = "%s/in.sock"; handlers = ( '
             '{ type = "log"; file = "%s/in.log"; format = "raw"; } ); }' % (t, t)]
    # More sockets make the stop (close, unlink) take long enough for the
    # second signal to arrive while dgramd is still stopping.
    socks += ['{ name = "e%d"; type = "unix_dgram"; path = "%s/e%d.sock"; '
              'handlers = ( { type = "echo"; } ); }' % (i, t, i) for i in range(extra)]
    return "sockets = (\n  %s\n);\n" % ",\n  ".join(socks)


def test_doubled_stop_signal_exits_0_and_loses_nothing():
    """A second stop signal while dgramd is stopping (flushing its log
    buffer, closing sockets) changes nothing: exit 0, every line that was
    received written whole, the socket files removed."""
    for first, second in ((signal.SIGTERM, signal.SIGTERM), (signal.SIGINT, signal.SIGTERM)):
        for _ in range(5):
            t = tmpdir()
            d = Dgramd(doubled_stop_conf(t, 60), tmpdir=t)
            with d:
                c = unix_client()
                c.settimeout(10.0)
                n = 2000
                for i in range(n):
                    c.sendto(b"%06d " % i + b"x" * 500, t + "/in.sock")
                d.wait_stat("in", "received", n)
                # A last burst is still being read and logged when the signals come.
                for i in range(n, n + 500):
                    c.sendto(b"%06d " % i + b"x" * 500, t + "/in.sock")
                d.send_signal(first)
                time.sleep(0.001)
                d.send_signal(second)
                try:
                    rc = d.proc.wait(10)
                except Exception:
                    raise AssertionError("dgramd did not stop")
                eq(rc, 0, "exit status after %s then %s" % (first.name, second.name))
                with open(t + "/in.log", "rb") as f:
                    data = f.read()
                check(data.endswith(b"\n"), "the log ends with a whole line")
                seqs = [int(l.split(b" ")[2]) for l in data.split(b"\n")[:-1]]
                check(len(seqs) >= n, "every received line written: %d < %d" % (len(seqs), n))
                eq(seqs, list(range(len(seqs))), "lines in order, none missing")
                left = [f for f in os.listdir(t) if f.endswith(".sock")]
                eq(left, [], "socket files removed")


def test_stale_socket_replaced():
    t = tmpdir()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(t + "/s.sock")
    stale.close()          # the file stays, nobody listens: stale
    check(os.path.exists(t + "/s.sock"))
    d = Dgramd(unix_conf(t + "/s.sock"), tmpdir=t)
    with d:
        c = unix_client(t + "/c.sock")
        c.sendto(b"ping", t + "/s.sock")
        eq(c.recvfrom(100)[0], b"ping")
        eq(d.stop(), 0)


def test_live_socket_not_stolen():
    t = tmpdir()
    live = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    live.bind(t + "/s.sock")
    with open(t + "/c.conf", "w") as f:
        f.write(unix_conf(t + "/s.sock"))
    rc, out, err = run_dgramd(["-c", t + "/c.conf"])
    eq(rc, 71)
    check("%s is in use: another process receives on it" % (t + "/s.sock") in err, err)
    check(os.path.exists(t + "/s.sock"), "the live socket keeps its file")
    live.close()


def test_regular_file_refused_and_untouched():
    for kind in ("file", "dir"):
        t = tmpdir()
        p = t + "/s.sock"
        if kind == "file":
            with open(p, "w") as f:
                f.write("precious\n")
        else:
            os.mkdir(p)
        with open(t + "/c.conf", "w") as f:
            f.write(unix_conf(p))
        rc, out, err = run_dgramd(["-c", t + "/c.conf"])
        eq(rc, 71)
        check("%s exists and is not a socket" % p in err, err)
        if kind == "file":
            eq(open(p).read(), "precious\n")
        else:
            check(os.path.isdir(p))


def test_port_in_use_exits_71_and_unbinds_others():
    t = tmpdir()
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    with open(t + "/c.conf", "w") as f:
        f.write('sockets = (\n'
                '  { name = "u"; type = "unix_dgram"; path = "%s/u.sock";\n'
                '    handlers = ( { type = "echo"; } ); },\n'
                '  { name = "busy"; type = "udp4"; address = "127.0.0.1"; port = %d;\n'
                '    handlers = ( { type = "echo"; } ); }\n);\n' % (t, port))
    rc, out, err = run_dgramd(["-c", t + "/c.conf"])
    eq(rc, 71)
    check("busy: bind 127.0.0.1:%d: Address already in use" % port in err, err)
    check(not os.path.exists(t + "/u.sock"), "the socket bound before is removed")


def test_abstract_socket():
    name = "@dgramd-test-%d" % os.getpid()
    d = Dgramd(unix_conf(name))
    with d:
        eq(d.path("u"), name)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        c.bind("\0dgramd-test-client-%d" % os.getpid())
        c.settimeout(2)
        c.sendto(b"abstract", "\0" + name[1:])
        eq(c.recvfrom(100)[0], b"abstract")
        eq(d.stop(), 0)


def test_journal_stream_priority_prefixes():
    t = tmpdir()
    conf = os.path.join(t, "c.conf")
    with open(conf, "w") as f:
        f.write(unix_conf(t + "/never.sock"))
    log = os.path.join(t, "stderr.log")
    for match in (True, False):
        with open(log, "w") as f:
            st = os.fstat(f.fileno())
            js = "%d:%d" % (st.st_dev, st.st_ino if match else st.st_ino + 1)
            env = dict(os.environ, JOURNAL_STREAM=js)
            import subprocess
            from dgtest import DGRAMD
            p = subprocess.run([DGRAMD, "-t", "-c", conf], stderr=f, env=env)
        eq(p.returncode, 0)
        text = open(log).read()
        if match:
            check(text.startswith("<6>dgramd: "), "stderr is the journal: %r" % text)
        else:
            check(text.startswith("dgramd: "), "an inherited JOURNAL_STREAM: %r" % text)


if __name__ == "__main__":
    main(globals())
