/// Splits a byte stream into newline-terminated lines, refusing lines longer
/// than a limit without buffering them: the rest of an overlong line is
/// skipped up to its newline, and the stream goes on.
public struct LineFramer: Sendable {
    public enum Frame: Sendable, Equatable {
        case line([UInt8])
        case tooLong
    }

    public let maxLength: Int
    private var pending: [UInt8] = []
    private var discarding = false

    public init(maxLength: Int) {
        self.maxLength = maxLength
    }

    public mutating func push(_ bytes: some Sequence<UInt8>) -> [Frame] {
        var frames: [Frame] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if discarding {
                    discarding = false
                } else {
                    if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
                    if !pending.isEmpty { frames.append(.line(pending)) }
                }
                pending.removeAll(keepingCapacity: true)
            } else if !discarding {
                pending.append(byte)
                if pending.count > maxLength {
                    frames.append(.tooLong)
                    pending.removeAll(keepingCapacity: false)
                    discarding = true
                }
            }
        }
        return frames
    }

    /// Bytes of an unfinished line, held until its newline.
    public var bufferedBytes: Int { pending.count }
}
