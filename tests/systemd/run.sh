#!/bin/bash
# make check-systemd: the shipped units under a real systemd.
#
# Boots systemd as PID 1 of a systemd-nspawn container (private network: only
# lo) on a bare Debian 12 root, installs dgramd into it with
# "make install PREFIX=/usr", and runs the operator's scenarios with systemctl
# and journalctl inside it, as README.md ("Running under systemd") describes
# them. One "ok NAME" / "not ok NAME" / "skip NAME (reason)" line per
# scenario, then "N passed, N failed"; exits non-zero when anything failed.
#
# The root (debootstrap --variant=minbase bookworm, from the mirror the host's
# apt uses) is built once and kept in $DGRAMD_NSPAWN_CACHE (default
# /var/tmp/dgramd-check-systemd); each run boots a copy-on-write overlay of it
# that is thrown away afterwards. Needs root, systemd-nspawn (systemd-container),
# debootstrap, nsenter and a cgroup2 hierarchy; without them every scenario is
# skipped, never passed.
set -u
cd "$(dirname "$0")/../.." || exit 1
SRC=$PWD

SCENARIOS=(start nonroot-log reload-add reload-broken restart-no-loss watchdog logrotate
	template exit71-no-restart activation-switch activation-first stop-reboot activation-off
	journal-scan)
CACHE=${DGRAMD_NSPAWN_CACHE:-/var/tmp/dgramd-check-systemd}
SUITE=bookworm
# What the scenarios use inside: systemd, dgramd's libraries, python3 (the
# client), logrotate, procps (pgrep), iproute2 (ss); logger and setpriv are in
# the essential util-linux/bsdutils.
INCLUDE=systemd,libconfig9,python3,socat,logrotate,procps,iproute2
ROOT_KEY=$(printf '%s %s v1' "$SUITE" "$INCLUDE" | md5sum | cut -c1-12)
CACHED_ROOT=$CACHE/$SUITE-$ROOT_KEY
MACHINE=dgramd-check-$$
T0=$(date +%s)

passed=0
failed=0
skipped=0
failures=()

ok() { echo "ok $1"; passed=$((passed + 1)); }
notok() { echo "not ok $1${2:+ ($2)}"; failed=$((failed + 1)); failures+=("$1"); }
skip() { echo "skip $1 ($2)"; skipped=$((skipped + 1)); }

finish() {
	echo
	[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
	echo "# check-systemd took $(($(date +%s) - T0)) s"
	[ "$skipped" -gt 0 ] && echo "($skipped skipped)"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

skip_all() {
	local s
	for s in "${SCENARIOS[@]}"; do skip "$s" "$1"; done
	finish
}

# --- can a container boot here? ---------------------------------------------

[ "$(id -u)" = 0 ] || skip_all "needs root to boot a container"
for tool in systemd-nspawn debootstrap nsenter mount; do
	command -v "$tool" >/dev/null || skip_all "$tool missing (make deps)"
done
CG_DIRS=()
HOST_SYSTEMD=0
if [ -d /run/systemd/system ]; then
	# The host runs systemd: let it make a delegated scope for nspawn.
	HOST_SYSTEMD=1
	command -v systemd-run >/dev/null || skip_all "systemd-run missing"
elif [ -e /sys/fs/cgroup/cgroup.controllers ]; then
	CG_DIRS=(/sys/fs/cgroup)                        # cgroup2 only
elif [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
	CG_DIRS=(/sys/fs/cgroup/unified)                # hybrid: cgroup2 + name=systemd
	[ -d /sys/fs/cgroup/systemd ] && CG_DIRS+=(/sys/fs/cgroup/systemd)
else
	skip_all "no cgroup2 hierarchy mounted"
fi
for d in "${CG_DIRS[@]}"; do
	# A read-only or foreign cgroup tree (an unprivileged container) cannot host one.
	mkdir "$d/$MACHINE-probe" 2>/dev/null && rmdir "$d/$MACHINE-probe" ||
		skip_all "cannot create a cgroup under $d"
done
dgramd_bin=$SRC/dgramd
[ -x "$dgramd_bin" ] || { notok build "no ./dgramd: run make first"; finish; }

# --- the cached root ----------------------------------------------------------

mirror() {
	# The Debian archive the host's apt uses (deb822 or one-line sources).
	local m
	[ -n "${DEBIAN_MIRROR:-}" ] && { echo "$DEBIAN_MIRROR"; return; }
	m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
		/^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") print u }' |
		head -1)
	[ -z "$m" ] && m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" && $3 == "bookworm" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' | head -1)
	echo "${m:-http://deb.debian.org/debian}"
}

build_root() {
	local tmp log mirror rc
	mkdir -p "$CACHE"
	tmp=$CACHE/build.$$
	log=$CACHE/debootstrap.log
	mirror=$(mirror)
	rm -rf "$tmp"
	echo "# building the container root once: debootstrap --variant=minbase $SUITE from $mirror (log: $log)"
	timeout 2400 debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp" "$mirror" >"$log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		notok root "debootstrap $SUITE from $mirror failed with exit $rc; last lines of $log:"
		tail -n 15 "$log" | sed 's/^/#   /'
		rm -rf "$tmp"
		return 1
	fi
	# Only lo inside: no resolver off this host, a name of its own.
	echo "nameserver 127.0.0.1" >"$tmp/etc/resolv.conf"
	echo "dgramd-test" >"$tmp/etc/hostname"
	mkdir -p "$tmp/var/log/journal"                 # a journal that survives the reboot
	chroot "$tmp" apt-get clean >/dev/null 2>&1
	mv "$tmp" "$CACHED_ROOT"
	rm -rf "$CACHE"/build.* 2>/dev/null
	echo "# root ready in $(($(date +%s) - T0)) s"
}

exec 9>"$(mkdir -p "$CACHE" && echo "$CACHE/lock")"
flock -w 3000 9 || { notok root "another run holds $CACHE/lock"; finish; }
if [ ! -x "$CACHED_ROOT/usr/lib/systemd/systemd" ]; then
	build_root || finish
fi

# --- the container ------------------------------------------------------------

RUN=$(mktemp -d /var/tmp/dgramd-check-systemd-run.XXXXXX)
ROOT=$RUN/root
NSPAWN_PID=
LEADER=
BOOTS=0
OVERLAY=0

remove_cgroups() {
	local d cg
	for d in "${CG_DIRS[@]}"; do
		for cg in "$d"/"$MACHINE"-*; do
			[ -d "$cg" ] || continue
			[ -e "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill" 2>/dev/null
			find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
	done
}

stop_container() {
	# Power off (or, failing that, kill) the container started here.
	[ -n "$NSPAWN_PID" ] || return 0
	if kill -0 "$NSPAWN_PID" 2>/dev/null; then
		[ -n "$LEADER" ] && timeout 20 nsenter -t "$LEADER" -a systemctl poweroff >/dev/null 2>&1
		for _ in $(seq 1 300); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
		kill -TERM "$NSPAWN_PID" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$NSPAWN_PID" 2>/dev/null
	fi
	wait "$NSPAWN_PID" 2>/dev/null
	NSPAWN_PID=
	LEADER=
}

cleanup() {
	stop_container
	remove_cgroups
	rm -rf "/run/systemd/nspawn/propagate/$MACHINE" 2>/dev/null
	if [ "$OVERLAY" = 1 ]; then
		umount "$ROOT" 2>/dev/null || umount -l "$ROOT"
	fi
	rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

prepare_root() {
	mkdir -p "$RUN/upper" "$RUN/work" "$ROOT"
	if mount -t overlay overlay \
	    -o "lowerdir=$CACHED_ROOT,upperdir=$RUN/upper,workdir=$RUN/work" "$ROOT" 2>/dev/null; then
		OVERLAY=1
	else
		cp -a "$CACHED_ROOT/." "$ROOT/"
	fi
}

# boot: starts the container and waits for its systemd; sets NSPAWN_PID, LEADER.
boot() {
	local cg state
	BOOTS=$((BOOTS + 1))
	cg=$MACHINE-$BOOTS
	for d in "${CG_DIRS[@]}"; do mkdir -p "$d/$cg"; done
	(
		for d in "${CG_DIRS[@]}"; do echo "$BASHPID" >"$d/$cg/cgroup.procs"; done
		set -- systemd-nspawn --boot --directory="$ROOT" --machine="$MACHINE" \
		    --private-network --register=no --keep-unit --resolv-conf=off \
		    --timezone=off --link-journal=no --console=pipe
		[ "$HOST_SYSTEMD" = 1 ] && set -- systemd-run --quiet --scope -p Delegate=yes \
		    --unit="$cg" "$@"
		export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1
		exec "$@"
	) </dev/null >>"$RUN/nspawn.log" 2>&1 &
	NSPAWN_PID=$!
	LEADER=
	for _ in $(seq 1 300); do
		LEADER=$(pgrep -P "$NSPAWN_PID" -x systemd | head -1)
		[ -n "$LEADER" ] && break
		kill -0 "$NSPAWN_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$LEADER" ]; then
		echo "# no systemd in the container; systemd-nspawn said:"
		tail -n 15 "$RUN/nspawn.log" | sed 's/^/#   /'
		return 1
	fi
	# systemctl talks to systemd over /run/systemd/private, there from early on.
	wait_until 60 ins systemctl show -P Version || echo "# systemctl cannot reach systemd"
	state=$(ins timeout 90 systemctl is-system-running --wait)
	echo "# booted ($state) in the container $MACHINE, systemd pid $LEADER on the host"
	case "$state" in
	running) return 0 ;;
	degraded) ins systemctl --failed --no-legend | sed 's/^/#   failed: /'; return 0 ;;
	*) return 1 ;;
	esac
}

# ins CMD...: runs CMD inside the container (all its namespaces), as root,
# with a clean environment.
ins() {
	timeout -k 5 120 nsenter -t "$LEADER" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 SYSTEMD_LOG_COLOR=0 "$@"
}

# nobody CMD...: as the unprivileged user nobody, no supplementary groups.
nobody() {
	ins setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

client() {
	ins python3 /usr/local/lib/dgramd-check/client.py "$@"
}

# wait_until SECONDS CMD...: polls CMD until it succeeds, at most SECONDS.
wait_until() {
	local end=$(($(date +%s) + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

mainpid() { ins systemctl show -P MainPID dgramd.service; }

# journal_of PID: the lines dgramd wrote in the journal as process PID.
journal_of() { ins journalctl --no-pager -o cat "_PID=$1"; }
journal_has() { journal_of "$1" | grep -F -- "$2" >/dev/null; }

# Scenarios run in a subshell: fail ends the scenario.
fail() { echo "$*"; exit 1; }

# --- configurations written as the operator would ------------------------------

ECHO_CONF='# /etc/dgramd/dgramd.conf: the shipped local log socket, and an echo service.
sockets = (
  { name = "devlog"; type = "unix_dgram"; path = "/run/dgramd/log"; mode = "0666";
    handlers = ( { type = "log"; file = "/var/log/dgramd/messages.log"; format = "syslog"; } ); },
  { name = "echo"; type = "udp4"; address = "127.0.0.1"; port = 7007;
    handlers = ( { type = "echo"; } ); }
);'

put() { # put PATH TEXT: writes a file into the container
	mkdir -p "$(dirname "$ROOT$1")"
	printf '%s\n' "$2" >"$ROOT$1"
}

# nonroot_logs TAG: a line logged by nobody through /run/dgramd/log lands in
# /var/log/dgramd/messages.log.
nonroot_logs() {
	local msg="$1 from nobody $RANDOM"
	nobody logger -u /run/dgramd/log -t nonroot "$msg" || fail "logger as nobody failed"
	wait_until 10 ins grep -qF "$msg" /var/log/dgramd/messages.log ||
		fail "\"$msg\" not in /var/log/dgramd/messages.log"
}

# --- scenarios ------------------------------------------------------------------

sc_start() {
	# README: make install PREFIX=/usr (here staged into the container's root,
	# so systemd-sysusers is run there), daemon-reload, enable --now.
	make -s -C "$SRC" install PREFIX=/usr DESTDIR="$ROOT" || fail "make install failed"
	chroot "$ROOT" /usr/sbin/dgramd -V || fail "the installed dgramd does not run in the container"
	mkdir -p "$ROOT/usr/local/lib/dgramd-check"
	cp "$SRC/tests/systemd/client.py" "$ROOT/usr/local/lib/dgramd-check/"
	ins systemd-sysusers || fail "systemd-sysusers failed"
	ins getent passwd dgramd || fail "no user dgramd"
	ins systemctl daemon-reload || fail "daemon-reload failed"
	ins systemctl enable --now dgramd || fail "systemctl enable --now dgramd failed"
	local st
	st=$(ins systemctl status --no-pager dgramd)
	echo "$st"
	grep -q "Active: active (running)" <<<"$st" || fail "not active (running)"
	grep -qE 'Status: "1 sockets, [0-9]+ datagrams received, [0-9]+ dropped or failed"' <<<"$st" ||
		fail "no STATUS= summary in systemctl status"
	journal_has "$(mainpid)" "listening devlog unix_dgram /run/dgramd/log" || fail "no listening line"
	# The exposure of the loaded unit, as README.md says: 2.5 or below.
	local exp
	exp=$(ins systemd-analyze security --no-pager dgramd | grep "Overall exposure level")
	echo "$exp"
	awk '{ exit !($(NF-2) + 0 > 0 && $(NF-2) + 0 <= 2.5) }' <<<"$exp" || fail "exposure above 2.5"
}

sc_nonroot_log() {
	local mode
	ins test ! -L /run/dgramd || fail "/run/dgramd is a symlink: $(ins readlink /run/dgramd)"
	mode=$(ins stat -c '%a %U' /run/dgramd /run/dgramd/log)
	echo "$mode"
	grep -qx "755 dgramd" <<<"$(head -1 <<<"$mode")" || fail "/run/dgramd is not 0755 dgramd"
	nonroot_logs "first"
	# Still after a restart (no migration to /run/private).
	ins systemctl restart dgramd || fail "restart failed"
	ins test ! -L /run/dgramd || fail "/run/dgramd became a symlink after a restart"
	nonroot_logs "after restart"
}

sc_reload_add() {
	local pid
	pid=$(mainpid)
	put /etc/dgramd/dgramd.conf "$ECHO_CONF"
	ins dgramd -t -c /etc/dgramd/dgramd.conf || fail "dgramd -t rejects the new file"
	ins systemctl reload dgramd || fail "systemctl reload failed"
	client echo 7007 || fail "the new listener does not answer right after the reload"
	[ "$(mainpid)" = "$pid" ] || fail "the main pid changed: $pid -> $(mainpid)"
	journal_has "$pid" "listening echo udp4 127.0.0.1:7007" || fail "no listening line for echo"
	nonroot_logs "after reload"
}

sc_reload_broken() {
	local pid rc
	pid=$(mainpid)
	put /etc/dgramd/dgramd.conf 'sockets = ( { name = "x"; type = "udp9"; } );'
	ins systemctl reload dgramd
	rc=$?
	[ "$rc" -ne 0 ] || fail "systemctl reload succeeded with a broken file"
	ins journalctl --no-pager -u dgramd -n 5 -o cat
	ins journalctl --no-pager -u dgramd -o cat | grep 'must be udp4 | udp6 | unix_dgram, got "udp9"' >/dev/null ||
		fail "the error is not in the journal"
	[ "$(ins systemctl is-active dgramd)" = active ] || fail "not active after the failed reload"
	[ "$(mainpid)" = "$pid" ] || fail "the main pid changed"
	client echo 7007 || fail "the old echo socket stopped serving"
	nonroot_logs "after broken reload"
	put /etc/dgramd/dgramd.conf "$ECHO_CONF"
	ins systemctl reload dgramd || fail "reload of the repaired file failed"
}

sc_restart_no_loss() {
	local pid new bg
	pid=$(mainpid)
	ins rm -f /tmp/stream.mark
	client stream 7007 3000 /tmp/stream.mark 300 >"$RUN/stream.txt" 2>&1 &
	bg=$!
	wait_until 30 ins test -e /tmp/stream.mark || { wait "$bg"; fail "the stream did not start"; }
	ins systemctl restart dgramd || fail "systemctl restart failed"
	wait "$bg"
	local rc=$?
	cat "$RUN/stream.txt"
	[ "$rc" -eq 0 ] || fail "datagrams lost across the restart"
	new=$(mainpid)
	[ "$new" != "$pid" ] || fail "not restarted"
	journal_has "$new" "echo: taken back from systemd's fd store" || fail "echo not taken back"
}

sc_watchdog() {
	local pid new
	put /etc/systemd/system/dgramd.service.d/watchdog.conf $'[Service]\nWatchdogSec=2s'
	ins systemctl daemon-reload && ins systemctl restart dgramd || fail "restart failed"
	pid=$(mainpid)
	ins kill -STOP "$pid" || fail "cannot stop $pid"
	wait_until 30 sh -c "[ \"\$(nsenter -t $LEADER -a systemctl show -P MainPID dgramd)\" != $pid ] &&
		nsenter -t $LEADER -a systemctl is-active -q dgramd" || fail "not killed and restarted"
	new=$(mainpid)
	ins journalctl --no-pager -u dgramd -o cat | grep -E "Watchdog timeout|watchdog" | tail -3
	ins journalctl --no-pager -u dgramd -o cat | grep "Watchdog timeout" >/dev/null ||
		fail "no watchdog timeout in the journal"
	client echo 7007 || fail "echo does not answer after the watchdog restart"
	journal_has "$new" "echo: taken back from systemd's fd store" || fail "echo not taken back"
	rm -rf "$ROOT/etc/systemd/system/dgramd.service.d"
	ins systemctl daemon-reload && ins systemctl restart dgramd || fail "restart failed"
}

sc_logrotate() {
	# 20000 lines from nobody; logrotate runs after the first 5000, and the
	# last 5000 are sent once it has finished: every line must be in
	# messages.log or the rotated file, exactly once.
	local bg rc count="python3 /usr/local/lib/dgramd-check/client.py countlog lrtest 20000"
	ins rm -f /tmp/log.mark /tmp/log.rotated
	nobody python3 /usr/local/lib/dgramd-check/client.py loglines /run/dgramd/log lrtest 20000 \
	    /tmp/log.mark 5000 /tmp/log.rotated 5000 >"$RUN/loglines.txt" 2>&1 &
	bg=$!
	wait_until 30 ins test -e /tmp/log.mark || { wait "$bg"; cat "$RUN/loglines.txt"; fail "the load did not start"; }
	ins logrotate -v -f /etc/logrotate.d/dgramd >"$RUN/logrotate.txt" 2>&1
	rc=$?
	ins touch /tmp/log.rotated
	grep -E "renaming|running postrotate|error" "$RUN/logrotate.txt"
	[ "$rc" -eq 0 ] || { cat "$RUN/logrotate.txt"; fail "logrotate failed"; }
	wait "$bg"
	rc=$?
	cat "$RUN/loglines.txt"
	[ "$rc" -eq 0 ] || fail "the sender failed"
	ins ls -l /var/log/dgramd/
	wait_until 20 ins sh -c "$count /var/log/dgramd/messages.log*" ||
		{ ins sh -c "$count /var/log/dgramd/messages.log*"; fail "lines lost"; }
	ins sh -c "$count /var/log/dgramd/messages.log*"
	# Both the rotated file and the new one hold part of the load.
	ins grep -q "lrtest: seq" /var/log/dgramd/messages.log || fail "nothing written after the rotation"
	ins sh -c 'grep -q "lrtest: seq" /var/log/dgramd/messages.log-*' || fail "no rotated file with the load"
	journal_has "$(mainpid)" "reopening log files" || fail "dgramd did not reopen its files"
}

sc_template() {
	local show
	# A forward target by name (the container's /etc/hosts): the lookup
	# runs in glibc's getaddrinfo_a under the unit's system call filter.
	ins sh -c 'grep -qs fwd.dgramd.test /etc/hosts || echo "127.0.0.1 fwd.dgramd.test" >>/etc/hosts'
	put /etc/dgramd/inst.conf 'sockets = (
  { name = "echo"; type = "udp4"; address = "127.0.0.1"; port = 7010; handlers = ( { type = "echo"; } ); },
  { name = "ux"; type = "unix_dgram"; path = "/run/dgramd/inst.sock"; mode = "0666";
    handlers = ( { type = "log"; file = "/var/log/dgramd/inst.log"; format = "syslog"; } ); },
  { name = "fwd"; type = "udp4"; address = "127.0.0.1"; port = 7012;
    handlers = ( { type = "forward"; to = [ "fwd.dgramd.test:7013" ]; } ); },
  { name = "sink"; type = "udp4"; address = "127.0.0.1"; port = 7013;
    handlers = ( { type = "log"; file = "/var/log/dgramd/inst-fwd.log"; format = "raw"; } ); }
);'
	ins systemctl start dgramd@inst || fail "systemctl start dgramd@inst failed"
	ins systemctl status --no-pager dgramd@inst | grep -E "Active:|Status:"
	ins systemctl is-active -q dgramd@inst || fail "dgramd@inst not active"
	client echo 7010 || fail "dgramd@inst does not answer"
	local msg="instance line $RANDOM"
	nobody logger -u /run/dgramd/inst.sock -t inst "$msg" || fail "logger to inst.sock failed"
	wait_until 10 ins grep -qF "$msg" /var/log/dgramd/inst.log || fail "not in inst.log"
	local ipid
	ipid=$(ins systemctl show -P MainPID dgramd@inst)
	wait_until 10 journal_has "$ipid" "forward to fwd.dgramd.test:7013: 127.0.0.1:7013" ||
		fail "fwd.dgramd.test not resolved: $(journal_of "$ipid" | tail -n 5)"
	msg="forwarded by name $RANDOM"
	client send 7012 "$msg" || fail "send to 7012 failed"
	wait_until 10 ins grep -qF "$msg" /var/log/dgramd/inst-fwd.log || fail "not forwarded by name"
	client echo 7007 || fail "dgramd.service stopped answering"
	ins systemctl stop dgramd@inst || fail "stop failed"
	show=$(ins systemctl show -p ActiveState -p ExecMainStatus dgramd@inst)
	grep -qx "ActiveState=inactive" <<<"$show" && grep -qx "ExecMainStatus=0" <<<"$show" ||
		fail "not a clean stop: $show"
}

sc_exit71_no_restart() {
	put /etc/dgramd/chown.conf 'sockets = (
  { name = "ux"; type = "unix_dgram"; path = "/run/dgramd/chown.sock"; owner = "root";
    handlers = ( { type = "echo"; } ); }
);'
	ins systemctl start dgramd@chown && fail "dgramd@chown started"
	local show
	show=$(ins systemctl show -p ActiveState -p Result -p ExecMainStatus -p NRestarts dgramd@chown)
	echo "$show"
	grep -qx "ExecMainStatus=71" <<<"$show" || fail "not exit status 71"
	grep -qx "ActiveState=failed" <<<"$show" || fail "not failed (restarting?)"
	grep -qx "NRestarts=0" <<<"$show" || fail "restarted"
	ins systemctl reset-failed dgramd@chown
}

relay_logs() {
	# A warning to the relay socket (127.0.0.1:5140) shows in the journal as JSON.
	local pid=$1 msg="relay check $RANDOM"
	client send 5140 "<12>relaytest: $msg" || fail "send to 5140 failed"
	wait_until 10 journal_has "$pid" "$msg" || fail "the relay line is not in the journal of $pid"
}

activation_conf() {
	# README: cp conf/examples/activation.conf /etc/dgramd/dgramd.conf; the
	# forward target is made a loopback one (the container has only lo).
	sed 's/collector\.example\.com:514/127.0.0.1:5514/' "$SRC/conf/examples/activation.conf" \
	    >"$ROOT/etc/dgramd/dgramd.conf"
	grep -q "127.0.0.1:5514" "$ROOT/etc/dgramd/dgramd.conf" || fail "forward target not replaced"
}

sc_activation_switch() {
	# A running service switched to activation, in the README's order.
	activation_conf
	ins dgramd -t -c /etc/dgramd/dgramd.conf || fail "dgramd -t"
	ins systemctl stop dgramd || fail "stop failed"
	ins systemctl enable --now dgramd.socket dgramd-relay.socket || fail "enable --now sockets failed"
	ins systemctl start dgramd || fail "start failed"
	ins systemctl is-active dgramd.socket dgramd-relay.socket dgramd || fail "not all active"
	local pid
	pid=$(mainpid)
	journal_of "$pid" | grep listening
	nonroot_logs "activated"
	relay_logs "$pid"
	client echo 7007 || fail "the self-bound echo socket does not answer"
	# A reload keeps the passed sockets.
	ins systemctl reload dgramd || fail "reload failed"
	[ "$(mainpid)" = "$pid" ] || fail "the main pid changed"
	nonroot_logs "activated, reloaded"
	relay_logs "$pid"
}

sc_activation_first() {
	# The sockets listen while the service is stopped; a datagram starts it.
	ins systemctl stop dgramd || fail "stop failed"
	ins systemctl is-active -q dgramd && fail "still active"
	ins systemctl is-active dgramd.socket dgramd-relay.socket || fail "sockets not listening"
	nonroot_logs "activates"
	ins systemctl is-active -q dgramd || fail "not started by the log socket"
	relay_logs "$(mainpid)"
	ins systemctl stop dgramd || fail "stop failed"
	client send 5140 "<12>relaytest: wake up" || fail "send to 5140 failed"
	wait_until 10 ins systemctl is-active -q dgramd || fail "not started by the relay socket"
	relay_logs "$(mainpid)"
}

sc_stop_reboot() {
	local show
	ins systemctl stop dgramd || fail "stop failed"
	show=$(ins systemctl show -p ActiveState -p Result -p ExecMainStatus dgramd)
	echo "$show"
	grep -qx "ActiveState=inactive" <<<"$show" && grep -qx "ExecMainStatus=0" <<<"$show" ||
		fail "not a clean stop"
	ins systemctl is-enabled dgramd dgramd.socket dgramd-relay.socket || fail "not enabled"
	ins systemctl reboot || fail "systemctl reboot failed"
}

# reboot_wait: (not in a subshell) the container's systemd rebooted: nspawn
# exits with 133, as it does for a reboot; boot the same root again.
reboot_wait() {
	local rc
	wait "$NSPAWN_PID"
	rc=$?
	NSPAWN_PID=
	LEADER=
	remove_cgroups
	[ $rc -eq 133 ] || echo "# systemd-nspawn exited $rc on reboot (133 expected)"
	boot
}

sc_after_reboot() {
	ins systemctl is-active dgramd.socket dgramd-relay.socket dgramd || fail "not active after reboot"
	ins getent passwd dgramd || fail "no user dgramd after reboot"
	nonroot_logs "after reboot"
	relay_logs "$(mainpid)"
	client echo 7007 || fail "echo after reboot"
}

sc_activation_off() {
	# README: back from activation, dgramd binds every socket itself; the
	# mode the socket unit set is now the config's to give.
	sed -i 's|path = "/run/dgramd/log";|path = "/run/dgramd/log"; mode = "0666";|' \
	    "$ROOT/etc/dgramd/dgramd.conf"
	ins dgramd -t -c /etc/dgramd/dgramd.conf || fail "dgramd -t"
	ins systemctl disable --now dgramd.socket dgramd-relay.socket || fail "disable --now sockets failed"
	ins systemctl restart dgramd || fail "restart failed"
	ins systemctl is-active -q dgramd.socket && fail "dgramd.socket still active"
	local pid
	pid=$(mainpid)
	journal_of "$pid" | grep listening
	nonroot_logs "bound by dgramd"
	relay_logs "$pid"
	client echo 7007 || fail "echo"
}

sc_journal_scan() {
	# Every boot; dgramd@chown failed on purpose (EPERM, exit 71).
	local j units bad kills
	units=$(ins journalctl --no-pager --field=_SYSTEMD_UNIT | grep '^dgramd' | grep -v '^dgramd@chown')
	echo "# units: $(tr "\n" " " <<<"$units")"
	j=$(for u in $units dgramd.socket dgramd-relay.socket; do
		ins journalctl --no-pager -o short-monotonic -u "$u"; done)
	bad=$(grep -Ei 'SIGSYS|status=31|Operation not permitted|Permission denied|Read-only file system|EPERM|EACCES|EROFS|dumped core' <<<"$j")
	[ -z "$bad" ] || { echo "$bad"; fail "permission errors or SIGSYS in the journal"; }
	# No process anywhere in the container was killed by the system call filter.
	ins journalctl --no-pager -o cat | grep -E 'status=31/SYS|SIGSYS' && fail "SIGSYS in the journal"
	# The only failure is the watchdog's (the rejected reload is a failed
	# reload job, not a failed unit).
	bad=$(grep -F "Failed with result" <<<"$j" | grep -vF "Failed with result 'watchdog'")
	[ -z "$bad" ] || { echo "$bad"; fail "unexpected failures"; }
	kills=$(grep -E 'code=(killed|dumped)' <<<"$j")
	echo "$kills"
	# The only kill is the one the watchdog scenario caused.
	[ "$(grep -c . <<<"$kills")" -eq 1 ] && grep -q 'status=6/ABRT' <<<"$kills" ||
		fail "unexpected kills"
	return 0
}

# --- run -----------------------------------------------------------------------

prepare_root
if ! boot; then
	notok boot "the container did not boot"
	for s in "${SCENARIOS[@]}"; do skip "$s" "the container did not boot"; done
	finish
fi
gone=
for s in "${SCENARIOS[@]}"; do
	if [ -n "$gone" ]; then
		skip "$s" "$gone"
		continue
	fi
	out=$RUN/$s.out
	t=$(date +%s%N)
	fn=sc_${s//-/_}
	( set -o pipefail; "$fn" ) >"$out" 2>&1
	rc=$?
	if [ "$s" = stop-reboot ] && [ $rc -eq 0 ]; then
		{ reboot_wait && ( set -o pipefail; sc_after_reboot ); } >>"$out" 2>&1
		rc=$?
	fi
	ms=$((($(date +%s%N) - t) / 1000000))
	if [ $rc -eq 0 ]; then
		ok "$s ($((ms / 1000)).$((ms % 1000 / 100))s)"
		[ -n "${VERBOSE:-}" ] && sed 's/^/#   /' "$out"
	else
		notok "$s"
		sed 's/^/#   /' "$out"
	fi
	if [ -z "$LEADER" ] || ! kill -0 "$LEADER" 2>/dev/null; then
		gone="the container is gone"
		echo "# $gone"
	fi
done
finish
