// Tracing the packets a rule marks: `meta nftrace set 1` sets the packet's
// mark (RulePacket.nftrace, as nft_meta_set_eval sets skb->nf_trace), and
// from that rule on the packet is traced as `--trace` traces every packet:
// the rest of that hook's rules, the later hooks, NAT, helpers, the verdict.
// Linux keeps nf_trace on the skb through every later hook of the same
// packet and reports nothing before the marking rule; packets of the same
// connection are traced only if a rule marks them too (nft traces packets,
// not flows: `ct state new meta nftrace set 1` follows the first packet
// only). So here: the record starts when the mark is set, with the packet
// as it is at that point and conntrack's verdict on it (known already);
// `meta nftrace set 0` in the same hook unmarks it before any trace starts,
// and a packet whose trace began keeps it to its end (tunwall narrates a
// packet's whole way in one record, not event by event as nft does).
//
// `tunwall monitor trace` streams the marked records as `nft monitor trace`
// streams trace events: a line naming the trace and the rule that marked
// the packet, in nft's words, then tunwall's narration:
//
//   trace id 00000007 inet filter forward rule tcp dport 8080 meta nftrace set 1 (verdict continue) at web.nft:9
//   #7 lan0 IP 10.0.1.2.40000 > 203.0.113.10.8080: Flags [S], seq 1000, win 64240, length 0
//   #7   conntrack: new, original direction
//   #7   rule: accept at web.nft:10 (forward) iifname "lan0" ct state new accept
//   #7 -> wan0 IP 10.0.1.2.40000 > 203.0.113.10.8080: Flags [S], seq 1000, win 64240, length 0
//
// Nothing here runs unless the ruleset has a rule that marks and someone
// follows marked packets (Engine.tracingMarked): a ruleset without one pays
// nothing, and one with it pays one Bool test per hook for unmarked packets.

import Rules

/// The rule that marked a packet for tracing, in the words of nft's trace
/// events (`trace id ID TABLE CHAIN rule RULE (verdict V)`).
public struct TraceMark: Sendable, Equatable {
    /// "inet filter", the hook ("forward"), the chain's name.
    public var table: String
    public var hook: String
    public var chain: String
    /// The rule as `list ruleset` prints it, and FILE:LINE.
    public var rule: String
    public var location: String
    /// "continue", or the verdict of the marking rule itself (`… meta nftrace set 1 accept`).
    public var verdict: String

    /// nft's trace line for the marking rule, with the trace's id (8 hex digits, as nft prints its
    /// trace ids) and where the rule is.
    public func line(id: Int) -> String {
        let hex = String(UInt32(truncatingIfNeeded: id), radix: 16)
        let padded = String(repeating: "0", count: max(0, 8 - hex.count)) + hex
        return "trace id \(padded) \(table) \(chain) rule \(rule) (verdict \(verdict)) at \(location)"
    }
}

extension TraceRecord {
    /// What `tunwall monitor trace` prints for this record: nft's line for
    /// the marking rule (when a rule marked it), then the narration.
    public var monitorLines: [String] {
        guard let mark else { return narrated }
        return [mark.line(id: number)] + narrated
    }
}

extension Engine {
    /// A rule at `hook` marked the packet in the pipeline: its trace starts
    /// here unless everything is traced already; either way the record
    /// remembers the first rule that marked it.
    func markTrace(_ hook: Hook, verdict: RuleVerdict?, _ ctx: inout PacketContext, _ packet: PacketBuffer) {
        if ctx.trace == nil {
            ctx.trace = beginTrace(packet, input: ctx.input, now: ctx.now)
            traceConntrack(ctx.tracking, &ctx.trace)
        }
        guard let trace = ctx.trace, trace.record.mark == nil,
              let found = ruleset.decision(ctx.rules.nftraceRule) else { return }
        // The marking rule's own verdict when it also decided; otherwise nft's "continue".
        // (A nat chain's rule that decided made a binding: nft_nat_eval's verdict is accept.)
        var said = "continue"
        if ctx.rules.decision == ctx.rules.nftraceRule {
            switch verdict {
            case .accept?, nil: said = "accept"
            case .drop?, .reject?: said = "drop"
            }
        }
        trace.record.mark = TraceMark(table: found.table, hook: "\(hook)", chain: found.chain, rule: found.text,
                                      location: found.location, verdict: said)
    }
}
