import AgentSession

/// What a conversation that replaces a lost one is told of it, with
/// `reconnect.carry.over`: the last turns, as a `contextual_update` once the
/// agent accepts, and a first-message override of nothing so the agent does
/// not greet again, until the agent shows it allows no overrides.
struct CarryOver: Sendable {
    static let turnLimit = 8

    private(set) var turns: [ChatTurn]
    var asksNotToGreet = true

    init(turns: [ChatTurn], asksNotToGreet: Bool = true) {
        self.turns = Array(turns.suffix(Self.turnLimit))
        self.asksNotToGreet = asksNotToGreet
    }

    /// The turns of a conversation that was established after this one was
    /// made come after these.
    func adding(_ later: [ChatTurn]) -> CarryOver {
        CarryOver(turns: turns + later, asksNotToGreet: asksNotToGreet)
    }

    var contextualUpdate: String {
        let intro = "This conversation continues one that the network cut off; do not greet the user again."
        guard !turns.isEmpty else { return intro + " Nothing had been said yet." }
        let lines = turns.map { "\($0.role == .user ? "User" : "Agent"): \($0.text)" }
        return ([intro + " Its last turns were:"] + lines).joined(separator: "\n")
    }
}
