#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (README, "Fuzzing"):

  Tests/Fuzz/Corpus/FuzzWire/    each packet of Tests/WireTests/Fixtures/captured.pcap
                                 behind each parser's selector byte, the pcap file in
                                 both byte orders and both precisions, built packets
                                 (IPv4 options, IPv6 extension chains, ICMP errors,
                                 SACK), virtio headers, address text
  Tests/Fuzz/Corpus/FuzzEngine/  structured sessions in FuzzEngine's record format
                                 (Sources/FuzzEngine/EngineInput.swift): FTP control
                                 sessions (PORT, EPRT, PASV, EPSV, EPSV ALL, AUTH TLS,
                                 CCC, a bare 229), TFTP read and write requests,
                                 lines split across segments and held
                                 until a tick, ICMP errors quoting translated
                                 connections, IPv4 and IPv6 fragments, GSO
                                 super-packets near 64 KB full of PORT lines, DNAT,
                                 SNAT ranges (the IPv6 /64 among them), rejects; and
                                 the real capture replayed through the firewall
  Tests/Fuzz/Corpus/FuzzRules/   every .nft file of the repository, the rulesets
                                 embedded in Tests/RulesTests, FuzzEngine's ruleset

Seeds are named seed-*; crash inputs kept as regressions are named crash-* and
are never touched here. Run from anywhere:  python3 Scripts/fuzz-seeds.py
"""
import hashlib
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "Tests", "Fuzz", "Corpus")


def write_corpus(target, seeds):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.startswith("seed-"):
            os.remove(os.path.join(folder, name))
    for name, data in seeds:
        with open(os.path.join(folder, "seed-" + name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(seeds)} seeds")


# ---------------------------------------------------------------- packets

def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def a4(text):
    return bytes(int(x) for x in text.split("."))


def a6(text):
    import ipaddress
    return ipaddress.IPv6Address(text).packed


def ipv4(src, dst, proto, payload, ident=1, flags=0x4000, ttl=64, options=b"", frag=None):
    """flags: the flags/fragment-offset word (DF by default)."""
    header_len = 20 + len(options)
    word = flags if frag is None else frag
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | header_len // 4, 0, header_len + len(payload), ident, word, ttl, proto, 0,
                    a4(src), a4(dst)) + options
    h = h[:10] + struct.pack("!H", checksum(h)) + h[12:]
    return h + payload


def ipv6(src, dst, next_header, payload, hop_limit=64, extensions=b""):
    return struct.pack("!IHBB16s16s", 0x60000000, len(extensions) + len(payload), next_header, hop_limit,
                       a6(src), a6(dst)) + extensions + payload


def pseudo4(src, dst, proto, length):
    return a4(src) + a4(dst) + struct.pack("!BBH", 0, proto, length)


def pseudo6(src, dst, proto, length):
    return a6(src) + a6(dst) + struct.pack("!IxxxB", length, proto)


FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


def tcp_segment(sport, dport, seq, ack, flags, payload=b"", options=b"", pseudo=None):
    options += b"\0" * (-len(options) % 4)
    offset = (20 + len(options)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, offset << 4, flags, 65535, 0, 0)
    seg += options + payload
    if pseudo is not None:
        seg = seg[:16] + struct.pack("!H", checksum(pseudo(len(seg)) + seg)) + seg[18:]
    return seg


def tcp(src, sport, dst, dport, seq, ack, flags, payload=b"", options=b"", **kw):
    if ":" in src:
        seg = tcp_segment(sport, dport, seq, ack, flags, payload, options, lambda n: pseudo6(src, dst, 6, n))
        return ipv6(src, dst, 6, seg)
    seg = tcp_segment(sport, dport, seq, ack, flags, payload, options, lambda n: pseudo4(src, dst, 6, n))
    return ipv4(src, dst, 6, seg, **kw)


def udp(src, sport, dst, dport, payload, **kw):
    length = 8 + len(payload)
    d = struct.pack("!HHHH", sport, dport, length, 0) + payload
    if ":" in src:
        c = checksum(pseudo6(src, dst, 17, length) + d)
        return ipv6(src, dst, 17, d[:6] + struct.pack("!H", c) + d[8:])
    c = checksum(pseudo4(src, dst, 17, length) + d) or 0xFFFF
    return ipv4(src, dst, 17, d[:6] + struct.pack("!H", c) + d[8:], **kw)


def icmp4(src, dst, type_, code, rest, body, **kw):
    m = struct.pack("!BBHI", type_, code, 0, rest) + body
    m = m[:2] + struct.pack("!H", checksum(m)) + m[4:]
    return ipv4(src, dst, 1, m, **kw)


def icmp6(src, dst, type_, code, rest, body):
    m = struct.pack("!BBHI", type_, code, 0, rest) + body
    c = checksum(pseudo6(src, dst, 58, len(m)) + m)
    return ipv6(src, dst, 58, m[:2] + struct.pack("!H", c) + m[4:])


# ---------------------------------------------------------------- engine records

LAN, WAN, DMZ, NOWHERE = 0, 1, 2, 3
UNITS = {None: 0, "1ms": 1, "10ms": 2, "100ms": 3, "1s": 4, "10s": 5, "100s": 6, "1000s": 7}


def record(interface, packet, step=0, unit=None, tick=False, virtio=None):
    flags = interface | (0x04 if virtio is not None else 0) | (0x08 if tick else 0) | (UNITS[unit] << 4)
    out = struct.pack("!BBH", flags, step, len(packet))
    if virtio is not None:
        out += virtio
    return out + packet


def tick_record(step=0, unit=None):
    return struct.pack("!BB", 0x80 | (UNITS[unit] << 4), step)


def virtio_header(flags, gso_type, header_length, gso_size, csum_start, csum_offset):
    return struct.pack("<BBHHHH", flags, gso_type, header_length, gso_size, csum_start, csum_offset)


def engine_input(records, policy=0, options=0):
    return bytes([policy, options]) + b"".join(records)


class Session:
    """A TCP connection through the firewall, each side numbering its bytes.

    The client sends from (client, cport) to (server, sport) on `client_side`; the server
    answers from (reply_src, reply_sport) to (reply_dst, reply_dport) on `server_side`: the
    reply tuple as NAT leaves it, which the seeds know (masquerade keeps the port)."""

    def __init__(self, client, cport, server, sport, client_side, server_side, reply=None):
        self.client, self.cport, self.server, self.sport = client, cport, server, sport
        self.client_side, self.server_side = client_side, server_side
        self.reply = reply or (server, sport, client, cport)
        self.cseq, self.sseq = 1000, 5000
        self.records = []

    def c(self, flags, payload=b"", **kw):
        p = tcp(self.client, self.cport, self.server, self.sport, self.cseq, self.sseq, flags, payload)
        self.cseq += len(payload) + (1 if flags & (SYN | FIN) else 0)
        self.records.append(record(self.client_side, p, **kw))
        return p

    def s(self, flags, payload=b"", **kw):
        src, sport, dst, dport = self.reply
        p = tcp(src, sport, dst, dport, self.sseq, self.cseq, flags, payload)
        self.sseq += len(payload) + (1 if flags & (SYN | FIN) else 0)
        self.records.append(record(self.server_side, p, **kw))
        return p

    def handshake(self):
        self.c(SYN)
        self.s(SYN | ACK, step=1, unit="1ms")
        self.c(ACK, step=1, unit="1ms")
        self.s(PSH | ACK, b"220 tunwall fuzz FTP\r\n", step=1, unit="1ms")
        self.c(PSH | ACK, b"USER anonymous\r\n")
        self.s(PSH | ACK, b"331 Please specify the password.\r\n")
        self.c(PSH | ACK, b"PASS guest\r\n")
        self.s(PSH | ACK, b"230 Login successful.\r\n")
        return self

    def close(self):
        self.c(FIN | ACK, step=5, unit="10ms")
        self.s(FIN | ACK)
        self.c(ACK)
        return self


C4, S4, PUB4 = "10.0.1.2", "203.0.113.10", "203.0.113.1"
C6, S6, PUB6 = "fd00:1::2", "2001:db8:1::10", "2001:db8:1::1"
DMZ4, DMZ6 = "10.0.2.10", "fd00:2::10"
OUT4, OUT6 = "198.51.100.20", "2001:db8:5::20"


def masq4():
    return Session(C4, 40000, S4, 21, LAN, WAN, reply=(S4, 21, PUB4, 40000))


def masq6():
    return Session(C6, 40000, S6, 21, LAN, WAN, reply=(S6, 21, PUB6, 40000))


def mix(high, low):
    """NATStage.mix, to know which address of a persistent SNAT range a source gets."""
    M = (1 << 64) - 1

    def rnd(x):
        x = (x * 0xBF58476D1CE4E5B9) & M
        x ^= x >> 31
        x = (x * 0x94D049BB133111EB) & M
        return x ^ (x >> 29)
    a = rnd(high ^ rnd(low))
    b = rnd(low ^ rnd((high + 0x9E3779B97F4A7C15) & M))
    return a << 64 | b


def dmz_snat4():
    # `snat ip to 203.0.113.4-203.0.113.7:1024-65535 persistent`: the address from the source's hash.
    low = 0x0000FFFF00000000 | int.from_bytes(a4(DMZ4), "big")
    picked = "203.0.113.%d" % (4 + mix(0, low) % 4)
    return Session(DMZ4, 40000, S4, 21, DMZ, WAN, reply=(S4, 21, picked, 40000))


def data_connection(records, src, sport, dst, dport, side, other_side, reply, payload=b"x" * 512):
    d = Session(src, sport, dst, dport, side, other_side, reply=reply)
    d.c(SYN)
    d.s(SYN | ACK)
    d.c(ACK)
    d.c(PSH | ACK, payload)
    d.s(ACK)
    d.c(FIN | ACK)
    d.s(FIN | ACK)
    d.c(ACK)
    records += d.records


def engine_seeds():
    seeds = []

    def add(name, records, policy=0, options=0):
        seeds.append((name, engine_input(records, policy, options)))

    # Active mode, IPv4, masquerade: PORT rewritten to 203.0.113.1, the server connects back from port 20.
    s = masq4().handshake()
    s.c(PSH | ACK, b"PORT 10,0,1,2,156,65\r\n")
    s.s(PSH | ACK, b"200 PORT command successful.\r\n")
    s.c(PSH | ACK, b"RETR file\r\n")
    data_connection(s.records, S4, 20, PUB4, 40001, WAN, LAN, reply=(C4, 40001, S4, 20))
    s.s(PSH | ACK, b"150 Opening BINARY mode data connection.\r\n226 Transfer complete.\r\n")
    s.close()
    add("ftp4-port-active", s.records)
    add("ftp4-port-active-loose-lowports", s.records, policy=0x0B, options=1)

    # Passive mode, IPv4: 227, then the client connects to the announced port.
    s = masq4().handshake()
    s.c(PSH | ACK, b"PASV\r\n")
    s.s(PSH | ACK, b"227 Entering Passive Mode (203,0,113,10,195,80).\r\n")
    s.c(PSH | ACK, b"LIST\r\n")
    data_connection(s.records, C4, 40002, S4, 50000, LAN, WAN, reply=(S4, 50000, PUB4, 40002))
    s.s(PSH | ACK, b"226 Directory send OK.\r\n")
    s.close()
    add("ftp4-pasv-227", s.records, options=1)

    # EPSV and its 229 reply; and a server that answers a bare "229" (FTPLine.extendedPassive).
    s = masq4().handshake()
    s.c(PSH | ACK, b"EPSV\r\n")
    s.s(PSH | ACK, b"229 Entering Extended Passive Mode (|||50001|)\r\n")
    data_connection(s.records, C4, 40003, S4, 50001, LAN, WAN, reply=(S4, 50001, PUB4, 40003))
    s.c(PSH | ACK, b"EPSV\r\n")
    s.s(PSH | ACK, b"229\r\n")
    s.c(PSH | ACK, b"EPSV\r\n")
    s.s(PSH | ACK, b"229 \r\n")
    s.c(PSH | ACK, b"EPSV\r\n")
    s.s(PSH | ACK, b"229 Entering Extended Passive Mode (|||)\r\n")
    add("ftp4-epsv-229-bare", s.records)

    # EPRT with an IPv4 address, EPSV ALL, then PORT refused after EPSV ALL.
    s = masq4().handshake()
    s.c(PSH | ACK, b"EPRT |1|10.0.1.2|40004|\r\n")
    s.s(PSH | ACK, b"200 EPRT command successful.\r\n")
    data_connection(s.records, S4, 20, PUB4, 40004, WAN, LAN, reply=(C4, 40004, S4, 20))
    s.c(PSH | ACK, b"EPSV ALL\r\n")
    s.s(PSH | ACK, b"200 EPSV ALL ok.\r\n")
    s.c(PSH | ACK, b"PORT 10,0,1,2,156,70\r\n")
    s.c(PSH | ACK, b"EPRT |1|10.0.1.99|1023|\r\nPORT 192,168,7,7,0,21\r\n")
    add("ftp4-eprt-epsv-all", s.records, policy=0x03)

    # Lines split across segments; a held partial line released by a tick after the hold time.
    s = masq4().handshake()
    s.c(PSH | ACK, b"PO")
    s.c(PSH | ACK, b"RT 10,0,1,2,15")
    s.c(PSH | ACK, b"6,65\r\n", step=2, unit="1ms")
    s.s(PSH | ACK, b"200 PORT command succ")
    s.s(PSH | ACK, b"essful.\r\n227 Entering Passive Mode (203,0,113,10,195,")
    s.records.append(tick_record(20, "1ms"))
    s.c(PSH | ACK, b"EPRT |1|10.0.1.2|4", tick=True)
    s.records.append(tick_record(2, "1s"))
    s.c(PSH | ACK, b"0005|\r\n")
    s.c(PSH | ACK, b"PORT " + b"1," * 300 + b"\r\n")
    add("ftp4-split-held", s.records, policy=0x60)
    add("ftp4-split-held-default", s.records, policy=0x00)

    # AUTH TLS answered 234 (the helper goes blind, or ends the session with policy drop), then CCC.
    s = masq4().handshake()
    s.c(PSH | ACK, b"AUTH TLS\r\n")
    s.s(PSH | ACK, b"234 Proceed with negotiation.\r\n")
    s.c(PSH | ACK, bytes(range(0x16, 0x16 + 64)))
    s.c(PSH | ACK, b"CCC\r\n")
    s.s(PSH | ACK, b"200 CCC ok\r\n")
    s.c(PSH | ACK, b"PORT 10,0,1,2,156,66\r\n")
    add("ftp4-auth-tls-allow", s.records)
    add("ftp4-auth-tls-drop", s.records, policy=0x10)

    # IPv6, masquerade: EPRT |2|, EPSV/229, and a 227 over IPv6.
    s = masq6().handshake()
    s.c(PSH | ACK, b"EPRT |2|fd00:1::2|40001|\r\n")
    s.s(PSH | ACK, b"200 EPRT command successful.\r\n")
    data_connection(s.records, S6, 20, PUB6, 40001, WAN, LAN, reply=(C6, 40001, S6, 20))
    s.c(PSH | ACK, b"EPSV\r\n")
    s.s(PSH | ACK, b"229 Entering Extended Passive Mode (|||50002|)\r\n")
    data_connection(s.records, C6, 40002, S6, 50002, LAN, WAN, reply=(S6, 50002, PUB6, 40002))
    s.c(PSH | ACK, b"EPSV\r\n")
    s.s(PSH | ACK, b"229\r\n")
    s.close()
    add("ftp6-eprt-epsv", s.records, options=1)

    # Port forwarding: an outside client to 203.0.113.1:2121, DNAT to the DMZ server 10.0.2.10:21,
    # whose 227 names its inside address and is rewritten to the public one.
    s = Session(OUT4, 50000, PUB4, 2121, WAN, DMZ, reply=(DMZ4, 21, OUT4, 50000)).handshake()
    s.c(PSH | ACK, b"PASV\r\n")
    s.s(PSH | ACK, b"227 Entering Passive Mode (10,0,2,10,195,80).\r\n")
    data_connection(s.records, OUT4, 50001, PUB4, 50000, WAN, DMZ, reply=(DMZ4, 50000, OUT4, 50001))
    s.c(PSH | ACK, b"EPSV\r\n")
    s.s(PSH | ACK, b"229 Entering Extended Passive Mode (|||50003|)\r\n")
    s.c(PSH | ACK, b"PORT 198,51,100,20,195,81\r\n")
    s.s(PSH | ACK, b"200 ok\r\n")
    add("ftp4-dnat-2121", s.records, options=1)
    s = Session(OUT6, 50000, PUB6, 2121, WAN, DMZ, reply=(DMZ6, 21, OUT6, 50000)).handshake()
    s.c(PSH | ACK, b"EPSV\r\n")
    s.s(PSH | ACK, b"229 Entering Extended Passive Mode (|||50004|)\r\n")
    s.c(PSH | ACK, b"EPRT |2|2001:db8:5::20|50005|\r\n")
    add("ftp6-dnat-2121", s.records)

    # SNAT to a range (persistent, IPv4) and to an IPv6 /64 (pickAddress over 2^64 addresses).
    s = dmz_snat4().handshake()
    s.c(PSH | ACK, b"PORT 10,0,2,10,156,65\r\n")
    s.s(PSH | ACK, b"200 ok\r\n")
    add("ftp4-snat-range", s.records)
    s = Session(DMZ6, 40000, S6, 21, DMZ, WAN).handshake()
    s.c(PSH | ACK, b"EPRT |2|fd00:2::10|40001|\r\n")
    add("ftp6-snat-64", s.records)
    add("udp6-snat-64", [record(DMZ, udp(DMZ6, 5000, S6, 53, b"query"))])

    # GSO super-packets near 64 KB on an established control connection, full of PORT lines
    # (each rewritten longer under masquerade: the payload grows past 64 KB).
    line = b"PORT 10,0,1,2,156,65\r\n"
    for family in (4, 6):
        s = (masq4() if family == 4 else masq6()).handshake()
        lines = (65535 - 40 - 20 - 40) // len(line)
        payload = line * lines
        p = tcp(s.client, s.cport, s.server, s.sport, s.cseq, s.sseq, PSH | ACK, payload)
        l4 = 20 if family == 4 else 40
        gso = 1 if family == 4 else 4   # VIRTIO_NET_HDR_GSO_TCPV4 / TCPV6
        s.records.append(record(LAN, p, virtio=virtio_header(1, gso, l4 + 20, 1448, l4, 16)))
        s.cseq += len(payload)
        s.s(ACK)
        # A second one, near the limit, of EPRT lines, with a checksum-only header (no GSO).
        eprt = (b"EPRT |1|10.0.1.2|40001|\r\n" if family == 4 else b"EPRT |2|fd00:1::2|40001|\r\n")
        payload = eprt * ((65000 - 60) // len(eprt))
        p = tcp(s.client, s.cport, s.server, s.sport, s.cseq, s.sseq, PSH | ACK, payload)
        s.records.append(record(LAN, p, virtio=virtio_header(1, 0, 0, 0, l4, 16)))
        add("gso%d-port-lines" % family, s.records)

    # ICMP errors quoting translated connections, from the server and from a router on the way.
    s = masq4()
    s.c(SYN)
    quoted = tcp(PUB4, 40000, S4, 21, 1000, 0, SYN)[:28]
    s.records.append(record(WAN, icmp4(S4, PUB4, 3, 3, 0, quoted)))
    s.records.append(record(WAN, icmp4("198.51.100.1", PUB4, 11, 0, 0, quoted)))
    s.records.append(record(WAN, icmp4(S4, PUB4, 3, 4, 1200, tcp(PUB4, 40000, S4, 21, 1000, 0, SYN))))
    u = udp(C4, 5000, S4, 53, b"q" * 20)
    s.records.append(record(LAN, u))
    s.records.append(record(WAN, icmp4(S4, PUB4, 3, 3, 0, udp(PUB4, 5000, S4, 53, b"q" * 20))))
    s.records.append(record(LAN, icmp4(C4, S4, 8, 0, 0x12340001, b"ping")))
    s.records.append(record(WAN, icmp4(S4, PUB4, 0, 0, 0x12340001, b"ping")))
    add("icmp4-errors-nat", s.records)
    s = masq6()
    s.c(SYN)
    quoted = tcp(PUB6, 40000, S6, 21, 1000, 0, SYN)
    s.records.append(record(WAN, icmp6(S6, PUB6, 1, 4, 0, quoted)))
    s.records.append(record(WAN, icmp6("2001:db8:1::fe", PUB6, 2, 0, 1280, quoted)))
    s.records.append(record(WAN, icmp6("2001:db8:1::fe", PUB6, 3, 0, 0, quoted)))
    s.records.append(record(LAN, icmp6(C6, S6, 128, 0, 0x12340001, b"ping")))
    add("icmp6-errors-nat", s.records)

    # Fragments: IPv4 (first and later fragment, from outside and inside), a big DF-clear
    # datagram into the 1280-byte DMZ (fragmented by the engine) and a DF one (fragmentation
    # needed); IPv6 with a Fragment header, and packet too big toward the DMZ.
    big = udp(C4, 5001, DMZ4, 9, b"f" * 1400, flags=0)
    first = ipv4(C4, DMZ4, 17, big[20:20 + 1008], ident=77, frag=0x2000)
    later = ipv4(C4, DMZ4, 17, big[20 + 1008:], ident=77, frag=1008 // 8)
    records = [record(LAN, big), record(LAN, udp(C4, 5002, DMZ4, 9, b"d" * 1400)), record(LAN, first),
               record(LAN, later), record(WAN, ipv4(S4, PUB4, 17, b"\0" * 64, ident=9, frag=0x2000 | 100))]
    frag_header = struct.pack("!BBHI", 17, 0, 0x0001, 0x11223344)
    seg = udp(C6, 5001, S6, 9, b"g" * 64)[40:]
    records.append(record(LAN, ipv6(C6, S6, 44, seg, extensions=frag_header)))
    records.append(record(LAN, ipv6(C6, S6, 44, b"h" * 64, extensions=struct.pack("!BBHI", 17, 0, 0x0008, 0x11223344))))
    records.append(record(LAN, udp(C6, 5003, DMZ6, 9, b"t" * 1300)))
    hbh = struct.pack("!BB", 44, 0) + b"\x01\x04\0\0\0\0"
    records.append(record(LAN, ipv6(C6, S6, 0, seg, extensions=hbh + frag_header)))
    add("fragments", records)

    # TFTP behind masquerade: a read request, the server's answer from a new port (RELATED), an ACK.
    for client, server, public in ((C4, S4, PUB4), (C6, S6, PUB6)):
        records = [record(LAN, udp(client, 40069, server, 69, b"\0\x01fuzz.bin\0octet\0")),
                   record(WAN, udp(server, 50069, public, 40069, b"\0\x03\0\x01" + b"d" * 512), step=1, unit="1ms"),
                   record(LAN, udp(client, 40069, server, 50069, b"\0\x04\0\x01")),
                   record(LAN, udp(client, 40070, server, 69, b"\0\x02up.bin\0netascii\0"), tick=True),
                   record(WAN, udp(server, 50070, public, 40070, b"\0\x05\0\x01nope\0"), step=10, unit="1s")]
        add("tftp%d" % (4 if client == C4 else 6), records)

    # Rejects and logs: the firewall's own closed ports, forward rejects of each kind, TTL 1, an
    # invalid packet, an unknown interface, a martian.
    records = [
        record(LAN, tcp(C4, 40010, "10.0.1.1", 22, 1, 0, SYN)),
        record(LAN, udp(C4, 40011, "10.0.1.1", 53, b"q")),
        record(LAN, udp(C6, 40011, "fd00:1::1", 54, b"q")),
        record(LAN, tcp(C4, 40012, S4, 23, 1, 0, SYN)),
        record(WAN, udp(S4, 40013, PUB4, 33434, b"trace")),
        record(WAN, udp(S4, 40014, DMZ4, 9, b"x")),
        record(WAN, tcp(S4, 40015, DMZ4, 25, 1, 0, SYN)),
        record(WAN, tcp(S6, 40016, DMZ6, 25, 1, 0, SYN)),
        record(LAN, tcp(C4, 40017, S4, 80, 1, 0, SYN, ttl=1)),
        record(LAN, tcp(C4, 40018, S4, 80, 1, 5, ACK)),
        record(NOWHERE, tcp(C4, 40019, S4, 80, 1, 0, SYN)),
        record(LAN, tcp("127.0.0.1", 1, S4, 80, 1, 0, SYN)),
        record(WAN, tcp(OUT4, 40020, PUB4, 8080, 1, 0, SYN)),
        record(WAN, udp(OUT4, 40021, PUB4, 5353, b"mdns")),
        record(LAN, icmp4(C4, "10.0.1.1", 8, 0, 0x00010001, b"ping me")),
        record(LAN, icmp6(C6, "fd00:1::1", 128, 0, 0x00010001, b"ping me")),
    ]
    add("rejects-logs", records, options=1)

    # Expiry: a session, then the clock jumps past the expectation and the connection timeouts.
    s = masq4().handshake()
    s.c(PSH | ACK, b"PORT 10,0,1,2,156,65\r\n")
    s.records.append(tick_record(2, "1s"))
    s.records.append(tick_record(200, "1000s"))
    data_connection(s.records, S4, 20, PUB4, 40001, WAN, LAN, reply=(C4, 40001, S4, 20))
    add("expiry", s.records, policy=0x80)

    # Many connections: the 64-entry table fills and evicts.
    records = [record(LAN, tcp(C4, 30000 + i, S4, 80, 1, 0, SYN)) for i in range(80)]
    records += [record(LAN, udp(C6, 30000 + i, S6, 53, b"q")) for i in range(20)]
    add("table-full", records)

    # Fragments (reassembly before conntrack, refragmentation on output): a UDP datagram in
    # three IPv4 fragments out of order with a duplicate, its reply the same way; an
    # overlap; IPv6 fragments; a lone first fragment that expires (ICMP time exceeded).
    def fragments4(packet, size, ident):
        data, header = packet[20:], packet[:20]
        room = (size - 20) & ~7
        out = []
        for start in range(0, len(data), room):
            piece = data[start:start + room]
            word = start // 8 | (0x2000 if start + room < len(data) else 0)
            h = header[:2] + struct.pack("!HHH", 20 + len(piece), ident, word) + header[8:10] + b"\0\0" + header[12:20]
            out.append(h[:10] + struct.pack("!H", checksum(h)) + h[12:] + piece)
        return out

    def fragments6(packet, size, ident):
        data, header = packet[40:], packet[:40]
        room = (size - 48) & ~7
        out = []
        for start in range(0, len(data), room):
            piece = data[start:start + room]
            word = (start // 8) << 3 | (1 if start + room < len(data) else 0)
            h = header[:4] + struct.pack("!HB", 8 + len(piece), 44) + header[7:40]
            out.append(h + struct.pack("!BBHI", header[6], 0, word, ident) + piece)
        return out

    f = fragments4(udp(C4, 5000, S4, 7, bytes(range(256)) * 12, flags=0), 1000, 0x4242)
    r = fragments4(udp(S4, 7, PUB4, 5000, bytes(range(256)) * 12, flags=0), 1400, 0x77)
    v6 = fragments6(udp(C6, 5000, S6, 7, bytes(range(256)) * 12), 1280, 0x12345678)
    records = [record(LAN, f[2]), record(LAN, f[0], step=1, unit="1ms"), record(LAN, f[0]), record(LAN, f[1])]
    records += [record(WAN, p, step=1, unit="1ms") for p in r]
    records += [record(LAN, p, step=1, unit="1ms") for p in reversed(v6)]
    o = fragments4(udp(C4, 5001, S4, 7, bytes(3000), flags=0), 1000, 0x99)
    records += [record(LAN, o[0]), record(LAN, o[1][:20] + o[1][12:])]
    records += [record(LAN, fragments4(udp(C4, 5002, S4, 7, bytes(3000), flags=0), 1000, 0x9a)[0]),
                tick_record(31, "1s"), tick_record(30, "1s")]
    add("reassembly", records, options=1)

    # The real capture, through the firewall: as captured (replies to the inside addresses), and
    # with the replies readdressed to the masquerading address as they would arrive.
    packets = pcap_packets()
    client_addresses = {a4(C4), a6(C6)}

    def side(p):
        source = p[12:16] if p[0] >> 4 == 4 else p[8:24]
        return LAN if source in client_addresses or (p[0] >> 4 == 6 and source[:2] == b"\xfe\x80") else WAN
    add("capture-as-is", [record(side(p), p, step=1, unit="1ms") for p in packets])
    add("capture-masqueraded", [record(side(p), readdress(p) if side(p) == WAN else p, step=1, unit="1ms")
                                for p in packets], options=1)
    return seeds


def readdress(p):
    """A reply to the client as it arrives at the masquerading firewall: to 203.0.113.1 / 2001:db8:1::1."""
    if p[0] >> 4 == 4:
        ihl = (p[0] & 15) * 4
        if p[16:20] != a4(C4):
            return p
        src, dst = ".".join(map(str, p[12:16])), PUB4
        proto, body = p[9], p[ihl:]
        frag = struct.unpack("!H", p[6:8])[0]
        if frag & 0x3FFF == 0 and proto in (6, 17):
            body = refresh_l4(proto, body, lambda n: pseudo4(src, dst, proto, n))
        return ipv4(src, dst, proto, body, ident=struct.unpack("!H", p[4:6])[0], frag=frag, ttl=p[8], options=p[20:ihl])
    if p[24:40] != a6(C6) or p[6] not in (6, 17):
        return p
    import ipaddress
    src = str(ipaddress.IPv6Address(p[8:24]))
    body = refresh_l4(p[6], p[40:], lambda n: pseudo6(src, PUB6, p[6], n))
    return ipv6(src, PUB6, p[6], body, hop_limit=p[7])


def refresh_l4(proto, body, pseudo):
    at = 16 if proto == 6 else 6
    if len(body) < at + 2:
        return body
    body = body[:at] + b"\0\0" + body[at + 2:]
    return body[:at] + struct.pack("!H", checksum(pseudo(len(body)) + body)) + body[at + 2:]


# ---------------------------------------------------------------- wire

PCAP = os.path.join(ROOT, "Tests", "WireTests", "Fixtures", "captured.pcap")


def pcap_packets():
    data = open(PCAP, "rb").read()
    out, offset = [], 24
    while offset + 16 <= len(data):
        _, _, included, _ = struct.unpack("<IIII", data[offset:offset + 16])
        out.append(data[offset + 16:offset + 16 + included])
        offset += 16 + included
    return out


def pcap_variant(big_endian, nanoseconds, packets):
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    out = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 65535, 101)
    for i, p in enumerate(packets):
        out += struct.pack(e + "IIII", 1000 + i, 5000 * i, len(p), len(p)) + p
    return out


def pcapng_variant(big_endian, packets, names=("lan0", "wan0")):
    """pcapng as PcapngWriter writes it: a section header, an interface block
    per name (if_name, if_tsresol 9), each packet in an enhanced packet block
    with its direction (epb_flags), alternating interfaces."""
    e = ">" if big_endian else "<"

    def block(kind, body):
        return struct.pack(e + "II", kind, len(body) + 12) + body + struct.pack(e + "I", len(body) + 12)

    def option(code, value):
        return struct.pack(e + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)

    out = block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + struct.pack(e + "I", 0))
    for name in names:
        out += block(1, struct.pack(e + "HHI", 101, 0, 262144) + option(2, name.encode()) + option(9, b"\x09")
                     + struct.pack(e + "I", 0))
    for i, p in enumerate(packets):
        time = 1_700_000_000_000_000_000 + i * 1000
        body = struct.pack(e + "IIIII", i % len(names), time >> 32, time & 0xFFFFFFFF, len(p), len(p))
        body += p + b"\0" * (-len(p) % 4) + option(2, struct.pack(e + "I", 1 + i % 2)) + struct.pack(e + "I", 0)
        out += block(6, body)
    return out


def wire_seeds():
    seeds = []
    packets = pcap_packets()
    for i, p in enumerate(packets):
        v6 = p[0] >> 4 == 6
        seeds.append(("cap%02d-ip" % i, bytes([2 if v6 else 0]) + p))
        seeds.append(("cap%02d-packet" % i, bytes([10]) + p))
        if not v6:
            ihl = (p[0] & 15) * 4
            selector = {6: 4, 17: 5, 1: 6}.get(p[9])
            if selector is not None and struct.unpack("!H", p[6:8])[0] & 0x1FFF == 0:
                seeds.append(("cap%02d-l4" % i, bytes([selector]) + p[ihl:]))
            if p[9] == 1 and p[ihl] in (3, 11):
                seeds.append(("cap%02d-quoted" % i, bytes([1]) + p[ihl + 8:]))
        elif p[6] in (6, 17, 58):
            seeds.append(("cap%02d-l4" % i, bytes([{6: 4, 17: 5, 58: 7}[p[6]]]) + p[40:]))
            if p[6] == 58 and p[40] < 128:
                seeds.append(("cap%02d-quoted" % i, bytes([3]) + p[48:]))
    whole = open(PCAP, "rb").read()
    seeds.append(("pcap-captured", bytes([9]) + whole))
    for big in (False, True):
        for nano in (False, True):
            seeds.append(("pcap-%s-%s" % ("be" if big else "le", "ns" if nano else "us"),
                          bytes([9]) + pcap_variant(big, nano, packets[:6])))
    seeds.append(("pcap-truncated", bytes([9]) + whole[:24 + 16 + 30]))
    for big in (False, True):
        seeds.append(("pcapng-%s" % ("be" if big else "le"), bytes([9]) + pcapng_variant(big, packets[:6])))
    seeds.append(("pcapng-truncated", bytes([9]) + pcapng_variant(False, packets[:2])[:-10]))
    seeds.append(("pcap-huge-record", bytes([9]) + pcap_variant(False, False, [])[:24] + struct.pack("<IIII", 0, 0, 300000, 300000)))
    # Built packets: IPv4 options, IPv6 extension chains, ICMP errors, SACK, a 64 KB packet.
    opts = b"\x02\x04\x05\xb4\x04\x02\x08\x0a" + b"\0\0\0\1\0\0\0\0" + b"\x01\x03\x03\x07"
    sack = b"\x01\x01\x05\x12" + struct.pack("!IIII", 1, 2, 3, 4)
    built = {
        "ip4-options": ipv4(C4, S4, 17, udp(C4, 1, S4, 2, b"o")[20:], options=b"\x07\x07\x04" + b"\0" * 4 + b"\x01"),
        "tcp4-synopts": tcp(C4, 40000, S4, 21, 1, 0, SYN, options=opts),
        "tcp6-sack": tcp(C6, 40000, S6, 21, 1, 5, ACK, b"PORT 1,2,3,4,5,6\r\n", options=sack),
        "ip6-hbh-frag": ipv6(C6, S6, 0, udp(C6, 1, S6, 2, b"x")[40:],
                             extensions=b"\x2c\x00\x01\x04\0\0\0\0" + struct.pack("!BBHI", 17, 0, 1, 7)),
        "ip6-routing-dst": ipv6(C6, S6, 43, udp(C6, 1, S6, 2, b"x")[40:],
                                extensions=b"\x3c\x00\x00\x00\0\0\0\0" + b"\x11\x00\x01\x04\0\0\0\0"),
        "icmp4-unreach": icmp4(S4, C4, 3, 3, 0, udp(C4, 5000, S4, 9, b"abcd")),
        "icmp4-fragneeded": icmp4(S4, C4, 3, 4, 1280, tcp(C4, 40000, S4, 21, 1, 0, SYN)[:28]),
        "icmp6-toobig": icmp6(S6, C6, 2, 0, 1280, tcp(C6, 40000, S6, 21, 1, 0, SYN)),
        "ip4-64k": ipv4(C4, S4, 6, tcp_segment(1, 2, 3, 4, ACK, b"P" * (65535 - 40))),
    }
    for name, p in built.items():
        v6 = p[0] >> 4 == 6
        seeds.append((name + "-ip", bytes([2 if v6 else 0]) + p))
        seeds.append((name + "-packet", bytes([10]) + p))
    seeds.append(("tcp-options-only", bytes([4]) + tcp_segment(1, 2, 3, 4, SYN, options=opts + sack)))
    for name, v in {"none": virtio_header(0, 0, 0, 0, 0, 0), "csum": virtio_header(1, 0, 0, 0, 20, 16),
                    "tcpv4": virtio_header(1, 1, 54, 1448, 20, 16), "tcpv6-ecn": virtio_header(1, 0x84, 74, 1428, 40, 16),
                    "udp": virtio_header(1, 3, 28, 1472, 20, 6)}.items():
        seeds.append(("virtio-" + name, bytes([8]) + v))
    for i, text in enumerate(["10.0.1.2", "255.255.255.255", "0.0.0.0/0", "10.0.1.1/24", "::", "::1", "fd00:1::2",
                              "2001:db8:1::/64", "::ffff:10.0.1.2", "2001:db8:0:0:1:0:0:1", "fe80::1%lan0",
                              "[2001:db8::1]", "1:2:3:4:5:6:7:8/128", "01.2.3.4", "1.2.3.4/33", "::/0"]):
        seeds.append(("text%02d" % i, bytes([11]) + text.encode()))
    return seeds


# ---------------------------------------------------------------- rules

def rules_seeds():
    seeds = []
    for folder, _, files in os.walk(ROOT):
        relative = os.path.relpath(folder, ROOT)
        # Not hidden folders (.build) and not the corpora themselves.
        if any(part.startswith(".") for part in relative.split(os.sep)) or relative.startswith(os.path.join("Tests", "Fuzz")):
            continue
        for name in sorted(files):
            if name.endswith(".nft"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, ROOT).replace(os.sep, "_")
                seeds.append((rel, open(path, "rb").read()))
    tests = os.path.join(ROOT, "Tests", "RulesTests")
    for name in sorted(os.listdir(tests)):
        if not name.endswith(".swift"):
            continue
        text = open(os.path.join(tests, name)).read()
        for i, block in enumerate(re.findall(r'"""\n(.*?)\n\s*"""', text, re.S)):
            if "table" in block or "define" in block:
                seeds.append(("%s-%02d" % (name[:-6], i), block.encode()))
    engine = open(os.path.join(ROOT, "Sources", "FuzzEngine", "FuzzFirewall.swift")).read()
    block = re.search(r'rulesetText = """\n(.*?)\n\s*"""', engine, re.S).group(1)
    seeds.append(("fuzz-engine-ruleset", block.encode()))
    seeds.append(("snat-ip6-64", b'table inet nat {\n chain post { type nat hook postrouting priority srcnat;\n'
                                 b'  oifname "wan0" snat ip6 to 2001:db8:1::/64\n  oifname "wan0" snat to 2001:db8:1::/64 }\n}\n'))
    # Deduplicate by content.
    seen, unique = set(), []
    for name, data in seeds:
        digest = hashlib.sha1(data).hexdigest()
        if digest not in seen:
            seen.add(digest)
            unique.append((name, data))
    return unique


if __name__ == "__main__":
    write_corpus("FuzzWire", wire_seeds())
    write_corpus("FuzzEngine", engine_seeds())
    write_corpus("FuzzRules", rules_seeds())
    sys.exit(0)
