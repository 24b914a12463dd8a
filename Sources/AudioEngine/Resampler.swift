import CSpeexDSP

/// speexdsp's resampler for one mono stream: what the speaker played, at
/// the microphone's rate, and both at the echo canceller's. Not Sendable:
/// an instance lives on one audio thread.
final class Resampler {
    let inputRate: Int
    let outputRate: Int
    private let state: OpaquePointer
    private var output: [Int16] = []

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

    /// Calls `body` with `input` at the output rate (the filter's delay of
    /// a few samples carries over to the next call). The samples live in a
    /// buffer kept for the next call: the audio threads allocate nothing
    /// per block once the largest block has been seen.
    func withResampled<Result>(_ input: UnsafeBufferPointer<Int16>, _ body: (UnsafeBufferPointer<Int16>) -> Result) -> Result {
        let room = input.count * outputRate / inputRate + 16
        if output.count < room { output = [Int16](repeating: 0, count: room) }
        var consumed = UInt32(input.count)
        var produced = UInt32(room)
        return output.withUnsafeMutableBufferPointer { buffer in
            _ = speex_resampler_process_int(state, 0, input.baseAddress, &consumed, buffer.baseAddress, &produced)
            return body(UnsafeBufferPointer(rebasing: buffer[..<Int(produced)]))
        }
    }
}
