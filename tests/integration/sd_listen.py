#!/usr/bin/python3
"""Passes sockets the way systemd does, for the systemd tests.

    sd_listen.py PROGRAM ARGS...

with SD_LISTEN_TEST_FDS="7,9" in the environment (fds this process
inherited) and LISTEN_FDNAMES set: moves those fds to 3, 4, ..., sets
LISTEN_FDS and LISTEN_PID (this very process, which then execs PROGRAM)
and execs PROGRAM. The program to run is SD_LISTEN_TEST_EXEC.
"""
import fcntl
import os
import sys

fds = [int(x) for x in os.environ.pop("SD_LISTEN_TEST_FDS", "").split(",") if x]
prog = os.environ.pop("SD_LISTEN_TEST_EXEC")
high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in fds]
for fd in fds:
    os.close(fd)
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i, inheritable=True)
    os.close(fd)
os.environ["LISTEN_FDS"] = str(len(fds))
os.environ["LISTEN_PID"] = os.environ.pop("SD_LISTEN_TEST_PID", str(os.getpid()))
os.execv(prog, [prog] + sys.argv[1:])
