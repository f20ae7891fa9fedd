// Impairments in a firewall config (an interface's "impair") and at runtime
// (the control socket's `impair` request): netem's words read, written back,
// and refused with the place and the reason, the running settings kept.

import Engine
import Firewall
import Foundation
import Testing
import Wire

@Suite struct ImpairConfigTests {
    static func config(_ impair: String) -> String {
        """
        {"interfaces": [
          {"name": "lan0", "addresses": ["10.0.1.1/24"]},
          {"name": "wan0", "addresses": ["203.0.113.1/24"], "impair": \(impair)}
        ]}
        """
    }

    @Test func eachDirectionTakesNetemWords() throws {
        let config = try FirewallConfig.parse(data: Array(Self.config(#"{"out": "delay 50ms 10ms loss 2%", "in": "rate 10mbit"}"#).utf8),
                                              file: "fw.json")
        let wan = try #require(config.interface(named: "wan0"))
        #expect(wan.impair[.out]?.description == "delay 50ms 10ms loss 2%")
        #expect(wan.impair[.in]?.rate == 10_000_000)
        // Written back as the same words, read back the same.
        let again = try FirewallConfig.parse(data: config.jsonData(), file: "fw.json")
        #expect(again == config)
    }

    @Test(arguments: [
        (#"{"out": "loss 2"}"#, nil),
        (#"{"out": "loss lots"}"#, #"fw.json: interfaces[1].impair.out: loss: "lots" is not a percentage from 0% to 100%"#),
        (#"{"outbound": "loss 2%"}"#, #"fw.json: interfaces[1].impair: unknown key "outbound""#),
        (#""delay 5ms""#, "fw.json: interfaces[1].impair: expected an object"),
        (#"{"in": "reorder 5%"}"#, "fw.json: interfaces[1].impair.in: reorder: reordering is not possible without a delay"),
    ] as [(String, String?)])
    func badWordsNameThePlace(impair: String, message: String?) throws {
        do {
            _ = try FirewallConfig.parse(data: Array(Self.config(impair).utf8), file: "fw.json")
            #expect(message == nil, "accepted")
        } catch {
            #expect(message != nil && error.message.hasPrefix(message!), "\(error.message)")
        }
    }

    @Test func theControlRequestSetsShowsAndClears() throws {
        let engine = try Engine(EngineConfiguration(interfaces: [
            InterfaceConfiguration(name: "lan0", addresses: [InterfaceAddress("10.0.1.1/24")!]),
            InterfaceConfiguration(name: "wan0", addresses: [InterfaceAddress("203.0.113.1/24")!]),
        ]))
        #expect(ImpairRequest.answer(interface: "wan0", words: "delay 50ms loss 2%".split(separator: " ").map(String.init), engine: engine)
                == "wan0 out: delay 50ms loss 2%\n")
        #expect(ImpairRequest.answer(interface: "wan0", words: ["in", "rate", "1mbit"], engine: engine) == "wan0 in: rate 1mbit\n")
        let refused = ImpairRequest.answer(interface: "wan0", words: ["out", "delay", "fast"], engine: engine)
        #expect(refused.hasPrefix("error: impair wan0: delay: \"fast\" is not a time"))
        #expect(refused.contains("unchanged"))
        #expect(engine.impairment(interface: 1, direction: .out).description == "delay 50ms loss 2%")
        let shown = ImpairRequest.answer(interface: "wan0", words: ["show"], engine: engine)
        #expect(shown.contains("wan0 in: rate 1mbit") && shown.contains("wan0 out: delay 50ms loss 2%") && shown.contains("packets 0"))
        _ = ImpairRequest.answer(interface: "wan0", words: ["out", "clear"], engine: engine)
        #expect(engine.impairment(interface: 1, direction: .out).isNone)
        #expect(!engine.impairment(interface: 1, direction: .in).isNone)
        _ = ImpairRequest.answer(interface: "wan0", words: ["clear"], engine: engine)
        #expect(engine.impairment(interface: 1, direction: .in).isNone)
        #expect(ImpairRequest.answer(interface: "eth9", words: ["show"], engine: engine).hasPrefix("error: impair: no interface named \"eth9\""))
    }
}
