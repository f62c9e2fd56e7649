//! Arbitrary request lines and headers (duplicates, non-ASCII values,
//! absolute targets, protocol headers) with an arbitrary body: every
//! extractor and check must answer, never panic.

#![no_main]

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

#[path = "common.rs"]
mod common;

const NAMES: &[&str] = &[
    "host",
    "origin",
    "content-type",
    "accept",
    "authorization",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "x-forwarded-for",
    "content-length",
];

#[derive(Debug, Arbitrary)]
struct Input {
    method: u8,
    target: String,
    headers: Vec<(u8, Vec<u8>)>,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let method = [Method::POST, Method::GET, Method::DELETE, Method::PUT]
        [usize::from(input.method % 4)]
    .clone();
    let mut builder = Request::builder().method(method).uri(
        if input.target.starts_with('/') || input.target.starts_with("http") {
            input.target.as_str()
        } else {
            "/mcp"
        },
    );
    for (name, value) in &input.headers {
        let name = HeaderName::from_static(NAMES[usize::from(*name) % NAMES.len()]);
        if let Ok(value) = HeaderValue::from_bytes(value) {
            builder = builder.header(name, value);
        }
    }
    let Ok(request) = builder.body(Body::from(input.body)) else {
        return;
    };
    let _ = common::runtime()
        .block_on(common::router().oneshot(request))
        .expect("infallible");
});
