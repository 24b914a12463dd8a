import DaemonSettings
import Foundation
import FuzzSupport

/// A configuration file as an administrator may write it, read as the
/// daemon reads /etc/voiceagentd/voiceagentd.conf: it loads, or fails with
/// a `ConfigurationError` that names what is wrong.
func fuzzConfiguration(_ input: Data) {
    let path = "/dev/shm/voiceagentd-fuzz-\(getpid()).conf"
    guard FileManager.default.createFile(atPath: path, contents: input) else { fatalError("cannot write \(path)") }
    let done = DispatchSemaphore(value: 0)
    Task {
        do {
            _ = try await DaemonConfiguration.load(flags: [:], environment: [:], configFile: path)
        } catch let error as ConfigurationError {
            precondition(!error.description.isEmpty)
        } catch {
            fatalError("not a configuration error: \(error)")
        }
        done.signal()
    }
    done.wait()
}

@main
struct FuzzConfiguration {
    static func main() {
        FuzzEntry.run(fuzzConfiguration) { bytes, count in
            fuzzConfiguration(count == 0 ? Data() : Data(bytes: bytes!, count: count))
            return 0
        }
    }
}
