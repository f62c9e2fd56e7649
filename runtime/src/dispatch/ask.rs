//! A call that asks the person using the client before (or while) it runs.
//!
//! [`settle`] runs before the handler: it redeems a 2026-07-28 call's
//! `requestState` (sealed, for this tool, these arguments and this caller,
//! unexpired, its nonce unspent on every instance), gathers the answers so
//! far, and puts the tool's declared confirmation to the client: asked now
//! (`input_required`, or a request on the 2025-11-25 event stream),
//! accepted (the handler runs), declined or cancelled (a result saying so),
//! or impossible (the client cannot ask: the manifest's
//! `without_elicitation` decides). Every step is an audit record.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::audit::{Entry, Verdict};
use crate::auth::{RequestState, StateRefused};
use crate::caller::Caller;
use crate::dispatch::era::Era;
use crate::handler::elicit::{Answer, Asker, Elicitation, Rounds, Stream, Unanswered};
use crate::handler::output::CallToolResult;
use crate::policy::Rejection;
use crate::protocol::meta;
use crate::registry::Tools;
use crate::server::McpServer;
use mcpgen_spec::confirm::{Piece, pieces};
use mcpgen_spec::{Confirm, ToolSpec, WithoutElicitation};

/// The key of the confirmation among a call's questions.
const CONFIRM_KEY: &str = "confirm";

/// What a `tools/call` brought to go on with an earlier round, and whether
/// its client can ask a person.
#[derive(Debug, Default)]
pub(super) struct Resume {
    /// `requestState`, as sent.
    state: Option<Value>,
    /// `inputResponses`, as sent.
    responses: Option<Value>,
    /// The client declared the elicitation capability (form mode).
    pub(super) can_ask: bool,
}

impl Resume {
    /// Take `requestState` and `inputResponses` out of a call's `params`;
    /// `can_ask` from its `_meta` (2026-07-28), or what its transport knows
    /// of the client's `initialize` (2025-11-25: `legacy_asks`).
    pub(super) fn take(params: &mut Map<String, Value>, era: Era, legacy_asks: bool) -> Self {
        let can_ask = match era {
            Era::Modern => super::session::declares_elicitation(
                params
                    .get("_meta")
                    .and_then(|m| m.get(meta::CLIENT_CAPABILITIES)),
            ),
            Era::Legacy => legacy_asks,
        };
        Self {
            state: params.remove("requestState"),
            responses: params.remove("inputResponses"),
            can_ask,
        }
    }
}

/// Why the handler does not run (now).
pub(super) enum Stop {
    /// Questions for the client (2026-07-28): answer `input_required`.
    Ask {
        asked: Map<String, Value>,
        answers: Map<String, Value>,
        verdict: Verdict,
    },
    /// A tool result saying why.
    Result(Verdict, CallToolResult),
    /// A JSON-RPC refusal.
    Refuse(Verdict, Rejection),
}

/// Everything [`settle`] needs of the call.
pub(super) struct Call<'a, S: Tools> {
    pub(super) server: &'a Arc<McpServer<S>>,
    pub(super) spec: &'a ToolSpec,
    pub(super) arguments: &'a Value,
    pub(super) caller: Option<&'a Caller>,
    pub(super) era: Era,
    pub(super) audit: &'a Entry,
}

/// Before the handler runs: the answers so far, the confirmation. `Ok`
/// with how the handler's own questions reach the client (if they can);
/// `Err` when the handler must not run now.
pub(super) async fn settle<S: Tools>(
    call: Call<'_, S>,
    resume: Resume,
    stream: Option<mpsc::UnboundedSender<Value>>,
) -> Result<Option<Asker>, Stop> {
    let server = call.server;
    let asker = match call.era {
        Era::Modern => {
            let answers = match resume.state {
                None => Map::new(),
                Some(state) => redeem(&call, state, resume.responses).await?,
            };
            resume.can_ask.then(|| Asker::Rounds(Rounds::new(answers)))
        }
        Era::Legacy => match stream {
            Some(tx) if resume.can_ask => Some(Asker::Stream(Stream::new(
                tx,
                Arc::clone(&server.pending),
                call.caller.map_or("", Caller::subject),
                server.options.input_wait,
            ))),
            _ => None,
        },
    };
    let Some(confirm) = &call.spec.confirm else {
        return Ok(asker);
    };
    let Some(asking) = &asker else {
        return unconfirmable(&call, confirm).map(|()| None);
    };
    let question = confirmation(confirm, call.arguments);
    if let Asker::Stream(_) = asking {
        // Asked and answered within this call: the asking is a record of
        // its own, as it is for a 2026-07-28 call.
        call.audit.step(Verdict::ConfirmationAsked);
    }
    match asking.ask(Some(CONFIRM_KEY), &question).await {
        Ok(Answer::Accept(content)) if content.get(CONFIRM_KEY) == Some(&Value::Bool(true)) => {
            call.audit.step(Verdict::ConfirmationAccepted);
            Ok(asker)
        }
        Ok(Answer::Accept(_) | Answer::Decline) => Err(Stop::Result(
            Verdict::ConfirmationDeclined,
            CallToolResult::error(format!(
                "the person declined: `{}` did not run, and nothing was changed",
                call.spec.name
            )),
        )),
        Ok(Answer::Cancel) => Err(Stop::Result(
            Verdict::ConfirmationCancelled,
            CallToolResult::error(format!(
                "the confirmation was dismissed without an answer: `{}` did not run, and nothing was changed",
                call.spec.name
            )),
        )),
        Err(Unanswered::InputRequired) => match asking.unanswered() {
            Some((asked, answers)) => Err(Stop::Ask {
                asked,
                answers,
                verdict: Verdict::ConfirmationAsked,
            }),
            None => unconfirmable(&call, confirm).map(|()| asker),
        },
        Err(Unanswered::Unable) => unconfirmable(&call, confirm).map(|()| asker),
        Err(Unanswered::Malformed) => Err(refused(
            Verdict::AnswerMalformed,
            "the answer to the confirmation is not an elicitation result \
             ({\"action\": \"accept\" | \"decline\" | \"cancel\", \"content\": {\"confirm\": true}})",
        )),
    }
}

/// A confirming tool called by a client that cannot ask: refused, or (the
/// manifest says so) run unconfirmed.
fn unconfirmable<S: Tools>(call: &Call<'_, S>, confirm: &Confirm) -> Result<(), Stop> {
    match confirm.without_elicitation {
        WithoutElicitation::Allow => {
            call.audit.step(Verdict::Unconfirmed);
            Ok(())
        }
        WithoutElicitation::Refuse => Err(Stop::Result(
            Verdict::CannotConfirm,
            CallToolResult::error(format!(
                "`{}` runs only after a person confirms it, and this client cannot ask for a \
                 confirmation (it did not declare the elicitation capability{}); nothing was changed. \
                 Use a client that supports elicitation",
                call.spec.name,
                match call.era {
                    Era::Modern => "",
                    Era::Legacy => " when it initialized, or its requests do not carry the session",
                }
            )),
        )),
    }
}

/// A refusal of the conversation, as a tool result.
fn refused(verdict: Verdict, why: &str) -> Stop {
    Stop::Result(
        verdict,
        CallToolResult::error(format!("{why}; nothing was changed: call the tool again")),
    )
}

/// Redeem a request state: the answers of every round so far.
async fn redeem<S: Tools>(
    call: &Call<'_, S>,
    state: Value,
    responses: Option<Value>,
) -> Result<Map<String, Value>, Stop> {
    let server = call.server;
    let db = server.store.as_ref().map(|s| s.db());
    let Value::String(sealed) = state else {
        return Err(refused(
            Verdict::StateForged,
            "`requestState` is not one this server issued",
        ));
    };
    let (subject, client) = principal(call.caller);
    let state = server
        .states
        .redeem(
            db,
            &sealed,
            &call.spec.name,
            call.arguments,
            subject,
            client,
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the request state could not be checked");
            Stop::Refuse(Verdict::DatabaseUnavailable, Rejection::Unavailable)
        })?;
    let mut state = match state {
        Ok(s) => s,
        Err(StateRefused::Forged) => {
            return Err(refused(
                Verdict::StateForged,
                "`requestState` is not one this server issued",
            ));
        }
        Err(StateRefused::Mismatch) => {
            return Err(refused(
                Verdict::StateMismatch,
                "`requestState` belongs to another call (another tool, other arguments or another caller)",
            ));
        }
        Err(StateRefused::Expired) => {
            return Err(refused(
                Verdict::StateExpired,
                "`requestState` has expired: the question was not answered in time",
            ));
        }
        Err(StateRefused::Reused) => {
            return Err(refused(
                Verdict::StateReused,
                "`requestState` was answered already; each question is answered once",
            ));
        }
    };
    let responses = match responses {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(r)) => r,
        Some(_) => {
            return Err(refused(
                Verdict::AnswerMalformed,
                "`inputResponses` must be an object of answers by question key",
            ));
        }
    };
    // Only answers to the questions this state asked.
    for (key, answer) in responses {
        if state.asked.contains(&key) {
            state.answers.insert(key, answer);
        }
    }
    Ok(state.answers)
}

/// The caller as a request state names it: subject and OAuth client.
fn principal(caller: Option<&Caller>) -> (&str, &str) {
    (
        caller.map_or("", Caller::subject),
        caller.and_then(Caller::client_id).unwrap_or(""),
    )
}

/// The `input_required` result for `asked`, with a sealed state carrying
/// the `answers` so far.
pub(super) async fn input_required<S: Tools>(
    call: Call<'_, S>,
    asked: Map<String, Value>,
    answers: Map<String, Value>,
) -> Result<Value, Rejection> {
    let server = call.server;
    let (subject, client) = principal(call.caller);
    let state = RequestState::new(
        &call.spec.name,
        call.arguments,
        subject,
        client,
        server.options.input_wait.as_secs().max(1),
        asked.keys().cloned().collect(),
        answers,
    );
    let db = server.store.as_ref().map(|s| s.db());
    let sealed = server.states.seal(db, &state).await.map_err(|e| {
        tracing::error!(error = %e, "the request state could not be sealed");
        Rejection::Unavailable
    })?;
    Ok(json!({
        "resultType": "input_required",
        "inputRequests": asked,
        "requestState": sealed,
    }))
}

/// The confirmation question: the message with the arguments filled in,
/// and a form of one required yes/no.
fn confirmation(confirm: &Confirm, arguments: &Value) -> Elicitation {
    let mut message = String::new();
    for piece in pieces(&confirm.message).unwrap_or_default() {
        match piece {
            Piece::Text(t) => message.push_str(t),
            Piece::Field(f) => match arguments.get(f) {
                Some(Value::String(s)) => message.push_str(s),
                None | Some(Value::Null) => message.push_str("(none)"),
                Some(other) => message.push_str(&other.to_string()),
            },
        }
    }
    Elicitation::new(
        message,
        json!({
            "type": "object",
            "properties": {
                CONFIRM_KEY: {
                    "type": "boolean",
                    "title": "Confirm",
                    "description": "Check to let the tool run",
                    "default": false,
                }
            },
            "required": [CONFIRM_KEY],
        }),
    )
}
