#!/usr/bin/env bash
# bench-metrics.sh: the four rows of issue 17's table, measured once between a
# client and a server that some router connects (bench-table.sh calls it for
# the kernel, the C copy loop and tunwall alike):
#
#   bench-metrics.sh 'CLIENT-PREFIX' 'SERVER-PREFIX' SERVER-ADDRESS SECONDS CONN-RATE
#
# CLIENT-PREFIX and SERVER-PREFIX run a command on each side (for a lab:
# "tunwall lab exec --lab NAME client --"); CONN-RATE is the built
# Scripts/conn-rate.c. Prints four lines, one value each:
#
#   tcp1 GBIT/S     one iperf3 TCP stream, client to server
#   tcp4 GBIT/S     four iperf3 TCP streams at once (-P 4), summed
#   udp64 PKT/S     64-byte UDP datagrams the server received (iperf3 -u -l 64 -b 0)
#   conn CONN/S     new TCP connections a second (conn-rate, 4 threads, RST close)
set -euo pipefail
CLIENT=$1
SERVER=$2
ADDRESS=$3
DURATION=$4
CONN_RATE=$5
WORK=$(mktemp -d /tmp/bench-metrics.XXXXXX)
SERVER_PID=""
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT

# serve COMMAND...: starts a server on the server side and waits until it
# listens on $PORT. The shell writes its pid, then becomes the server: the pid
# to stop it by (a lab's exec may not pass a signal on).
serve() {
    rm -f "$WORK/server.pid"
    $SERVER sh -c 'echo $$ > "$0"; exec "$@"' "$WORK/server.pid" "$@" >/dev/null 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 50); do
        $SERVER ss -lntuH "sport = :$PORT" 2>/dev/null | grep -q . && return
        sleep 0.1
    done
}

stop_server() {
    if [[ -s "$WORK/server.pid" ]]; then kill "$(cat "$WORK/server.pid")" 2>/dev/null || true; fi
    rm -f "$WORK/server.pid"
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
    [[ -n "$SERVER_PID" ]] && wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

iperf() {
    PORT=5201
    serve iperf3 -s -1
    $CLIENT iperf3 -c "$ADDRESS" -t "$DURATION" -J "$@" >"$WORK/iperf.json" || true
    stop_server
}

iperf
python3 -c 'import json,sys; print("tcp1 %.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$WORK/iperf.json"
iperf -P 4
python3 -c 'import json,sys; print("tcp4 %.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$WORK/iperf.json"
iperf -u -l 64 -b 0
python3 - "$WORK/iperf.json" <<'PY'
import json, sys
end = json.load(open(sys.argv[1]))["end"]
# The server's view: what was sent less what it never received.
s = end.get("sum_received") or end["sum"]
packets = s.get("packets", end["sum"].get("packets", 0)) - s.get("lost_packets", end["sum"].get("lost_packets", 0))
print("udp64 %.0f" % (packets / (s.get("seconds") or end["sum"]["seconds"])))
PY
PORT=5300
serve "$CONN_RATE" serve 5300
$CLIENT "$CONN_RATE" connect "$ADDRESS" 5300 "$DURATION" | sed -E 's/^([0-9]+) connections\/s/conn \1/'
stop_server
