import Foundation

/// A throwaway certificate for 127.0.0.1 and localhost, made with the
/// openssl command, so the simulator can serve wss:// in tests. The
/// certificate is its own CA: clients trust it as an extra CA file.
public struct SelfSignedCertificate: Sendable {
    public let certificatePath: String
    public let keyPath: String

    /// A certificate for `names` (an openssl subjectAltName list), by
    /// default this machine's loopback names.
    public static func generate(in directory: String, names: String = "DNS:localhost,IP:127.0.0.1") throws -> SelfSignedCertificate {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let certificate = SelfSignedCertificate(
            certificatePath: directory + "/simulator-cert.pem", keyPath: directory + "/simulator-key.pem")
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "7",
            "-subj", "/CN=voiceagent-simulator", "-addext", "subjectAltName=" + names,
            "-keyout", certificate.keyPath, "-out", certificate.certificatePath,
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else {
            throw SimulatorError.certificateGenerationFailed(status: openssl.terminationStatus)
        }
        return certificate
    }
}
