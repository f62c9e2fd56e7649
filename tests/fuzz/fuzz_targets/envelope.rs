//! Any bytes as the body of a well-formed POST: the JSON-RPC parser, the
//! protocol eras, the methods and the policy must answer, never panic.

#![no_main]

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

#[path = "common.rs"]
mod common;

fuzz_target!(|body: &[u8]| {
    let request = Request::post("/mcp")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .body(Body::from(body.to_vec()))
        .expect("a request");
    let response = common::runtime()
        .block_on(common::router().oneshot(request))
        .expect("infallible");
    assert!(response.status().as_u16() < 500 || response.status().as_u16() == 503);
});
