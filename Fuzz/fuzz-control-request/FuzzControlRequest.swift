import ControlProtocol
import Foundation
import FuzzSupport

/// Bytes from a control client, through the line framer and the request
/// decoder as the daemon reads them. The first byte says where the stream
/// is cut in two reads: the frames must not depend on it. A request that
/// decodes encodes to a line that decodes to the same request. The framer's
/// limit is the daemon's divided by 256, so overlong lines stay small inputs.
func fuzzControlRequest(_ input: Data) {
    guard let cut = input.first else { return }
    let stream = Array(input.dropFirst())
    let split = stream.isEmpty ? 0 : Int(cut) % (stream.count + 1)
    let limit = ControlProtocol.maxRequestBytes / 256
    var whole = LineFramer(maxLength: limit)
    var parts = LineFramer(maxLength: limit)
    let frames = whole.push(stream)
    guard parts.push(stream[..<split]) + parts.push(stream[split...]) == frames else {
        fatalError("the frames differ when the stream is cut at \(split)")
    }
    for case .line(let line) in frames {
        guard case .success(let request) = ControlCodec.decodeRequest(line) else { continue }
        var encoded = ControlCodec.encode(request)
        if encoded.last == UInt8(ascii: "\n") { encoded.removeLast() }
        guard case .success(let again) = ControlCodec.decodeRequest(encoded), again == request else {
            fatalError("\(request) encoded as \(String(decoding: encoded, as: UTF8.self)) does not decode to itself")
        }
    }
}

@main
struct FuzzControlRequest {
    static func main() {
        FuzzEntry.run(fuzzControlRequest) { bytes, count in
            fuzzControlRequest(count == 0 ? Data() : Data(bytes: bytes!, count: count))
            return 0
        }
    }
}
