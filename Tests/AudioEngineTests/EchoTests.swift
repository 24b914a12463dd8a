import AudioCodec
@testable import AudioEngine
import Glibc
import NIOConcurrencyHelpers
import PacedAudioFixture
import Testing

@Suite("Echo: alignment of what was played with what was captured")
struct EchoAlignmentTests {
    let timeline = EchoTimeline(sampleRate: 16000)

    private func time(seconds: Int, milliseconds: Int) -> timespec {
        timespec(tv_sec: seconds, tv_nsec: milliseconds * 1_000_000)
    }

    @Test func theClockCountsCaptureFrames() {
        #expect(timeline.frame(at: time(seconds: 2, milliseconds: 500)) == 40_000)
        #expect(EchoTimeline(sampleRate: 8000).frame(at: time(seconds: 1, milliseconds: 10)) == 8080)
    }

    @Test func aWrittenBlockIsHeardAfterWhatTheDeviceHeldBeforeIt() {
        let now = time(seconds: 10, milliseconds: 0)
        // 80 ms held after writing 20 ms: the block starts in 60 ms.
        #expect(timeline.playbackStart(at: now, pendingFrames: 1280, written: 320, playbackRate: 16000) == 160_000 + 960)
        // The same at 48 kHz playback, counted at the microphone's 16 kHz.
        #expect(timeline.playbackStart(at: now, pendingFrames: 3840, written: 960, playbackRate: 48000) == 160_000 + 960)
    }

    @Test func aReadChunkEndsBeforeWhatTheDeviceStillHolds() {
        #expect(timeline.captureEnd(at: time(seconds: 10, milliseconds: 0), delayFrames: 160) == 160_000 - 160)
    }

    @Test func theCapturedStretchFindsExactlyTheBlockHeardOverIt() {
        let reference = EchoReference(capacityFrames: 32000, continuityFrames: 320, resumeFrames: 64)
        let ramp = (0..<320).map { Int16($0 + 1) }
        // Written at 10.000 s with 80 ms held: heard from 10.060 s.
        let heardFrom = timeline.playbackStart(at: time(seconds: 10, milliseconds: 0), pendingFrames: 1280, written: 320, playbackRate: 16000)
        _ = ramp.withUnsafeBufferPointer { reference.record($0, from: heardFrom) }
        // Read at 10.090 s with 10 ms still in the capture buffer: the
        // chunk covers 10.060 to 10.080 s.
        let end = timeline.captureEnd(at: time(seconds: 10, milliseconds: 90), delayFrames: 160)
        var captured = [Int16](repeating: -1, count: 320)
        captured.withUnsafeMutableBufferPointer { reference.copy(into: $0, from: end - 320) }
        #expect(captured == ramp)
        // Ten milliseconds earlier, the first half is from before the block: silence.
        captured.withUnsafeMutableBufferPointer { reference.copy(into: $0, from: end - 480) }
        #expect(captured == [Int16](repeating: 0, count: 160) + ramp.prefix(160))
    }

    @Test func jitterInTheReportedDelayDoesNotTearTheReference() {
        let reference = EchoReference(capacityFrames: 32000, continuityFrames: 320, resumeFrames: 64)
        let first = [Int16](repeating: 1, count: 320)
        let second = [Int16](repeating: 2, count: 320)
        #expect(first.withUnsafeBufferPointer { reference.record($0, from: 1000) } == 1000)
        // Reported 5 ms late: it continues the first block.
        #expect(second.withUnsafeBufferPointer { reference.record($0, from: 1400) } == 1320)
        // After a pause longer than the continuity: where it says, silence between.
        #expect(first.withUnsafeBufferPointer { reference.record($0, from: 3000) } == 3000)
        var heard = [Int16](repeating: -1, count: 4)
        heard.withUnsafeMutableBufferPointer { reference.copy(into: $0, from: 1638) }
        #expect(heard == [2, 2, 0, 0])
        // After a pause, a gap beyond the jitter is real: the device ran dry.
        #expect(first.withUnsafeBufferPointer { reference.record($0, from: 3420, afterPause: true) } == 3420)
        #expect(second.withUnsafeBufferPointer { reference.record($0, from: 3770, afterPause: true) } == 3740)
    }

    @Test func whatTheDeviceStillHeldMovesWithAStalledStart() {
        let reference = EchoReference(capacityFrames: 32000, continuityFrames: 320, resumeFrames: 64)
        // Four periods written at once to a stream that then stalls: each
        // measured as starting when the ones before it end.
        for block in 0..<4 {
            let samples = [Int16](repeating: Int16(block + 1), count: 320)
            _ = samples.withUnsafeBufferPointer { reference.record($0, from: 1000 + Int64(block * 320), queued: block * 320) }
        }
        // The fifth, 1.2 s later, still behind all four: they were not heard yet.
        let fifth = [Int16](repeating: 5, count: 320)
        #expect(fifth.withUnsafeBufferPointer { reference.record($0, from: 20_000, queued: 1280) } == 20_000)
        var heard = [Int16](repeating: -1, count: 1600)
        heard.withUnsafeMutableBufferPointer { reference.copy(into: $0, from: 18_720) }
        #expect(heard == (1...5).flatMap { [Int16](repeating: Int16($0), count: 320) })
        var before = [Int16](repeating: -1, count: 1280)
        before.withUnsafeMutableBufferPointer { reference.copy(into: $0, from: 1000) }
        #expect(before == [Int16](repeating: 0, count: 1280), "not heard where they were first placed")
    }

    @Test func droppedAudioIsNotExpectedAsEcho() {
        let reference = EchoReference(capacityFrames: 32000, continuityFrames: 320, resumeFrames: 64)
        let block = [Int16](repeating: 7, count: 320)
        _ = block.withUnsafeBufferPointer { reference.record($0, from: 1000) }
        reference.discard(from: 1100)
        var heard = [Int16](repeating: -1, count: 4)
        heard.withUnsafeMutableBufferPointer { reference.copy(into: $0, from: 1098) }
        #expect(heard == [7, 7, 0, 0])
        #expect(reference.isAudible(from: 1000, to: 1100, threshold: 5))
        #expect(!reference.isAudible(from: 1100, to: 1400, threshold: 5))
    }

    @Test func whatTheRingNoLongerHoldsReadsAsSilence() {
        let reference = EchoReference(capacityFrames: 1000, continuityFrames: 0, resumeFrames: 0)
        let block = [Int16](repeating: 3, count: 600)
        _ = block.withUnsafeBufferPointer { reference.record($0, from: 0) }
        _ = block.withUnsafeBufferPointer { reference.record($0, from: 600) }
        var heard = [Int16](repeating: -1, count: 4)
        heard.withUnsafeMutableBufferPointer { reference.copy(into: $0, from: 198) }
        #expect(heard == [0, 0, 3, 3])
    }
}

/// espeak-ng's speech, made once for the suites that need it.
enum Voices {
    static let agent = SpeechClip("Thank you for calling the help desk. I can look at your order, change your delivery, or explain your last invoice.", voice: "en-us")
    static let user = SpeechClip("Wait, stop, I have a question about my delivery.", voice: "en-us+f3")
}

@Suite("Echo: the canceller and half-duplex")
struct EchoHandlingTests {
    /// The agent's speech through an echo path of `delay` frames at `gain`,
    /// the user's voice (`nearEnd`, from `nearEndAt`) added at the
    /// microphone, through the canceller in 20 ms chunks. Returns the
    /// energies of the microphone before and after it and of the user's
    /// voice alone, over frames `measured`.
    private func cancel(
        delay: Int, gain: Double, measured: Range<Int>, nearEnd: [Int16] = [], nearEndAt: Int = 0
    ) async throws -> (captured: Double, cleaned: Double, nearEnd: Double) {
        let farEnd = try await Voices.agent.samples()
        let canceller = EchoCanceller(sampleRate: 16000)!
        var totals = (captured: 0.0, cleaned: 0.0, nearEnd: 0.0)
        for start in stride(from: 0, to: farEnd.count - 320, by: 320) {
            let heard = Array(farEnd[start..<start + 320])
            let user = (start..<start + 320).map { $0 >= nearEndAt && $0 - nearEndAt < nearEnd.count ? nearEnd[$0 - nearEndAt] : 0 }
            var microphone = (start..<start + 320).map { index in
                Int16(clamping: Int(Double(index >= delay ? farEnd[index - delay] : 0) * gain) + Int(user[index - start]))
            }
            let before = microphone.withUnsafeBufferPointer { EchoLossMeter.energy($0) }
            microphone.withUnsafeMutableBufferPointer { captured in
                heard.withUnsafeBufferPointer { canceller.process(captured, reference: $0, delayMs: 0) }
            }
            if measured.contains(start) {
                totals.captured += before
                totals.cleaned += microphone.withUnsafeBufferPointer { EchoLossMeter.energy($0) }
                totals.nearEnd += user.withUnsafeBufferPointer { EchoLossMeter.energy($0) }
            }
        }
        return totals
    }

    @Test func theAgentsEchoIsRemovedByMoreThan25dBAfterTwoSeconds() async throws {
        let result = try await cancel(delay: 16000 * 60 / 1000, gain: 0.316, measured: 32000..<96000)
        let erle = 10 * log10(result.captured / result.cleaned)
        #expect(erle >= 25, "ERLE \(erle) dB from the second second on")
    }

    @Test func theUsersVoiceOverTheAgentKeepsItsLevel() async throws {
        // The user starts four seconds in, as loud as the agent's echo.
        let user = try await Voices.user.samples().map { Int16(Double($0) * 0.316) }
        let result = try await cancel(delay: 16000 * 60 / 1000, gain: 0.316, measured: 64000..<(64000 + user.count), nearEnd: user, nearEndAt: 64000)
        let attenuation = 10 * log10(result.nearEnd / result.cleaned)
        #expect(attenuation <= 4, "the user's voice lost \(attenuation) dB")
    }

    @Test func theMeterMeasuresOnlyWhileTheSpeakerIsHeard() {
        var meter = EchoLossMeter(sampleRate: 16000)
        meter.add(heard: 1e9, before: 1e9, after: 1e9, frames: 16000, speakerHeard: false)
        #expect(meter.enhancementDB == nil && meter.roomLossDB == nil)
        for _ in 0..<50 { meter.add(heard: 1e9, before: 1e8, after: 1e5, frames: 320, speakerHeard: true) }
        #expect(abs((meter.enhancementDB ?? 0) - 30) < 0.01)
        #expect(abs((meter.roomLossDB ?? 0) - 10) < 0.01)
    }

    /// A second of the speaker heard through a room that takes `roomDB`
    /// off it, and a canceller that takes `learntDB` more, told the echo's
    /// delay or not.
    @Test(arguments: [
        (13.0, 18.0, true, false),  // the room and a half-learnt canceller: 31 dB together
        (6.0, 20.0, false, false),  // an echo 150 ms late, before the canceller is told the delay
        (10.0, 21.0, false, false),  // the same, 31 dB below the speaker: a peak of speech let through
        (10.0, 21.0, true, true),
        (10.0, 25.0, false, true),
        (6.0, 24.0, true, true),
        (30.0, 0.0, false, true),  // a headset: nothing to learn
        (25.0, 4.0, true, false),
    ])
    func theHoldEndsWhenTheCancellerHasLearntAndTheAgentIsFarBelowTheSpeaker(
        roomDB: Double, learntDB: Double, delayKnown: Bool, converged: Bool
    ) {
        var meter = EchoLossMeter(sampleRate: 16000)
        let heard = 1e9
        let before = heard / pow(10, roomDB / 10)
        for chunk in 0..<50 {
            meter.add(heard: heard, before: before, after: before / pow(10, learntDB / 10), frames: 320, speakerHeard: true)
            if chunk == 10 { #expect(!meter.showsConvergence(delayKnown: delayKnown), "not yet half a second of the speaker") }
        }
        #expect(meter.showsConvergence(delayKnown: delayKnown) == converged, "room \(roomDB) dB, cancelled \(learntDB) dB, delay known: \(delayKnown)")
    }

    @Test func aSilentMicrophoneHasNothingToEnhanceAndHearsNothingOfTheSpeaker() {
        var meter = EchoLossMeter(sampleRate: 16000)
        for _ in 0..<50 { meter.add(heard: 1e9, before: 0, after: 0, frames: 320, speakerHeard: true) }
        #expect(meter.enhancementDB == nil)
        #expect((meter.roomLossDB ?? 0) > 60)
    }

    @Test func halfDuplexSilencesTheMicrophoneWhileTheAgentIsHeardAndForItsTail() {
        let reference = EchoReference(capacityFrames: 32000, continuityFrames: 320, resumeFrames: 64)
        let statistics = SharedStatistics()
        // The agent was heard from 150 to 50 ms before the chunk's end.
        let speech = [Int16](repeating: 3000, count: 1600)
        _ = speech.withUnsafeBufferPointer { reference.record($0, from: 100_000 - 2400) }
        func processed(tailMilliseconds: Int) -> [Int16] {
            let processor = EchoProcessor(
                mode: .halfDuplex, reference: reference, timeline: EchoTimeline(sampleRate: 16000), chunkFrames: 320,
                tailMilliseconds: tailMilliseconds, statistics: statistics, report: { _ in })
            var chunk = [Int16](repeating: 500, count: 320)
            processor.process(&chunk, endingAt: 100_000)
            return chunk
        }
        #expect(processed(tailMilliseconds: 300) == [Int16](repeating: 0, count: 320))
        #expect(statistics.snapshot.echo.silencedChunks == 1)
        #expect(processed(tailMilliseconds: 20) == [Int16](repeating: 500, count: 320))
        #expect(statistics.snapshot.echo.mode == .halfDuplex)
    }

    @Test func withoutACancellerTheMicrophoneIsHalfDuplexAndAnEventSaysWhy() throws {
        let cancelling = CancellingProcessor(rate: 16000, chunkFrames: 320, makeCanceller: { _, _ in nil })
        let event = try #require(cancelling.events.all.first)
        guard case .echoCancellerUnavailable(let reason) = event else {
            Issue.record("expected echo_canceller_unavailable, got \(event)")
            return
        }
        #expect(reason.contains("16000 Hz") && reason.contains("half-duplex"))
        // The agent was heard from 150 to 50 ms before the first chunk's end.
        let speech = [Int16](repeating: 3000, count: 1600)
        _ = speech.withUnsafeBufferPointer { cancelling.reference.record($0, from: 100_000 - 2400) }
        var overTheAgent = [Int16](repeating: 500, count: 320)
        cancelling.processor.process(&overTheAgent, endingAt: 100_000)
        #expect(overTheAgent == [Int16](repeating: 0, count: 320))
        var afterItsTail = [Int16](repeating: 500, count: 320)
        cancelling.processor.process(&afterItsTail, endingAt: 106_400)
        #expect(afterItsTail == [Int16](repeating: 500, count: 320))
        #expect(cancelling.statistics.snapshot.echo.silencedChunks == 1)
        #expect(!cancelling.statistics.snapshot.echo.converged)
    }
}

@Suite("Echo: the canceller in the capture path")
struct EchoCancellingProcessorTests {
    /// The speaker plays speech; the microphone hears it 40 ms later, 10 dB
    /// quieter; chunk after chunk through `EchoProcessor` in `cancel`, at
    /// the canceller's own rate, at one it is resampled for, and in chunks
    /// of 25 ms; and 150, 250 and 340 ms later, beyond what a canceller
    /// told no delay covers: one of those learning side by side, told
    /// another delay, learns it as soon, and is kept when the delay is found.
    @Test(arguments: [(16000, 320, 40), (22050, 441, 40), (16000, 400, 40), (16000, 320, 150), (16000, 320, 250), (16000, 320, 340)])
    func untilItConvergesTheAgentIsNotSentThenItsEchoIsRemovedAndTheEventSaysSo(rate: Int, chunkFrames: Int, delayMs: Int) async throws {
        let clip = try await Voices.agent.samples()
        let speech = rate == 16000 ? clip : clip.withUnsafeBufferPointer { Resampler(from: 16000, to: rate)!.withResampled($0) { Array($0) } }
        let cancelling = CancellingProcessor(rate: rate, chunkFrames: chunkFrames)
        let (reference, statistics, events, processor) = (cancelling.reference, cancelling.statistics, cancelling.events, cancelling.processor)
        let limitMs = 2000
        var firstChunkSent: [Int16] = []
        var silencedASecondAfterTheLimit = 0
        let delay = rate * delayMs / 1000
        for start in stride(from: 0, to: speech.count - chunkFrames, by: chunkFrames) {
            _ = speech.withUnsafeBufferPointer { reference.record(UnsafeBufferPointer(rebasing: $0[start..<start + chunkFrames]), from: Int64(start)) }
            var chunk = (start..<start + chunkFrames).map { $0 >= delay ? Int16(Double(speech[$0 - delay]) * 0.316) : 0 }
            processor.process(&chunk, endingAt: Int64(start + chunkFrames))
            if start == 5 * chunkFrames { firstChunkSent = chunk }
            if start / chunkFrames == (limitMs + 1000) * rate / 1000 / chunkFrames { silencedASecondAfterTheLimit = statistics.snapshot.echo.silencedChunks }
        }
        #expect(firstChunkSent.allSatisfy { $0 == 0 }, "not sent while converging")
        let echo = statistics.snapshot.echo
        #expect(echo.converged)
        #expect((echo.returnLossEnhancementDB ?? 0) >= 20, "ERLE \(echo.returnLossEnhancementDB ?? 0) dB")
        #expect(abs((echo.delayMs ?? 0) - Double(delayMs)) <= 10, "echo delay \(echo.delayMs ?? 0) ms")
        #expect(statistics.snapshot.echo.silencedChunks == silencedASecondAfterTheLimit, "converged, the microphone is no longer silenced")
        guard case .echoConverged(_, let after, .conversationStart)? = events.all.first else {
            Issue.record("no echo_converged event: \(events.all)")
            return
        }
        #expect(after <= limitMs, "converged after \(after) ms")
        #expect(events.all.count == 1, "the delay found while learning is part of the learning: \(events.all)")
    }
}

extension EchoCancellingProcessorTests {
    /// A loud echo (6 dB down) a little over 25 ms late, at every place
    /// its delay may fall within WebRTC's blocks of 64 frames: alone, the
    /// canceller took 1.6 to 2 s where the delay fell 44 to 62 frames into
    /// a block (0.5 to 0.8 elsewhere).
    @Test(arguments: Array(stride(from: 400, to: 464, by: 4)))
    func anEchoIsLearntSoonWhereverItsDelayFallsInTheCancellersBlocks(delayFrames: Int) async throws {
        let cancelling = CancellingProcessor(rate: 16000, chunkFrames: 320)
        cancelling.play(try await Voices.agent.samples(), from: 0, frames: 16000 * 4, delayFrames: delayFrames, gain: 0.5)
        guard case .echoConverged(_, let after, .conversationStart)? = cancelling.events.all.first else {
            Issue.record("no echo_converged event: \(cancelling.events.all)")
            return
        }
        #expect(after <= 1300, "converged after \(after) ms")
        #expect(cancelling.events.all.count == 1, "\(cancelling.events.all)")
    }
}

@Suite("Echo: an echo whose delay moves")
struct EchoDelayMovingTests {
    /// The speaker plays speech; the microphone hears it 40 ms later, 10 dB
    /// quieter, until the path moves (a sound server's latency changed):
    /// 250 ms later, beyond what the canceller kept covers.
    @Test func theCancellerIsToldTheNewDelayLearnsAgainAndTheEventSaysWhy() async throws {
        let rate = 16000
        let agent = try await Voices.agent.samples()
        let cancelling = CancellingProcessor(rate: rate, chunkFrames: 320)
        let (statistics, events) = (cancelling.statistics, cancelling.events)
        cancelling.play(agent, from: 0, frames: 6 * rate, delayFrames: rate * 40 / 1000, gain: 0.316)
        #expect(events.all.count == 1 && statistics.snapshot.echo.converged)
        cancelling.play(agent, from: 6 * rate, frames: 10 * rate, delayFrames: rate * 250 / 1000, gain: 0.316)
        let echo = statistics.snapshot.echo
        #expect(abs((echo.delayMs ?? 0) - 250) <= 10, "echo delay \(echo.delayMs ?? 0) ms")
        #expect(echo.converged && (echo.returnLossEnhancementDB ?? 0) >= 20, "ERLE \(echo.returnLossEnhancementDB ?? 0) dB")
        guard events.all.count == 2, case .echoConverged(_, let after, .echoDelay) = events.all[1] else {
            Issue.record("expected a second echo_converged with cause echo_delay: \(events.all)")
            return
        }
        #expect(after <= 4000, "learnt again \(after) ms after the delay was found")
    }
}

extension EchoDelayMovingTests {
    /// The microphone is reopened (unplugged and back), while the
    /// cancellers still learn side by side or after one was kept, and the
    /// echo comes back later than before, 250 ms: it is learnt as soon as
    /// a conversation starting there, on the same speech, would learn it.
    @Test(arguments: [400, 6000])
    func aReopenedDeviceIsLearntAsAtTheStart(reopenedAfterMs: Int) async throws {
        let rate = 16000
        let agent = try await Voices.agent.samples()
        let reopenedAt = reopenedAfterMs * rate / 1000
        let (lateDelay, lateFrames) = (rate * 250 / 1000, 8 * rate)
        let reopened = CancellingProcessor(rate: rate, chunkFrames: 320)
        reopened.play(agent, from: 0, frames: reopenedAt, delayFrames: rate * 40 / 1000, gain: 0.316)
        let before = reopened.events.all.count
        #expect(before == (reopenedAfterMs > 2000 ? 1 : 0), "\(reopened.events.all)")
        reopened.processor.deviceReopened()
        reopened.play(agent, from: reopenedAt, frames: lateFrames, delayFrames: lateDelay, gain: 0.316, echoBegins: reopenedAt)
        let fresh = CancellingProcessor(rate: rate, chunkFrames: 320)
        fresh.play(agent, from: reopenedAt, frames: lateFrames, delayFrames: lateDelay, gain: 0.316, echoBegins: reopenedAt)

        let echo = reopened.statistics.snapshot.echo
        #expect(abs((echo.delayMs ?? 0) - 250) <= 10, "echo delay \(echo.delayMs ?? 0) ms")
        #expect(echo.converged && (echo.returnLossEnhancementDB ?? 0) >= 20, "ERLE \(echo.returnLossEnhancementDB ?? 0) dB")
        let events = reopened.events.all.dropFirst(before)
        guard events.count == 1, case .echoConverged(_, let after, .captureDevice)? = events.first,
            case .echoConverged(_, let freshAfter, .conversationStart)? = fresh.events.all.first
        else {
            Issue.record("expected one echo_converged with cause capture_device: \(events), fresh: \(fresh.events.all)")
            return
        }
        #expect(after <= freshAfter + 100, "learnt \(after) ms after the reopen; a conversation starting there, \(freshAfter) ms")
    }
}

@Suite("Echo: a microphone that does not hear the speaker")
struct EchoRestingTests {
    /// The speaker plays speech; the microphone (a headset) hears only the
    /// user now and then. Then the microphone starts hearing the speaker
    /// (the headset unplugged, a speaker beside it): 40 ms later, 10 dB
    /// quieter.
    @Test func theCancellerRestsUntilTheMicrophoneHearsTheSpeaker() async throws {
        let rate = 16000
        let agent = try await Voices.agent.samples()
        let user = try await Voices.user.samples().map { Int16(Double($0) * 0.3) }
        let cancelling = CancellingProcessor(rate: rate, chunkFrames: 320)
        let (reference, audibility, statistics, events, processor) =
            (cancelling.reference, cancelling.audibility, cancelling.statistics, cancelling.events, cancelling.processor)
        var userUntouched = true
        var frame = 0
        /// `seconds` of the agent's speech from its start, and what the
        /// microphone hears at each frame of it.
        func play(seconds: Int, microphone: (Int) -> Int16) {
            let first = frame
            for _ in 0..<(seconds * rate / 320) {
                let played = (frame..<frame + 320).map { agent[($0 - first) % agent.count] }
                _ = played.withUnsafeBufferPointer { reference.record($0, from: Int64(frame)) }
                let heard = (frame..<frame + 320).map { microphone($0 - first) }
                var chunk = heard
                processor.process(&chunk, endingAt: Int64(frame + 320))
                if frame >= 2 * rate, frame < 6 * rate, chunk != heard { userUntouched = false }
                frame += 320
            }
        }
        // Seconds 3 to 5: the user talks over the agent.
        play(seconds: 6) { $0 >= 3 * rate && $0 - 3 * rate < user.count ? user[$0 - 3 * rate] : 0 }
        #expect(!audibility.isHeard, "the speaker's stream is handled as with none")
        #expect(statistics.snapshot.echo.converged && !statistics.snapshot.echo.speakerHeard)
        #expect(userUntouched, "resting, the canceller leaves the microphone as it is, the user's voice over the agent too")
        play(seconds: 6) { $0 >= rate * 40 / 1000 ? Int16(Double(agent[$0 - rate * 40 / 1000]) * 0.316) : 0 }
        #expect(audibility.isHeard)
        guard case .echoConverged(_, let after, .speakerHeard)? = events.all.last else {
            Issue.record("no echo_converged event after the speaker was heard: \(events.all)")
            return
        }
        #expect(after <= 2000, "converged \(after) ms after it began to learn")
    }
}

@Suite("Echo: cancelling at every rate and chunk the agent may choose")
struct EchoCancellationAdaptationTests {
    /// (rate, chunk frames): the canceller's own rates and the ones it is
    /// resampled for, 20 ms chunks (the default at 16 kHz) and a 25 ms one.
    static let formats = [(8000, 160), (16000, 320), (16000, 400), (22050, 441), (24000, 480), (44100, 882), (48000, 960)]

    private func speech(_ voice: SpeechClip, at rate: Int) async throws -> [Int16] {
        let samples = try await voice.samples()
        return rate == 16000 ? samples : samples.withUnsafeBufferPointer { Resampler(from: 16000, to: rate)!.withResampled($0) { Array($0) } }
    }

    @Test(arguments: formats)
    func theAgentsEchoIsRemovedByMoreThan25dBAfterTwoSeconds(sampleRate: Int, chunkFrames: Int) async throws {
        let farEnd = try await speech(Voices.agent, at: sampleRate)
        let cancellation = EchoCancellation(sampleRate: sampleRate, chunkFrames: chunkFrames)!
        let delay = sampleRate * 60 / 1000
        var totals = (captured: 0.0, cleaned: 0.0)
        // From the second second to the fifth.
        for start in stride(from: 0, to: 5 * sampleRate, by: chunkFrames) {
            let heard = Array(farEnd[start..<start + chunkFrames])
            var microphone = (start..<start + chunkFrames).map { $0 >= delay ? Int16(Double(farEnd[$0 - delay]) * 0.316) : 0 }
            let before = microphone.withUnsafeBufferPointer { EchoLossMeter.energy($0) }
            microphone.withUnsafeMutableBufferPointer { captured in
                heard.withUnsafeBufferPointer { cancellation.process(captured, reference: $0, delayMs: 0) }
            }
            if start >= 2 * sampleRate {
                totals.captured += before
                totals.cleaned += microphone.withUnsafeBufferPointer { EchoLossMeter.energy($0) }
            }
        }
        let erle = 10 * log10(totals.captured / totals.cleaned)
        #expect(erle >= 25, "ERLE \(erle) dB from the second second to the fifth, at \(sampleRate) Hz in chunks of \(chunkFrames)")
    }

    /// With the speaker silent, what the microphone hears comes out whole:
    /// a click as late at the end as at the start (nothing lost or repeated
    /// on the way) and no earlier than the latency the adaptation adds (the
    /// canceller's own blocks and the resamplers' filters add a few
    /// milliseconds more), then the user's voice as loud.
    @Test(arguments: formats)
    func whatTheMicrophoneHearsComesThroughWholeAndOnTime(sampleRate: Int, chunkFrames: Int) async throws {
        let clicks = [sampleRate / 2, 5 * sampleRate / 2]
        var heard = [Int16](repeating: 0, count: 3 * sampleRate)
        for click in clicks { heard[click] = 20000 }
        heard += try await speech(Voices.user, at: sampleRate)
        let cancellation = EchoCancellation(sampleRate: sampleRate, chunkFrames: chunkFrames)!
        let silence = [Int16](repeating: 0, count: chunkFrames)
        var output: [Int16] = []
        for start in stride(from: 0, to: heard.count - chunkFrames, by: chunkFrames) {
            var microphone = Array(heard[start..<start + chunkFrames])
            microphone.withUnsafeMutableBufferPointer { captured in
                silence.withUnsafeBufferPointer { cancellation.process(captured, reference: $0, delayMs: 0) }
            }
            output += microphone
        }
        let lateness = clicks.map { click in
            (click..<click + sampleRate / 10).max { abs(Int(output[$0])) < abs(Int(output[$1])) }! - click
        }
        // A resampler's phase may round the lateness by a frame.
        #expect(abs(lateness[0] - lateness[1]) <= 1, "the click came out \(lateness[0]) frames late at the start, \(lateness[1]) at the end")
        #expect(lateness[0] >= cancellation.latencyFrames, "the click came out \(lateness[0]) frames late, before the \(cancellation.latencyFrames) held back")
        let voice = 3 * sampleRate..<(output.count - lateness[0])
        let input = heard[voice].withUnsafeBufferPointer { EchoLossMeter.energy($0) }
        let cleaned = output[voice.lowerBound + lateness[0]..<voice.upperBound + lateness[0]].withUnsafeBufferPointer { EchoLossMeter.energy($0) }
        #expect(abs(10 * log10(cleaned / input)) <= 1, "the voice's level changed by \(10 * log10(cleaned / input)) dB")
    }

    @Test func atTheCancellersOwnRateWithWholeFramesNothingIsDelayed() {
        #expect(EchoCancellation(sampleRate: 16000, chunkFrames: 320)!.latencyFrames == 0)
        #expect(EchoCancellation(sampleRate: 48000, chunkFrames: 4800)!.latencyFrames == 0)
    }
}

@Suite("Echo: the echo's delay")
struct EchoDelayEstimatorTests {
    /// Speech-like loudness: syllables of 100 to 300 ms and pauses between.
    private func envelope(frames: Int, seed: UInt64) -> [Double] {
        var state = seed
        var levels: [Double] = []
        while levels.count < frames {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let length = 10 + Int(state >> 59)
            let loud = (state >> 40) & 1 == 0
            levels += [Double](repeating: loud ? 1e8 * Double(1 + (state >> 20) % 4) : 10, count: length)
        }
        return Array(levels.prefix(frames))
    }

    @Test(arguments: [0, 6, 17, 35])
    func theMicrophoneFollowingTheSpeakerGivesItsDelay(delayFrames: Int) {
        let played = envelope(frames: 400, seed: 3)
        var estimator = EchoDelayEstimator()
        for index in played.indices {
            estimator.add(heard: played[index], captured: index >= delayFrames ? played[index - delayFrames] * 0.1 + 1e4 : 1e4)
        }
        #expect(estimator.delayFrames == delayFrames)
    }

    @Test func aMicrophoneThatDoesNotFollowGivesNone() {
        let played = envelope(frames: 400, seed: 3)
        let other = envelope(frames: 400, seed: 11)
        var estimator = EchoDelayEstimator()
        for index in played.indices { estimator.add(heard: played[index], captured: other[index]) }
        #expect(estimator.delayFrames == nil)
    }
}

/// An `EchoProcessor` in `cancel` at `rate`, with its speaker's reference
/// and what a test reads from it.
struct CancellingProcessor {
    let reference: EchoReference
    let audibility = EchoAudibility()
    let statistics = SharedStatistics()
    let events = EventBox()
    let processor: EchoProcessor
    let chunkFrames: Int

    init(rate: Int, chunkFrames: Int, makeCanceller: @escaping (Int, Int) -> EchoCancellation? = EchoCancellation.init) {
        self.chunkFrames = chunkFrames
        reference = EchoReference(capacityFrames: rate * 2, continuityFrames: 320, resumeFrames: 64)
        processor = EchoProcessor(
            mode: .cancel, reference: reference, timeline: EchoTimeline(sampleRate: rate), audibility: audibility, chunkFrames: chunkFrames,
            tailMilliseconds: 300, statistics: statistics, report: { [events] in events.append($0) }, makeCanceller: makeCanceller)
    }
}

extension CancellingProcessor {
    /// Plays `speech` from its frame `first` on (over again where it runs
    /// out) for `frames`, chunk by chunk; the microphone hears it
    /// `delayFrames` later, `gain` as loud, from frame `echoBegins` on
    /// (where the echo path begins).
    func play(_ speech: [Int16], from first: Int, frames: Int, delayFrames: Int, gain: Double, echoBegins: Int = 0) {
        for frame in stride(from: first, to: first + frames, by: chunkFrames) {
            let played = (frame..<frame + chunkFrames).map { speech[$0 % speech.count] }
            _ = played.withUnsafeBufferPointer { reference.record($0, from: Int64(frame)) }
            var chunk = (frame..<frame + chunkFrames).map {
                $0 - echoBegins >= delayFrames ? Int16(Double(speech[($0 - delayFrames) % speech.count]) * gain) : 0
            }
            processor.process(&chunk, endingAt: Int64(frame + chunkFrames))
        }
    }
}

final class EventBox: Sendable {
    private let events = NIOLockedValueBox<[AudioEngineEvent]>([])

    func append(_ event: AudioEngineEvent) {
        events.withLockedValue { $0.append(event) }
    }

    var all: [AudioEngineEvent] { events.withLockedValue { $0 } }
}

@Suite("Echo: what the speaker played, at the microphone's rate")
struct EchoFeedTests {
    @Test(arguments: [(48000, 16000), (16000, 8000), (22050, 16000), (16000, 16000)])
    func aReplyAtAnotherRateIsRecordedAtTheMicrophonesRate(playbackRate: Int, captureRate: Int) {
        let reference = EchoReference(capacityFrames: captureRate * 4, continuityFrames: captureRate / 50, resumeFrames: captureRate / 250)
        let feed = EchoFeed(reference: reference, timeline: EchoTimeline(sampleRate: captureRate), playbackRate: playbackRate)
        // One second of a 300 Hz tone peaking at -10 dBFS, written in 20 ms
        // periods to a device that plays none of it yet.
        let tone = (0..<playbackRate).map { Int16(sin(2 * Double.pi * 300 * Double($0) / Double(playbackRate)) * 10362) }
        let period = playbackRate / 50
        for start in stride(from: 0, to: tone.count, by: period) {
            tone.withUnsafeBufferPointer {
                feed.written(UnsafeBufferPointer(rebasing: $0[start..<start + period]), pendingFrames: start + period, afterPause: false)
            }
        }
        // Heard from the first write on, over the next second.
        let now = EchoTimeline(sampleRate: captureRate).frame(at: EchoTimeline.now)
        var heard = [Int16](repeating: 0, count: captureRate * 2)
        heard.withUnsafeMutableBufferPointer { reference.copy(into: $0, from: now - Int64(captureRate / 2)) }
        let sounding = heard.indices.filter { heard[$0] != 0 }
        let span = (sounding.last ?? 0) - (sounding.first ?? 0) + 1
        #expect(abs(span - captureRate) < captureRate / 100, "one second at \(captureRate) Hz: \(span) frames")
        let level = PCMCodec.rmsDBFS(heard.filter { $0 != 0 })
        #expect(abs(level - -13) < 1, "the tone's level survives resampling: \(level) dBFS")
    }
}
