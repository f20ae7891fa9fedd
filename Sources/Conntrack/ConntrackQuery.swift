// A `conntrack` command line as conntrack-tools 1.4.7 reads it: one command
// (-L, -C, -D, -F, -U, -S, -E) with an optional table ("conntrack", or
// "expect"), filters (ConntrackFilter), and what -U sets. The CLI parses the
// user's words with it, sends `arguments` (the same query in canonical
// words) over the control socket, and the firewall parses those again: one
// grammar on both sides.
//
// Its refusals are conntrack-tools' own messages (conntrack.c): "unknown
// option `--frob'", "`foo' unsupported protocol", "Invalid IP address `x'",
// "unknown TCP state `FOO'", "Bad parameter `BAD'", "option `-p' requires an
// argument", "Illegal option `--protonum' with this command", "Invalid
// commands combination", "mismatched address family". As in conntrack-tools,
// the port and state options exist only after `-p` names a protocol that has
// them (they come from the protocol's extension): `--sport` without `-p tcp`
// is an unknown option.
//
// Beyond conntrack-tools 1.4.7 (whose expect table takes no filter but a
// whole tuple for -D): the expect table takes -p, -f, -s, -d and --dport
// (of the expected connection) with -L, -D and -E, so `conntrack -D expect
// -p tcp` removes expectations the way `-D` removes connections.

import Wire

public struct ConntrackQuery: Sendable, Equatable {
    public enum Command: String, Sendable, CaseIterable {
        case list = "-L", count = "-C", delete = "-D", flush = "-F", update = "-U", stats = "-S", events = "-E"

        /// conntrack-tools' long name ("dump" for -L), for messages.
        var longName: String {
            switch self {
            case .list: return "dump"
            case .count: return "count"
            case .delete: return "delete"
            case .flush: return "flush"
            case .update: return "update"
            case .stats: return "stats"
            case .events: return "event"
            }
        }
    }

    public enum Table: String, Sendable {
        case conntrack, expect
    }

    public var command: Command
    public var table: Table = .conntrack
    public var filter = ConntrackFilter()
    /// `-U -m MARK`: the mark to set (with -U, -m sets rather than matches).
    public var newMark: UInt32?
    /// `-U -t SECONDS`: the timeout to set.
    public var newTimeout: UInt32?
    /// `-E -e NEW,DESTROY`: the events to show (all by default).
    public var events: ConntrackEventKinds = .all
    /// `-o json`: the entries as JSON (ConntrackRecord, ExpectationRecord), for scripts.
    public var json = false

    public init(command: Command, table: Table = .conntrack) {
        self.command = command
        self.table = table
    }
}

/// conntrack -E's event mask (-e NEW,UPDATE,DESTROY; ALL).
public struct ConntrackEventKinds: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let new = ConntrackEventKinds(rawValue: 1)
    public static let update = ConntrackEventKinds(rawValue: 2)
    public static let destroy = ConntrackEventKinds(rawValue: 4)
    public static let all: ConntrackEventKinds = [.new, .update, .destroy]

    /// (The set's own members spelled out: `.new` alone would be the
    /// event kind, and this function would call itself.)
    public func contains(_ kind: ConntrackEvent.Kind) -> Bool {
        switch kind {
        case .new: return isSuperset(of: ConntrackEventKinds.new)
        case .update: return isSuperset(of: ConntrackEventKinds.update)
        case .destroy: return isSuperset(of: ConntrackEventKinds.destroy)
        }
    }

    var names: [String] {
        [(Self.new, "NEW"), (.update, "UPDATE"), (.destroy, "DESTROY")].filter { contains($0.0) }.map(\.1)
    }
}

/// A command line conntrack-tools would refuse (exit status 2), with its message.
public struct ConntrackUsageError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    /// For "unknown option": the option as it was written (for a suggestion).
    public var unknownOption: String?
    public init(_ message: String, unknownOption: String? = nil) {
        self.message = message
        self.unknownOption = unknownOption
    }
    public var description: String { message }
}

extension ConntrackQuery {
    /// The options, by conntrack-tools' long name; `protocolSpecific` ones
    /// exist only after -p names a protocol with ports (or, for --state, TCP).
    struct Option {
        let long: String
        let names: [String]
        let valued: Bool
        var protocolSpecific = false
    }

    static let options: [Option] = [
        Option(long: "protonum", names: ["-p", "--protonum", "--proto"], valued: true),
        Option(long: "family", names: ["-f", "--family"], valued: true),
        Option(long: "src", names: ["-s", "--src", "--orig-src"], valued: true),
        Option(long: "dst", names: ["-d", "--dst", "--orig-dst"], valued: true),
        Option(long: "reply-src", names: ["-r", "--reply-src"], valued: true),
        Option(long: "reply-dst", names: ["-q", "--reply-dst"], valued: true),
        Option(long: "sport", names: ["--sport", "--orig-port-src"], valued: true, protocolSpecific: true),
        Option(long: "dport", names: ["--dport", "--orig-port-dst"], valued: true, protocolSpecific: true),
        Option(long: "reply-port-src", names: ["--reply-port-src"], valued: true, protocolSpecific: true),
        Option(long: "reply-port-dst", names: ["--reply-port-dst"], valued: true, protocolSpecific: true),
        Option(long: "state", names: ["--state"], valued: true, protocolSpecific: true),
        Option(long: "zone", names: ["-w", "--zone"], valued: true),
        Option(long: "mark", names: ["-m", "--mark"], valued: true),
        Option(long: "timeout", names: ["-t", "--timeout"], valued: true),
        Option(long: "event-mask", names: ["-e", "--event-mask"], valued: true),
        // conntrack-tools' -o takes extended, xml, id, …; tunwall adds json
        // (ConntrackRecords.swift) and refuses the others by name.
        Option(long: "output", names: ["-o", "--output"], valued: true),
    ]

    static let commandNames: [String: Command] = {
        var names: [String: Command] = [:]
        for command in Command.allCases {
            names[command.rawValue] = command
            names["--" + command.longName] = command
        }
        return names
    }()

    /// Every option and command spelling, for suggestions and completion.
    public static var spellings: [String] { options.flatMap(\.names) + commandNames.keys.sorted() }

    /// Reads conntrack-tools' command line (without tunwall's --socket/--lab).
    public static func parse(_ arguments: [String]) -> Result<ConntrackQuery, ConntrackUsageError> {
        do throws(ConntrackUsageError) {
            return .success(try read(arguments))
        } catch {
            return .failure(error)
        }
    }

    private static func read(_ arguments: [String]) throws(ConntrackUsageError) -> ConntrackQuery {
        var command: Command?
        var table: Table?
        var given: [(Option, String, spelled: String)] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if let found = commandNames[argument] {
                guard command == nil else { throw ConntrackUsageError("Invalid commands combination") }
                command = found
                if index < arguments.count, !arguments[index].hasPrefix("-") {
                    table = try tableNamed(arguments[index])
                    index += 1
                }
                continue
            }
            guard argument.hasPrefix("-"), argument.count > 1 else { throw ConntrackUsageError("Bad parameter `\(argument)'") }
            // --name=value, --name value, -x value, -xvalue (getopt_long).
            var name = argument
            var value: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            } else if !argument.hasPrefix("--"), argument.count > 2 {
                name = String(argument.prefix(2))
                value = String(argument.dropFirst(2))
            }
            let protocolNamed = given.last { $0.0.long == "protonum" }.flatMap { protocolNumber($0.1) }
            guard let option = options.first(where: { $0.names.contains(name) }),
                  !option.protocolSpecific || hasPorts(protocolNamed),
                  option.long != "state" || protocolNamed == .tcp else {
                throw ConntrackUsageError("unknown option `\(name)'", unknownOption: name)
            }
            if value == nil {
                guard index < arguments.count else { throw ConntrackUsageError("option `\(name)' requires an argument") }
                value = arguments[index]
                index += 1
            }
            given.append((option, value ?? "", name))
        }
        guard let command else { throw ConntrackUsageError("Invalid commands combination") }
        var query = ConntrackQuery(command: command, table: table ?? .conntrack)
        for (option, value, _) in given {
            guard query.allows(option.long) else {
                throw ConntrackUsageError("Illegal option `--\(option.long)' with this command")
            }
            try query.apply(option.long, value)
        }
        if query.table == .expect, [.update].contains(command) {
            throw ConntrackUsageError("Can't do --\(command.longName) on expect")
        }
        return query
    }

    private static func tableNamed(_ word: String) throws(ConntrackUsageError) -> Table {
        switch word {
        case "conntrack": return .conntrack
        case "expect", "expectation": return .expect
        default: throw ConntrackUsageError("unknown type `\(word)'")
        }
    }

    /// What the command and table take (conntrack-tools' commands_v_options
    /// table; the expect table as described at the top).
    private func allows(_ option: String) -> Bool {
        let expectFilters: Set = ["protonum", "family", "src", "dst", "dport"]
        switch (command, table) {
        case (.flush, _), (.count, _), (.stats, _): return false
        case (.list, .expect) where option == "output": return true
        case (_, .expect): return expectFilters.contains(option)
        case (.list, _): return option != "timeout" && option != "event-mask"
        case (_, _) where option == "output": return false
        case (.delete, _): return option != "event-mask"
        case (.update, _): return option != "event-mask"
        case (.events, _): return option != "timeout"
        }
    }

    private mutating func apply(_ option: String, _ value: String) throws(ConntrackUsageError) {
        switch option {
        case "protonum":
            guard let number = Self.protocolNumber(value) else { throw ConntrackUsageError("`\(value)' unsupported protocol") }
            filter.protocol = number
        case "family":
            switch value {
            case "ipv4", "inet": try setFamily(.ipv4)
            case "ipv6", "inet6": try setFamily(.ipv6)
            default: throw ConntrackUsageError("`\(value)' unsupported protocol")
            }
        case "src": filter.origSource = try address(value)
        case "dst": filter.origDestination = try address(value)
        case "reply-src": filter.replySource = try address(value)
        case "reply-dst": filter.replyDestination = try address(value)
        case "sport": filter.origSourcePort = try Self.port(value)
        case "dport": filter.origDestinationPort = try Self.port(value)
        case "reply-port-src": filter.replySourcePort = try Self.port(value)
        case "reply-port-dst": filter.replyDestinationPort = try Self.port(value)
        case "state":
            let upper = value.uppercased()
            // LISTEN is what conntrack-tools calls SYN_SENT2 (tcp.c's tcp_states).
            guard let state = TCPState.allCases.first(where: { $0.description == upper && $0 != .synSent2 })
                    ?? (upper == "LISTEN" ? .synSent2 : nil) else {
                throw ConntrackUsageError("unknown TCP state `\(value)'")
            }
            filter.tcpState = state
        case "zone":
            guard let zone = UInt16(value) else { throw ConntrackUsageError("Bad parameter `\(value)'") }
            filter.zone = zone
        case "mark":
            let parts = value.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let mark = Self.number(parts[0]), parts.count == 1 || Self.number(parts[1]) != nil else {
                throw ConntrackUsageError("Bad parameter `\(value)'")
            }
            if command == .update {
                newMark = mark
            } else {
                filter.mark = mark
                filter.markMask = parts.count == 2 ? Self.number(parts[1]) ?? .max : .max
            }
        case "output":
            guard value == "json" else {
                throw ConntrackUsageError("output format `\(value)' not supported by tunwall (-o json is)")
            }
            json = true
        case "timeout":
            guard let seconds = UInt32(value) else { throw ConntrackUsageError("Bad parameter `\(value)'") }
            if command == .update { newTimeout = seconds }
        default:  // event-mask
            var kinds: ConntrackEventKinds = []
            for name in value.split(separator: ",", omittingEmptySubsequences: false) {
                switch name.uppercased() {
                case "NEW": kinds.insert(.new)
                case "UPDATE": kinds.insert(.update)
                case "DESTROY": kinds.insert(.destroy)
                case "ALL": kinds = .all
                default: throw ConntrackUsageError("Bad parameter `\(name)'")
                }
            }
            events = kinds
        }
    }

    /// An address or a prefix; its family must agree with -f and the other addresses.
    private mutating func address(_ text: String) throws(ConntrackUsageError) -> IPPrefix {
        let prefix: IPPrefix
        if let block = IPPrefix(text) {
            prefix = block
        } else if let single = IPAddress(text), let block = IPPrefix(address: single, length: single.isV4 ? 32 : 128) {
            prefix = block
        } else {
            throw ConntrackUsageError("Invalid IP address `\(text)'")
        }
        if case .v4 = prefix { try setFamily(.ipv4) } else { try setFamily(.ipv6) }
        return prefix
    }

    private mutating func setFamily(_ family: AddressFamily) throws(ConntrackUsageError) {
        if let known = filter.family, known != family { throw ConntrackUsageError("mismatched address family") }
        filter.family = family
    }

    static func protocolNumber(_ text: String) -> IPProtocol? {
        switch text.lowercased() {
        case "tcp": return .tcp
        case "udp": return .udp
        case "icmp": return .icmp
        case "icmpv6", "ipv6-icmp": return .icmpv6
        case "sctp": return .sctp
        case "gre": return .gre
        case "udplite": return IPProtocol(136)
        case "dccp": return IPProtocol(33)
        default: return UInt8(text).map(IPProtocol.init(rawValue:))
        }
    }

    /// The protocols whose conntrack-tools extension has ports.
    static func hasPorts(_ proto: IPProtocol?) -> Bool {
        guard let proto else { return false }
        return [.tcp, .udp, .sctp, IPProtocol(136), IPProtocol(33)].contains(proto)
    }

    static func port(_ text: String) throws(ConntrackUsageError) -> UInt16 {
        guard let port = UInt16(text) else { throw ConntrackUsageError("Invalid port `\(text)'") }
        return port
    }

    /// strtoul(text, NULL, 0): decimal, 0x hexadecimal, 0 octal; all of it.
    static func number(_ text: String) -> UInt32? {
        let lower = text.lowercased()
        if lower.hasPrefix("0x") { return UInt32(lower.dropFirst(2), radix: 16) }
        if lower.count > 1, lower.hasPrefix("0") { return UInt32(lower.dropFirst(), radix: 8) }
        return UInt32(lower)
    }

    /// The query as words `parse` reads back to the same query: what the
    /// client sends the firewall.
    public var arguments: [String] {
        var words = [command.rawValue]
        if table == .expect { words.append("expect") }
        if let p = filter.protocol { words += ["-p", String(p.rawValue)] }
        if let f = filter.family { words += ["-f", f == .ipv4 ? "ipv4" : "ipv6"] }
        for (name, prefix) in [("-s", filter.origSource), ("-d", filter.origDestination),
                               ("-r", filter.replySource), ("-q", filter.replyDestination)] {
            if let prefix { words += [name, prefix.description] }
        }
        for (name, port) in [("--sport", filter.origSourcePort), ("--dport", filter.origDestinationPort),
                             ("--reply-port-src", filter.replySourcePort), ("--reply-port-dst", filter.replyDestinationPort)] {
            if let port { words += [name, String(port)] }
        }
        if let state = filter.tcpState { words += ["--state", state == .synSent2 ? "LISTEN" : state.description] }
        if let zone = filter.zone { words += ["-w", String(zone)] }
        if let mark = filter.mark { words += ["-m", "\(mark)/\(filter.markMask)"] }
        if let mark = newMark { words += ["-m", String(mark)] }
        if let timeout = newTimeout { words += ["-t", String(timeout)] }
        if command == .events && events != .all { words += ["-e", events.names.joined(separator: ",")] }
        if json { words += ["-o", "json"] }
        return words
    }
}

extension ConntrackQuery {
    /// True if `conntrack -E` with this query shows `event`: its kind is in
    /// the event mask and its connection passes the filters.
    public func shows(_ event: ConntrackEvent) -> Bool {
        events.contains(event.kind) && filter.matches(event.entry)
    }
}
