// `log` lines in the kernel's nf_log_syslog format, one per log statement
// that runs: TCP over IPv4 (with DF and flags), UDP, ICMP echo, TCP over IPv6
// (addresses in full, as %pI6 prints them), the output hook (no IN, no MAC),
// and a packet mark.

import Conntrack
import Rules
import Testing
import Wire

@Suite struct LogLineTests {
    let rules: Ruleset

    init() throws {
        rules = try parse("""
            table inet filter {
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy accept;
            \t\tlog prefix "fwd: " level info
            \t\ttcp dport 80 log
            \t}
            \tchain output {
            \t\ttype filter hook output priority filter; policy accept;
            \t\tlog prefix "out: "
            \t}
            }
            """)
    }

    func lines(_ hook: Hook, _ p: RulePacket) -> [String] {
        var copy = p
        var log: [String] = []
        _ = rules.evaluate(hook, &copy, log: &log)
        return log
    }

    @Test func tcpOverIPv4() {
        var p = packet("10.0.1.2", "203.0.113.10", sport: 40000, dport: 80, flags: .syn)
        p.ttl = 63
        p.ipIdentification = 54321
        p.dontFragment = true
        p.tcpWindow = 64240
        #expect(lines(.forward, p) == [
            "fwd: IN=lan0 OUT=wan0 MAC= SRC=10.0.1.2 DST=203.0.113.10 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=54321 DF PROTO=TCP SPT=40000 DPT=80 WINDOW=64240 RES=0x00 SYN URGP=0",
            "IN=lan0 OUT=wan0 MAC= SRC=10.0.1.2 DST=203.0.113.10 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=54321 DF PROTO=TCP SPT=40000 DPT=80 WINDOW=64240 RES=0x00 SYN URGP=0",
        ])
        p.tcpFlags = [.cwr, .ece, .urg, .ack, .psh, .rst, .syn, .fin]
        p.tos = 0xB8
        p.tcpUrgentPointer = 7
        #expect(lines(.forward, p)[0].hasSuffix(
            "LEN=60 TOS=0x18 PREC=0xA0 TTL=63 ID=54321 DF PROTO=TCP SPT=40000 DPT=80 WINDOW=64240 RES=0x00 CWR ECE URG ACK PSH RST SYN FIN URGP=7"))
    }

    @Test func udpOverIPv4() {
        var p = packet("10.0.1.2", "192.0.2.53", .udp, sport: 5353, dport: 53, length: 73)
        p.ttl = 64
        p.ipIdentification = 1
        #expect(lines(.forward, p) == [
            "fwd: IN=lan0 OUT=wan0 MAC= SRC=10.0.1.2 DST=192.0.2.53 LEN=73 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=UDP SPT=5353 DPT=53 LEN=53",
        ])
        p.l4Length = 41
        #expect(lines(.forward, p)[0].hasSuffix("PROTO=UDP SPT=5353 DPT=53 LEN=41"))
    }

    @Test func icmpEcho() {
        var p = icmp("10.0.1.2", "203.0.113.10", type: 8)
        p.icmpEchoIdentifier = 4242
        p.icmpEchoSequence = 1
        #expect(lines(.forward, p) == [
            "fwd: IN=lan0 OUT=wan0 MAC= SRC=10.0.1.2 DST=203.0.113.10 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=ICMP TYPE=8 CODE=0 ID=4242 SEQ=1",
        ])
        let unreachable = icmp("203.0.113.10", "10.0.1.2", type: 3, code: 3, iif: wan, oif: lan)
        #expect(lines(.forward, unreachable)[0].hasSuffix("PROTO=ICMP TYPE=3 CODE=3"))
    }

    @Test func tcpOverIPv6() {
        var p = packet("fd00:1::2", "2001:db8:1::10", sport: 40000, dport: 443, flags: [.syn], length: 80)
        p.tos = 0
        p.flowLabel = 0x12345
        p.tcpWindow = 64800
        #expect(lines(.forward, p) == [
            "fwd: IN=lan0 OUT=wan0 MAC= SRC=fd00:0001:0000:0000:0000:0000:0000:0002 DST=2001:0db8:0001:0000:0000:0000:0000:0010 LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=74565 PROTO=TCP SPT=40000 DPT=443 WINDOW=64800 RES=0x00 SYN URGP=0",
        ])
        let echo = icmp("fd00:1::2", "2001:db8:1::10", type: 128)
        #expect(lines(.forward, echo)[0].hasSuffix("PROTO=ICMPv6 TYPE=128 CODE=0 ID=0 SEQ=0"))
    }

    @Test func outputHookAndMark() {
        var p = packet("10.0.1.1", "10.0.1.2", .udp, sport: 53, dport: 5353, iif: -1, oif: lan, length: 48)
        p.mark = 0x2a
        #expect(lines(.output, p) == [
            "out: IN= OUT=lan0 SRC=10.0.1.1 DST=10.0.1.2 LEN=48 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=UDP SPT=53 DPT=5353 LEN=28 MARK=0x2a",
        ])
    }
}
