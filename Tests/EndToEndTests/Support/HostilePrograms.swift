// The attackers and their victims for LabHostileTests: small Python programs
// (run with Debian's /usr/bin/python3, whose scapy and pyftpdlib they use)
// that forge segments and ICMP errors from the server's namespace with raw
// sockets, serve a slow download, and watch in the client's namespace what
// really arrived (a raw socket sees every inbound packet before the client's
// own TCP or UDP decides what to do with it). Forged headers are built by
// hand with struct: the kernel fills in the IPv4 header's checksum and length
// for IPPROTO_RAW sockets (raw(7)), the TCP and ICMP checksums are ours.

enum HostilePrograms {
    /// Helpers every forging program shares: the RFC 1071 checksum and a TCP
    /// segment from the server (203.0.113.10) to the client's public address.
    static let forging = """
        import random, socket, struct, sys, time
        SERVER = "203.0.113.10"
        def checksum(data):
            if len(data) % 2: data += b"\\0"
            total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
            while total >> 16: total = (total & 0xffff) + (total >> 16)
            return ~total & 0xffff
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        def send_tcp(sport, dst, dport, seq, ack, flags, payload=b"", ident=0):
            source, destination = socket.inet_aton(SERVER), socket.inet_aton(dst)
            tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, 5 << 4, flags, 65535, 0, 0) + payload
            sum_ = checksum(source + destination + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
            tcp = tcp[:16] + struct.pack("!H", sum_) + tcp[18:]
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ident, 0, 64, 6, 0, source, destination)
            raw.sendto(ip + tcp, (dst, 0))

        """

    /// Accepts one connection on 7005, learns both sides' next sequence
    /// numbers from the client's acknowledgment of "hello", injects two data
    /// segments far outside the window, INJECTED-ABOVE 2^30 above what the
    /// client expects (tcp_in_window's bound I broken: invalid) and
    /// INJECTED-BELOW 2^30 below (bound II broken: Linux ignores such an
    /// "overly delayed" segment and passes it, tunwall as well; the
    /// receiver's TCP discards it, RFC 9293 3.10.7.4), then sends a genuine
    /// line and closes.
    static let injectingServer = forging + """
        sniffer = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((SERVER, 7005)); listener.listen(1)
        connection, peer = listener.accept()
        assert connection.makefile("rb").readline() == b"hello\\n"
        sniffer.settimeout(5)
        while True:
            packet = sniffer.recv(65535)
            ihl = (packet[0] & 15) * 4
            sport, dport, seq, ack, offset, flags = struct.unpack("!HHIIBB", packet[ihl:ihl + 14])
            if packet[12:16] == socket.inet_aton(peer[0]) and sport == peer[1] and dport == 7005 and flags & 0x10:
                client_next = (seq + len(packet) - ihl - (offset >> 4) * 4) & 0xffffffff
                break
        send_tcp(7005, peer[0], peer[1], ack + (1 << 30), client_next, 0x18, b"INJECTED-ABOVE\\n")
        send_tcp(7005, peer[0], peer[1], ack - (1 << 30), client_next, 0x18, b"INJECTED-BELOW\\n")
        time.sleep(1)
        connection.sendall(b"genuine\\n")
        connection.close()
        """

    /// Watches inbound TCP with a raw socket while it talks to the injecting
    /// server; prints everything its connection read up to the server's
    /// close, and how many copies of each injected segment reached this
    /// namespace at all.
    static let injectedClient = """
        import socket
        sniffer = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        s = socket.create_connection(("203.0.113.10", 7005), timeout=20)
        s.sendall(b"hello\\n")
        stream = bytearray()
        while True:
            chunk = s.recv(4096)
            if not chunk: break
            stream += chunk
        sniffer.setblocking(False)
        above = below = 0
        while True:
            try: packet = sniffer.recv(65535)
            except BlockingIOError: break
            above += b"INJECTED-ABOVE" in packet
            below += b"INJECTED-BELOW" in packet
        print(repr(bytes(stream)), "above=%d below=%d" % (above, below))
        """

    /// pyftpdlib on 203.0.113.10:21 serving argv[1] (user hostile, password
    /// hostile); right after each login it forges five SYN-ACKs with random
    /// numbers from port 21 to the control connection's client, as issue 12
    /// did, and writes how many it sent to argv[1]/../forged.
    static let ftpServer = forging + """
        import os
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer
        home, rng = sys.argv[1], random.Random(int(sys.argv[2]))
        class Handler(FTPHandler):
            def on_login(self, username):
                for _ in range(5):
                    send_tcp(21, self.remote_ip, self.remote_port, rng.getrandbits(32), rng.getrandbits(32), 0x12,
                             ident=rng.randrange(65536))
                with open(os.path.join(home, "..", "forged"), "w") as f: f.write("5")
        authorizer = DummyAuthorizer()
        authorizer.add_user("hostile", "hostile", home, perm="elr")
        Handler.authorizer = authorizer
        FTPServer((SERVER, 21), Handler).serve_forever()
        """

    /// ftplib: logs in, waits a second (the forged SYN-ACKs cross the
    /// firewall), then downloads file.bin and lists the directory in active
    /// mode (PORT: the server connects back through the helper's
    /// expectation); prints the download's length and SHA-256 and the names.
    static let ftpClient = """
        import ftplib, hashlib, time
        ftp = ftplib.FTP()
        ftp.connect("203.0.113.10", 21, timeout=15)
        ftp.login("hostile", "hostile")
        time.sleep(1)
        ftp.set_pasv(False)
        data = bytearray()
        ftp.retrbinary("RETR file.bin", data.extend)
        names = ftp.nlst()
        ftp.quit()
        print(len(data), hashlib.sha256(data).hexdigest(), ",".join(names))
        """

    /// Answers one UDP datagram on 7004, then forges ICMP port unreachables
    /// quoting the masqueraded datagram (from the firewall's public address
    /// and port to 7004): three with a spoofed outer destination, the
    /// client's private 10.0.1.2 (Linux's nf_conntrack_inet_error wants the
    /// quoted packet's source, 203.0.113.1), their quoted IP id 0x5350; then
    /// one genuine error to 203.0.113.1, quoted id 0x4745, which must arrive.
    static let icmpServer = forging + """
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((SERVER, 7004))
        data, peer = udp.recvfrom(100)
        udp.sendto(b"reply", peer)
        time.sleep(0.3)
        def error(outer_destination, ident):
            quoted_udp = struct.pack("!HHHH", peer[1], 7004, 8 + len(data), 0) + data
            inner = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(quoted_udp), ident, 0, 64, 17, 0,
                                socket.inet_aton(peer[0]), socket.inet_aton(SERVER))
            inner = inner[:10] + struct.pack("!H", checksum(inner)) + inner[12:]
            icmp = struct.pack("!BBHI", 3, 3, 0, 0) + inner + quoted_udp
            icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0, 0, 64, 1, 0,
                             socket.inet_aton(SERVER), socket.inet_aton(outer_destination))
            raw.sendto(ip + icmp, (outer_destination, 0))
        for _ in range(3): error("10.0.1.2", 0x5350)
        time.sleep(0.3)
        error(peer[0], 0x4745)
        """

    /// Sends one datagram from 10.0.1.2:5004 to the ICMP server and, with a
    /// raw ICMP socket, counts for up to 4 s the port unreachables that reach
    /// this namespace, by the quoted IP id: "reply spoofed=N genuine=M".
    static let icmpClient = """
        import socket, struct, time
        icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        icmp.settimeout(0.2)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("10.0.1.2", 5004)); udp.settimeout(5)
        udp.sendto(b"hello", ("203.0.113.10", 7004))
        reply = udp.recv(100).decode()
        spoofed = genuine = 0
        deadline = time.time() + 4
        while time.time() < deadline and not genuine:
            try: packet = icmp.recv(2000)
            except socket.timeout: continue
            ihl = (packet[0] & 15) * 4
            if packet[ihl] != 3 or len(packet) < ihl + 8 + 6: continue
            ident = struct.unpack("!H", packet[ihl + 12:ihl + 14])[0]
            spoofed += ident == 0x5350
            genuine += ident == 0x4745
        time.sleep(0.3)
        print(reply, "spoofed=%d" % spoofed, "genuine=%d" % genuine)
        """

    /// On 203.0.113.10:8080 (listen backlog 1024): a connection that says
    /// "download" gets a slow download of 16 MB (256 blocks of 64 KB, 30 ms
    /// apart: about 8 s, long enough for a flood to run beside it), any other
    /// the line "fresh". The client says which, so the answer never depends
    /// on which connection the server accepted first (a flood can delay a SYN).
    static let downloadServer = """
        import socket, threading, time
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("203.0.113.10", 8080)); listener.listen(1024)
        block = bytes(range(256)) * 256
        def serve(connection):
            if connection.makefile("rb").readline() == b"download\\n":
                for _ in range(256):
                    connection.sendall(block); time.sleep(0.03)
            else:
                connection.sendall(b"fresh\\n")
            connection.close()
        while True:
            connection, _ = listener.accept()
            threading.Thread(target=serve, args=(connection,)).start()
        """

    /// Downloads from the download server: prints "connected" once the
    /// connection is up and the request sent, then "intact" when all 16 MB
    /// arrived as sent, else how much did.
    static let downloadClient = """
        import socket, sys
        s = socket.create_connection(("203.0.113.10", 8080), timeout=30)
        s.sendall(b"download\\n")
        print("connected", flush=True)
        data = bytearray()
        while True:
            chunk = s.recv(1 << 16)
            if not chunk: break
            data += chunk
        print("intact" if data == bytes(range(256)) * 256 * 256 else "damaged: %d bytes" % len(data))
        """

    /// One new connection to 8080, 5 s to connect and read: "fresh", or why not.
    static let freshClient = """
        import socket, time
        start = time.time()
        try:
            s = socket.create_connection(("203.0.113.10", 8080), timeout=5)
            s.sendall(b"fresh\\n")
            print(s.makefile("rb").readline().decode().strip())
        except OSError as error:
            print("failed after %.1f s: %s" % (time.time() - start, error))
        """

    /// A line-echo server on port 7006 of 203.0.113.10 and 2001:db8:1::10
    /// (one IPv6 socket taking both families) for the fuzz storm's check
    /// that the firewall still forwards.
    static let echoServer = """
        import socket
        listener = socket.socket(socket.AF_INET6)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind(("::", 7006)); listener.listen(16)
        while True:
            connection, _ = listener.accept()
            connection.sendall(connection.makefile("rb").readline()); connection.close()
        """

    /// One line echoed over IPv4, one over IPv6.
    static let echoClient = """
        import socket
        for address in ("203.0.113.10", "2001:db8:1::10"):
            s = socket.create_connection((address, 7006), timeout=5)
            s.sendall(b"still forwarding\\n")
            print(s.makefile("rb").readline().decode().strip())
        """

    /// scapy's fuzz() from the client's namespace, seeded by argv[1]: 3000
    /// packets toward the server and the firewall, a sixth each with a
    /// fuzzed IPv4 header (version, IHL, options, flags, fragment offset,
    /// protocol, random sources), a fuzzed TCP header (offset, flags,
    /// options, checksum), a fuzzed UDP header, a fuzzed ICMP message
    /// quoting a fuzzed packet, a fuzzed IPv6 header (version, payload
    /// length, next header, random sources) and a fuzzed IPv6 extension
    /// header chain. Sent on raw sockets one by one: what the client's own
    /// kernel refuses to send (a bad IHL) is counted, not fatal. Prints how
    /// many left.
    static let fuzzStorm = """
        import random, socket, struct, sys
        from scapy.all import IP, IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, TCP, UDP, ICMP, Raw, fuzz
        random.seed(int(sys.argv[1]))
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        raw6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        sent = refused = 0
        for i in range(3000):
            destination = "203.0.113.10" if i % 5 else "10.0.1.1"
            destination6 = "2001:db8:1::10" if i % 5 else "fd00:1::1"
            kind = i % 6
            if kind == 0: packet = fuzz(IP(dst=destination) / TCP(dport=7006))
            elif kind == 1: packet = IP(dst=destination) / fuzz(TCP(dport=7006)) / Raw(b"x" * random.randrange(40))
            elif kind == 2: packet = IP(dst=destination) / fuzz(UDP()) / Raw(b"y" * random.randrange(40))
            elif kind == 3: packet = IP(dst=destination) / fuzz(ICMP()) / fuzz(IP(src="203.0.113.10") / TCP())
            elif kind == 4: packet = fuzz(IPv6(dst=destination6) / TCP(dport=7006))
            else: packet = IPv6(dst=destination6) / fuzz(IPv6ExtHdrHopByHop()) / fuzz(IPv6ExtHdrFragment()) / fuzz(UDP())
            try:
                if kind < 4: raw.sendto(bytes(packet), (destination, 0))
                else: raw6.sendto(bytes(packet), (destination6, 0))
                sent += 1
            except (OSError, ValueError, TypeError, struct.error):
                refused += 1
        print("sent=%d refused=%d" % (sent, refused))
        """
}
