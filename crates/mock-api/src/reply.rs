//! Answers as plain values (status, headers, bytes) so faults can take a
//! real answer apart before it goes on the wire.

use std::io;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

pub(crate) type Body = UnsyncBoxBody<Bytes, io::Error>;

pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Reply {
    pub(crate) fn json(status: u16, v: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(v.to_string()),
        }
    }

    pub(crate) fn error(status: u16, msg: impl Into<String>) -> Reply {
        Reply::json(status, &json!({"error": msg.into()}))
    }

    pub(crate) fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub(crate) fn with_header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub(crate) fn into_response(self) -> Response<Body> {
        response(self.status, &self.headers, full(self.body))
    }
}

/// A response with these headers; a header that is not valid HTTP (say a
/// bad URL given to `RedirectTo`) is left out rather than failing.
pub(crate) fn response(status: u16, headers: &[(String, String)], body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            resp.headers_mut().append(k, v);
        }
    }
    resp
}

pub(crate) fn full(b: Bytes) -> Body {
    Full::new(b).map_err(|never| match never {}).boxed_unsync()
}

/// A body of unknown length for hyper, so it honours our own
/// `content-length` header even when the stream sends fewer bytes.
pub(crate) fn streamed<S>(s: S) -> Body
where
    S: Stream<Item = Result<Bytes, io::Error>> + Send + 'static,
{
    StreamBody::new(s.map_ok(Frame::data)).boxed_unsync()
}
