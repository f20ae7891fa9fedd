// FuzzWire's main: libFuzzer under Scripts/fuzz.sh, a corpus replay otherwise
// (FuzzSupport/FuzzDriver.swift).

import FuzzSupport

@_cdecl("FuzzWire_main")
func fuzzWireMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    FuzzDriver.run(name: "FuzzWire", argc: argc, argv: argv) { data, size in
        WireInput.run(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
