// Impairments on the manual clock (VirtualFirewall): each one's exact
// behaviour as netem defines it (sch_netem.c), counted, traced, and the same
// seed giving the same decisions. Packets are UDP from the client (lan0) to
// the server (wan0), numbered in their first two payload bytes.

import EngineTesting
import Engine
import Foundation
import Testing
import Wire

@Suite struct ImpairmentTests {
    static let client = IPv4Address(10, 0, 1, 2), server = IPv4Address(203, 0, 113, 10)
    static let millisecond: UInt64 = 1_000_000

    func firewall() throws -> VirtualFirewall {
        try VirtualFirewall(interfaces: [.init(name: "lan0", addresses: ["10.0.1.1/24"]),
                                         .init(name: "wan0", addresses: ["203.0.113.1/24"])])
    }

    /// A UDP packet of `length` bytes (IP header included) carrying `number`.
    static func packet(_ number: Int, length: Int = 100) -> Packet {
        var payload = [UInt8](repeating: 0x61, count: max(length - 28, 2))
        payload[0] = UInt8(truncatingIfNeeded: number >> 8)
        payload[1] = UInt8(truncatingIfNeeded: number)
        return .udp(client, 40000, server, 9000, payload: payload)
    }

    static func number(_ bytes: [UInt8]) -> Int {
        guard let packet = try? Packet(parsing: bytes), packet.payload.count >= 2 else { return -1 }
        return Int(packet.payload[0]) << 8 | Int(packet.payload[1])
    }

    /// What happened to each of `count` packets sent `spacing` apart: the
    /// time each one left (nil if lost), from the first send.
    static func run(_ fw: VirtualFirewall, count: Int, spacing: Double = 0.001, settle: Double = 5) -> [Int: [UInt64]] {
        let start = fw.now
        var left: [Int: [UInt64]] = [:]
        func collect() {
            for (_, bytes, due) in fw.takeReleased() { left[number(bytes), default: []].append(due - start) }
        }
        for i in 0..<count {
            let out = fw.send(packet(i), on: "lan0")
            if out.interface != nil { left[i, default: []].append(fw.now - start) }
            collect()
            fw.advance(seconds: spacing)
            collect()
        }
        fw.advance(seconds: settle)
        collect()
        return left
    }

    // MARK: - Words

    @Test func wordsAreReadWithNetemUnitsAndWrittenBack() throws {
        let text = "delay 50ms 10ms 25% distribution normal loss 2% duplicate 1% reorder 25% 50% gap 5 corrupt 0.1% rate 10mbit limit 2000 seed 7"
        let parsed = try Impairment.parse(text)
        #expect(parsed.delay == 50 * Self.millisecond && parsed.jitter == 10 * Self.millisecond)
        #expect(parsed.delayCorrelation == 0.25 && parsed.distribution == .normal)
        #expect(parsed.loss == .random(0.02, correlation: 0))
        #expect(parsed.reorder == 0.25 && parsed.reorderCorrelation == 0.5 && parsed.gap == 5)
        #expect(parsed.rate == 10_000_000 && parsed.limit == 2000 && parsed.seed == 7)
        #expect(try Impairment.parse(parsed.description) == parsed)
        #expect(Impairment.time("250us") == 250_000 && Impairment.time("1.5s") == 1_500_000_000 && Impairment.time("20") == 20_000)
        #expect(Impairment.rate("125kbps") == 1_000_000 && Impairment.rate("1gbit") == 1_000_000_000 && Impairment.rate("2kibit") == 2048)
        // tc's defaults for the Gilbert-Elliott model: r = 1 - p, 1-h = 100 %, 1-k = 0 %.
        #expect(try Impairment.parse("loss gemodel 1%").loss == .gilbertElliott(p: 0.01, r: 0.99, lossInBad: 1, lossInGood: 0))
        #expect(try Impairment.parse("reorder 10% delay 5ms").gap == 1)
        #expect(try Impairment.parse("").isNone)
    }

    @Test(arguments: [
        ("delay", "delay: a value must follow"),
        ("delay 50 ms", "unknown word \"ms\""),
        ("loss 120%", "loss: \"120%\" is not a percentage from 0% to 100%"),
        ("lose 2%", "unknown word \"lose\" (did you mean \"loss\"?)"),
        ("rate fast", "rate: \"fast\" is not a rate"),
        ("reorder 25%", "reorder: reordering is not possible without a delay"),
        ("delay 5ms distribution pareto", "distribution: \"pareto\" is not one tunwall has: uniform or normal"),
        ("limit 0", "limit: \"0\" is not a whole number from 1 to 1000000"),
        ("seed -1", "seed: \"-1\" is not a number"),
        ("delay 99999999999s", "delay: \"99999999999s\" is not a time"),
    ])
    func badWordsAreRefusedWithTheWord(text: String, message: String) throws {
        let error = #expect(throws: ImpairmentError.self) { try Impairment.parse(text) }
        #expect(error?.message.hasPrefix(message) == true, "\(error?.message ?? "no error")")
    }

    @Test func aBadImpairmentLeavesTheRunningOneInPlace() throws {
        let fw = try firewall()
        try fw.impair("wan0", .out, "delay 20ms")
        #expect(throws: VirtualFirewall.SetupError.self) { try fw.impair("wan0", .out, "delay 20ms loss lots") }
        #expect(fw.engine.impairment(interface: 1, direction: .out).delay == 20 * Self.millisecond)
        #expect(throws: VirtualFirewall.SetupError.self) { try fw.impair("eth9", .out, "delay 20ms") }
    }

    // MARK: - Each impairment

    @Test func delayHoldsEveryPacketExactlyThatLong() throws {
        let fw = try firewall()
        try fw.impair("wan0", .out, "delay 50ms")
        let start = fw.now
        for i in 0..<10 {
            let out = fw.send(Self.packet(i), on: "lan0")
            #expect(out.interface == nil && out.dropReason == nil, "held, not sent or dropped")
        }
        fw.advance(seconds: 0.049)
        #expect(fw.takeReleased().isEmpty)
        fw.advance(seconds: 0.001)
        let released = fw.takeReleased()
        #expect(released.map { Self.number($0.bytes) } == Array(0..<10), "first in, first out")
        #expect(released.allSatisfy { $0.interface == "wan0" && $0.due == start + 50 * Self.millisecond })
        #expect(released.allSatisfy { (try? Packet(parsing: $0.bytes))?.encoded() == $0.bytes }, "unchanged, checksums right")
        let counters = fw.engine.impairmentCounters(interface: 1, direction: .out)
        #expect(counters.packets == 10 && counters.delayed == 10)
        #expect(fw.engine.impairedCount == 0)
    }

    @Test func uniformJitterStaysWithinDelayPlusMinusJitter() throws {
        let fw = try firewall()
        try fw.impair("wan0", .out, "delay 50ms 10ms limit 5000 seed 3")
        let left = Self.run(fw, count: 2000, spacing: 0)
        let delays = left.values.flatMap { $0 }.map { Double($0) / 1e6 }
        #expect(delays.count == 2000)
        #expect(delays.allSatisfy { $0 >= 40 && $0 < 60 })
        let mean = delays.reduce(0, +) / Double(delays.count)
        #expect(abs(mean - 50) < 0.5, "mean \(mean) ms")
        #expect(fw.engine.impairmentCounters(interface: 1, direction: .out).delayed == 2000)
    }

    /// Jitter sends some packets to the heap and some to the FIFO ring (due
    /// after the last queued): they leave in due order all the same, equal
    /// times first in, first out.
    @Test func heldPacketsLeaveInDueOrder() throws {
        let fw = try firewall()
        try fw.impair("wan0", .out, "delay 20ms 15ms limit 5000 seed 9")
        var released: [(interface: String, bytes: [UInt8], due: UInt64)] = []
        for i in 0..<3000 {
            fw.send(Self.packet(i), on: "lan0")
            if i % 3 == 0 { fw.advance(seconds: 0.0001) }
            released += fw.takeReleased()
        }
        fw.advance(seconds: 1)
        released += fw.takeReleased()
        #expect(released.count == 3000)
        #expect(zip(released, released.dropFirst()).allSatisfy { $0.due <= $1.due })
        #expect(Set(released.map { Self.number($0.bytes) }).count == 3000)
        // A fixed delay: exactly first in, first out.
        try fw.impair("wan0", .out, "delay 20ms limit 5000")
        for i in 0..<3000 { fw.send(Self.packet(i), on: "lan0") }
        fw.advance(seconds: 1)
        #expect(fw.takeReleased().map { Self.number($0.bytes) } == Array(0..<3000))
    }

    @Test func normalJitterHasTheGivenSpread() throws {
        let fw = try firewall()
        try fw.impair("wan0", .out, "delay 100ms 10ms distribution normal limit 5000 seed 5")
        let delays = Self.run(fw, count: 4000, spacing: 0).values.flatMap { $0 }.map { Double($0) / 1e6 }
        let mean = delays.reduce(0, +) / Double(delays.count)
        let deviation = (delays.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(delays.count)).squareRoot()
        #expect(abs(mean - 100) < 1, "mean \(mean)")
        #expect(abs(deviation - 10) < 1, "standard deviation \(deviation)")
        #expect(delays.allSatisfy { $0 >= 40 && $0 <= 160 }, "within 6 sigma")
    }

    @Test func randomLossIsWithinTheBinomialBound() throws {
        let fw = try firewall()
        try fw.impair("wan0", .out, "loss 10%")
        var lost = 0
        for i in 0..<10_000 {
            let out = fw.send(Self.packet(i), on: "lan0")
            if out.dropReason == .impairLoss { lost += 1 } else { #expect(out.interface == "wan0") }
        }
        // 10,000 · 0.1 ± 4 σ (σ = √(n p (1 − p)) = 30).
        #expect(abs(lost - 1000) <= 120, "lost \(lost)")
        #expect(fw.engine.statistics.dropCount(.impairLoss) == UInt64(lost))
        #expect(fw.engine.impairmentCounters(interface: 1, direction: .out).lost == UInt64(lost))
        #expect(fw.statistics.contains("impair-loss"))
        #expect(fw.statistics.contains("wan0 out: loss 10%"))
    }

    @Test func gilbertElliottLosesInBursts() throws {
        let fw = try firewall()
        // p 10 %, r 50 %, all lost in the bad state, none in the good one:
        // loss p / (p + r) = 1/6, bursts of 1 / r = 2 packets on average.
        try fw.impair("wan0", .out, "loss gemodel 10% 50% 100% 0% seed 11")
        var outcomes: [Bool] = []
        for i in 0..<30_000 { outcomes.append(fw.send(Self.packet(i), on: "lan0").dropReason == .impairLoss) }
        let lossRate = Double(outcomes.filter { $0 }.count) / Double(outcomes.count)
        var bursts: [Int] = [], run = 0
        for lost in outcomes {
            if lost { run += 1 } else if run > 0 { bursts.append(run); run = 0 }
        }
        let meanBurst = Double(bursts.reduce(0, +)) / Double(bursts.count)
        #expect(abs(lossRate - 1.0 / 6) < 0.015, "loss \(lossRate)")
        #expect(abs(meanBurst - 2) < 0.15, "mean burst \(meanBurst)")
        // Random loss at the same rate has bursts near 1 / (1 − 1/6) = 1.2.
        #expect(bursts.contains { $0 >= 6 })
    }

    @Test func duplicateSendsAnIdenticalCopy() throws {
        let fw = try firewall()
        try fw.impair("wan0", .out, "duplicate 100%")
        let out = fw.send(Self.packet(7), on: "lan0")
        #expect(out.interface == "wan0")
        let copies = fw.takeReleased()
        #expect(copies.count == 1)
        #expect(copies.first?.bytes == out.bytes && copies.first?.due == fw.now)
        // A duplicate is not duplicated again (netem switches duplication off for its clone).
        try fw.impair("wan0", .out, "duplicate 50% seed 9")
        let left = Self.run(fw, count: 4000, spacing: 0)
        let twice = left.values.filter { $0.count == 2 }.count
        #expect(left.values.allSatisfy { $0.count <= 2 })
        #expect(abs(twice - 2000) <= 130, "duplicated \(twice)")
        #expect(fw.engine.impairmentCounters(interface: 1, direction: .out).duplicated == 1 + UInt64(twice))
    }

    @Test func reorderWithAGapSendsEveryNthPacketEarly() throws {
        let fw = try firewall()
        // netem: after gap − 1 delayed packets the next goes at once with
        // probability P; with 100 % exactly every fifth.
        try fw.impair("wan0", .out, "delay 10ms reorder 100% gap 5")
        var early: [Int] = []
        for i in 0..<20 where fw.send(Self.packet(i), on: "lan0").interface != nil { early.append(i) }
        #expect(early == [4, 9, 14, 19])
        fw.advance(seconds: 0.01)
        #expect(fw.takeReleased().map { Self.number($0.bytes) } == [0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 15, 16, 17, 18])
        #expect(fw.engine.impairmentCounters(interface: 1, direction: .out).reordered == 4)
        // Without a gap (gap 1, as tc sets it) each packet goes early with probability P.
        try fw.impair("wan0", .out, "delay 10ms reorder 25% limit 10000 seed 4")
        var sentEarly = 0
        for i in 0..<8000 where fw.send(Self.packet(i), on: "lan0").interface != nil { sentEarly += 1 }
        #expect(abs(sentEarly - 2000) <= 160, "early \(sentEarly)")
    }

    @Test func corruptFlipsExactlyOneBitAndLeavesTheChecksumWrong() throws {
        let plain = try firewall()
        let fw = try firewall()
        try fw.impair("wan0", .out, "corrupt 100% seed 2")
        for i in 0..<200 {
            let expected = plain.send(Self.packet(i, length: 300), on: "lan0").bytes
            let out = fw.send(Self.packet(i, length: 300), on: "lan0")
            #expect(out.interface == "wan0" && out.bytes.count == expected.count)
            let differing = zip(out.bytes, expected).map { ($0 ^ $1).nonzeroBitCount }.reduce(0, +)
            #expect(differing == 1)
            #expect(!out.isWellFormed, "checksum left as it was")
        }
        #expect(fw.engine.impairmentCounters(interface: 1, direction: .out).corrupted == 200)
    }

    @Test func rateIsATokenBucketWithATailDroppingQueue() throws {
        let fw = try firewall()
        // 8 Mbit/s is a byte a microsecond; the bucket holds 10 ms of it (10,000 bytes).
        try fw.impair("wan0", .out, "rate 8mbit limit 20")
        let start = fw.now
        var sentAtOnce = 0, tailDropped = 0
        for i in 0..<40 {
            let out = fw.send(Self.packet(i, length: 1000), on: "lan0")
            if out.interface != nil { sentAtOnce += 1 }
            if out.dropReason == .impairQueueFull { tailDropped += 1 }
        }
        #expect(sentAtOnce == 10, "the bucket's burst")
        #expect(tailDropped == 10, "20 wait, the rest are dropped")
        fw.advance(seconds: 1)
        let released = fw.takeReleased()
        #expect(released.map { Self.number($0.bytes) } == Array(10..<30))
        // Then one 1000-byte packet a millisecond.
        #expect(released.enumerated().allSatisfy { $0.element.due == start + UInt64($0.offset + 1) * Self.millisecond })
        let counters = fw.engine.impairmentCounters(interface: 1, direction: .out)
        #expect(counters.rateLimited == 20 && counters.queueDropped == 10)
        #expect(fw.engine.statistics.dropCount(.impairQueueFull) == 10)
    }

    @Test func inAndOutStagesAddUp() throws {
        let fw = try firewall()
        try fw.impair("lan0", .in, "delay 10ms")
        try fw.impair("wan0", .out, "delay 20ms")
        let start = fw.now
        fw.send(Self.packet(1), on: "lan0")
        fw.advance(seconds: 0.1)
        #expect(fw.takeReleased().map(\.due) == [start + 30 * Self.millisecond])
        // The other way only lan0's out (not set) and wan0's in (not set): at once.
        let reply = fw.send(.udp(Self.server, 9000, Self.client, 40000), on: "wan0")
        #expect(reply.interface == "lan0")
        // Cleared: back to the pipeline alone.
        try fw.impair("lan0", .in, "")
        try fw.impair("wan0", .out, "")
        #expect(fw.send(Self.packet(2), on: "lan0").interface == "wan0")
    }

    // MARK: - Seeds

    @Test func theSameSeedGivesTheSameSequence() throws {
        let words = "delay 20ms 10ms loss 20% duplicate 5% reorder 10% corrupt 1% seed 42"
        func sequence(_ fw: VirtualFirewall) -> [Int: [UInt64]] { Self.run(fw, count: 500) }
        let a = try firewall(), b = try firewall()
        try a.impair("wan0", .out, words)
        try b.impair("wan0", .out, words)
        let first = sequence(a)
        #expect(first == sequence(b))
        // Setting the same words again starts the sequence again.
        try a.impair("wan0", .out, words)
        let again = sequence(a)
        #expect(again.count == first.count)
        #expect(Set(again.keys) == Set(first.keys))
        // Another seed, another sequence.
        let c = try firewall()
        try c.impair("wan0", .out, words.replacingOccurrences(of: "seed 42", with: "seed 43"))
        #expect(sequence(c) != first)
    }

    // MARK: - Traces

    @Test func tracesSayWhatTheImpairmentDid() throws {
        let fw = try firewall()
        fw.engine.tracing = true
        try fw.impair("wan0", .out, "delay 5ms duplicate 100%")
        _ = fw.send(Self.packet(1), on: "lan0")
        try fw.impair("wan0", .out, "loss 100%")
        _ = fw.send(Self.packet(2), on: "lan0")
        let records = fw.engine.takeTraces()
        #expect(records.map(\.verdict) == ["held", "drop"])
        let events = records.map { $0.steps.filter { $0.kind == "impair" }.map { TraceJSON.object($0.fields).encoded } }
        #expect(events[0].contains { $0.contains("\"event\":\"duplicated\"") && $0.contains("\"direction\":\"out\"") })
        #expect(events[0].contains { $0.contains("\"event\":\"delayed\"") })
        #expect(events[1].contains { $0.contains("\"event\":\"lost\"") })
        #expect(records[1].reason == "impair-loss")
        let schema = try TraceSchema.fromDocs()
        for record in records {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(record.jsonLine.utf8)) as? [String: Any])
            try schema.check(object, line: record.number, version: TraceRecord.schemaVersion)
        }
    }
}
