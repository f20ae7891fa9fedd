// Which packets belong to one connection. A packet is known by its addresses
// and ports as it arrived and as it left; under NAT those differ, and a reply
// arrives with the addresses its original left with. Joining both views of
// every packet (union-find) puts both directions of a translated connection
// together without knowing the NAT table.

import TraceFormat

struct Connections {
    /// For each packet of the trace, the number of its connection, numbered
    /// from 0 in order of first appearance.
    let ids: [Int]
    /// Connections that carry helper traffic (FTP control): some packet has
    /// payload text or an FTP step other than `related`.
    let helper: Set<Int>

    init(_ packets: [TracePacket]) {
        var index: [String: Int] = [:]
        var parent: [Int] = []
        func node(_ key: String) -> Int {
            if let i = index[key] { return i }
            parent.append(parent.count)
            index[key] = parent.count - 1
            return parent.count - 1
        }
        func root(_ i: Int) -> Int {
            var i = i
            while parent[i] != i {
                parent[i] = parent[parent[i]]
                i = parent[i]
            }
            return i
        }
        var nodes: [Int] = []
        for p in packets {
            let a = node(Connections.key(p.packet))
            if let sent = p.sent {
                let b = node(Connections.key(sent))
                let (ra, rb) = (root(a), root(b))
                if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
            }
            nodes.append(a)
        }
        var numbers: [Int: Int] = [:]
        var ids: [Int] = []
        var helper: Set<Int> = []
        for (i, p) in packets.enumerated() {
            let r = root(nodes[i])
            let id = numbers[r] ?? numbers.count
            numbers[r] = id
            ids.append(id)
            if Connections.carriesHelperTraffic(p) { helper.insert(id) }
        }
        self.ids = ids
        self.helper = helper
    }

    /// The same for both directions: protocol and the two endpoints, sorted.
    static func key(_ info: PacketInfo) -> String {
        let a = info.sport.map { "\(info.src)|\($0)" } ?? info.src
        let b = info.dport.map { "\(info.dst)|\($0)" } ?? info.dst
        return "\(info.proto) " + (a < b ? "\(a) \(b)" : "\(b) \(a)")
    }

    static func carriesHelperTraffic(_ p: TracePacket) -> Bool {
        if p.packet.text != nil || p.sent?.text != nil { return true }
        return p.steps.contains { $0.isHelper && $0.event != "related" }
    }
}
