// swift-tools-version: 6.2
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "voiceagentd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "voiceagentd", targets: ["voiceagentd"]),
        .executable(name: "voiceagentctl", targets: ["voiceagentctl"]),
        .executable(name: "voiceagent-simulator", targets: ["voiceagent-simulator"]),
        .library(name: "AgentSession", targets: ["AgentSession"]),
        .library(name: "AgentSimulator", targets: ["AgentSimulator"]),
        .library(name: "ControlProtocol", targets: ["ControlProtocol"]),
        .library(name: "AudioEngine", targets: ["AudioEngine"]),
        .library(name: "AudioCodec", targets: ["AudioCodec"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Without its default JSON trait: that one links all of Foundation.
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: []),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        // Without its default Foundation trait, for a daemon on FoundationEssentials.
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2", traits: []),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CALSA",
            pkgConfig: "alsa",
            providers: [.apt(["libasound2-dev"])]
        ),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // WebRTC's echo canceller (what PulseAudio's and PipeWire's
        // echo-cancel modules use), behind a C API of four calls.
        .target(
            name: "CWebRTCAudioProcessing",
            cxxSettings: [
                .define("WEBRTC_POSIX"), .define("WEBRTC_AUDIO_PROCESSING_ONLY_BUILD"),
                .unsafeFlags(["-I/usr/include/webrtc_audio_processing"]),
            ],
            linkerSettings: [.linkedLibrary("webrtc_audio_processing")]
        ),
        // speexdsp's resampler: what the speaker played, at the microphone's rate.
        .systemLibrary(
            name: "CSpeexDSP",
            pkgConfig: "speexdsp",
            providers: [.apt(["libspeexdsp-dev"])]
        ),
        // struct ucred as Swift can see it, checked against glibc's.
        .target(name: "CLinuxCredentials"),
        .target(
            name: "AudioCodec",
            swiftSettings: strictSettings
        ),
        // Any JSON value, where the shape is the agent owner's to decide.
        .target(
            name: "JSON",
            swiftSettings: strictSettings
        ),
        // The agent's wire protocol: messages, their JSON, the endpoint URLs.
        .target(
            name: "AgentProtocol",
            dependencies: ["AudioCodec", "JSON"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "AgentSession",
            dependencies: [
                "AgentProtocol", "AudioCodec",
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationEssentialsCompat", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "AudioEngine",
            dependencies: [
                "CALSA", "CSpeexDSP", "CWebRTCAudioProcessing", "AudioCodec", .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "AgentSimulator",
            dependencies: [
                "AgentSession", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "WSCore", package: "swift-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "voiceagent-simulator",
            dependencies: [
                "AgentSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ControlProtocol",
            dependencies: ["JSON"],
            swiftSettings: strictSettings
        ),
        // The daemon's settings from flags, environment and file, validated.
        .target(
            name: "DaemonSettings",
            dependencies: [
                "AgentProtocol", "AudioEngine", "ControlProtocol",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "voiceagentd",
            dependencies: [
                "AgentSession", "AudioCodec", "AudioEngine", "ControlProtocol", "DaemonSettings", "CSystemd", "CLinuxCredentials",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationEssentialsCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "voiceagentctl",
            dependencies: [
                "ControlProtocol", "JSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "voiceagent-audio-benchmark",
            dependencies: [
                "AudioEngine", "AudioCodec",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        // libFuzzer targets (scripts/fuzz); an ordinary build replays inputs.
        .target(name: "CFuzzer", path: "Fuzz/CFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzer"], path: "Fuzz/FuzzSupport", swiftSettings: strictSettings),
        .executableTarget(
            name: "fuzz-server-message", dependencies: ["AgentProtocol", "FuzzSupport"], path: "Fuzz/fuzz-server-message",
            swiftSettings: strictSettings),
        .executableTarget(
            name: "fuzz-control-request", dependencies: ["ControlProtocol", "FuzzSupport"], path: "Fuzz/fuzz-control-request",
            swiftSettings: strictSettings),
        .executableTarget(
            name: "fuzz-configuration", dependencies: ["DaemonSettings", "FuzzSupport"], path: "Fuzz/fuzz-configuration",
            swiftSettings: strictSettings),
        .target(
            name: "PacedAudioFixture",
            path: "Tests/PacedAudioFixture",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ControlProtocolTests",
            dependencies: ["ControlProtocol", "JSON"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "VoiceAgentDaemonTests",
            dependencies: [
                "voiceagentd", "AgentSession", "AgentSimulator", "AudioCodec", "AudioEngine", "ControlProtocol", "DaemonSettings",
                "PacedAudioFixture",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AudioEngineTests",
            dependencies: ["AudioEngine", "AudioCodec", "PacedAudioFixture", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AgentSessionTests",
            dependencies: ["AgentSession", "AgentSimulator", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
