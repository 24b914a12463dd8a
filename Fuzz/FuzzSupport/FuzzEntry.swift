import CFuzzer
import Foundation

/// What a fuzz target's `main` does. Built with `-sanitize=fuzzer -D FUZZING`
/// (scripts/fuzz) it hands the command line to libFuzzer. Otherwise it runs
/// the target on every file named (a directory: every file in it), so an
/// ordinary build checks the committed corpora and replays a crash file.
public enum FuzzEntry {
    public typealias Callback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    public static func run(_ target: (Data) -> Void, libFuzzer callback: Callback) -> Never {
        #if FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
        #else
        replay(target)
        #endif
    }

    private static func replay(_ target: (Data) -> Void) -> Never {
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            FileHandle.standardError.write(Data("usage: \(CommandLine.arguments[0]) <input file or directory>...\n".utf8))
            exit(64)
        }
        var count = 0
        for path in paths {
            for file in files(at: path) {
                guard let input = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("cannot read \(file)\n".utf8))
                    exit(66)
                }
                target(input)
                count += 1
            }
        }
        print("\(count) inputs ran without a failure")
        exit(0)
    }

    private static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().map { path + "/" + $0 }
    }
}
