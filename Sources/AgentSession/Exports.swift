// The wire types are part of a session's interface: a user of AgentSession
// sees them without a second import.
@_exported import AgentProtocol
