#!/usr/bin/env bash
# capture-fixtures.sh — regenerate Tests/WireTests/Fixtures/captured.pcap.
#
# Usage (as root):  Scripts/capture-fixtures.sh [OUTPUT.pcap]
#
# Builds a private three-namespace topology
#
#   client ns ── veth ── router ns ── veth (MTU 1300) ── server ns
#   10.0.1.2/24          10.0.1.1     203.0.113.1         203.0.113.10/24
#   fd00:1::2/64         fd00:1::1    2001:db8:1::1       2001:db8:1::10/64
#
# generates a small, fixed set of IPv4/IPv6 traffic (TCP, UDP, ICMP errors,
# fragments, extension headers), captures it with tcpdump on the client's
# veth, and converts the Ethernet capture to a LINKTYPE_RAW (101) pcap.
#
# Every packet is sent from inside namespaces this script creates; nothing is
# sent from the root namespace. The namespaces, background processes and
# temporary files are removed by an EXIT trap whatever happens.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
OUT=${1:-$REPO_ROOT/Tests/WireTests/Fixtures/captured.pcap}

if [[ $(id -u) -ne 0 ]]; then
    echo "capture-fixtures: must run as root (network namespaces, tcpdump)" >&2
    exit 1
fi

# ---------------------------------------------------------------- tools
need_pkgs=()
command -v ip      >/dev/null || need_pkgs+=(iproute2)
command -v tc      >/dev/null || need_pkgs+=(iproute2)
command -v tcpdump >/dev/null || need_pkgs+=(tcpdump)
command -v ethtool >/dev/null || need_pkgs+=(ethtool)
command -v ping    >/dev/null || need_pkgs+=(iputils-ping)
command -v python3 >/dev/null || need_pkgs+=(python3)
if ((${#need_pkgs[@]})); then
    echo "capture-fixtures: installing ${need_pkgs[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
# nftables is only needed for the optional SACK example (item 11).
if ! command -v nft >/dev/null; then
    echo "capture-fixtures: nft not found, trying to install nftables (optional)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq nftables >/dev/null; } || true
fi
PY=$(command -v python3)

# ---------------------------------------------------------------- cleanup
NS_C="twfx-$$-client"
NS_R="twfx-$$-router"
NS_S="twfx-$$-server"
TMPD=$(mktemp -d /tmp/twfx.XXXXXX)
PIDS=()

cleanup() {
    local rc=$?
    set +e
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    for ns in "$NS_C" "$NS_R" "$NS_S"; do
        # Anything still running inside our namespaces was started by us.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill "$pid" 2>/dev/null
        done
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$TMPD"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Foreground helpers. Background jobs call `ip netns exec` directly so that
# $! is the pid of the real process (ip netns exec execs its command).
inC() { ip netns exec "$NS_C" "$@"; }
inR() { ip netns exec "$NS_R" "$@"; }
step() { echo "capture-fixtures: $*" >&2; }

# ---------------------------------------------------------------- topology
step "creating namespaces $NS_C, $NS_R, $NS_S"
for ns in "$NS_C" "$NS_R" "$NS_S"; do
    ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
    # No DAD and no router solicitations on interfaces created from now on,
    # so IPv6 is usable at once and the capture holds no RS noise.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_ra=0
done
inR sysctl -qw net.ipv4.ip_forward=1
inR sysctl -qw net.ipv6.conf.all.forwarding=1

# Links are created directly inside the namespaces (never in the root ns).
ip -n "$NS_C" link add c0 type veth peer name rc0 netns "$NS_R"
ip -n "$NS_R" link add rs0 type veth peer name s0 netns "$NS_S"
ip -n "$NS_R" link set rs0 mtu 1300
ip -n "$NS_S" link set s0 mtu 1300

for pair in "$NS_C:c0" "$NS_R:rc0" "$NS_R:rs0" "$NS_S:s0"; do
    ns=${pair%%:*} dev=${pair#*:}
    # Full checksums on the wire and no GSO/GRO super-packets in the capture.
    # Features a driver lacks make ethtool fail; that is fine.
    ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off \
        >/dev/null 2>&1 || true
done

ip -n "$NS_C" addr add 10.0.1.2/24 dev c0
ip -n "$NS_C" addr add fd00:1::2/64 dev c0 nodad
ip -n "$NS_R" addr add 10.0.1.1/24 dev rc0
ip -n "$NS_R" addr add fd00:1::1/64 dev rc0 nodad
ip -n "$NS_R" addr add 203.0.113.1/24 dev rs0
ip -n "$NS_R" addr add 2001:db8:1::1/64 dev rs0 nodad
ip -n "$NS_S" addr add 203.0.113.10/24 dev s0
ip -n "$NS_S" addr add 2001:db8:1::10/64 dev s0 nodad

ip -n "$NS_C" link set c0 up
ip -n "$NS_R" link set rc0 up
ip -n "$NS_R" link set rs0 up
ip -n "$NS_S" link set s0 up

ip -n "$NS_C" route add default via 10.0.1.1
ip -n "$NS_C" -6 route add default via fd00:1::1
ip -n "$NS_S" route add default via 203.0.113.1
ip -n "$NS_S" -6 route add default via 2001:db8:1::1

# ---------------------------------------------------------------- helpers
mkdir -p "$TMPD/www"
# A deterministic ~2 KB document for the HTTP fetches (items 1 and 2).
"$PY" - "$TMPD/www/fixture.txt" <<'EOF'
import sys
lines = [f"tunwall wire fixture line {i:03d} abcdefghijklmnopqrstuvwxyz\n" for i in range(40)]
open(sys.argv[1], "w").write("".join(lines)[:2048])
EOF

cat >"$TMPD/tw.py" <<'EOF'
# Traffic helpers, run inside the namespaces by capture-fixtures.sh.
import socket, struct, sys, time, urllib.request

UDP_ECHO_PORT = 12007
SACK_PORT = 9000
SACK_BYTES = 16 * 1024

def dual_stack(kind):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    return s

def udp_echo_server():
    s = dual_stack(socket.SOCK_DGRAM)
    s.bind(("::", UDP_ECHO_PORT))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(b"echo:" + data, peer)

def sack_server():
    s = dual_stack(socket.SOCK_STREAM)
    s.bind(("::", SACK_PORT))
    s.listen(4)
    payload = bytes((i * 7) & 0xFF for i in range(SACK_BYTES))
    while True:
        c, _ = s.accept()
        c.recv(64)
        c.sendall(payload)
        c.close()

def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET

def http_get(host, port=8080):
    h = f"[{host}]" if ":" in host else host
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{h}:{port}/fixture.txt", timeout=5) as r:
        body = r.read()
    assert len(body) == 2048, len(body)

def udp_echo(host):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(b"tunwall udp probe", (host, UDP_ECHO_PORT))
    data, _ = s.recvfrom(2048)
    assert data == b"echo:tunwall udp probe", data

def udp_closed(host, port=9):
    # Nothing listens on the port: the server answers port unreachable.
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.sendto(b"nobody home", (host, port))

def udp_ttl1(host, port=33434):
    # TTL / hop limit 1: the router answers time exceeded.
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    if family(host) == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 1)
    s.sendto(b"ttl one", (host, port))

def mld_join(ifname, group):
    # Joining a group makes the kernel send an MLDv2 report, which carries
    # a hop-by-hop options header with a router-alert option.
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", socket.if_nametoindex(ifname))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    time.sleep(0.3)

def sack_get(host):
    s = socket.create_connection((host, SACK_PORT), timeout=10)
    s.sendall(b"go")
    n = 0
    while True:
        d = s.recv(65536)
        if not d:
            break
        n += len(d)
    s.close()
    assert n == SACK_BYTES, n

def wait_ready(*hosts):
    deadline = time.time() + 10
    while True:
        try:
            for h in hosts:
                http_get(h)
                udp_echo(h)
                s = socket.create_connection((h, SACK_PORT), timeout=2)
                s.close()
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)

if __name__ == "__main__":
    fn, *args = sys.argv[1:]
    globals()[fn.replace("-", "_")](*args)
EOF

# ---------------------------------------------------------------- servers
step "starting servers in $NS_S"
ip netns exec "$NS_S" "$PY" -m http.server 8080 --bind :: --directory "$TMPD/www" >"$TMPD/http.log" 2>&1 &
PIDS+=($!)
ip netns exec "$NS_S" "$PY" "$TMPD/tw.py" udp-echo-server >"$TMPD/udp.log" 2>&1 &
PIDS+=($!)
ip netns exec "$NS_S" "$PY" "$TMPD/tw.py" sack-server >"$TMPD/sack.log" 2>&1 &
PIDS+=($!)

# Wait for the servers; this also fills the neighbour caches on every hop so
# that the capture holds little ND/ARP traffic. None of this is captured.
inC "$PY" "$TMPD/tw.py" wait-ready 203.0.113.10 2001:db8:1::10
inC ping -n -q -c 1 -W 2 10.0.1.1 >/dev/null
inC ping -n -q -6 -c 1 -W 2 fd00:1::1 >/dev/null
# Let the interface-up MLD reports die down before capturing.
sleep 2

# ---------------------------------------------------------------- capture
step "starting tcpdump in $NS_C on c0"
ip netns exec "$NS_C" tcpdump -i c0 -nn -s 0 -U -Z root -w "$TMPD/eth.pcap" 'ip or ip6' \
    2>"$TMPD/tcpdump.err" &
TCPDUMP_PID=$!
PIDS+=($TCPDUMP_PID)
for _ in $(seq 50); do
    grep -q "listening on" "$TMPD/tcpdump.err" && break
    kill -0 "$TCPDUMP_PID" 2>/dev/null || { cat "$TMPD/tcpdump.err" >&2; exit 1; }
    sleep 0.1
done
grep -q "listening on" "$TMPD/tcpdump.err" || { cat "$TMPD/tcpdump.err" >&2; exit 1; }
sleep 1

pause() { sleep 0.3; }

step "1: IPv4 TCP (HTTP GET of a 2 KB file)"
inC "$PY" "$TMPD/tw.py" http-get 203.0.113.10; pause
step "2: IPv6 TCP (HTTP GET of a 2 KB file)"
inC "$PY" "$TMPD/tw.py" http-get 2001:db8:1::10; pause
step "3: UDP request/reply, IPv4 and IPv6"
inC "$PY" "$TMPD/tw.py" udp-echo 203.0.113.10; pause
inC "$PY" "$TMPD/tw.py" udp-echo 2001:db8:1::10; pause
step "4: ICMP echo, IPv4 and IPv6"
inC ping -n -c 1 -W 2 203.0.113.10 >/dev/null; pause
inC ping -n -6 -c 1 -W 2 2001:db8:1::10 >/dev/null; pause
step "5: port unreachable, IPv4 and IPv6"
inC "$PY" "$TMPD/tw.py" udp-closed 203.0.113.10; pause
inC "$PY" "$TMPD/tw.py" udp-closed 2001:db8:1::10; pause
step "6: time exceeded, IPv4 and IPv6"
inC "$PY" "$TMPD/tw.py" udp-ttl1 203.0.113.10; pause
inC "$PY" "$TMPD/tw.py" udp-ttl1 2001:db8:1::10; pause
step "7: fragmentation needed (IPv4) and packet too big (IPv6)"
# Both pings are expected to fail: the router answers with the ICMP error.
inC ping -n -M do -s 1400 -c 1 -W 1 203.0.113.10 >/dev/null 2>&1 || true; pause
inC ping -n -6 -s 1400 -c 1 -W 1 2001:db8:1::10 >/dev/null 2>&1 || true; pause
step "8: fragmented IPv4 datagram"
inC ping -n -M dont -s 3000 -c 1 -W 2 10.0.1.1 >/dev/null; pause
step "9: fragmented IPv6 datagram"
inC ping -n -6 -s 3000 -c 1 -W 2 fd00:1::1 >/dev/null; pause
step "10: IPv6 hop-by-hop header (MLDv2 report)"
inC "$PY" "$TMPD/tw.py" mld-join c0 ff05::1234; pause

step "11 (optional): TCP SACK blocks"
SACK_DONE=no
if command -v nft >/dev/null && inR nft -f - 2>"$TMPD/nft.err" <<'EOF'
table inet twfx {
    chain drop_one {
        type filter hook forward priority 0; policy accept;
        # Drop exactly one full-sized data segment (the third) of the
        # server's reply; the client then ACKs with SACK blocks.
        ip saddr 203.0.113.10 tcp sport 9000 ip length > 1000 numgen inc mod 1000000 == 2 drop
    }
}
EOF
then
    inC "$PY" "$TMPD/tw.py" sack-get 203.0.113.10
    inR nft delete table inet twfx
    SACK_DONE=yes
else
    step "  skipped: nftables unavailable ($(cat "$TMPD/nft.err" 2>/dev/null))"
fi

sleep 1
step "stopping tcpdump"
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID"
keep=()
for pid in "${PIDS[@]}"; do [[ $pid == "$TCPDUMP_PID" ]] || keep+=("$pid"); done
PIDS=("${keep[@]}")

# ---------------------------------------------------------------- convert
step "converting Ethernet capture to LINKTYPE_RAW"
mkdir -p "$(dirname "$OUT")"
"$PY" - "$TMPD/eth.pcap" "$TMPD/raw.pcap" <<'EOF'
# Classic pcap, LINKTYPE_ETHERNET (1) -> LINKTYPE_RAW (101), microsecond
# timestamps, little-endian, snaplen 65535. Only IPv4/IPv6 frames are kept;
# 802.1Q tags are skipped.
import struct, sys

src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
magic = data[:4]
formats = {
    b"\xd4\xc3\xb2\xa1": ("<", 1), b"\xa1\xb2\xc3\xd4": (">", 1),
    b"\x4d\x3c\xb2\xa1": ("<", 1000), b"\xa1\xb2\x3c\x4d": (">", 1000),
}
if magic not in formats:
    sys.exit(f"unknown pcap magic {magic.hex()}")
end, ns_div = formats[magic]
_, _, _, _, _, linktype = struct.unpack(end + "HHiIII", data[4:24])
if linktype != 1:
    sys.exit(f"expected LINKTYPE_ETHERNET, got {linktype}")

out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
off, kept, dropped = 24, 0, 0
while off < len(data):
    sec, frac, incl, orig = struct.unpack(end + "IIII", data[off:off + 16])
    frame = data[off + 16:off + 16 + incl]
    off += 16 + incl
    hdr = 14
    etype = struct.unpack(">H", frame[12:14])[0] if incl >= 14 else 0
    while etype in (0x8100, 0x88A8) and incl >= hdr + 4:
        etype = struct.unpack(">H", frame[hdr + 2:hdr + 4])[0]
        hdr += 4
    if etype not in (0x0800, 0x86DD):
        dropped += 1
        continue
    payload = frame[hdr:]
    out.append(struct.pack("<IIII", sec, frac // ns_div, len(payload), orig - hdr))
    out.append(payload)
    kept += 1
open(dst, "wb").write(b"".join(out))
print(f"kept {kept} IP packets, dropped {dropped} other frames", file=sys.stderr)
EOF
cp "$TMPD/raw.pcap" "$OUT"

step "wrote $OUT ($(stat -c %s "$OUT") bytes); SACK example: $SACK_DONE"
tcpdump -nn -v -r "$OUT"
