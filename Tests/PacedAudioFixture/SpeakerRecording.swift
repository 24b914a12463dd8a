import Foundation
import Synchronization

/// `parec` on a paced server's speaker monitor: everything the agent's
/// voice played, as a person in the room would have heard it.
public final class SpeakerRecording: Sendable {
    private let samples = SampleCollector()
    private let parec: RunningProgram

    public init(of server: PacedAudioServer) throws {
        parec = try RunningProgram(
            "/usr/bin/parec", ["--device=speaker.monitor", "--format=s16le", "--rate=16000", "--channels=1", "--latency-msec=10"],
            environment: ["PULSE_SERVER": server.server, "PATH": "/usr/bin:/bin"], output: samples.append)
    }

    public var recorded: [Int16] { samples.all }

    /// The longest run of silence between the first and the last sound:
    /// where the speaker went quiet in the middle of what it played.
    public var longestGapInTheSound: Int {
        let all = recorded
        guard let first = all.firstIndex(where: { $0 != 0 }), let last = all.lastIndex(where: { $0 != 0 }) else { return 0 }
        var longest = 0
        var run = 0
        for sample in all[first...last] {
            run = sample == 0 ? run + 1 : 0
            longest = max(longest, run)
        }
        return longest
    }
}

/// Little-endian bytes in, whole samples out, from any thread.
final class SampleCollector: Sendable {
    private let state = Mutex<(pending: [UInt8], samples: [Int16])>(([], []))

    func append(_ bytes: Data) {
        state.withLock { state in
            state.pending.append(contentsOf: bytes)
            let whole = state.pending.count / 2 * 2
            for index in stride(from: 0, to: whole, by: 2) {
                state.samples.append(Int16(bitPattern: UInt16(state.pending[index]) | UInt16(state.pending[index + 1]) << 8))
            }
            state.pending.removeFirst(whole)
        }
    }

    var all: [Int16] { state.withLock { $0.samples } }
}
