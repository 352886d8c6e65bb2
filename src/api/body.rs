//! Reading request bodies with time limits. actix bounds the time to receive headers, not the
//! body: a client that stops sending mid-body (an upload without its last bytes) would hold a
//! worker's handler and the graceful shutdown for as long as it stays connected.
//!
//! [`limit_body_reads`] wraps every request's payload, so each way of reading a body —
//! [`super::read_body`], multipart uploads, the JSON extractor — fails the same way: a read
//! that waits [`BodyReads::idle`] for the next bytes, runs past [`BodyReads::whole`], or is
//! still waiting when the server starts to stop gets a [`BodyTimeout`], answered with 408.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::rt::time::{sleep_until, Instant, Sleep};
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;

use crate::error::ApiError;

/// How long body reads may take; shared by the server's workers.
#[derive(Clone, Debug)]
pub struct BodyReads {
    /// Longest wait for the next bytes of a body.
    pub idle: Duration,
    /// Longest time to receive a whole body (50 MB at about 1.4 Mbit/s).
    pub whole: Duration,
    stopping: Arc<AtomicBool>,
}

impl Default for BodyReads {
    fn default() -> Self {
        BodyReads {
            idle: Duration::from_secs(15),
            whole: Duration::from_secs(300),
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl BodyReads {
    /// Makes every body read still waiting, and every later one, fail at once, so that
    /// stalled uploads do not hold the graceful shutdown.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }
}

/// How often a waiting read looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// Why a body read was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyTimeout {
    Idle(Duration),
    Whole(Duration),
    Stopping,
}

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyTimeout::Idle(d) => write!(
                f,
                "No request body data arrived for {} s; the body is incomplete. Send it again with all of its bytes.",
                d.as_secs()
            ),
            BodyTimeout::Whole(d) => write!(
                f,
                "The request body took longer than {} s to arrive.",
                d.as_secs()
            ),
            BodyTimeout::Stopping => write!(
                f,
                "The server is shutting down and stopped reading the request body; send the request again."
            ),
        }
    }
}

impl std::error::Error for BodyTimeout {}

impl From<BodyTimeout> for ApiError {
    fn from(t: BodyTimeout) -> Self {
        ApiError::RequestTimeout(t.to_string())
    }
}

/// The time limit a payload error stands for, if it is one.
pub fn timeout_of(e: &PayloadError) -> Option<BodyTimeout> {
    match e {
        PayloadError::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<BodyTimeout>())
            .copied(),
        _ => None,
    }
}

/// A payload read failure as the API answers it: 408 for a time limit, else 400.
pub fn payload_error(e: PayloadError) -> ApiError {
    match timeout_of(&e) {
        Some(t) => t.into(),
        None => ApiError::BadRequest(format!("Could not read the request body: {e}")),
    }
}

/// Middleware: puts the limits of the app's [`BodyReads`] on the request's payload.
pub async fn limit_body_reads(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let reads = req.app_data::<actix_web::web::Data<BodyReads>>().cloned();
    if let Some(reads) = reads.filter(|_| may_have_body(&req)) {
        let limited = TimedPayload::new(req.take_payload(), &reads);
        let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(limited);
        req.set_payload(Payload::from(boxed));
    }
    next.call(req).await
}

/// Whether the request declares a body: requests without one (most GETs) skip the wrapper.
fn may_have_body(req: &ServiceRequest) -> bool {
    use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
    let headers = req.headers();
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// A payload whose reads fail with a [`BodyTimeout`] per [`BodyReads`].
struct TimedPayload {
    inner: Payload,
    idle: Duration,
    whole_at: Instant,
    whole: Duration,
    last_data: Instant,
    /// Made when a read first has to wait.
    timer: Option<Pin<Box<Sleep>>>,
    stopping: Arc<AtomicBool>,
    failed: bool,
}

impl TimedPayload {
    fn new(inner: Payload, reads: &BodyReads) -> Self {
        let now = Instant::now();
        TimedPayload {
            inner,
            idle: reads.idle,
            whole_at: now + reads.whole,
            whole: reads.whole,
            last_data: now,
            timer: None,
            stopping: Arc::clone(&reads.stopping),
            failed: false,
        }
    }

    fn fail(&mut self, why: BodyTimeout) -> Poll<Option<Result<Bytes, PayloadError>>> {
        self.failed = true;
        Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            why,
        )))))
    }
}

impl Stream for TimedPayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.last_data = Instant::now();
                return Poll::Ready(Some(Ok(chunk)));
            }
            Poll::Ready(other) => return Poll::Ready(other),
            Poll::Pending => {}
        }
        let now = Instant::now();
        if this.stopping.load(Ordering::Relaxed) {
            return this.fail(BodyTimeout::Stopping);
        }
        let idle_at = this.last_data + this.idle;
        if now >= idle_at {
            return this.fail(BodyTimeout::Idle(this.idle));
        }
        if now >= this.whole_at {
            return this.fail(BodyTimeout::Whole(this.whole));
        }
        let wake = idle_at.min(this.whole_at).min(now + STOP_CHECK);
        let timer = match &mut this.timer {
            Some(t) => {
                t.as_mut().reset(wake);
                t
            }
            None => this.timer.insert(Box::pin(sleep_until(wake))),
        };
        if timer.as_mut().poll(cx).is_ready() {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_told_apart_from_other_payload_errors() {
        let e = PayloadError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            BodyTimeout::Stopping,
        ));
        assert_eq!(timeout_of(&e), Some(BodyTimeout::Stopping));
        assert!(matches!(payload_error(e), ApiError::RequestTimeout(_)));
        let other = PayloadError::Io(std::io::Error::other("reset"));
        assert_eq!(timeout_of(&other), None);
        assert!(matches!(payload_error(other), ApiError::BadRequest(_)));
    }
}
