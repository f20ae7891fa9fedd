// FuzzRules' main: libFuzzer under Scripts/fuzz.sh, a corpus replay otherwise
// (FuzzSupport/FuzzDriver.swift).

import FuzzSupport

@_cdecl("FuzzRules_main")
func fuzzRulesMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    FuzzDriver.run(name: "FuzzRules", argc: argc, argv: argv) { data, size in
        RulesInput.run(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
