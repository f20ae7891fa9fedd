// FuzzEngine's main: libFuzzer under Scripts/fuzz.sh, a corpus replay otherwise
// (FuzzSupport/FuzzDriver.swift).

import FuzzSupport

@_cdecl("FuzzEngine_main")
func fuzzEngineMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    FuzzDriver.run(name: "FuzzEngine", argc: argc, argv: argv) { data, size in
        EngineInput.run(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
