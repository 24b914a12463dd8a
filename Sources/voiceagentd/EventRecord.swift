import AgentSession

/// A session event's words and fields, for the event log and the journal.
struct EventRecord {
    var text: String?
    var fields: [String: String] = [:]

    init(_ kind: SessionEventKind) {
        switch kind {
        case .connecting(let agentID):
            fields["agent_id"] = agentID
        case .connected(let metadata):
            fields = ["input_format": metadata.userInputAudioFormat.description, "output_format": metadata.agentOutputAudioFormat.description]
        case .userTranscript(let transcript, let eventID), .tentativeUserTranscript(let transcript, let eventID),
            .agentResponse(let transcript, let eventID):
            text = transcript
            fields["event_id"] = eventID?.description
        case .agentResponseCorrection(let correction):
            fields = ["corrected": correction.correctedAgentResponse, "original": correction.originalAgentResponse]
            fields["event_id"] = correction.eventID?.description
        case .agentResponsePart(let part):
            text = part.text
            fields["part"] = part.kind.rawValue
        case .interruption(let eventID, let local):
            fields["origin"] = local ? "local" : "agent"
            fields["event_id"] = eventID?.description
        case .ping(let eventID, let latency):
            fields["event_id"] = eventID.description
            fields["latency_ms"] = latency.map { String($0) }
        case .clientToolCall(let call):
            text = call.toolName
            fields = ["tool_call_id": call.toolCallID, "parameters": JSONValue.object(call.parameters).description]
        case .clientToolResult(let toolName, let result):
            text = toolName
            fields = ["tool_call_id": result.toolCallID, "result": result.result, "is_error": String(result.isError)]
        case .agentToolRequest(let tool), .agentToolResponse(let tool):
            text = tool.toolName
            fields["tool_call_id"] = tool.toolCallID
            fields["tool_type"] = tool.toolType
            fields["is_error"] = tool.isError.map { String($0) }
        case .vadScore(let score):
            fields["score"] = String(score)
        case .mcp(let type, let payload):
            text = type
            fields["payload"] = payload.description
        case .serverError(let error):
            text = error.message
            fields["code"] = String(error.code)
            fields["error_type"] = error.errorType
        case .protocolError(let problem):
            text = problem
        case .unknownMessage(let type):
            text = type
        case .ended(let reason):
            text = reason.explanation
            fields = ["reason": reason.kind, "error": String(reason.isError)]
        }
    }
}
