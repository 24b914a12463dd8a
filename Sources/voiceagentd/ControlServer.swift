import CLinuxCredentials
import CSystemd
import ControlProtocol
import DaemonSettings
import FoundationEssentials
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import NIOPosix
import ServiceLifecycle
import SystemPackage

/// The control socket: accepts clients, reads their requests, and lets
/// `ControlSession` answer each. Uses the socket systemd passes
/// (LISTEN_FDS) or binds its own path, mode 0660, owned by the control group.
struct ControlServer: Service {
    let path: String
    let group: String
    let commands: ControlCommands
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        let server = try await bind()
        notifier.ready(status: await commands.supervisor.systemdStatus)
        let slots = ClientSlots()
        // On shutdown every client task is cancelled, followers included, so
        // a connected `events --follow` never holds the daemon up.
        do {
            try await serve(server, slots: slots)
        } catch is CancellationError {
            logger.debug("control socket closed")
        }
    }

    private func serve(_ server: NIOAsyncChannel<Client, Never>, slots: ClientSlots) async throws {
        try await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await client in inbound {
                        // Slots go in the order clients connect. Without
                        // credentials every such client shares one user's share.
                        let uid = client.peer?.uid ?? .max
                        let slot = slots.take(uid: uid)
                        group.addTask {
                            defer { if let slot { slots.give(back: slot, uid: uid) } }
                            await ControlSession(client: client, slot: slot, commands: commands, logger: logger).run()
                        }
                    }
                }
            }
        }
    }

    typealias Client = (channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, peer: PeerCredentials?)

    private func bind() async throws -> NIOAsyncChannel<Client, Never> {
        // A client may send its request and shut down its writing side
        // (`nc -N`): the answer must still reach it.
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Client> = { channel in
            PeerCredentials.read(from: channel).flatMapThrowing { peer in
                (try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel), peer)
            }
        }
        if sd_listen_fds(1) > 0 {
            logger.info("using the control socket passed by systemd")
            return try await bootstrap.bind(SD_LISTEN_FDS_START, cleanupExistingSocketFile: false, childChannelInitializer: initializer)
        }
        logger.info("listening for control clients", metadata: ["socket": "\(path)"])
        try FileManager.default.createDirectory(atPath: FilePath(path).removingLastComponent().string, withIntermediateDirectories: true)
        let server = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true, childChannelInitializer: initializer)
        try SocketPermissions(path: path, group: group, logger: logger).apply()
        return server
    }
}

/// mode 0660 and the control group, so only its members (and root) talk
/// to the daemon.
struct SocketPermissions {
    let path: String
    let group: String
    let logger: Logger

    func apply() throws {
        guard chmod(path, 0o660) == 0 else {
            throw ConfigurationError(key: "control.socket", message: "cannot set mode 0660 on \(path): \(String(cString: strerror(errno)))")
        }
        guard let entry = getgrnam(group) else {
            logger.warning("group '\(group)' does not exist: only the daemon's own user and root can use the control socket")
            return
        }
        if chown(path, uid_t.max, entry.pointee.gr_gid) != 0 {
            logger.warning("cannot give \(path) to group '\(group)': \(String(cString: strerror(errno)))")
        }
    }
}

/// Who is on the other end of a control connection (SO_PEERCRED).
struct PeerCredentials: Sendable, CustomStringConvertible {
    let pid: Int32
    let uid: UInt32
    let gid: UInt32

    var description: String { "uid=\(uid) pid=\(pid)" }

    static func read(from channel: any Channel) -> EventLoopFuture<PeerCredentials?> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        let credentials: EventLoopFuture<voiceagent_ucred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return credentials.map { PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }.recover { _ in nil }
    }
}
