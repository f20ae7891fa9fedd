// The firewall every FuzzEngine input runs through: three interfaces, default
// routes, and a ruleset that reaches every stage of the pipeline at once:
// the FTP helper (on 21 and on the port-forwarded 2121), the TFTP helper
// (udp 69), masquerade, DNAT to
// an address and to a range, redirect, SNAT to an IPv4 range and to IPv6
// prefixes (a /64 among them: pickAddress over 2^64 addresses), reject in
// each of its forms, `log`, counters, and a filter that drops the rest.
//
//   lan0 10.0.1.1/24  fd00:1::1/64       (clients; masqueraded)
//   wan0 203.0.113.1/24 2001:db8:1::1/64 (the outside; default routes)
//   dmz0 10.0.2.1/24  fd00:2::1/64, MTU 1280 (servers; SNAT ranges, DNAT targets;
//        the small MTU makes fragmentation and packet-too-big reachable)

import Engine
import FuzzSupport
import FTP
import Rules
import Wire

enum FuzzFirewall {
    static let rulesetText = """
        define LAN4 = 10.0.1.0/24
        table inet filter {
            ct helper ftp-standard { type "ftp" protocol tcp; }
            ct helper tftp-standard { type "tftp" protocol udp; }
            chain pre {
                type filter hook prerouting priority filter;
                tcp dport { 21, 2121 } ct helper set "ftp-standard"
                udp dport 69 ct helper set "tftp-standard"
            }
            chain input {
                type filter hook input priority filter; policy accept;
                tcp dport 22 reject with tcp reset
                udp dport 53 counter reject
                ip6 nexthdr udp udp dport 54 reject with icmpv6 type admin-prohibited
            }
            chain forward {
                type filter hook forward priority filter; policy drop;
                ct state established,related counter accept
                ct state invalid log prefix "invalid: " drop
                iifname { "lan0", "dmz0" } ct state new accept
                iifname "wan0" tcp dport { 21, 80, 2121, 8080 } ct state new log prefix "in: " level info accept
                iifname "wan0" udp dport 33434-33534 reject with icmpx type port-unreachable
                tcp dport 23 reject with tcp reset
                ip protocol udp reject with icmp type host-unreachable
                log prefix "fwd drop: " level info
                reject
            }
        }
        table inet nat {
            chain prerouting {
                type nat hook prerouting priority dstnat;
                iifname "wan0" tcp dport 2121 dnat ip to 10.0.2.10:21
                iifname "wan0" tcp dport 2121 dnat ip6 to [fd00:2::10]:21
                iifname "wan0" tcp dport 8080 dnat ip to 10.0.2.10-10.0.2.12:80-82
                iifname "wan0" udp dport 5353 redirect to :53
            }
            chain postrouting {
                type nat hook postrouting priority srcnat;
                oifname "wan0" ip saddr $LAN4 masquerade
                oifname "wan0" ip saddr 10.0.2.0/24 meta l4proto { tcp, udp } snat ip to 203.0.113.4-203.0.113.7:1024-65535 persistent
                oifname "wan0" ip6 saddr fd00:2::/64 snat ip6 to 2001:db8:1::/64
                oifname "wan0" ip6 saddr fd00:1::/64 masquerade random
                iifname "lan0" oifname "dmz0" snat ip to 10.0.2.0/30 fully-random
                iifname "lan0" oifname "dmz0" snat ip6 to [fd00:2::100]-[fd00:2::1ff]
            }
        }
        """

    /// Parsed once per process: every engine shares it (its counters count across inputs, which
    /// changes no verdict).
    static let ruleset: Ruleset = {
        // The Ruleset keeps its syntax trees (listing, handles), which hold
        // `indirect enum` boxes through pointers with the enum's case in
        // their spare high bits; LeakSanitizer cannot follow such pointers
        // and reported this once-per-process parse as a leak. What is made
        // here lives as long as the process, so it is kept out of the check.
        do {
            return try FuzzDriver.withoutLeakCheck { () throws(RuleErrors) in try Ruleset.parse(rulesetText, file: "fuzz.nft") }
        } catch {
            fatalError("FuzzEngine's own ruleset does not parse:\n\(error)")
        }
    }()

    static let interfaces = [
        InterfaceConfiguration(name: "lan0", addresses: [InterfaceAddress("10.0.1.1/24")!, InterfaceAddress("fd00:1::1/64")!]),
        InterfaceConfiguration(name: "wan0", addresses: [InterfaceAddress("203.0.113.1/24")!, InterfaceAddress("2001:db8:1::1/64")!]),
        InterfaceConfiguration(name: "dmz0", addresses: [InterfaceAddress("10.0.2.1/24")!, InterfaceAddress("fd00:2::1/64")!],
                               mtu: 1280),
    ]

    static let routes = [
        RouteConfiguration(destination: IPPrefix("0.0.0.0/0")!, gateway: IPAddress("203.0.113.254")!),
        RouteConfiguration(destination: IPPrefix("::/0")!, gateway: IPAddress("2001:db8:1::fe")!),
    ]

    /// The FTP policy the input's first byte picks: every knob away from its default in some
    /// inputs (FTPPolicy.swift), short holds and timeouts so that a few clock steps reach them.
    static func policy(_ byte: UInt8) -> FTPPolicy {
        FTPPolicy(loose: byte & 0x01 != 0,
                  maxExpected: [1, 2, 4, 64][Int(byte >> 1) & 3],
                  lowPorts: byte & 0x08 != 0,
                  encrypted: byte & 0x10 != 0 ? .drop : .allow,
                  holdBytes: byte & 0x20 != 0 ? 64 : 512,
                  holdMilliseconds: byte & 0x40 != 0 ? 10 : 1000,
                  expectTimeoutSeconds: byte & 0x80 != 0 ? 1 : 300)
    }

    /// A new engine (cheap: see Outbox.swift) with a small conntrack table, so that eviction is reachable.
    static func engine(policyByte: UInt8, seed: UInt64) -> Engine {
        let configuration = EngineConfiguration(interfaces: interfaces, routes: routes, conntrackCapacity: 64,
                                                ftp: policy(policyByte))
        guard let engine = try? Engine(configuration, seed: seed) else { fatalError("FuzzEngine's configuration is refused") }
        engine.replaceRuleset(ruleset)
        return engine
    }
}

