//! Traces, with OpenTelemetry: when [`install`]ed (`serve --otlp-endpoint`),
//! each request is a SERVER span named `{mcp.method.name} {target}` with the
//! MCP semantic conventions' attributes, and children for its
//! authentication, its handler and its database work; a `traceparent`
//! (and `tracestate`) in `params._meta` continues the caller's trace.
//! Spans go to an OTLP/HTTP collector in protobuf, in batches, from a
//! thread of the SDK's own.
//!
//! Until installed, nothing is built: every span point is one relaxed
//! atomic load. Nothing secret goes into an attribute: no credential, no
//! subject; a tool's arguments only with `--otlp-record-arguments`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue, global};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::{Map, Value};

static ENABLED: AtomicBool = AtomicBool::new(false);
static ARGUMENTS: AtomicBool = AtomicBool::new(false);

/// Where spans go, and what they may hold.
#[derive(Debug, Clone)]
pub struct TraceOptions {
    /// The collector's OTLP/HTTP traces URL, e.g.
    /// `http://collector:4318/v1/traces`.
    pub endpoint: String,
    /// `service.name`.
    pub service_name: String,
    /// `service.version`.
    pub service_version: String,
    /// Put each tool call's arguments in its span
    /// (`gen_ai.tool.call.arguments`: they may hold user data).
    pub record_arguments: bool,
}

/// Tracing, installed: dropping it sends the spans still buffered.
pub struct Tracing {
    provider: SdkTracerProvider,
}

impl std::fmt::Debug for Tracing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tracing")
    }
}

impl Drop for Tracing {
    fn drop(&mut self) {
        ENABLED.store(false, Ordering::Relaxed);
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "could not send the last spans");
        }
    }
}

/// Send spans to `options.endpoint` from now on.
pub fn install(options: &TraceOptions) -> Result<Tracing, String> {
    crate::endpoint::check_url("OTLP endpoint", &options.endpoint)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(options.endpoint.clone())
        .build()
        .map_err(|e| format!("cannot set up the OTLP exporter: {e}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(options.service_name.clone())
        .with_attribute(KeyValue::new(
            "service.version",
            options.service_version.clone(),
        ))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    global::set_tracer_provider(provider.clone());
    ARGUMENTS.store(options.record_arguments, Ordering::Relaxed);
    ENABLED.store(true, Ordering::Relaxed);
    Ok(Tracing { provider })
}

/// Whether spans are being made.
#[inline]
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// When tracing, now.
#[inline]
pub(crate) fn now() -> Option<SystemTime> {
    enabled().then(SystemTime::now)
}

/// A step's start and end.
pub(crate) type Timed = (SystemTime, SystemTime);

/// What a request's span says of it.
pub(crate) struct RequestFacts<'a> {
    /// A method name this server knows (`telemetry::method_label`).
    pub(crate) method: &'static str,
    /// The tool or prompt the request names, when the registry has it.
    pub(crate) tool: Option<&'a str>,
    /// The prompt it names, when the registry has it.
    pub(crate) prompt: Option<&'a str>,
    /// The resource it reads.
    pub(crate) resource_uri: Option<&'a str>,
    /// The JSON-RPC id.
    pub(crate) id: Option<&'a Value>,
    /// The protocol revision, when known.
    pub(crate) protocol_version: Option<&'a str>,
    /// `http` or `stdio`.
    pub(crate) transport: &'static str,
    /// `params._meta`, which may carry the caller's trace.
    pub(crate) meta: Option<&'a Map<String, Value>>,
    /// When the request arrived.
    pub(crate) started: Option<SystemTime>,
    /// Its authentication, when it was measured.
    pub(crate) authenticated: Option<Timed>,
}

/// A request's SERVER span, ended when dropped.
pub(crate) struct RequestSpan {
    cx: Context,
}

impl std::fmt::Debug for RequestSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestSpan")
    }
}

struct MetaCarrier<'a>(&'a Map<String, Value>);

impl Extractor for MetaCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The request's span, continuing the trace in its `_meta` if any; `None`
/// when not tracing.
pub(crate) fn request(f: &RequestFacts<'_>) -> Option<RequestSpan> {
    if !enabled() {
        return None;
    }
    let parent = match f.meta {
        Some(meta) => TraceContextPropagator::new().extract(&MetaCarrier(meta)),
        None => Context::new(),
    };
    let target = f.tool.or(f.prompt);
    let name = match target {
        Some(t) => format!("{} {t}", f.method),
        None => f.method.to_owned(),
    };
    let mut attributes = vec![
        KeyValue::new("mcp.method.name", f.method),
        KeyValue::new(
            "network.transport",
            if f.transport == "stdio" {
                "pipe"
            } else {
                "tcp"
            },
        ),
    ];
    if let Some(tool) = f.tool {
        attributes.push(KeyValue::new("gen_ai.tool.name", tool.to_owned()));
        attributes.push(KeyValue::new("gen_ai.operation.name", "execute_tool"));
    }
    if let Some(prompt) = f.prompt {
        attributes.push(KeyValue::new("gen_ai.prompt.name", prompt.to_owned()));
    }
    if let Some(uri) = f.resource_uri {
        attributes.push(KeyValue::new("mcp.resource.uri", uri.to_owned()));
    }
    if let Some(id) = f.id {
        let id = match id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        attributes.push(KeyValue::new("jsonrpc.request.id", id));
    }
    if let Some(v) = f.protocol_version {
        attributes.push(KeyValue::new("mcp.protocol.version", v.to_owned()));
    }
    let tracer = global::tracer("mcpgen");
    let mut builder = tracer
        .span_builder(name)
        .with_kind(SpanKind::Server)
        .with_attributes(attributes);
    if let Some(t) = f.started {
        builder = builder.with_start_time(t);
    }
    let span = builder.start_with_context(&tracer, &parent);
    let span = RequestSpan {
        cx: parent.with_span(span),
    };
    if let Some((start, end)) = f.authenticated {
        span.child("authenticate", (start, end), Vec::new());
    }
    Some(span)
}

impl RequestSpan {
    /// A finished child span `name` that ran during `timed`.
    pub(crate) fn child(&self, name: &str, timed: Timed, attributes: Vec<KeyValue>) {
        let tracer = global::tracer("mcpgen");
        let mut span = tracer
            .span_builder(name.to_owned())
            .with_kind(SpanKind::Internal)
            .with_start_time(timed.0)
            .with_attributes(attributes)
            .start_with_context(&tracer, &self.cx);
        span.end_with_timestamp(timed.1);
    }

    /// The request failed with `error_type` (`error.type`).
    pub(crate) fn fail(&self, error_type: String) {
        let span = self.cx.span();
        span.set_status(Status::error(error_type.clone()));
        span.set_attribute(KeyValue::new("error.type", error_type));
    }

    /// A tool call's arguments, when recording them was asked for.
    pub(crate) fn arguments(&self, arguments: &Value) {
        if ARGUMENTS.load(Ordering::Relaxed) {
            self.cx.span().set_attribute(KeyValue::new(
                "gen_ai.tool.call.arguments",
                arguments.to_string(),
            ));
        }
    }
}

impl Drop for RequestSpan {
    fn drop(&mut self) {
        self.cx.span().end();
    }
}
