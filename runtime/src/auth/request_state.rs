//! The `requestState` of a 2026-07-28 call that asked the client a
//! question: what the call was (tool, a hash of its arguments), who made it
//! (subject and client), until when it may be answered, a nonce, which
//! questions it asked and the answers of earlier rounds. The client holds
//! it and sends it back with the answers; it is attacker-controlled, so it
//! is sealed (HMAC-SHA256 with a key every instance on the database shares)
//! and its nonce is spent once, in the database, on whichever instance the
//! answer arrives.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use super::seal::Sealer;
use crate::store::{Db, DbError, now};

/// What a request state says, once its seal holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RequestState {
    /// Which state this is (sealed values of other kinds never pass).
    pub(crate) kind: String,
    /// The tool called.
    pub(crate) tool: String,
    /// The caller's subject (empty: anonymous).
    pub(crate) subject: String,
    /// The caller's OAuth client, if any.
    pub(crate) client: String,
    /// SHA-256 of the arguments, canonical JSON, hex.
    pub(crate) arguments: String,
    /// Unix seconds after which it is refused.
    pub(crate) expires_at: i64,
    /// Spent once.
    pub(crate) nonce: String,
    /// The keys of the questions asked with it.
    pub(crate) asked: Vec<String>,
    /// Answers of earlier rounds, by key.
    pub(crate) answers: Map<String, Value>,
}

/// The kind every request state carries.
const KIND: &str = "mcpgen/request-state";

impl RequestState {
    /// A state for a call of `tool` with `arguments` by `subject`/`client`,
    /// valid for `ttl_secs`, asking `asked`, with earlier `answers`.
    pub(crate) fn new(
        tool: &str,
        arguments: &Value,
        subject: &str,
        client: &str,
        ttl_secs: u64,
        asked: Vec<String>,
        answers: Map<String, Value>,
    ) -> Self {
        Self {
            kind: KIND.to_owned(),
            tool: tool.to_owned(),
            subject: subject.to_owned(),
            client: client.to_owned(),
            arguments: arguments_hash(arguments),
            expires_at: now().saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
            nonce: super::signer::random_token(18),
            asked,
            answers,
        }
    }
}

/// Why a state is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateRefused {
    /// Its seal does not hold, or it is not a request state.
    Forged,
    /// It is for another tool, other arguments, or another caller.
    Mismatch,
    /// Its time is up.
    Expired,
    /// It was answered already.
    Reused,
}

/// Seals request states and spends their nonces.
#[derive(Debug, Default)]
pub(crate) struct RequestStates {
    key: OnceCell<Sealer>,
    /// Nonces spent, for a server without a database (one process).
    spent: Mutex<HashMap<String, i64>>,
}

impl RequestStates {
    /// The sealer: the database's shared key, or (no database: one
    /// process) a key of this process.
    async fn sealer(&self, db: Option<&Db>) -> Result<&Sealer, DbError> {
        self.key
            .get_or_try_init(|| async {
                match db {
                    Some(db) => Sealer::shared(db, "request_state_key").await,
                    None => Ok(Sealer::random()),
                }
            })
            .await
    }

    /// Seal `state`.
    pub(crate) async fn seal(
        &self,
        db: Option<&Db>,
        state: &RequestState,
    ) -> Result<String, DbError> {
        let payload = serde_json::to_value(state).unwrap_or(Value::Null);
        Ok(self.sealer(db).await?.seal(&payload))
    }

    /// Open `sealed` for a call of `tool` with `arguments` by
    /// `subject`/`client`, and spend it: the state, or why it is refused.
    pub(crate) async fn redeem(
        &self,
        db: Option<&Db>,
        sealed: &str,
        tool: &str,
        arguments: &Value,
        subject: &str,
        client: &str,
    ) -> Result<Result<RequestState, StateRefused>, DbError> {
        let sealer = self.sealer(db).await?;
        let Some(state) = sealer
            .unseal(sealed)
            .and_then(|v| serde_json::from_value::<RequestState>(v).ok())
            .filter(|s| s.kind == KIND)
        else {
            return Ok(Err(StateRefused::Forged));
        };
        if state.tool != tool
            || state.subject != subject
            || state.client != client
            || state.arguments != arguments_hash(arguments)
        {
            return Ok(Err(StateRefused::Mismatch));
        }
        if state.expires_at < now() {
            return Ok(Err(StateRefused::Expired));
        }
        let fresh = match db {
            Some(db) => crate::store::spend(db, &state.nonce, state.expires_at).await?,
            None => {
                let mut spent = self
                    .spent
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let t = now();
                spent.retain(|_, until| *until >= t);
                spent
                    .insert(state.nonce.clone(), state.expires_at)
                    .is_none()
            }
        };
        Ok(if fresh {
            Ok(state)
        } else {
            Err(StateRefused::Reused)
        })
    }
}

/// SHA-256 of `value` written as canonical JSON (object keys sorted at
/// every depth, no spaces), hex.
pub(crate) fn arguments_hash(value: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(&m[k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    write(value, &mut text);
    hex(digest::digest(&digest::SHA256, text.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_arguments_hash_ignores_key_order_and_nothing_else() {
        let a = arguments_hash(&json!({"title": "t", "body": {"x": 1, "y": [1, 2]}}));
        let b = arguments_hash(&json!({"body": {"y": [1, 2], "x": 1}, "title": "t"}));
        assert_eq!(a, b);
        assert_ne!(
            a,
            arguments_hash(&json!({"title": "t", "body": {"x": 1, "y": [2, 1]}}))
        );
        assert_ne!(
            a,
            arguments_hash(&json!({"title": "u", "body": {"x": 1, "y": [1, 2]}}))
        );
    }

    #[tokio::test]
    async fn a_state_is_redeemed_once_for_its_own_call_only() {
        let states = RequestStates::default();
        let args = json!({"title": "t"});
        let state = RequestState::new(
            "create",
            &args,
            "alice",
            "",
            60,
            vec!["confirm".into()],
            Map::new(),
        );
        let sealed = states.seal(None, &state).await.unwrap();
        let redeem = |tool: &'static str, args: Value, subject: &'static str, sealed: String| {
            let states = &states;
            async move {
                states
                    .redeem(None, &sealed, tool, &args, subject, "")
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            redeem("create", json!({"title": "u"}), "alice", sealed.clone()).await,
            Err(StateRefused::Mismatch)
        );
        assert_eq!(
            redeem("create", args.clone(), "bob", sealed.clone()).await,
            Err(StateRefused::Mismatch)
        );
        assert_eq!(
            redeem("delete", args.clone(), "alice", sealed.clone()).await,
            Err(StateRefused::Mismatch)
        );
        let mut forged = sealed.clone();
        forged.insert(3, 'x');
        assert_eq!(
            redeem("create", args.clone(), "alice", forged).await,
            Err(StateRefused::Forged)
        );
        assert_eq!(
            redeem("create", args.clone(), "alice", sealed.clone()).await,
            Ok(state)
        );
        assert_eq!(
            redeem("create", args.clone(), "alice", sealed).await,
            Err(StateRefused::Reused)
        );
        let expired = RequestState {
            expires_at: now() - 1,
            ..RequestState::new("create", &args, "alice", "", 60, vec![], Map::new())
        };
        let sealed = states.seal(None, &expired).await.unwrap();
        assert_eq!(
            redeem("create", args, "alice", sealed).await,
            Err(StateRefused::Expired)
        );
    }
}
