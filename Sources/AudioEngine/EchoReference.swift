import Synchronization

/// What the speaker played, by the time it was heard (`EchoTimeline`
/// counts at the capture rate): the playback thread records it, the
/// capture thread reads the stretch its chunk was captured over. Frames
/// nobody recorded, or older than the ring holds, read as silence.
final class EchoReference: Sendable {
    /// A new block that starts this close to where the last one ended
    /// continues it: device delays are read with jitter (a sound server
    /// reports in fragments), and a reference that jumps back and forth
    /// by a few milliseconds would keep the canceller from converging.
    let continuityFrames: Int
    /// After a pause in playback the device may have run dry, and a gap
    /// longer than the jitter is real: a block then continues the last one
    /// only this close to it.
    let resumeFrames: Int
    private let state: Mutex<Ring>

    private struct Ring {
        var samples: [Int16]
        /// One past the last frame recorded.
        var end: Int64?
        /// Set when the playback path changed (device reopened), until the
        /// capture side takes note.
        var pathChanged = false

        func index(_ frame: Int64) -> Int {
            Int(frame % Int64(samples.count) + Int64(samples.count)) % samples.count
        }

        mutating func zero(from start: Int64, to end: Int64) {
            var frame = max(start, end - Int64(samples.count))
            while frame < end {
                samples[index(frame)] = 0
                frame += 1
            }
        }
    }

    init(capacityFrames: Int, continuityFrames: Int, resumeFrames: Int) {
        self.continuityFrames = continuityFrames
        self.resumeFrames = resumeFrames
        state = Mutex(Ring(samples: [Int16](repeating: 0, count: capacityFrames)))
    }

    /// Records `samples` as heard from `start` on; returns where they were
    /// placed (the end of the last block, if `start` is within the
    /// continuity of it, or after a pause within the resume distance).
    /// `queued`: frames written before them that the device had not played
    /// yet. When `start` is not where the last block ended, the device's
    /// timing moved (a stream that stalled as it started, a sound server
    /// catching up): those frames are heard right before `start` too, and
    /// move with it.
    @discardableResult
    func record(_ samples: UnsafeBufferPointer<Int16>, from start: Int64, queued: Int = 0, afterPause: Bool = false) -> Int64 {
        state.withLock { ring in
            var placed = start
            if let end = ring.end {
                if abs(start - end) <= Int64(afterPause ? resumeFrames : continuityFrames) {
                    placed = end
                } else {
                    let unheard = min(Int64(queued), Int64(ring.samples.count) - Int64(samples.count))
                    let moved = (0..<unheard).map { ring.samples[ring.index(end - unheard + $0)] }
                    ring.zero(from: end - unheard, to: max(end, start - unheard))
                    for (offset, sample) in moved.enumerated() {
                        ring.samples[ring.index(start - unheard + Int64(offset))] = sample
                    }
                }
            }
            for (offset, sample) in samples.enumerated() {
                ring.samples[ring.index(placed + Int64(offset))] = sample
            }
            ring.end = placed + Int64(samples.count)
            return placed
        }
    }

    /// What was recorded from `frame` on will not be heard (the device's
    /// buffer was dropped).
    func discard(from frame: Int64) {
        state.withLock { ring in
            guard let end = ring.end, end > frame else { return }
            ring.zero(from: frame, to: end)
            ring.end = frame
        }
    }

    /// Fills `output` with what was heard from `start` on.
    func copy(into output: UnsafeMutableBufferPointer<Int16>, from start: Int64) {
        state.withLock { ring in
            let end = ring.end ?? start
            let oldest = end - Int64(ring.samples.count)
            for offset in 0..<output.count {
                let frame = start + Int64(offset)
                output[offset] = frame >= oldest && frame < end ? ring.samples[ring.index(frame)] : 0
            }
        }
    }

    /// Whether anything above `threshold` was heard between `start` and `end`.
    func isAudible(from start: Int64, to end: Int64, threshold: Int16) -> Bool {
        state.withLock { ring in
            guard let recordedEnd = ring.end else { return false }
            var frame = max(start, recordedEnd - Int64(ring.samples.count))
            let last = min(end, recordedEnd)
            while frame < last {
                let sample = ring.samples[ring.index(frame)]
                if sample > threshold || sample < -threshold { return true }
                frame += 1
            }
            return false
        }
    }

    /// The playback device was reopened: its delay may be another.
    func playbackPathChanged() {
        state.withLock { $0.pathChanged = true }
    }

    /// Whether the playback path changed since the last call.
    func takePathChange() -> Bool {
        state.withLock { ring in
            defer { ring.pathChanged = false }
            return ring.pathChanged
        }
    }
}

/// What both audio threads share for echo handling in one conversation.
struct EchoPath: Sendable {
    let reference: EchoReference
    let timeline: EchoTimeline
    let audibility: EchoAudibility
}

/// Whether the microphone hears the speaker, as the capture side last
/// found: only then does the playback side keep its stream running for the
/// canceller. Assumed until found otherwise.
final class EchoAudibility: Sendable {
    private let heard = Atomic(true)

    var isHeard: Bool { heard.load(ordering: .relaxed) }

    func set(_ isHeard: Bool) {
        heard.store(isHeard, ordering: .relaxed)
    }
}
