import Foundation

/// A throwaway certificate for 127.0.0.1 and localhost, made with the
/// openssl command, so the simulator can serve wss:// in tests. The
/// certificate is its own CA: clients trust it as an extra CA file.
public struct SelfSignedCertificate: Sendable {
    public let certificatePath: String
    public let keyPath: String

    /// A certificate for `names` (an openssl subjectAltName list), by
    /// default this machine's loopback names, valid over `validity` (by
    /// default from a day ago to a week ahead; one in the past makes an
    /// expired certificate). `openssl ca` signs it because `openssl req`
    /// of OpenSSL 3.0 takes no start date.
    public static func generate(
        in directory: String, names: String = "DNS:localhost,IP:127.0.0.1",
        validity: ClosedRange<Date> = Date(timeIntervalSinceNow: -86_400)...Date(timeIntervalSinceNow: 7 * 86_400)
    ) throws -> SelfSignedCertificate {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let certificate = SelfSignedCertificate(
            certificatePath: directory + "/simulator-cert.pem", keyPath: directory + "/simulator-key.pem")
        let request = directory + "/simulator.csr"
        let authority = directory + "/simulator-ca"
        try? FileManager.default.removeItem(atPath: authority)
        try FileManager.default.createDirectory(atPath: authority, withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: authority + "/index.txt"))
        try """
            [ca]
            default_ca = simulator
            [simulator]
            database = \(authority)/index.txt
            new_certs_dir = \(authority)
            serial = \(authority)/serial
            default_md = sha256
            policy = any_name
            copy_extensions = copy
            unique_subject = no
            [any_name]
            commonName = supplied
            """.write(toFile: authority + "/ca.cnf", atomically: true, encoding: .utf8)
        try openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-subj", "/CN=voiceagent-simulator", "-addext", "subjectAltName=" + names,
            "-addext", "basicConstraints=critical,CA:TRUE", "-keyout", certificate.keyPath, "-out", request)
        try openssl(
            "ca", "-batch", "-notext", "-selfsign", "-create_serial", "-config", authority + "/ca.cnf",
            "-keyfile", certificate.keyPath, "-in", request, "-out", certificate.certificatePath,
            "-startdate", asn1Time(validity.lowerBound), "-enddate", asn1Time(validity.upperBound))
        return certificate
    }

    private static func asn1Time(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        return formatter.string(from: date)
    }

    private static func openssl(_ arguments: String...) throws {
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = arguments
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else {
            throw SimulatorError.certificateGenerationFailed(status: openssl.terminationStatus)
        }
    }
}
