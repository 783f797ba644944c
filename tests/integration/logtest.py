"""Helpers for the log handler's integration tests (t_log*.py)."""
import os
import re
import select
import tempfile
import time

from dgtest import TIMEOUT


def _pause(seconds):
    select.select([], [], [], max(0.0, seconds))


# The syslog-reading tests also run under libfaketime (FAKETIME set,
# FAKETIME_DONT_FAKE_MONOTONIC=1) to check day-of-month handling; there
# python's time.sleep(), an absolute clock_nanosleep() on CLOCK_MONOTONIC,
# fails with EINVAL. A relative select() timeout is not faked: use it then.
try:
    time.sleep(0.001)
except OSError:
    time.sleep = _pause


def tmpdir():
    return tempfile.mkdtemp(prefix="dgramd-test-")


def udp_sock(name="in", handlers=""):
    return ('{ name = "%s"; type = "udp4"; address = "127.0.0.1"; port = 0; '
            'handlers = ( %s ); }' % (name, handlers))


def unix_sock(path, name="dev", handlers=""):
    return ('{ name = "%s"; type = "unix_dgram"; path = "%s"; mode = "0666"; '
            'handlers = ( %s ); }' % (name, path, handlers))


def log(file, fmt="syslog", extra=""):
    return '{ type = "log"; file = "%s"; format = "%s"; %s }' % (file, fmt, extra)


def conf(*socks):
    return "sockets = (\n  %s\n);\n" % ",\n  ".join(socks)


def read_lines(path, partial=False):
    """The complete lines of path (bytes, without the newline); [] if absent.
    A last line without its newline is an error, unless partial is true
    (the file is being written now): then it is left out."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    if lines[-1] != b"" and not partial:
        raise AssertionError("%s ends with a partial line: %r" % (path, lines[-1][:200]))
    return lines[:-1]


# A syslog-format line: an RFC 3164 time stamp ("Dec  1 22:41:02": the day is
# padded with a space, so never count spaces), the host, then the rest.
SYSLOG_LINE = re.compile(rb"^([A-Z][a-z]{2} [ 1-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9]) (\S+) (.*)$",
                         re.S)


def syslog_fields(line):
    """(time stamp, host, tag and message) of a syslog-format line (bytes)."""
    m = SYSLOG_LINE.match(line)
    if not m:
        raise AssertionError("not a syslog-format line: %r" % line[:200])
    return m.group(1), m.group(2), m.group(3)


def wait_lines(path, n, timeout=TIMEOUT):
    """Polls path until it holds at least n lines; returns them (may be fewer on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = read_lines(path)
        if len(lines) >= n or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def wait_out(d, n, timeout=TIMEOUT):
    """Waits until dgramd's stdout has n lines; returns them."""
    deadline = time.monotonic() + timeout
    while len(d.out_lines) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    return list(d.out_lines)


def path_in(tmp, name):
    return os.path.join(tmp, name)
