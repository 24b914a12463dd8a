import NIOConcurrencyHelpers

/// Who may hold a control connection. Of `capacity` connections, `reserve`
/// are kept for the commands that must always get through (stop,
/// interrupt, status), and one uid may hold at most `perUser` of the rest,
/// so no member of the group can lock the others out by holding
/// connections open.
final class ClientSlots: Sendable {
    enum Slot: Equatable {
        /// Any command.
        case regular
        /// One of the commands that must always get through.
        case reserved
    }

    let capacity: Int
    let reserve: Int
    let perUser: Int
    private let held = NIOLockedValueBox<(regular: [UInt32: Int], reserved: Int)>(([:], 0))

    init(capacity: Int = 64, reserve: Int = 8, perUser: Int = 16) {
        self.capacity = capacity
        self.reserve = reserve
        self.perUser = perUser
    }

    /// A slot for a client of `uid`, or nil when even the reserve is full.
    func take(uid: UInt32) -> Slot? {
        held.withLockedValue { held in
            let regularInUse = held.regular.values.reduce(0, +)
            if regularInUse < capacity - reserve, held.regular[uid, default: 0] < perUser {
                held.regular[uid, default: 0] += 1
                return .regular
            }
            guard held.reserved < reserve else { return nil }
            held.reserved += 1
            return .reserved
        }
    }

    func give(back slot: Slot, uid: UInt32) {
        held.withLockedValue { held in
            switch slot {
            case .regular:
                held.regular[uid, default: 1] -= 1
                if held.regular[uid] == 0 { held.regular[uid] = nil }
            case .reserved:
                held.reserved -= 1
            }
        }
    }
}
