#!/usr/bin/env bash
# tutorial.sh LESSON: one lesson of docs/tutorial.md, run end to end in a lab
# of its own, explained as it goes; exits 0 when everything the lesson claims
# happened. The lab is always taken down.
#
#   sudo Scripts/tutorial.sh active-vs-passive
#   sudo Scripts/tutorial.sh packet-filter
#   sudo Scripts/tutorial.sh server-behind-nat
#   sudo Scripts/tutorial.sh other-port
#   sudo Scripts/tutorial.sh ftps
#
# TUNWALL=path/to/tunwall picks the binary (default .build/release/tunwall,
# built if missing). Every client and server runs inside the lab's namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
LESSON=${1:-}
TUNWALL=${TUNWALL:-.build/release/tunwall}
[[ $(id -u) -eq 0 ]] || { echo "tutorial.sh: needs root (namespaces, TUN devices)" >&2; exit 1; }
[[ -x $TUNWALL ]] || swift build -c release >/dev/null
TUNWALL=$(realpath "$TUNWALL")
LAB="tut$$"
WORK=$(mktemp -d /tmp/tunwall-tutorial.XXXXXX)
chmod 755 "$WORK"
cleanup() {
    "$TUNWALL" lab down "$LAB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
say() { printf '%s\n' "$*"; }
# expect_ok WHAT CMD...: CMD must succeed.
expect_ok() {
    local what=$1; shift
    if "$@" >"$WORK/out.txt" 2>&1; then say "  ok    $what"; else say "  FAIL  $what (it should work)"; sed 's/^/        /' "$WORK/out.txt" | tail -5; failures=$((failures + 1)); fi
}
# drops REASON: the firewall's count of packets dropped for REASON, as `tunwall stats` prints it.
drops() { "$TUNWALL" stats --lab "$LAB" | awk -v r="$1" '$1 == r { n = $2 } END { print n + 0 }'; }
# expect_fail WHAT WHY CMD...: CMD must fail, and for the reason the lesson
# gives, WHY:
#   drop:REASON  the firewall dropped its packets: the REASON counter of
#                `tunwall stats` (a drop reason, e.g. rule-drop) grew while CMD ran;
#   says:TEXT    a peer refused it: CMD's output contains TEXT (a server's reply).
# A failure for any other cause (a server not yet listening, a refused
# connection, a typo) is not the lesson's point and fails the check.
expect_fail() {
    local what=$1 why=$2 before=0 after=0; shift 2
    [[ $why == drop:* ]] && before=$(drops "${why#drop:}")
    if "$@" >"$WORK/out.txt" 2>&1; then
        say "  FAIL  $what (it should not work)"; failures=$((failures + 1)); return
    fi
    case $why in
    drop:*)
        after=$(drops "${why#drop:}")
        if ((after > before)); then
            say "  ok    $what: blocked, as it should be (dropped: ${why#drop:} $before -> $after)"; return
        fi
        say "  FAIL  $what: it failed, but the firewall dropped nothing for ${why#drop:} (still $after):" ;;
    says:*)
        if grep -qF -- "${why#says:}" "$WORK/out.txt"; then
            say "  ok    $what: refused, as it should be (\"${why#says:}\")"; return
        fi
        say "  FAIL  $what: it failed, but not with \"${why#says:}\":" ;;
    *)
        say "  FAIL  $what: unknown reason $why" ;;
    esac
    sed 's/^/        /' "$WORK/out.txt" | tail -5
    "$TUNWALL" stats --lab "$LAB" | sed -n '/^drops/,/^$/s/^/        /p'
    failures=$((failures + 1))
}
# wait_listening HOST PORT: until something listens on TCP PORT in HOST's
# namespace, as ss sees it from inside (10 s at most), so that no check
# starts before its server and no client needs a retry.
wait_listening() {
    local i
    for ((i = 0; i < 200; i++)); do
        [[ -n $(in_host "$1" ss -H -ltn "sport = :$2") ]] && return 0
        sleep 0.05
    done
    say "  FAIL  nothing listens on port $2 in $1 after 10 s"; exit 1
}
up() {       # up TOPOLOGY [RULESET]
    "$TUNWALL" lab up "$1" --name "$LAB" --daemon >/dev/null
    if [[ -n ${2:-} ]]; then "$TUNWALL" reload "$2" --lab "$LAB" >/dev/null 2>&1; fi
}
use_rules() { "$TUNWALL" reload "$1" --lab "$LAB" >/dev/null 2>&1; say "  (ruleset now: $1)"; }
in_host() { local host=$1; shift; "$TUNWALL" lab exec --lab "$LAB" "$host" -- "$@"; }
# serve HOST ADDRESS[:PORT] [ARGS...]: the built-in FTP server, in the background.
serve() {
    local host=$1 listen=$2; shift 2
    mkdir -p "$WORK/root"
    [[ -f $WORK/root/file.bin ]] || head -c 300000 /dev/urandom >"$WORK/root/file.bin"
    "$TUNWALL" lab exec --lab "$LAB" "$host" -- "$TUNWALL" ftp serve --listen "$listen" --root "$WORK/root" "$@" \
        >>"$WORK/server.log" 2>&1 &
    wait_listening "$host" "$( [[ $listen == *:* ]] && echo "${listen##*:}" || echo 21)"
}
# fetch MODE URL: a download with the built-in client, compared with the file served.
fetch() {
    rm -f "$WORK/got"
    in_host client "$TUNWALL" ftp get "$2" --mode "$1" --out "$WORK/got" --timeout 5 && cmp -s "$WORK/got" "$WORK/root/file.bin"
}
# connect HOST SOURCE-PORT ADDRESS PORT: a TCP connection from a chosen source port (python's socket).
connect() {
    in_host "$1" python3 -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", int(sys.argv[1]))); s.settimeout(3); s.connect((sys.argv[2], int(sys.argv[3]))); print(s.recv(64).decode())' "$2" "$3" "$4"
}
# listen HOST PORT: a service answering "secret" once, in the background.
listen() {
    in_host "$1" python3 -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", int(sys.argv[1]))); s.listen(); s.settimeout(8)
try:
    c, _ = s.accept(); c.sendall(b"secret"); c.close()
except OSError:
    pass' "$2" >/dev/null 2>&1 &
    wait_listening "$1" "$2"
}

case $LESSON in
active-vs-passive)
    say "Lesson 1: active and passive FTP through a stateful firewall (Topologies/ftp-masquerade.json's hosts, no NAT)."
    up Topologies/ftp-masquerade.json Topologies/tutorial/stateful.nft
    say "  (ruleset: Topologies/tutorial/stateful.nft: new connections only from the LAN, no FTP helper)"
    serve server 203.0.113.10 --active-from-port-20
    expect_ok "passive (PASV): the client opens the data connection too" fetch passive ftp://203.0.113.10/file.bin
    expect_fail "active (PORT): the server's data connection from port 20 is new, from outside" drop:rule-drop \
        fetch active ftp://203.0.113.10/file.bin
    use_rules Topologies/tutorial/stateful-helper.nft
    expect_ok "active with the helper: it read PORT and let exactly that connection in (related)" fetch active ftp://203.0.113.10/file.bin
    expect_ok "passive with the helper too" fetch passive ftp://203.0.113.10/file.bin
    ;;
packet-filter)
    say "Lesson 2: a plain packet filter must open source port 20 and ports 1024-65535, and that opens far more."
    up Topologies/ftp-masquerade.json Topologies/tutorial/packet-filter.nft
    say "  (ruleset: Topologies/tutorial/packet-filter.nft: no connection tracking, only ports)"
    serve server 203.0.113.10 --active-from-port-20
    expect_ok "active FTP works through the port rules" fetch active ftp://203.0.113.10/file.bin
    expect_ok "passive FTP works through the port rules" fetch passive ftp://203.0.113.10/file.bin
    listen client 8080
    expect_ok "but anybody outside reaches the client's service on port 8080, just by sending from port 20" \
        connect outsider 20 10.0.1.2 8080
    listen client 9090
    expect_ok "and any high port of the client from any port (the reply rule)" connect outsider 40000 10.0.1.2 9090
    use_rules Topologies/tutorial/stateful-helper.nft
    listen client 8081
    expect_fail "the stateful firewall with the helper: port 20 opens nothing" drop:rule-drop connect outsider 20 10.0.1.2 8081
    expect_ok "while active FTP still works" fetch active ftp://203.0.113.10/file.bin
    ;;
server-behind-nat)
    say "Lesson 3: an FTP server behind NAT (Topologies/ftp-dnat.json: 10.0.2.10 published as 203.0.113.1:21)."
    up Topologies/ftp-dnat.json Topologies/tutorial/dnat-no-helper.nft
    say "  (ruleset: Topologies/tutorial/dnat-no-helper.nft: port 21 forwarded, no helper)"
    serve server 10.0.2.10
    expect_fail "passive without the helper: the 227 reply names 10.0.2.10, unroutable from outside" drop:rule-drop \
        fetch passive ftp://203.0.113.1/file.bin
    use_rules Topologies/ftp-dnat.nft
    expect_ok "fix 1, the helper: it rewrites the 227 to 203.0.113.1 and maps the data connection" \
        fetch passive ftp://203.0.113.1/file.bin
    use_rules Topologies/tutorial/dnat-range.nft
    say "  (a second server, pyftpdlib on 10.0.2.10:2100, announces 203.0.113.1 and passive ports 50000-50100)"
    "$TUNWALL" lab exec --lab "$LAB" server -- /usr/bin/python3 -m pyftpdlib -p 2100 -i 10.0.2.10 \
        --nat-address 203.0.113.1 --range 50000-50100 -d "$WORK/root" >>"$WORK/pyftpdlib.log" 2>&1 &
    wait_listening server 2100
    expect_fail "the built-in server on 21 still announces 10.0.2.10: without the helper it fails again" drop:rule-drop \
        fetch passive ftp://203.0.113.1/file.bin
    expect_ok "fix 2, port-range forwarding: no helper, the server announces the public address" \
        fetch passive ftp://203.0.113.1:2100/file.bin
    ;;
other-port)
    say "Lesson 4: the helper on another port (an application override): the FTP server listens on 2121."
    up Topologies/ftp-masquerade.json
    say "  (ruleset: Topologies/ftp-masquerade.nft: the helper on port 21 only)"
    serve server 203.0.113.10:2121 --active-from-port-20
    expect_fail "active FTP to port 2121: no helper reads its PORT, so the NAT never maps it" \
        "says:500 Illegal PORT command" \
        fetch active ftp://203.0.113.10:2121/file.bin
    use_rules Topologies/tutorial/helper-2121.nft
    expect_ok "with 'tcp dport { 21, 2121 } ct helper set': the helper follows port 2121" \
        fetch active ftp://203.0.113.10:2121/file.bin
    ;;
ftps)
    say "Lesson 5: FTPS blinds every helper (the client behind masquerade, Topologies/ftp-masquerade.json)."
    up Topologies/ftp-masquerade.json
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=ftp.example -days 1 \
        -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1
    mkdir -p "$WORK/root" && head -c 300000 /dev/urandom >"$WORK/root/file.bin"
    # pyftpdlib with TLS (RFC 4217: AUTH TLS, then PROT P for the data too).
    "$TUNWALL" lab exec --lab "$LAB" server -- /usr/bin/python3 -c 'import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.servers import FTPServer
a = DummyAuthorizer(); a.add_anonymous(sys.argv[1])
h = TLS_FTPHandler; h.certfile = sys.argv[2]; h.keyfile = sys.argv[3]; h.authorizer = a
FTPServer(("203.0.113.10", 21), h).serve_forever()' "$WORK/root" "$WORK/cert.pem" "$WORK/key.pem" >>"$WORK/pyftpdlib.log" 2>&1 &
    wait_listening server 21
    # ftps MODE: a download over FTPS with Python's ftplib (FTP_TLS, PROT P).
    ftps() {
        in_host client /usr/bin/python3 -c 'import ftplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
f = ftplib.FTP_TLS(context=ctx, timeout=5); f.connect("203.0.113.10", 21); f.login(); f.prot_p()
f.set_pasv(sys.argv[1] == "passive"); data = bytearray()
f.retrbinary("RETR file.bin", data.extend); f.quit()
sys.exit(0 if bytes(data) == open(sys.argv[2], "rb").read() else 1)' "$1" "$WORK/root/file.bin"
    }
    expect_ok "passive over TLS: the client opens the data connection itself, no helper needed" ftps passive
    expect_fail "active over TLS: the PORT command is encrypted, the helper cannot read or rewrite it" \
        "says:501 Rejected data connection to foreign address 10.0.1.2" \
        ftps active
    "$TUNWALL" stats --lab "$LAB" >"$WORK/stats.txt"
    expect_ok "tunwall stats counts it: \"control channel encrypted, helper blind\"" \
        grep -q "control channel encrypted, helper blind" "$WORK/stats.txt"
    ;;
*)
    echo "usage: tutorial.sh active-vs-passive|packet-filter|server-behind-nat|other-port|ftps" >&2
    exit 2
    ;;
esac

if ((failures > 0)); then
    say "$failures check(s) did not go as the lesson says."
    exit 1
fi
say "Everything went as the lesson says."
