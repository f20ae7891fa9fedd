// What the pipeline knows about the one packet in it, passed `inout` from
// stage to stage (Engine.pipeline) instead of living in the engine object,
// which keeps only configuration and tables. It starts empty for each packet
// and is dropped with it: nothing a stage decides for one packet can leak
// into the next, and several workers can each run the pipeline with their
// own context (issue 17).
//
//   parsed    the packet as parsed (PacketParser), updated as NAT rewrites it
//   tracking  conntrack's verdict: state, direction, entry or pending connection
//   rules     what the rules see of it (filled only when a ruleset is loaded)
//   nat       for a new connection, the NAT decision once one is taken
//   helper    what a connection helper did to the packet's length
//   trace     while tracing, the packet's record that each stage adds to
//   reassembled  for a datagram reassembled from fragments, what refragmentation needs
//
// Example: a client's SYN behind masquerade leaves prerouting with nat nil,
// gets nat = NATDecision(tuple: 203.0.113.1:40000 → 203.0.113.10:80) in
// postrouting, and confirm makes that the connection's reply tuple.

import Conntrack
import Rules
import Wire

struct PacketContext {
    let input: InterfaceID
    let now: Timestamp
    var parsed = ParsedPacket.empty
    var tracking = TrackResult(state: .untracked)
    var rules = RulePacket()
    var nat: NATDecision? = nil
    var helper = HelperEffect()
    var trace: PacketTrace? = nil
    /// Set when the packet is a datagram reassembled from fragments
    /// (ReassemblyStage): output fragments it again no bigger than it came.
    var reassembled: ReassembledFacts? = nil
    /// What the Ethernet header of a frame from a TAP interface said (zero on TUN).
    var link = LinkFacts()
    /// How far steering went (SteeringStage.swift): a packet handed to its
    /// owner is not steered again.
    var steered = SteeringStage.none
    /// The length counted as received (undone when it is handed off).
    var receivedLength = 0

    @inline(__always)
    init(input: InterfaceID, now: Timestamp) {
        self.input = input
        self.now = now
    }
}

/// The translation a new connection will get: its original tuple as it
/// leaves the firewall (nf_nat_setup_info's range applied).
struct NATDecision {
    var tuple: ConnTuple
    /// An expectation decided it (nf_nat_follow_master): the nat chains are not asked.
    var fromExpectation = false
}

/// What a helper did to the packet's length (HelperStage).
struct HelperEffect {
    /// The payload changed length: the packet may need splitting on the way out.
    var resized = false
    /// Rewritten bytes past what one packet can hold; they leave after it.
    var overflow: [UInt8] = []
}
