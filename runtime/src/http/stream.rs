//! A tool call that may send notifications: answered with plain JSON if it
//! finishes before sending any, else switched at its first notification to
//! an SSE stream (so the client sees progress as it happens). Dropping the
//! stream (the client went away) drops the handler's future, which cancels
//! the call.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::dispatch::{Reply, ToolCall};
use crate::registry::Tools;

/// Run `call`, streaming its notifications if it sends any.
pub(super) async fn respond<S: Tools>(call: ToolCall<S>) -> Response {
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let mut run = Box::pin(call.run(Some(tx)));
    tokio::select! {
        biased;
        Some(first) = rx.recv() => stream(run, rx, first),
        done = &mut run => done.into_response(),
    }
}

/// Answer as an SSE stream: the notifications as they happen, then the
/// response.
fn stream<F>(run: Pin<Box<F>>, rx: mpsc::UnboundedReceiver<Value>, first: Value) -> Response
where
    F: Future<Output = Reply> + Send + 'static,
{
    struct St<F> {
        first: Option<Value>,
        run: Option<Pin<Box<F>>>,
        rx: mpsc::UnboundedReceiver<Value>,
    }
    let start = St {
        first: Some(first),
        run: Some(run),
        rx,
    };
    let events = futures_util::stream::unfold(start, |mut st| async move {
        if let Some(first) = st.first.take() {
            return Some((Ok::<_, Infallible>(event(&first)), st));
        }
        let run = st.run.as_mut()?;
        tokio::select! {
            biased;
            Some(n) = st.rx.recv() => Some((Ok::<_, Infallible>(event(&n)), st)),
            done = run => {
                let mut out = String::new();
                while let Ok(n) = st.rx.try_recv() {
                    out.push_str(&event(&n));
                }
                if let Some(body) = &done.body {
                    out.push_str(&event_text(&body.to_json_string()));
                }
                st.run = None;
                Some((Ok(out), st))
            }
        }
    });
    let mut response = Response::new(Body::from_stream(events));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    super::respond::no_store(h);
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

fn event(message: &Value) -> String {
    event_text(&serde_json::to_string(message).unwrap_or_default())
}

fn event_text(json: &str) -> String {
    format!("event: message\ndata: {json}\n\n")
}
