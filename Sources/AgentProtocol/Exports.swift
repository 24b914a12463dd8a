// JSON values appear in the wire types' interface (tool parameters, dynamic
// variables, custom LLM bodies): a user of these types sees them too.
@_exported import JSON
