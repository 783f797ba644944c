#!/bin/bash
# No test sends anything off this host. Runs the tests that resolve names
# or send to configured destinations (forward, docs with -t on every shipped
# config, reload, the resolver unit test) again under strace, following
# every process they start (dgramd included), and fails on any connect,
# sendto, sendmsg or sendmmsg whose IPv4 or IPv6 destination is not
# loopback (127.0.0.0/8, ::1, or those as IPv4-mapped IPv6). DNS queries
# are UDP datagrams (or a connect) to the resolver, so they are covered.
set -u
cd "$(dirname "$0")/../.."
if ! command -v strace >/dev/null 2>&1; then
	echo "skip off-host traffic (strace is not installed)"
	exit 0
fi
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# t_docs.py: the -t run on every shipped config (which resolves their names).
runs=("$PY tests/integration/t_forward.py"
      "$PY tests/integration/t_docs.py test_every_shipped_config_checks"
      "$PY tests/integration/t_forward_faults.py" "$PY tests/integration/t_reload.py"
      "$PY tests/integration/t_control.py test_real_prometheus_scrapes_the_counts")
for b in ${UNIT_BINS:-}; do
	case "$b" in */test-resolve) runs+=("env CK_FORK=no $b") ;; esac
done

bad=0
# The check itself must catch what it is for: lines as strace writes them.
cat >"$tmp/probe.trace" <<'TRACE'
1 connect(3, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}, 16) = 0
1 sendto(4, ""..., 5, 0, {sa_family=AF_INET6, sin6_port=htons(9), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr), sin6_scope_id=0}, 28) = 5
1 sendmmsg(5, [{msg_hdr={msg_name={sa_family=AF_INET, sin_port=htons(514), sin_addr=inet_addr("192.0.2.1")}, msg_namelen=16}, msg_len=5}], 1, 0) = 1
1 connect(6, {sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = 0
1 sendto(7, ""..., 5, 0, {sa_family=AF_INET6, sin6_port=htons(9), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 5
TRACE
probe=$("$PY" tests/integration/offhost_check.py "$tmp/probe.trace" | awk '{print $1}' | tr '\n' ' ')
if [ "$probe" = "192.0.2.1: 2001:db8::1: " ]; then
	echo "ok the check rejects non-loopback destinations and passes loopback ones"
else
	echo "not ok the check on a known trace found: '$probe'"
	bad=$((bad + 1))
fi

# LeakSanitizer cannot run under ptrace (make SANITIZE=1 check): the plain
# run checks for leaks, the traced one only for destinations.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"

for r in "${runs[@]}"; do
	name=$(basename "$(echo "$r" | awk '{ print ($2 ~ /^tests\//) ? $2 : $NF }')")
	trace="$tmp/$name.trace"
	# -qq: no attach/exit noise; -v: whole sendmmsg vectors, every address.
	# shellcheck disable=SC2086
	strace -f -qq -v -s 0 -e trace=connect,sendto,sendmsg,sendmmsg -o "$trace" \
	    $r >"$tmp/$name.out" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || grep -q '^not ok ' "$tmp/$name.out"; then
		cat "$tmp/$name.out"
		echo "not ok $name under strace (exit $rc)"
		bad=$((bad + 1))
		continue
	fi
	calls=$(grep -cE 'connect\(|send(to|msg|mmsg)\(' "$trace")
	if ! "$PY" tests/integration/offhost_check.py "$trace" >"$tmp/$name.off"; then
		cat "$tmp/$name.off"
		echo "not ok $name sends off this host"
		bad=$((bad + 1))
	else
		echo "ok $name sends only to loopback and unix sockets ($calls calls traced)"
	fi
done
[ $bad -eq 0 ]
