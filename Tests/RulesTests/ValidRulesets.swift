// Valid rulesets the tests share: each is accepted by `nft -f` (checked in
// NFTAgreementTests when nft is there), and `gatewayListing` is what nft 1.0.6's
// `nft list ruleset` printed for `gateway` in a throwaway namespace.

/// A small gateway using every match and statement tunwall supports.
let gateway = #"""
#!/usr/sbin/nft -f
# A small gateway: LAN 10.0.1.0/24 on lan0, DMZ 10.0.2.0/24 on dmz0, WAN 203.0.113.0/24 on wan0.
flush ruleset

define LAN_IF = "lan0"
define WAN_IF = wan0
define LAN = 10.0.1.0/24
define DMZ_WEB = 10.0.2.10
define WEB_PORTS = { http, https }
define FTP_PORTS = { 21, 2121 }

table inet filter {
	ct helper ftp-standard {
		type "ftp" protocol tcp
	}

	set trusted4 {
		type ipv4_addr
		flags interval
		elements = { 10.0.1.0/25, 192.168.7.1,
			     172.16.0.1-172.16.0.9 }
	}
	set trusted6 { type ipv6_addr; flags interval; elements = { fd00:1::/64, 2001:db8:1::1 }; }
	set ftp_ports { type inet_service; elements = $FTP_PORTS; }
	set passive { type inet_service; flags interval; elements = { 50000-50100 } ; }
	set inside_ifs { type ifname; elements = { "lan0", "dmz0" } ; }
	set l4 { type inet_proto; elements = { tcp, udp }; }
	set marks { type mark; elements = { 0x1, 0x2 }; }

	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid counter drop  # conntrack says no
		iifname "lo" accept
		iifname @inside_ifs icmp type { echo-request, echo-reply } accept
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, echo-request } accept
		ip saddr @trusted4 tcp dport ssh ct state new \
			log prefix "ssh-in: " accept
		ip6 saddr @trusted6 tcp dport 22 accept
		tcp dport < 1024 tcp flags & (syn|ack) == syn counter reject with tcp reset
		udp dport 33434-33534 reject with icmpx type port-unreachable
		meta l4proto @l4 th dport 53 accept; tcp dport @passive accept
		reject
	}

	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state { established, related } accept
		iifname $LAN_IF oifname "wan*" accept
		iifname "wan*" ip daddr $DMZ_WEB tcp dport $WEB_PORTS ct state new accept
		iifname $WAN_IF tcp dport @ftp_ports ct helper set "ftp-standard" jump ftp_in
		iifname != { "lan0", "dmz*" } ct state new log prefix "fwd new: " level info
		meta mark @marks accept
		meta mark 0x10 drop
		meta nfproto ipv6 ip6 daddr != fd00:1::/64 goto wan6
		tcp flags syn / syn,rst,ack counter continue
		ip protocol gre accept
		ip6 nexthdr ipv6-icmp icmpv6 type packet-too-big accept
		icmp type destination-unreachable icmp code frag-needed accept
		reject with icmp type admin-prohibited
	}

	chain ftp_in {
		ip daddr 10.0.2.21 accept
		return
	}

	chain wan6 {
		oifname "wan0" accept
		log prefix "wan6 drop: " level info drop
	}

	chain output {
		type filter hook output priority filter; policy accept;
		oifname "lo" accept
		udp sport 53 counter packets 0 bytes 0 accept comment "dns replies"
	}
}

table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "wan0" tcp dport 8080 dnat to 10.0.2.10:80
		iifname "wan0" udp dport 5353 redirect to :53
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" ip saddr $LAN masquerade random,persistent
		oifname "wan1" meta l4proto tcp snat to 203.0.113.2-203.0.113.3:1024-65535
	}
}

table inet nat6 {
	chain prerouting {
		type nat hook prerouting priority dstnat + 5; policy accept;
		iifname "wan0" tcp dport 8443 dnat ip6 to [fd00:2::10]:443
		iifname "wan0" tcp dport 8444 dnat ip to 10.0.2.10:443
	}
}

table ip6 mangle {
	chain pre {
		type filter hook prerouting priority mangle; policy accept;
		ip6 saddr fe80::/10 accept
		ip6 daddr ff02::1 drop
	}
}

table ip raw4 {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		ip saddr 0.0.0.0/8 drop
		ip daddr 10.0.1.0/24 ip saddr != 10.0.1.0/24 iifname "lan0" reject with icmp type net-unreachable
	}
}
"""# + "\n"

/// `nft list ruleset` after `nft -f` of `gateway` (nft 1.0.6), byte for byte.
let gatewayListing = #"""
table inet filter {
	ct helper ftp-standard {
		type "ftp" protocol tcp
		l3proto inet
	}

	set trusted4 {
		type ipv4_addr
		flags interval
		elements = { 10.0.1.0/25, 172.16.0.1-172.16.0.9,
			     192.168.7.1 }
	}

	set trusted6 {
		type ipv6_addr
		flags interval
		elements = { 2001:db8:1::1,
			     fd00:1::/64 }
	}

	set ftp_ports {
		type inet_service
		elements = { 21, 2121 }
	}

	set passive {
		type inet_service
		flags interval
		elements = { 50000-50100 }
	}

	set inside_ifs {
		type ifname
		elements = { "lan0",
			     "dmz0" }
	}

	set l4 {
		type inet_proto
		elements = { tcp, udp }
	}

	set marks {
		type mark
		elements = { 0x00000001, 0x00000002 }
	}

	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid counter packets 0 bytes 0 drop
		iifname "lo" accept
		iifname @inside_ifs icmp type { echo-reply, echo-request } accept
		icmpv6 type { echo-request, nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept
		ip saddr @trusted4 tcp dport 22 ct state new log prefix "ssh-in: " accept
		ip6 saddr @trusted6 tcp dport 22 accept
		tcp dport < 1024 tcp flags syn / syn,ack counter packets 0 bytes 0 reject with tcp reset
		udp dport 33434-33534 reject
		meta l4proto @l4 th dport 53 accept
		tcp dport @passive accept
		reject
	}

	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state { established, related } accept
		iifname "lan0" oifname "wan*" accept
		iifname "wan*" ip daddr 10.0.2.10 tcp dport { 80, 443 } ct state new accept
		iifname "wan0" tcp dport @ftp_ports ct helper set "ftp-standard" jump ftp_in
		iifname != { "dmz*", "lan0" } ct state new log prefix "fwd new: " level info
		meta mark @marks accept
		meta mark 0x00000010 drop
		ip6 daddr != fd00:1::/64 goto wan6
		tcp flags syn / syn,rst,ack counter packets 0 bytes 0 continue
		ip protocol gre accept
		ip6 nexthdr ipv6-icmp icmpv6 type packet-too-big accept
		icmp type destination-unreachable icmp code frag-needed accept
		reject with icmp admin-prohibited
	}

	chain ftp_in {
		ip daddr 10.0.2.21 accept
		return
	}

	chain wan6 {
		oifname "wan0" accept
		log prefix "wan6 drop: " level info drop
	}

	chain output {
		type filter hook output priority filter; policy accept;
		oifname "lo" accept
		udp sport 53 counter packets 0 bytes 0 accept comment "dns replies"
	}
}
table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "wan0" tcp dport 8080 dnat to 10.0.2.10:80
		iifname "wan0" udp dport 5353 redirect to :53
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" ip saddr 10.0.1.0/24 masquerade random,persistent
		oifname "wan1" meta l4proto tcp snat to 203.0.113.2/31:1024-65535
	}
}
table inet nat6 {
	chain prerouting {
		type nat hook prerouting priority dstnat + 5; policy accept;
		iifname "wan0" tcp dport 8443 dnat ip6 to [fd00:2::10]:443
		iifname "wan0" tcp dport 8444 dnat ip to 10.0.2.10:443
	}
}
table ip6 mangle {
	chain pre {
		type filter hook prerouting priority mangle; policy accept;
		ip6 saddr fe80::/10 accept
		ip6 daddr ff02::1 drop
	}
}
table ip raw4 {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		ip saddr 0.0.0.0/8 drop
		ip daddr 10.0.1.0/24 ip saddr != 10.0.1.0/24 iifname "lan0" reject with icmp net-unreachable
	}
}
"""# + "\n"
