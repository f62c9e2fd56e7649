//! The stdio transport: newline-delimited JSON-RPC on stdin/stdout, the
//! same dispatch, policy and audit as HTTP. Logs go to stderr.

use std::sync::Arc;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::caller::Caller;
use crate::dispatch::{self, Body, Incoming, Outcome, Reply};
use crate::policy::Rejection;
use crate::registry::Tools;
use crate::server::McpServer;

/// Serve `server` over `input`/`output` until `input` ends, with
/// `credential` (a bearer token or access key taken from the environment;
/// `None` means only public tools). The credential is verified for every
/// message, exactly as over HTTP, so expiry and revocation apply. Requests
/// run concurrently; each response is one line.
pub async fn serve<S, R, W>(
    server: Arc<McpServer<S>>,
    credential: Option<String>,
    input: R,
    output: W,
) -> std::io::Result<()>
where
    S: Tools,
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Value>();
    let writer = tokio::spawn(async move {
        let mut output = output;
        while let Some(message) = out_rx.recv().await {
            let mut line = serde_json::to_string(&message).unwrap_or_default();
            line.push('\n');
            output.write_all(line.as_bytes()).await?;
            output.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    });

    let limit = server.options.max_body_bytes;
    let mut reader = BufReader::new(input);
    let mut tasks = JoinSet::new();
    let mut line = Vec::new();
    // The process is the session: what a 2025-11-25 client's `initialize`
    // declared holds for its later calls.
    let mut legacy_asks = false;
    loop {
        line.clear();
        let (n, overflow) = read_line_bounded(&mut reader, &mut line, limit).await?;
        if n == 0 {
            break;
        }
        if overflow {
            let why = Rejection::LineTooLarge { limit };
            send(
                &out_tx,
                Reply::refused(&why, &Value::Null, server.metadata_url()),
            );
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Some(asks) = dispatch::session::initialize_declares_elicitation(&line) {
            legacy_asks = asks;
        }
        let caller: Option<Caller> = match &credential {
            None => None,
            Some(c) => match server.authenticate(c).await {
                Ok(caller) => Some(caller),
                Err(e) => {
                    // Notifications get no answer, not even a refusal.
                    let notification = serde_json::from_slice::<Value>(&line)
                        .ok()
                        .is_some_and(|m| m.is_object() && m.get("id").is_none());
                    if !notification {
                        let why = Rejection::from(e);
                        send(
                            &out_tx,
                            Reply::refused(&why, &Value::Null, server.metadata_url()),
                        );
                    }
                    continue;
                }
            },
        };
        server.audit().ready().await;
        let outcome = dispatch::decide(
            &server,
            Incoming {
                body: &line,
                headers: None,
                caller,
                transport: "stdio",
                peer: None,
                legacy_asks,
                timing: dispatch::Timing {
                    started: crate::trace::now(),
                    authenticated: None,
                },
            },
        );
        match outcome {
            Outcome::Reply(r) => send(&out_tx, r),
            Outcome::Call(call) => {
                let out = out_tx.clone();
                tasks.spawn(async move {
                    let (tx, mut rx) = mpsc::unbounded_channel();
                    let forward = {
                        let out = out.clone();
                        async move {
                            while let Some(n) = rx.recv().await {
                                let _ = out.send(n);
                            }
                        }
                    };
                    let (reply, ()) = tokio::join!(call.run(Some(tx)), forward);
                    send(&out, reply);
                });
            }
            Outcome::Entry(call) => {
                let out = out_tx.clone();
                tasks.spawn(async move { send(&out, call.run().await) });
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    drop(out_tx);
    writer.await.map_err(std::io::Error::other)?
}

fn send(out: &mpsc::UnboundedSender<Value>, reply: Reply) {
    if let Some(body) = reply.body {
        let _ = out.send(Body::into_value(body));
    }
}

/// Read one line into `buf` (without the newline), keeping at most `limit`
/// bytes. Returns the bytes consumed (0 at end of input) and whether the
/// line was longer than `limit` (its excess is discarded).
async fn read_line_bounded<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut overflow = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok((consumed, overflow));
        }
        let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        if !overflow {
            if buf.len() + chunk.len() > limit {
                overflow = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let used = found.unwrap_or(chunk.len());
        reader.consume(used);
        consumed += used;
        if found.is_some() {
            return Ok((consumed, overflow));
        }
    }
}
