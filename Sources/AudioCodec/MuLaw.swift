/// G.711 µ-law, the ITU reference algorithm (bias 0x84, clip 32635).
public enum MuLaw {
    private static let bias: Int32 = 0x84
    private static let clip: Int32 = 32635

    /// Every µ-law byte's linear value, so decoding is one lookup.
    public static let decodeTable: [Int16] = (0...255).map { decodeSlow(UInt8($0)) }

    public static func encode(_ sample: Int16) -> UInt8 {
        var value = Int32(sample)
        let sign: Int32 = value < 0 ? 0x80 : 0
        if value < 0 { value = -value }
        value = min(value, clip) + bias
        var exponent: Int32 = 7
        var mask: Int32 = 0x4000
        while exponent > 0 && value & mask == 0 {
            exponent -= 1
            mask >>= 1
        }
        let mantissa = (value >> (exponent + 3)) & 0x0F
        return UInt8(truncatingIfNeeded: ~(sign | (exponent << 4) | mantissa))
    }

    public static func decode(_ byte: UInt8) -> Int16 {
        decodeTable[Int(byte)]
    }

    private static func decodeSlow(_ byte: UInt8) -> Int16 {
        let value = Int32(~byte & 0xFF)
        let sign = value & 0x80
        let exponent = (value >> 4) & 0x07
        let mantissa = value & 0x0F
        let magnitude = (((mantissa << 3) + bias) << exponent) - bias
        return Int16(sign != 0 ? -magnitude : magnitude)
    }
}
