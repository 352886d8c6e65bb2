//! JSON-RPC 2.0 framing of MCP messages: what a POST body holds (one message or, in protocol
//! 2025-03-26, a batch), each message classified as request, notification or response, and the
//! error codes of the JSON-RPC spec for what is not well-formed. The message types inside
//! (params, results, errors) are rmcp's.

use rmcp::model::{ErrorCode, ErrorData, RequestId};
use serde::Serialize;
use serde_json::{Map, Value};

/// One incoming message.
#[derive(Debug, PartialEq)]
pub enum Message {
    Request {
        id: RequestId,
        method: String,
        params: Option<Map<String, Value>>,
    },
    Notification {
        method: String,
    },
    /// A client's answer to a server request; this server sends none, so these are dropped.
    Response,
    /// Not a valid JSON-RPC 2.0 message: answered with this error (and the id, when one was
    /// readable).
    Invalid {
        id: Option<RequestId>,
        error: ErrorData,
    },
}

/// What a POST body held.
#[derive(Debug, PartialEq)]
pub enum Body {
    Single(Message),
    Batch(Vec<Message>),
}

fn request_id(v: &Value) -> Option<RequestId> {
    match v {
        Value::String(s) => Some(RequestId::String(s.as_str().into())),
        Value::Number(n) => n.as_i64().map(RequestId::Number),
        _ => None,
    }
}

/// Classifies one JSON value as a JSON-RPC message.
pub fn classify(v: Value) -> Message {
    let invalid = |id, msg: &str| Message::Invalid {
        id,
        error: ErrorData::invalid_request(msg.to_owned(), None),
    };
    let Value::Object(mut obj) = v else {
        return invalid(None, "A JSON-RPC message must be a JSON object.");
    };
    let id = match obj.get("id") {
        None => None,
        Some(raw) => match request_id(raw) {
            Some(id) => Some(id),
            None => {
                return invalid(
                    None,
                    "id must be a string or an integer (MCP does not allow null ids).",
                )
            }
        },
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid(id, "jsonrpc must be \"2.0\".");
    }
    match obj.remove("method") {
        Some(Value::String(method)) => {
            let params = match obj.remove("params") {
                None | Some(Value::Null) => None,
                Some(Value::Object(p)) => Some(p),
                Some(_) => {
                    return match id {
                        Some(id) => Message::Invalid {
                            id: Some(id),
                            error: ErrorData::invalid_params(
                                "params must be an object.".to_owned(),
                                None,
                            ),
                        },
                        // A notification is never answered, even when malformed.
                        None => Message::Notification { method },
                    };
                }
            };
            match id {
                Some(id) => Message::Request { id, method, params },
                None => Message::Notification { method },
            }
        }
        Some(_) => invalid(id, "method must be a string."),
        None if id.is_some() && (obj.contains_key("result") || obj.contains_key("error")) => {
            Message::Response
        }
        None => invalid(
            id,
            "A JSON-RPC message needs a method (or a result or error).",
        ),
    }
}

/// Parses a POST body. `Err` is the parse error to answer (-32700).
pub fn parse(bytes: &[u8]) -> Result<Body, ErrorData> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| ErrorData::parse_error(format!("Parse error: {e}"), None))?;
    Ok(match v {
        Value::Array(items) => Body::Batch(items.into_iter().map(classify).collect()),
        other => Body::Single(classify(other)),
    })
}

/// An outgoing response: a result or an error for one request.
#[derive(Debug, Serialize)]
pub struct Response {
    jsonrpc: &'static str,
    /// `null` only for an error about a message whose id could not be read (JSON-RPC 2.0 §5).
    id: Option<RequestId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorData>,
}

impl Response {
    pub fn result(id: RequestId, result: Value) -> Self {
        Response {
            jsonrpc: "2.0",
            id: Some(id),
            result: Some(result),
            error: None,
        }
    }

    pub fn error(id: Option<RequestId>, error: ErrorData) -> Self {
        Response {
            jsonrpc: "2.0",
            id,
            result: None,
            error: Some(error),
        }
    }

    /// Whether this answers a message that could not be read as JSON-RPC at all (answered with
    /// HTTP 400 when it is the whole body).
    pub fn is_malformed(&self) -> bool {
        self.error.as_ref().is_some_and(|e| {
            e.code == ErrorCode::PARSE_ERROR
                || (e.code == ErrorCode::INVALID_REQUEST && self.id.is_none())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(m: &Message) -> i32 {
        match m {
            Message::Invalid { error, .. } => error.code.0,
            other => panic!("valid: {other:?}"),
        }
    }

    #[test]
    fn messages_are_classified() {
        assert_eq!(
            classify(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})),
            Message::Request {
                id: RequestId::Number(1),
                method: "ping".into(),
                params: None
            }
        );
        assert_eq!(
            classify(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
            Message::Notification {
                method: "notifications/initialized".into()
            }
        );
        assert_eq!(
            classify(json!({"jsonrpc": "2.0", "id": "a", "result": {}})),
            Message::Response
        );
        assert_eq!(code(&classify(json!([1]))), -32600);
        assert_eq!(code(&classify(json!({"id": 1, "method": "ping"}))), -32600);
        assert_eq!(
            code(&classify(
                json!({"jsonrpc": "2.0", "id": null, "method": "ping"})
            )),
            -32600
        );
        assert_eq!(
            code(&classify(
                json!({"jsonrpc": "2.0", "id": 1.5, "method": "x"})
            )),
            -32600
        );
        assert_eq!(
            code(&classify(json!({"jsonrpc": "2.0", "id": 1, "method": 7}))),
            -32600
        );
        assert_eq!(
            code(&classify(
                json!({"jsonrpc": "2.0", "id": 1, "method": "x", "params": [1]})
            )),
            -32602
        );
        assert_eq!(code(&classify(json!({"jsonrpc": "2.0", "id": 1}))), -32600);
    }

    #[test]
    fn bodies_are_parsed() {
        assert_eq!(parse(b"{").unwrap_err().code, ErrorCode::PARSE_ERROR);
        assert!(matches!(parse(b"[]").unwrap(), Body::Batch(v) if v.is_empty()));
        let r = Response::error(None, ErrorData::invalid_request("x".to_owned(), None));
        assert!(r.is_malformed());
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "x"}})
        );
        let r = Response::result(RequestId::String("s".into()), json!({}));
        assert!(!r.is_malformed());
    }
}
