import AgentSession

/// Finds user turns in microphone audio by energy: speech starts when a
/// 10 ms frame is louder than the threshold, and a turn ends after enough
/// silence. Time is counted in samples, so it works with unpaced devices.
struct SpeechDetector: Sendable {
    enum Observation: Sendable, Equatable {
        case speechStarted
        case turnEnded(speechSeconds: Double)
    }

    let sampleRate: Int
    let thresholdDBFS: Double
    let endOfTurnSamples: Int
    private var frameSamples: [Int16] = []
    private var speaking = false
    private var speechSamples = 0
    private var silenceSamples = 0

    init(sampleRate: Int, thresholdDBFS: Double, endOfTurnMilliseconds: Int) {
        self.sampleRate = sampleRate
        self.thresholdDBFS = thresholdDBFS
        self.endOfTurnSamples = sampleRate * endOfTurnMilliseconds / 1000
        frameSamples.reserveCapacity(sampleRate / 100)
    }

    mutating func feed(_ samples: [Int16]) -> [Observation] {
        var observations: [Observation] = []
        let frameLength = sampleRate / 100
        for sample in samples {
            frameSamples.append(sample)
            guard frameSamples.count == frameLength else { continue }
            let loud = PCMCodec.rmsDBFS(frameSamples) > thresholdDBFS
            frameSamples.removeAll(keepingCapacity: true)
            if loud {
                if !speaking {
                    speaking = true
                    speechSamples = 0
                    observations.append(.speechStarted)
                }
                speechSamples += frameLength + silenceSamples
                silenceSamples = 0
            } else if speaking {
                silenceSamples += frameLength
                if silenceSamples >= endOfTurnSamples {
                    speaking = false
                    silenceSamples = 0
                    observations.append(.turnEnded(speechSeconds: Double(speechSamples) / Double(sampleRate)))
                }
            }
        }
        return observations
    }
}
