import Glibc

/// Puts both directions' samples on one clock: the monotonic clock, counted
/// in frames at the capture rate. A sample written to the speaker is heard
/// when the device has played what it held before it; a sample read from
/// the microphone was heard when the device's delay was still ahead of it.
/// The echo of the first lands on the second at the same count, give or
/// take the room's own delay, which the canceller's filter learns.
struct EchoTimeline: Sendable, Equatable {
    /// The capture rate: one count is one microphone frame.
    let sampleRate: Int

    /// The count at a reading of CLOCK_MONOTONIC.
    func frame(at time: timespec) -> Int64 {
        Int64(time.tv_sec) * Int64(sampleRate) + Int64(time.tv_nsec) * Int64(sampleRate) / 1_000_000_000
    }

    /// When the first of `written` frames, just written to a playback
    /// device that now holds `pendingFrames` (those included) at
    /// `playbackRate`, will be heard.
    func playbackStart(at time: timespec, pendingFrames: Int, written: Int, playbackRate: Int) -> Int64 {
        frame(at: time) + Int64(max(0, pendingFrames - written)) * Int64(sampleRate) / Int64(playbackRate)
    }

    /// One past the last frame just read from a capture device that still
    /// holds `delayFrames` captured after it.
    func captureEnd(at time: timespec, delayFrames: Int) -> Int64 {
        frame(at: time) - Int64(delayFrames)
    }

    static var now: timespec {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return time
    }
}
