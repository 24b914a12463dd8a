import CSpeexDSP

/// speexdsp's resampler for one mono stream: what the speaker played, at
/// the microphone's rate, and both at the echo canceller's. Not Sendable:
/// an instance lives on one audio thread.
final class Resampler {
    let inputRate: Int
    let outputRate: Int
    private let state: OpaquePointer

    init?(from inputRate: Int, to outputRate: Int) {
        var error: Int32 = 0
        guard let state = speex_resampler_init(1, UInt32(inputRate), UInt32(outputRate), SPEEX_RESAMPLER_QUALITY_VOIP, &error) else {
            return nil
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.state = state
    }

    deinit {
        speex_resampler_destroy(state)
    }

    /// `input` at the output rate (the filter's delay of a few samples
    /// carries over to the next call).
    func resample(_ input: UnsafeBufferPointer<Int16>) -> [Int16] {
        var output = [Int16](repeating: 0, count: input.count * outputRate / inputRate + 16)
        var consumed = UInt32(input.count)
        var produced = UInt32(output.count)
        output.withUnsafeMutableBufferPointer {
            _ = speex_resampler_process_int(state, 0, input.baseAddress, &consumed, $0.baseAddress, &produced)
        }
        output.removeLast(output.count - Int(produced))
        return output
    }
}
