// The entry point every fuzz target shares (README, "Fuzzing").
//
// A fuzz target is an executable whose one-input function takes any bytes and
// must neither trap nor read out of bounds. It is built two ways:
//
// - by Scripts/fuzz.sh with `-sanitize=fuzzer,address -DFUZZING`: `run` hands
//   the function to libFuzzer's LLVMFuzzerRunDriver, which mutates inputs
//   under coverage guidance (libFuzzer's flags and corpus folders pass through);
// - by plain `swift build`: `run` replays every file of the folders (or files)
//   named on the command line through the same function once and exits 0, so
//   the committed corpus is a regression test in the debug build, where every
//   out-of-range access to an unsafe buffer traps.
//
// SwiftPM links an executable target with a `<Target>_main` symbol as `main`;
// each target defines that symbol with @_cdecl and calls `run`.
//
//   FuzzWire Tests/Fuzz/Corpus/FuzzWire      replays 300 files, prints the count

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's callback: one input, return 0 (non-zero values are reserved).
public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

#if FUZZING
// compiler-rt/lib/fuzzer/FuzzerInterface.h: runs libFuzzer with its usual
// command line from a main of our own (the sanitizer runtime links it in).
@_extern(c, "LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: FuzzCallback) -> Int32
// compiler-rt/include/sanitizer/lsan_interface.h: allocations made between
// the two calls are never reported as leaks.
@_extern(c, "__lsan_disable") func __lsan_disable()
@_extern(c, "__lsan_enable") func __lsan_enable()
#endif

public enum FuzzDriver {
    /// Runs `body` with LeakSanitizer looking away (a no-op outside fuzzing
    /// builds): for what is made once and kept for the whole process.
    public static func withoutLeakCheck<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        #if FUZZING
        __lsan_disable()
        defer { __lsan_enable() }
        #endif
        return try body()
    }

    /// The body of `<Target>_main`: libFuzzer when built for fuzzing, otherwise a replay of the
    /// inputs named by `argv` (files, or folders whose regular files are read in name order).
    public static func run(name: String, argc: Int32, argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
                           _ callback: FuzzCallback) -> Int32 {
        #if FUZZING
        var count = argc
        var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
        return LLVMFuzzerRunDriver(&count, &arguments, callback)
        #else
        var paths: [String] = []
        for i in 1..<Int(max(argc, 1)) {
            guard let argument = argv[i] else { continue }
            let path = String(cString: argument)
            // libFuzzer flags (-max_total_time=…) mean nothing to a replay.
            if !path.hasPrefix("-") { paths.append(path) }
        }
        guard !paths.isEmpty else {
            printError("usage: \(name) CORPUS-FOLDER-OR-FILE...  (replays each input once; Scripts/fuzz.sh fuzzes)")
            return 2
        }
        var replayed = 0
        for path in paths {
            for file in inputFiles(path) {
                guard let bytes = readFile(file) else {
                    printError("\(name): cannot read \(file)")
                    return 1
                }
                bytes.withUnsafeBufferPointer { _ = callback($0.baseAddress, $0.count) }
                replayed += 1
            }
        }
        print("\(name): replayed \(replayed) inputs, none trapped")
        return 0
        #endif
    }

    /// One line on standard error (write(2): Glibc's `stderr` is a global Swift 6 will not share).
    static func printError(_ line: String) {
        let text = Array((line + "\n").utf8)
        _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// `path` itself if it is a file, else the regular files in it, sorted by name.
    public static func inputFiles(_ path: String) -> [String] {
        var status = stat()
        guard stat(path, &status) == 0 else { return [] }
        guard status.st_mode & S_IFMT == S_IFDIR else { return [path] }
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard !name.hasPrefix(".") else { continue }
            var fileStatus = stat()
            if stat(path + "/" + name, &fileStatus) == 0, fileStatus.st_mode & S_IFMT == S_IFREG { names.append(name) }
        }
        return names.sorted().map { path + "/" + $0 }
    }

    /// The whole file, or nil if it cannot be read.
    public static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            bytes += chunk[0..<count]
            if count < chunk.count { return ferror(file) == 0 ? bytes : nil }
        }
    }
}
