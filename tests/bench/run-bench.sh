#!/usr/bin/env bash
# run-bench.sh: dgramd's benchmark driver (issue 9).
#
# Measures, at 64, 512 and 1400 bytes, for dgramd, for the ceiling (the
# minimal recvmmsg servers in ceiling.c) and for the peers that happen to
# be installed (socat, rsyslogd, nginx; none is installed by this script):
#
#   echo-w64      echo throughput, 64 datagrams outstanding (dgload echo-window)
#   ping-1core    echo ping-pong RTT p50/p99, generator and server on one core
#   ping-2core    the same on two cores (not run by default: on this VM it
#                 measures waking an idle core, ~60 us, not the server)
#   fwd           forward udp->udp; dgload send -> server -> dgload sink
#   log-FMT-udp   log handler, format raw|syslog|json, over UDP
#   log-FMT-unix  the same over a unix datagram socket
#   rr-c64        request/response through a UDP proxy: 64 clients (dgload
#                 rr), each in ping-pong with a C echo backend (ceiling
#                 echo) behind the server; dgram/s are transactions/s. The
#                 ceiling is "ceiling proxy" (a connected socket per client,
#                 recvmmsg/sendmmsg), dgramd a forward with replies = true,
#                 nginx stream with proxy_responses 1, socat a fork per
#                 request; "direct" is the backend without a proxy, so the
#                 latency a proxy adds is its p50 minus direct's.
#
# The generator (and the sink) run on core BENCH_GEN_CPU, the server on
# BENCH_SRV_CPU, except ping-1core where both share BENCH_GEN_CPU. UDP
# senders use UDP GSO (BENCH_GSO=1) so that they offer more than any server
# here can take: "dgram/s" is then what the server delivered at saturation,
# and "loss" is the offered load it could not take. Unix senders never lose
# a datagram: on a full receiver (net.unix.max_dgram_qlen) they retry at
# once instead of sleeping (dgload send -S), because with 2 cores the cost
# of waking a blocked sender, not the server, would set the pace.
# CPU us/dgram is the server's utime+stime from /proc/PID/stat over the
# run, divided by the datagrams it delivered (round trips for ping; 10 ms
# ticks, so short quick-mode runs read 0). Each figure is the median of BENCH_REPS
# runs. Ratios compare the primary figure: dgram/s, or RTT p50 for ping
# (lower is better there). The ceiling's log server writes the payload as
# is, so the one ceiling run per transport serves the raw, syslog and json
# rows alike.
#
# Environment:
#   BENCH_QUICK=1     smoke mode: 64 bytes, 1 repetition, short runs
#   BENCH_SIZES       sizes (default "64 512 1400")
#   BENCH_REPS        repetitions (default 3)
#   BENCH_SECS        load seconds per run (default 1.2)
#   BENCH_SCENARIOS   subset, e.g. "echo-w64 fwd" (default all)
#   BENCH_SUBJECTS    subset of "ceiling ceiling-gso dgramd socat rsyslog nginx"
#   BENCH_CSV         CSV path (default bench.csv in the work directory)
#   BENCH_LOGDIR      where log handlers write (default /dev/shm if usable)
#   BENCH_BUDGET      seconds after which remaining runs are skipped (540)
#   BENCH_GEN_CPU, BENCH_SRV_CPU   cores (default 0 and 1)
#   BENCH_MEMORY=0    skip the memory figures (RSS, PSS, private dirty; memory())
#   BENCH_RSS_SECS, BENCH_RSS_SIZE   flood per socket there (2 s, 1400 bytes)
#   BENCH_PROFILE=1   also count syscalls (strace) and user-space
#                     instructions (callgrind) per datagram; =only: just that
#   DGRAMD            the daemon (default ./dgramd; rows skipped if absent)
#
# dgramd interface relied upon: "dgramd -c FILE", one stderr line
# "dgramd: listening bench TYPE ADDRESS" per socket (real port for port 0),
# SIGTERM stops it. Only loopback and unix sockets are used; every load run
# is bounded in count and time; only processes started here are stopped,
# by PID.

set -u -o pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top" || exit 1

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	SIZES=${BENCH_SIZES:-64}
	REPS=${BENCH_REPS:-1}
	SECS=${BENCH_SECS:-0.4}
	PING_N=2000
else
	SIZES=${BENCH_SIZES:-64 512 1400}
	REPS=${BENCH_REPS:-3}
	SECS=${BENCH_SECS:-1.2}
	PING_N=100000
fi
SCENARIOS=${BENCH_SCENARIOS:-echo-w64 ping-1core fwd log-raw-udp log-syslog-udp log-json-udp log-raw-unix log-syslog-unix log-json-unix rr-c64}
SUBJECTS=${BENCH_SUBJECTS:-direct ceiling ceiling-gso dgramd socat rsyslog nginx}
GEN_CPU=${BENCH_GEN_CPU:-0}
SRV_CPU=${BENCH_SRV_CPU:-1}
GSO=${BENCH_GSO:-1}
BUDGET=${BENCH_BUDGET:-540}
DGRAMD=${DGRAMD:-./dgramd}
DGLOAD=$here/dgload
CEILING=$here/ceiling
HZ=$(getconf CLK_TCK)
MAXRUN=$(awk -v s="$SECS" 'BEGIN { printf "%d", s + 20 }')

work=$(mktemp -d "${TMPDIR:-/tmp}/dgbench.XXXXXX") || exit 1
CSV=${BENCH_CSV:-$work/bench.csv}
if [ -n "${BENCH_LOGDIR:-}" ]; then
	logdir=$BENCH_LOGDIR
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
	logdir=$(mktemp -d /dev/shm/dgbench.XXXXXX) || exit 1
else
	logdir=$work
fi
raw=$work/raw.tsv
: > "$raw"
declare -A live	# PIDs this script started and has not reaped yet
wrap=()			# profile mode: runs the server under valgrind
PROF=			# profile mode: "strace" attaches strace -c -f
WAIT_N=500		# readiness polls, 10 ms each
LOAD_N=100M		# datagrams per load run (time bounds it first)
LOAD_RATE=		# "-r RATE" for the senders
skipped=0

msg() { printf '%s\n' "$*" >&2; }

cleanup() {
	local p
	# Unreaped children only: their PIDs cannot have been reused.
	for p in "${!live[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	[ "$logdir" != "$work" ] && [ -z "${BENCH_LOGDIR:-}" ] &&
	    rm -rf "$logdir"
	rm -f "$work"/*.log "$work"/*.sock
}
trap cleanup EXIT
trap 'exit 130' INT TERM

have() { command -v "$1" >/dev/null 2>&1; }

# Start a background command; its PID lands in $bg.
spawn() {
	local out=$1 err=$2
	shift 2
	"$@" >"$out" 2>"$err" &
	bg=$!
	live[$bg]=1
}

# Reap a process we started once it exits; SIGTERM it after $2 seconds.
reap() {
	local p=$1 i
	for ((i = 0; i < $2 * 20; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	stop_pid "$p"
}

# Stop one process we started: SIGTERM, then SIGKILL after 5 s.
stop_pid() {
	local p=$1 i
	kill -TERM "$p" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	unset "live[$p]"
	return 0
}

# Wait (5 s at most) until file $2 has a line matching $3; print it.
# Fails early when process $1 died.
wait_line() {
	local pid=$1 file=$2 re=$3 i line
	for ((i = 0; i < WAIT_N; i++)); do
		line=$(grep -m1 -E "$re" "$file" 2>/dev/null) && {
			printf '%s\n' "$line"
			return 0
		}
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}

# Wait until something listens on UDP 127.0.0.1:$2 (or on unix path $2).
wait_bound() {
	local pid=$1 where=$2 hex i
	for ((i = 0; i < 500; i++)); do
		kill -0 "$pid" 2>/dev/null || return 1
		if [[ $where == /* ]]; then
			[ -S "$where" ] && return 0
		else
			hex=$(printf '%04X' "$where")
			grep -q "^ *[0-9]*: 0100007F:$hex " /proc/net/udp &&
			    return 0
		fi
		sleep 0.01
	done
	return 1
}

# utime+stime of a process, in clock ticks.
ticks() {
	local line rest
	read -r line < "/proc/$1/stat" || { echo 0; return; }
	rest=${line##*) }
	set -- $rest
	echo $(( ${12} + ${13} ))
}

# Value of key $1 in a "key=value ..." line $2.
kv() {
	local k=$1 w
	for w in $2; do
		[ "${w%%=*}" = "$k" ] && { echo "${w#*=}"; return; }
	done
	echo 0
}

calc() { awk "BEGIN { printf \"%.3f\", $* }"; }

# ---- servers -------------------------------------------------------------
# start_SUBJECT JOB SIZE CPU ARG: JOB is echo, forward (ARG = sink port) or
# log-FMT-TRANSPORT (ARG = output file). Sets srv_pid and srv_addr, the
# address dgload should use. Returns 2 when the subject cannot do the job.

start_ceiling() {
	local job=$1 cpu=$3 arg=${4:-} listen=127.0.0.1:0 line extra=()
	case $job in
	echo) extra=(echo -t "$MAXRUN" "$listen") ;;
	forward) extra=(forward -t "$MAXRUN" "$listen" "127.0.0.1:$arg") ;;
	proxy) extra=(proxy -t "$MAXRUN" "$listen" "127.0.0.1:$arg") ;;
	forward-gso) extra=(forward -g -t "$MAXRUN" "$listen" \
	    "127.0.0.1:$arg") ;;
	log-raw-udp) extra=(log -t "$MAXRUN" "$listen" "$arg") ;;
	log-raw-unix) extra=(log -t "$MAXRUN" "$work/ceiling.sock" "$arg") ;;
	*) return 2 ;;
	esac
	spawn "$work/srv.out" "$work/srv.err" taskset -c "$cpu" "${wrap[@]}" "$CEILING" \
	    "${extra[@]}"
	srv_pid=$bg
	line=$(wait_line "$srv_pid" "$work/srv.out" '^listening ') || return 1
	srv_addr=${line#listening }
	[[ $srv_addr == /* ]] || srv_addr=127.0.0.1:$srv_addr
}

dgramd_conf() {
	local job=$1 arg=$2 sock handler
	sock='type = "udp4"; address = "127.0.0.1"; port = 0;'
	case $job in
	echo) handler='{ type = "echo"; }' ;;
	forward) handler="{ type = \"forward\"; to = [ \"127.0.0.1:$arg\" ]; }" ;;
	proxy) handler="{ type = \"forward\"; to = [ \"127.0.0.1:$arg\" ]; replies = true; }" ;;
	log-*)
		local fmt=${job#log-}
		fmt=${fmt%-*}
		handler="{ type = \"log\"; file = \"$arg\"; format = \"$fmt\"; }"
		[[ $job == *-unix ]] &&
		    sock="type = \"unix_dgram\"; path = \"$work/dgramd.sock\";"
		;;
	*) return 2 ;;
	esac
	cat <<EOF
# written by tests/bench/run-bench.sh
log_level = "warning";
sockets = (
  { name = "bench"; $sock
    handlers = ( $handler ); }
);
EOF
}

start_dgramd() {
	local job=$1 cpu=$3 arg=${4:-} line
	[[ $job == forward-gso ]] && return 2
	dgramd_conf "$job" "$arg" > "$work/dgramd.conf" || return 2
	spawn "$work/srv.out" "$work/srv.err" taskset -c "$cpu" "${wrap[@]}" "$DGRAMD" \
	    -c "$work/dgramd.conf"
	srv_pid=$bg
	line=$(wait_line "$srv_pid" "$work/srv.err" \
	    '^dgramd: listening bench ') || return 1
	set -- $line
	srv_addr=$5
}

start_socat() {
	local job=$1 cpu=$3 arg=${4:-} port
	port=$("$DGLOAD" freeport) || return 1
	srv_addr=127.0.0.1:$port
	case $job in
	echo-ping)
		# UDP-LISTEN answers the first peer only; PIPE merges
		# datagrams when several are queued, so ping-pong only.
		spawn "$work/srv.out" "$work/srv.err" taskset -c "$cpu" \
		    socat "UDP4-LISTEN:$port,bind=127.0.0.1" PIPE ;;
	forward)
		spawn "$work/srv.out" "$work/srv.err" taskset -c "$cpu" \
		    socat -u "UDP4-RECV:$port,bind=127.0.0.1" \
		    "UDP4-SENDTO:127.0.0.1:$arg" ;;
	proxy)
		# A child per request (fork), gone 0.1 s after its answer.
		spawn "$work/srv.out" "$work/srv.err" taskset -c "$cpu" \
		    socat -T 0.1 "UDP4-RECVFROM:$port,bind=127.0.0.1,fork" \
		    "UDP4:127.0.0.1:$arg" ;;
	log-raw-udp)
		# No newline is added: lines are counted as bytes / size.
		spawn "$work/srv.out" "$work/srv.err" taskset -c "$cpu" \
		    socat -u "UDP4-RECV:$port,bind=127.0.0.1" \
		    "OPEN:$arg,creat,append" ;;
	log-raw-unix)
		srv_addr=$work/socat.sock
		rm -f "$srv_addr"
		spawn "$work/srv.out" "$work/srv.err" taskset -c "$cpu" \
		    socat -u "UNIX-RECV:$srv_addr" "OPEN:$arg,creat,append" ;;
	*) return 2 ;;
	esac
	srv_pid=$bg
	wait_bound "$srv_pid" "${srv_addr##*:}"
}

rsyslog_conf() {
	local job=$1 file=$2 port=$3 fmt tpl input
	fmt=${job#log-}
	fmt=${fmt%-*}
	case $fmt in
	raw) tpl='template(name="bench" type="string" string="%rawmsg%\n")' ;;
	syslog) tpl='template(name="bench" type="string" string="%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n")' ;;
	json) tpl='template(name="bench" type="string" string="%jsonmesg%\n")' ;;
	esac
	if [[ $job == *-unix ]]; then
		input="module(load=\"imuxsock\" SysSock.Use=\"off\")
input(type=\"imuxsock\" Socket=\"$work/rsyslog.sock\" RateLimit.Interval=\"0\" UseSpecialParser=\"off\" ParseHostname=\"on\")"
	else
		input="module(load=\"imudp\")
input(type=\"imudp\" address=\"127.0.0.1\" port=\"$port\")"
	fi
	cat <<EOF
# written by tests/bench/run-bench.sh
global(workDirectory="$work")
$input
$tpl
action(type="omfile" file="$file" template="bench")
EOF
}

start_rsyslog() {
	local job=$1 cpu=$3 arg=${4:-} port
	[[ $job == log-* ]] || return 2
	port=$("$DGLOAD" freeport) || return 1
	rsyslog_conf "$job" "$arg" "$port" > "$work/rsyslog.conf"
	rm -f "$work/rsyslog.sock"
	spawn "$work/srv.out" "$work/srv.err" taskset -c "$cpu" rsyslogd -n \
	    -f "$work/rsyslog.conf" -i "$work/rsyslog.pid"
	srv_pid=$bg
	if [[ $job == *-unix ]]; then
		srv_addr=$work/rsyslog.sock
		wait_bound "$srv_pid" "$srv_addr"
	else
		srv_addr=127.0.0.1:$port
		wait_bound "$srv_pid" "$port"
	fi
}

start_nginx() {
	local job=$1 cpu=$3 arg=${4:-} port mod= responses=0
	case $job in forward) ;; proxy) responses=1 ;; *) return 2 ;; esac
	port=$("$DGLOAD" freeport) || return 1
	for m in /usr/lib/nginx/modules/ngx_stream_module.so \
	    /usr/share/nginx/modules/ngx_stream_module.so; do
		[ -f "$m" ] && { mod="load_module $m;"; break; }
	done
	# No stream module (nginx-light alone): nothing to measure.
	[ -n "$mod" ] || nginx -V 2>&1 | grep -q -- '--with-stream ' || {
		why="nginx has no stream module (install libnginx-mod-stream)"
		return 1
	}
	mkdir -p "$work/nginx/logs"
	# One process (master_process off) so /proc/PID/stat is the worker.
	cat > "$work/nginx/nginx.conf" <<EOF
$mod
daemon off;
master_process off;
worker_processes 1;
error_log $work/nginx/logs/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
stream {
  server {
    listen 127.0.0.1:$port udp;
    proxy_pass 127.0.0.1:$arg;
    proxy_responses $responses;
    proxy_timeout 5s;
  }
}
EOF
	spawn "$work/srv.out" "$work/srv.err" taskset -c "$cpu" nginx \
	    -p "$work/nginx" -c "$work/nginx/nginx.conf"
	srv_pid=$bg
	srv_addr=127.0.0.1:$port
	wait_bound "$srv_pid" "$port"
}

start_server() {
	local subj=$1 job=$2
	srv_pid=
	srv_addr=
	case $subj in
	ceiling) start_ceiling "${@:2}" ;;
	ceiling-gso) start_ceiling "${job}-gso" "${@:3}" ;;
	dgramd) start_dgramd "${@:2}" ;;
	socat) start_socat "${@:2}" ;;
	rsyslog) start_rsyslog "${@:2}" ;;
	nginx) start_nginx "${@:2}" ;;
	*) return 2 ;;
	esac
}

# ---- scenarios -----------------------------------------------------------
# Each prints "rate offered loss_pct cpu_us p50 p99 sent delivered" or fails.

scn_echo() {
	local subj=$1 size=$2 out c0 c1 recv sent lost
	[ "$subj" = ceiling ] || [ "$subj" = dgramd ] || return 2
	start_server "$subj" echo "$size" "$SRV_CPU" || return $?
	prof_attach
	c0=$(ticks "$srv_pid")
	out=$(taskset -c "$GEN_CPU" "$DGLOAD" echo-window -s "$size" -w 64 \
	    -n "$LOAD_N" -t "$SECS" "$srv_addr")
	c1=$(ticks "$srv_pid")
	prof_detach
	stop_pid "$srv_pid"
	recv=$(kv received "$out")
	sent=$(kv sent "$out")
	lost=$(kv lost "$out")
	[ "$recv" -gt 0 ] || { why="no reply: $out"; return 1; }
	echo "$(kv rate "$out") - $(calc "100 * $lost / $sent")" \
	    "$(calc "($c1 - $c0) * 1e6 / $HZ / $recv") - - $sent $recv"
}

scn_ping() {
	local subj=$1 size=$2 cpu=$3 out c0 c1 n job=echo
	[ "$subj" = socat ] && job=echo-ping
	case $subj in ceiling|dgramd|socat) ;; *) return 2 ;; esac
	start_server "$subj" "$job" "$size" "$cpu" || return $?
	prof_attach
	c0=$(ticks "$srv_pid")
	out=$(taskset -c "$GEN_CPU" "$DGLOAD" pingpong -s "$size" \
	    -n "$PING_N" -t 10 "$srv_addr")
	c1=$(ticks "$srv_pid")
	prof_detach
	stop_pid "$srv_pid"
	n=$(kv n "$out")
	[ "$n" -gt 0 ] || { why="no round trip: $out"; return 1; }
	echo "$(calc "1e6 / $(kv mean_us "$out")") - " \
	    "$(calc "100 * $(kv lost "$out") / ($n + $(kv lost "$out"))")" \
	    "$(calc "($c1 - $c0) * 1e6 / $HZ / $n")" \
	    "$(kv p50_us "$out") $(kv p99_us "$out") $n $n"
}

scn_fwd() {
	local subj=$1 size=$2 out sout c0 c1 line sink_pid sport uniq sent g=
	case $subj in ceiling|ceiling-gso|dgramd|socat|nginx) ;;
	*) return 2 ;; esac
	spawn "$work/sink.out" "$work/sink.err" taskset -c "$GEN_CPU" \
	    "$DGLOAD" sink -i 300 -t "$MAXRUN" 127.0.0.1:0
	sink_pid=$bg
	line=$(wait_line "$sink_pid" "$work/sink.out" '^listening ') ||
	    return 1
	sport=${line#listening }
	if ! start_server "$subj" forward "$size" "$SRV_CPU" "$sport"; then
		stop_pid "$sink_pid"
		return 1
	fi
	[ "$GSO" = 1 ] && g=-g
	prof_attach
	c0=$(ticks "$srv_pid")
	out=$(taskset -c "$GEN_CPU" "$DGLOAD" send $g -s "$size" -n "$LOAD_N" \
	    $LOAD_RATE -t "$SECS" "$srv_addr")
	reap "$sink_pid" 5
	c1=$(ticks "$srv_pid")
	prof_detach
	stop_pid "$srv_pid"
	sout=$(grep '^mode=sink' "$work/sink.out")
	uniq=$(kv unique "$sout")
	sent=$(kv sent "$out")
	[ "$uniq" -gt 0 ] || { why="sink got nothing: $out / $sout"; return 1; }
	echo "$(kv rate "$sout") $(kv rate "$out")" \
	    "$(calc "100 * ($sent - $uniq) / $sent")" \
	    "$(calc "($c1 - $c0) * 1e6 / $HZ / $uniq") - - $sent $uniq"
}

scn_rr() {
	local subj=$1 size=$2 out c0 c1 line be_pid bport n lost
	case $subj in direct|ceiling|dgramd|socat|nginx) ;; *) return 2 ;; esac
	spawn "$work/be.out" "$work/be.err" taskset -c "$GEN_CPU" \
	    "$CEILING" echo -t "$MAXRUN" 127.0.0.1:0
	be_pid=$bg
	line=$(wait_line "$be_pid" "$work/be.out" '^listening ') || return 1
	bport=${line#listening }
	if [ "$subj" = direct ]; then
		srv_pid=$be_pid
		srv_addr=127.0.0.1:$bport
	elif ! start_server "$subj" proxy "$size" "$SRV_CPU" "$bport"; then
		stop_pid "$be_pid"
		return 1
	fi
	prof_attach
	c0=$(ticks "$srv_pid")
	out=$(taskset -c "$GEN_CPU" "$DGLOAD" rr -w 64 -s "$size" -n "$LOAD_N" \
	    -t "$SECS" "$srv_addr")
	c1=$(ticks "$srv_pid")
	prof_detach
	stop_pid "$srv_pid"
	[ "$srv_pid" != "$be_pid" ] && stop_pid "$be_pid"
	n=$(kv n "$out")
	lost=$(kv lost "$out")
	[ "$n" -gt 0 ] || { why="no transaction: $out"; return 1; }
	echo "$(kv rate "$out") - $(calc "100 * $lost / ($n + $lost)")" \
	    "$(calc "($c1 - $c0) * 1e6 / $HZ / $n")" \
	    "$(kv p50_us "$out") $(kv p99_us "$out") $n $n"
}

# Wait until the log file has not grown for 300 ms (10 s at most).
wait_quiet() {
	local f=$1 last=-1 cur i still=0
	for ((i = 0; i < 200; i++)); do
		cur=$(stat -c %s "$f" 2>/dev/null || echo 0)
		if [ "$cur" = "$last" ]; then
			((still++))
			[ $still -ge 6 ] && return 0
		else
			still=0
		fi
		last=$cur
		sleep 0.05
	done
}

scn_log() {
	local subj=$1 size=$2 scn=$3 file out c0 c1 t0 t1 lines sent g=
	local job=$scn
	[[ $subj == ceiling ]] && job=log-raw-${scn##*-}
	file=$logdir/out.log
	rm -f "$file"
	start_server "$subj" "$job" "$size" "$SRV_CPU" "$file" || return $?
	# UDP: GSO to overload the server; unix: never sleep on a full
	# receiver, else waking the sender, not the server, sets the pace.
	[[ $scn == *-udp && $GSO = 1 ]] && g=-g
	[[ $scn == *-unix ]] && g=-S
	prof_attach
	c0=$(ticks "$srv_pid")
	t0=$EPOCHREALTIME
	out=$(taskset -c "$GEN_CPU" "$DGLOAD" send $g -f syslog -s "$size" \
	    -n "$LOAD_N" $LOAD_RATE -t "$SECS" "$srv_addr")
	wait_quiet "$file"
	c1=$(ticks "$srv_pid")
	# Counted before the stop, so only lines written under load count.
	if [ "$subj" = socat ]; then
		lines=$(( $(stat -c %s "$file" 2>/dev/null || echo 0) / size ))
	else
		lines=$(wc -l < "$file" 2>/dev/null || echo 0)
	fi
	t1=$(stat -c %.9Y "$file" 2>/dev/null || echo "$t0")
	prof_detach
	stop_pid "$srv_pid"
	rm -f "$file"
	sent=$(kv sent "$out")
	[ "$lines" -gt 0 ] || { why="no line logged: $out"; return 1; }
	echo "$(calc "$lines / ($t1 - $t0)") $(kv rate "$out")" \
	    "$(calc "100 * ($sent - $lines) / $sent")" \
	    "$(calc "($c1 - $c0) * 1e6 / $HZ / $lines") - - $sent $lines"
}

# Profile mode: strace -c -f attached to the server for the load only.
prof_attach() {
	[ "$PROF" = strace ] || return 0
	rm -f "$work/strace.txt"
	spawn "$work/strace.out" "$work/strace.err" strace -c -f \
	    -o "$work/strace.txt" -p "$srv_pid"
	prof_pid=$bg
	wait_line "$prof_pid" "$work/strace.err" 'attached' > /dev/null
}

prof_detach() {
	[ "$PROF" = strace ] || return 0
	stop_pid "$prof_pid"	# strace detaches and writes its summary
}

# Percent of all cores busy over half a second (before and after the run:
# other work on the machine makes every figure here meaningless).
busy_pct() {
	local c u n s i w q sq st t0 i0 t1 i1
	read -r c u n s i w q sq st _ < /proc/stat
	t0=$((u + n + s + i + w + q + sq + st))
	i0=$((i + w))
	sleep 0.5
	read -r c u n s i w q sq st _ < /proc/stat
	t1=$((u + n + s + i + w + q + sq + st))
	i1=$((i + w))
	echo $(( t1 > t0 ? 100 - 100 * (i1 - i0) / (t1 - t0) : 0 ))
}

subject_ok() {
	case $1 in
	direct|ceiling|ceiling-gso) return 0 ;;
	dgramd) [ -x "$DGRAMD" ] ;;
	socat) have socat ;;
	rsyslog) have rsyslogd ;;
	nginx) have nginx ;;
	*) return 1 ;;
	esac
}

# Run one scenario; the result line lands in $res, the status is returned.
run_scn() {
	local scn=$1 size=$2 subj=$3 rc p
	why=
	# Not in $(...): servers must be started by this shell, so that the
	# cleanup knows their PIDs.
	case $scn in
	echo-w64) scn_echo "$subj" "$size" ;;
	ping-1core) scn_ping "$subj" "$size" "$GEN_CPU" ;;
	ping-2core) scn_ping "$subj" "$size" "$SRV_CPU" ;;
	fwd) scn_fwd "$subj" "$size" ;;
	rr-c64) scn_rr "$subj" "$size" ;;
	log-*) scn_log "$subj" "$size" "$scn" ;;
	esac > "$work/res"
	rc=$?
	res=$(cat "$work/res")
	# A failed start leaves its process behind: stop it here.
	for p in "${!live[@]}"; do
		stop_pid "$p"
	done
	return $rc
}

run_one() {
	local scn=$1 size=$2 subj=$3 rep=$4 res rc
	if [ "$SECONDS" -ge "$BUDGET" ]; then
		skipped=$((skipped + 1))
		return
	fi
	run_scn "$scn" "$size" "$subj"
	rc=$?
	[ $rc = 2 ] && return
	if [ $rc != 0 ] || [ -z "$res" ]; then
		[ -n "$why" ] || why="server did not start or died:"\
" $(head -c 200 "$work/srv.err" 2>/dev/null | tr '\n' ' ')"
		msg "  $scn $size $subj rep $rep: failed: $why"
		res="- - - - - - - -"
	fi
	printf '%s\t%s\t%s\t%s\t%s\n' "$scn" "$size" "$subj" "$rep" \
	    "$(echo $res | tr ' ' '\t')" >> "$raw"
	# The ceiling's log server does not format: its raw run serves all.
	if [ "$subj" = ceiling ] && [[ $scn == log-raw-* ]]; then
		local f
		for f in syslog json; do
			printf '%s\t%s\t%s\t%s\t%s\n' "log-$f-${scn##*-}" \
			    "$size" "$subj" "$rep" \
			    "$(echo $res | tr ' ' '\t')" >> "$raw"
		done
	fi
}

# ---- profile -------------------------------------------------------------
# BENCH_PROFILE=1 (after the table) or =only: at 64 bytes, for the ceiling
# and dgramd, system calls per datagram under load (strace -c -f attached to
# the server during the load) and user-space instructions per datagram
# (callgrind Ir, deterministic where timings are not). Ir comes from two
# count-bounded runs at PROF_RATE datagrams/s, so start-up cancels out:
# (Ir(N2) - Ir(N1)) / (delivered(N2) - delivered(N1)).

PROF_N1=${BENCH_PROF_N1:-5000}
PROF_N2=${BENCH_PROF_N2:-25000}
PROF_RATE=${BENCH_PROF_RATE:-10000}

# Print "Ir delivered" for one run under callgrind.
cg_run() {
	local scn=$1 subj=$2 n=$3 saved=$SECS rc
	rm -f "$work/cg.out"
	wrap=(valgrind --tool=callgrind --callgrind-out-file="$work/cg.out"
	    --log-file="$work/cg.log")
	LOAD_N=$n
	LOAD_RATE="-r $PROF_RATE"
	WAIT_N=3000
	SECS=$((n / PROF_RATE * 3 + 10))
	run_scn "$scn" 64 "$subj"
	rc=$?
	wrap=()
	LOAD_N=100M
	LOAD_RATE=
	WAIT_N=500
	SECS=$saved
	[ $rc = 0 ] && [ -s "$work/cg.out" ] || return 1
	set -- $res
	echo "$(awk '/^(summary|totals):/ { print $2; exit }' \
	    "$work/cg.out") $8"
}

profile() {
	local scn subj calls sc ir a b pcsv=${CSV%.csv}-profile.csv
	echo "scenario,size,subject,syscalls_per_dgram,user_instr_per_dgram" \
	    > "$pcsv"
	printf '\n%-15s %5s %-11s %14s %14s\n' profile size subject \
	    syscalls/dgram Ir/dgram
	for scn in $SCENARIOS; do
		[[ $scn == ping-* ]] && continue
		for subj in ceiling ceiling-gso dgramd; do
			[[ " $SUBJECTS " == *" $subj "* ]] || continue
			subject_ok "$subj" || continue
			[ "$subj" = ceiling-gso ] && [ "$scn" != fwd ] &&
			    continue
			[ "$subj" = ceiling ] && [[ $scn == log-* ]] &&
			    [[ $scn != log-raw-* ]] && continue
			if [ "$SECONDS" -ge "$BUDGET" ]; then
				skipped=$((skipped + 1))
				continue
			fi
			msg "  profile $scn $subj"
			sc=-
			ir=-
			PROF=strace
			if run_scn "$scn" 64 "$subj" && [ -s "$work/strace.txt" ]
			then
				set -- $res
				calls=$(awk '$NF == "total" { print $4 }' \
				    "$work/strace.txt")
				[ -n "$calls" ] && [ "$8" -gt 0 ] &&
				    sc=$(calc "$calls / $8")
			fi
			PROF=
			if have valgrind && a=$(cg_run "$scn" "$subj" "$PROF_N1") &&
			    b=$(cg_run "$scn" "$subj" "$PROF_N2"); then
				set -- $a $b
				[ "$4" -gt "$2" ] &&
				    ir=$(calc "($3 - $1) / ($4 - $2)")
			fi
			printf '%-15s %5s %-11s %14s %14s\n' "$scn" 64 "$subj" \
			    "$sc" "$ir"
			echo "$scn,64,$subj,$sc,$ir" >> "$pcsv"
		done
	done
	echo "profile csv: $pcsv"
}

# ---- memory --------------------------------------------------------------
# dgramd with conf/dgramd.local.conf (its ports moved to free ones, run in a
# scratch directory): its memory when idle, at its peak while every socket
# is flooded in turn with BENCH_RSS_SIZE-byte datagrams for BENCH_RSS_SECS
# seconds each (UDP with GSO, unix spinning on a full receiver), and after;
# and the same for rsyslogd on the log-syslog-unix job when installed.
# Three measures (kB): RSS (VmRSS; peak VmHWM), which counts every page of
# the shared libraries a process maps although they are shared with every
# other process mapping them; PSS, which splits shared pages among their
# users; and private dirty memory (Private_Dirty of /proc/PID/smaps_rollup),
# what the process alone costs. Peaks of PSS and private dirty are sampled
# every 100 ms during the flood. Socket buffers are kernel memory and not in
# these figures.

RSS_SECS=${BENCH_RSS_SECS:-2}
RSS_SIZE=${BENCH_RSS_SIZE:-1400}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }

# "PSS PRIVATE_DIRTY" of a process, in kB.
rollup_kb() {
	awk '$1 == "Pss:" { p = $2 } $1 == "Private_Dirty:" { d = $2 }
	    END { print p + 0, d + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null
}

# Runs until process $1 ends (or is stopped): the largest PSS and private
# dirty seen go to file $2 as "PSS PRIVATE_DIRTY".
sample_peak() {
	local pid=$1 f=$2 p d mp=0 md=0
	while kill -0 "$pid" 2>/dev/null; do
		read -r p d < <(rollup_kb "$pid")
		[ "${p:-0}" -gt "$mp" ] && mp=$p
		[ "${d:-0}" -gt "$md" ] && md=$d
		echo "$mp $md" > "$f.tmp" && mv "$f.tmp" "$f"
		sleep 0.1
	done
}

# flood TARGET...: each for RSS_SECS, bounded in count and time.
flood() {
	local t g
	for t in "$@"; do
		g=-g
		[[ $t == /* ]] && g=-S
		taskset -c "$GEN_CPU" "$DGLOAD" send $g -f syslog -s "$RSS_SIZE" \
		    -n "$LOAD_N" -t "$RSS_SECS" "$t" > /dev/null || return 1
	done
}

mem_fmt='%-8s %-26s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n'

# measure SUBJECT CONFIG TARGET...: the line for the server $srv_pid.
measure() {
	local subj=$1 cfg=$2 rss0 pss0 pd0 rss1 pss1 pd1 rssp pssp pdp sampler
	shift 2
	rss0=$(status_kb "$srv_pid" VmRSS)
	read -r pss0 pd0 < <(rollup_kb "$srv_pid")
	rm -f "$work/peak"
	spawn /dev/null /dev/null sample_peak "$srv_pid" "$work/peak"
	sampler=$bg
	flood "$@"
	stop_pid "$sampler"
	rssp=$(status_kb "$srv_pid" VmHWM)
	rss1=$(status_kb "$srv_pid" VmRSS)
	read -r pss1 pd1 < <(rollup_kb "$srv_pid")
	read -r pssp pdp < "$work/peak" 2>/dev/null || { pssp=$pss1; pdp=$pd1; }
	# The last sample may predate the end of the flood.
	[ "$pss1" -gt "$pssp" ] && pssp=$pss1
	[ "$pd1" -gt "$pdp" ] && pdp=$pd1
	printf "$mem_fmt" "$subj" "$cfg" "$rss0" "$rssp" "$rss1" "$pss0" "$pssp" \
	    "$pss1" "$pd0" "$pdp" "$pd1"
	echo "$subj,$cfg,$rss0,$rssp,$rss1,$pss0,$pssp,$pss1,$pd0,$pdp,$pd1" >> "$rcsv"
}

memory() {
	local dir=$work/local p1 p2
	rcsv=${CSV%.csv}-rss.csv
	echo "subject,config,idle_rss_kb,peak_rss_kb,rss_after_kb,idle_pss_kb,peak_pss_kb," \
	    "pss_after_kb,idle_private_dirty_kb,peak_private_dirty_kb,private_dirty_after_kb" |
	    tr -d ' ' > "$rcsv"
	printf "\n$mem_fmt" memory config rss_idle rss_peak rss_aft pss_idle pss_peak \
	    pss_aft pd_idle pd_peak pd_aft
	if [ -x "$DGRAMD" ] && [ -f conf/dgramd.local.conf ]; then
		mkdir -p "$dir/run"
		p1=$("$DGLOAD" freeport) && p2=$("$DGLOAD" freeport) || return 1
		sed -e "s/port = 7007;/port = $p1;/" -e "s/port = 5514;/port = $p2;/" \
		    conf/dgramd.local.conf > "$dir/dgramd.conf"
		spawn "$work/srv.out" "$work/srv.err" taskset -c "$SRV_CPU" \
		    env -C "$dir" "$(realpath "$DGRAMD")" -c dgramd.conf
		srv_pid=$bg
		if wait_line "$srv_pid" "$work/srv.err" '^dgramd: listening syslog-udp ' \
		    > /dev/null; then
			sleep 0.5
			measure dgramd conf/dgramd.local.conf "127.0.0.1:$p1" "127.0.0.1:$p2" \
			    "$dir/run/log.sock" "$dir/run/echo.sock"
		else
			msg "  memory dgramd: did not start: $(head -c 200 "$work/srv.err")"
		fi
		stop_pid "$srv_pid"
	fi
	if subject_ok rsyslog && [[ " $SUBJECTS " == *" rsyslog "* ]]; then
		if start_rsyslog log-syslog-unix 64 "$SRV_CPU" "$logdir/rss.log"; then
			sleep 0.5
			measure rsyslog imuxsock+omfile "$srv_addr"
		fi
		stop_pid "$srv_pid"
		rm -f "$logdir/rss.log"
	fi
	echo "memory csv: $rcsv"
}

# ---- main ----------------------------------------------------------------

make -s -f "$here/bench.mk" BENCH_DIR="$here" bench-tools || exit 1
have taskset || { msg "run-bench.sh: taskset is required"; exit 1; }
[ "$(nproc)" -ge 2 ] || msg "run-bench.sh: one core only, pinning is moot"

# A sanitizer build (make SANITIZE=1 relinks ./dgramd) measures ASan.
if [ -x "$DGRAMD" ] && ldd "$DGRAMD" 2>/dev/null | grep -q 'libasan\|libubsan'; then
	msg "run-bench.sh: WARNING: $DGRAMD is a sanitizer build (make SANITIZE=1);" \
	    "rebuild it with 'touch src/.obj/.mode && make' for meaningful figures"
fi

subjects=()
for s in $SUBJECTS; do
	if subject_ok "$s"; then
		subjects+=("$s")
	else
		msg "run-bench.sh: $s not available, its rows are skipped"
	fi
done

busy0=$(busy_pct)
[ "$busy0" -gt 10 ] &&
    msg "run-bench.sh: WARNING: machine ${busy0}% busy before the run;" \
        "figures will be skewed"
if [ "${BENCH_PROFILE:-0}" != only ]; then
msg "run-bench.sh: sizes '$SIZES', $REPS rep(s), ${SECS}s per run;" \
    "work dir $work"
for size in $SIZES; do
	for scn in $SCENARIOS; do
		msg "  $scn $size"
		for ((rep = 1; rep <= REPS; rep++)); do
			for subj in "${subjects[@]}"; do
				# Ceiling log rows come from the raw run.
				[ "$subj" = ceiling ] && [[ $scn == log-* ]] &&
				    [[ $scn != log-raw-* ]] &&
				    [[ " $SCENARIOS " == *" log-raw-${scn##*-} "* ]] &&
				    continue
				run_one "$scn" "$size" "$subj" "$rep"
			done
		done
	done
done

# Medians, ratios, table and CSV.
awk -F'\t' -v csv="$CSV" -v order="$SCENARIOS" '
function median(list,    a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	if (n == 0)
		return "-"
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function add(k, f, v) {
	if (v != "-" && v != "")
		vals[k, f] = vals[k, f] " " v
}
{
	k = $1 SUBSEP $2 SUBSEP $3
	if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
	reps[k]++
	if ($5 == "-") fails[k]++
	add(k, "rate", $5); add(k, "offered", $6); add(k, "loss", $7)
	add(k, "cpu", $8); add(k, "p50", $9); add(k, "p99", $10)
	add(k, "sent", $11); add(k, "dlv", $12)
}
END {
	nf = split("rate offered loss cpu p50 p99 sent dlv", fl, " ")
	for (i = 1; i <= nk; i++)
		for (j = 1; j <= nf; j++)
			med[keys[i], fl[j]] = median(vals[keys[i], fl[j]])
	print "scenario,size,subject,reps,failed,dgram_per_s,offered_per_s," \
	    "loss_pct,cpu_us_per_dgram,rtt_p50_us,rtt_p99_us,sent,delivered," \
	    "ratio_vs_ceiling,ratio_dgramd_vs_this" > csv
	printf "%-15s %5s %-11s %11s %11s %7s %8s %8s %8s %8s %8s\n",
	    "scenario", "size", "subject", "dgram/s", "offered/s", "loss%",
	    "cpu_us", "p50_us", "p99_us", "x_ceil", "dgramd/x"
	ns = split(order, so, " ")
	for (a = 1; a <= ns; a++)
	for (i = 1; i <= nk; i++) {
		split(keys[i], kk, SUBSEP)
		if (kk[1] != so[a]) continue
		m = kk[1] ~ /^ping/ ? "p50" : "rate"
		ck = kk[1] SUBSEP kk[2] SUBSEP "ceiling"
		dk = kk[1] SUBSEP kk[2] SUBSEP "dgramd"
		v = med[keys[i], m]
		rc = "-"
		if (v != "-" && ((ck, m) in med) && med[ck, m] != "-" &&
		    med[ck, m] > 0)
			rc = sprintf("%.2f", v / med[ck, m])
		rd = "-"
		if (v != "-" && kk[3] != "dgramd" && ((dk, m) in med) &&
		    med[dk, m] != "-" && v > 0)
			rd = sprintf("%.2f", med[dk, m] / v)
		fmt1 = "%-15s %5s %-11s %11s %11s %7s %8s %8s %8s %8s %8s\n"
		r1 = fmtn(med[keys[i], "rate"], "%.0f")
		if (fails[keys[i]] == reps[keys[i]])
			r1 = "failed"
		printf fmt1, kk[1], kk[2], kk[3], r1,
		    fmtn(med[keys[i], "offered"], "%.0f"),
		    fmtn(med[keys[i], "loss"], "%.2f"),
		    fmtn(med[keys[i], "cpu"], "%.3f"),
		    fmtn(med[keys[i], "p50"], "%.2f"),
		    fmtn(med[keys[i], "p99"], "%.2f"), rc, rd
		printf "%s,%s,%s,%d,%d,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n",
		    kk[1], kk[2], kk[3], reps[keys[i]], fails[keys[i]] + 0,
		    med[keys[i], "rate"], med[keys[i], "offered"],
		    med[keys[i], "loss"], med[keys[i], "cpu"],
		    med[keys[i], "p50"], med[keys[i], "p99"],
		    med[keys[i], "sent"], med[keys[i], "dlv"], rc, rd > csv
	}
}
function fmtn(v, f) { return v == "-" ? "-" : sprintf(f, v) }
' "$raw"

# Request/response: dgramd against the ceiling and nginx, and the p50 a
# proxy adds to the direct round trip, from the medians above.
[[ " $SCENARIOS " == *" rr-c64 "* ]] && awk -F, '
$1 == "rr-c64" && $6 != "-" { r[$2, $3] = $6; p[$2, $3] = $10; sz[$2] = 1 }
function ratio(a, b) { return (a == "" || b == "" || b <= 0) ? "-" : sprintf("%.2f", a / b) }
END {
	for (s in sz) {
		d = p[s, "direct"]
		ad = (p[s, "dgramd"] != "" && d != "") ? p[s, "dgramd"] - d : ""
		ac = (p[s, "ceiling"] != "" && d != "") ? p[s, "ceiling"] - d : ""
		printf "rr-c64 %s bytes: dgramd/ceiling tps %s (target >= 0.85), " \
		    "dgramd/nginx tps %s (target >= 2), added p50 dgramd %s us / " \
		    "ceiling %s us = %s (target <= 1.2)\n", s,
		    ratio(r[s, "dgramd"], r[s, "ceiling"]), ratio(r[s, "dgramd"], r[s, "nginx"]),
		    ad == "" ? "-" : sprintf("%.1f", ad), ac == "" ? "-" : sprintf("%.1f", ac),
		    ratio(ad, ac)
	}
}' "$CSV"

fi
if [ "${BENCH_PROFILE:-0}" != only ] && [ "${BENCH_MEMORY:-1}" = 1 ]; then
	msg "  memory"
	memory
fi
if [ "${BENCH_PROFILE:-0}" != 0 ]; then
	have strace || msg "run-bench.sh: strace missing, no syscall counts"
	have valgrind || msg "run-bench.sh: valgrind missing, no Ir counts"
	profile
fi

[ -x "$DGRAMD" ] || msg "run-bench.sh: $DGRAMD not found: dgramd rows skipped"
busy1=$(busy_pct)
echo "machine busy before/after the run: ${busy0}%/${busy1}% (want ~0)"
[ "$busy1" -gt 10 ] &&
    msg "run-bench.sh: WARNING: machine ${busy1}% busy after the run"
[ "$skipped" -gt 0 ] &&
    msg "run-bench.sh: time budget ${BUDGET}s reached, $skipped run(s) skipped"
msg "run-bench.sh: ${SECONDS}s; per-run results $raw"
echo "csv: $CSV"
