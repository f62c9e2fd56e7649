//! Asking the person using the client (elicitation, form mode): a
//! handler's questions ([`Elicitation`], answered by an [`Answer`]), and the
//! two ways the runtime puts them to the client.
//!
//! - 2026-07-28 ([`Rounds`]): a question not yet answered ends the call
//!   with `input_required`; the client retries the call with the answers,
//!   and the handler runs again from the start, this time finding them.
//! - 2025-11-25 ([`Stream`]): an `elicitation/create` request on the
//!   call's event stream; the client posts the answer back, and
//!   [`Pending`] hands it to the waiting call (on this instance).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};

/// A question for the person using the client: a message and the form
/// (a flat JSON Schema object of strings, numbers, booleans and enums) the
/// answer fills in.
///
/// ```
/// # use serde_json::json;
/// let q = mcpgen::Elicitation::new(
///     "Which folder?",
///     json!({"type": "object", "properties": {"folder": {"type": "string"}}, "required": ["folder"]}),
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Elicitation {
    message: String,
    requested_schema: Value,
}

impl Elicitation {
    /// Ask `message`, with the answer's form `requested_schema`.
    pub fn new(message: impl Into<String>, requested_schema: Value) -> Self {
        Self {
            message: message.into(),
            requested_schema,
        }
    }

    /// The message shown to the person.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The `elicitation/create` params (`mode` only where the revision
    /// has it).
    pub(crate) fn params(&self, modern: bool) -> Value {
        let mut p = json!({"message": self.message, "requestedSchema": self.requested_schema});
        if modern {
            p["mode"] = "form".into();
        }
        p
    }

    /// The `elicitation/create` request, as an entry of `inputRequests`.
    pub(crate) fn input_request(&self) -> Value {
        json!({"method": "elicitation/create", "params": self.params(true)})
    }
}

/// The person's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// They submitted the form, with these values.
    Accept(Map<String, Value>),
    /// They said no.
    Decline,
    /// They dismissed the question without answering.
    Cancel,
}

impl Answer {
    /// An `ElicitResult` (`{"action": ..., "content": {...}}`), if it is one.
    pub(crate) fn parse(result: &Value) -> Option<Self> {
        match result.get("action")?.as_str()? {
            "accept" => Some(Self::Accept(match result.get("content") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(c)) => c.clone(),
                Some(_) => return None,
            })),
            "decline" => Some(Self::Decline),
            "cancel" => Some(Self::Cancel),
            _ => None,
        }
    }

    /// `accept`, `decline` or `cancel`.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Accept(_) => "accept",
            Self::Decline => "decline",
            Self::Cancel => "cancel",
        }
    }
}

/// Why a question got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unanswered {
    /// 2026-07-28: not answered yet; the call ends with `input_required`.
    InputRequired,
    /// The client cannot ask (no elicitation capability, or it refused the
    /// request).
    Unable,
    /// The client's answer is not an `ElicitResult`.
    Malformed,
}

/// How this call's questions reach the client.
#[derive(Debug)]
pub(crate) enum Asker {
    /// 2026-07-28: answers come with the retry.
    Rounds(Rounds),
    /// 2025-11-25: requests on the call's event stream.
    Stream(Stream),
}

impl Asker {
    /// A 2026-07-28 round that must end with its questions: those asked,
    /// and the answers so far (for the next request state). `None` for a
    /// stream, which waits for its answers instead.
    pub(crate) fn unanswered(&self) -> Option<(Map<String, Value>, Map<String, Value>)> {
        match self {
            Asker::Rounds(r) => Some((r.take_asked(), r.answers.clone())),
            Asker::Stream(_) => None,
        }
    }

    /// Put `question` to the client under `key` (or the next numbered
    /// key), and wait for the answer where the transport can.
    pub(crate) async fn ask(
        &self,
        key: Option<&str>,
        question: &Elicitation,
    ) -> Result<Answer, Unanswered> {
        match self {
            Asker::Rounds(r) => r.ask(key, question),
            Asker::Stream(s) => s.ask(question).await,
        }
    }
}

/// One round of a 2026-07-28 call: the answers it came with, and the
/// questions it asks now.
#[derive(Debug, Default)]
pub(crate) struct Rounds {
    answers: Map<String, Value>,
    asked: Mutex<Map<String, Value>>,
    next: AtomicUsize,
}

impl Rounds {
    /// A round with the `answers` of the rounds before it.
    pub(crate) fn new(answers: Map<String, Value>) -> Self {
        Self {
            answers,
            ..Self::default()
        }
    }

    fn ask(&self, key: Option<&str>, question: &Elicitation) -> Result<Answer, Unanswered> {
        let key = match key {
            Some(k) => k.to_owned(),
            None => format!("q{}", self.next.fetch_add(1, Ordering::Relaxed) + 1),
        };
        if let Some(answer) = self.answers.get(&key) {
            return Answer::parse(answer).ok_or(Unanswered::Malformed);
        }
        self.asked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, question.input_request());
        Err(Unanswered::InputRequired)
    }

    /// The questions asked this round, by key.
    fn take_asked(&self) -> Map<String, Value> {
        std::mem::take(
            &mut self
                .asked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// Questions as requests on a 2025-11-25 call's event stream.
#[derive(Debug)]
pub(crate) struct Stream {
    tx: mpsc::UnboundedSender<Value>,
    pending: Arc<Pending>,
    subject: String,
    wait: Duration,
}

impl Stream {
    /// Requests go to `tx`; answers come back through `pending`, from the
    /// same `subject`, within `wait`.
    pub(crate) fn new(
        tx: mpsc::UnboundedSender<Value>,
        pending: Arc<Pending>,
        subject: &str,
        wait: Duration,
    ) -> Self {
        Self {
            tx,
            pending,
            subject: subject.to_owned(),
            wait,
        }
    }

    async fn ask(&self, question: &Elicitation) -> Result<Answer, Unanswered> {
        let (id, answer, _waiting) = self.pending.wait(&self.subject);
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "elicitation/create",
                             "params": question.params(false)});
        if self.tx.send(request).is_err() {
            return Err(Unanswered::Unable);
        }
        match tokio::time::timeout(self.wait, answer).await {
            Ok(Ok(Ok(result))) => Answer::parse(&result).ok_or(Unanswered::Malformed),
            // The client answered with an error: it cannot ask.
            Ok(Ok(Err(_))) => Err(Unanswered::Unable),
            // Nobody answered in time (or the server is stopping): as if
            // the person dismissed the question.
            Ok(Err(_)) | Err(_) => Ok(Answer::Cancel),
        }
    }
}

type Waiting = HashMap<String, (String, oneshot::Sender<Result<Value, Value>>)>;

/// Requests sent to clients and not yet answered, on this instance: by
/// request id, the subject who must answer and where the answer goes.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    waiting: Mutex<Waiting>,
}

/// Removes a request from [`Pending`] when its call stops waiting.
struct Unregister<'a> {
    pending: &'a Pending,
    id: String,
}

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.pending.lock().remove(&self.id);
    }
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A fresh, unguessable request id for `subject`, and where its answer
    /// arrives; the id is forgotten when the guard drops.
    fn wait(
        &self,
        subject: &str,
    ) -> (
        String,
        oneshot::Receiver<Result<Value, Value>>,
        Unregister<'_>,
    ) {
        let mut b = [0u8; 18];
        // Without randomness no request id may be made at all.
        aws_lc_rs::rand::fill(&mut b).expect("the system random number generator is unavailable");
        let id = format!(
            "elicit-{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        );
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id.clone(), (subject.to_owned(), tx));
        let guard = Unregister {
            pending: self,
            id: id.clone(),
        };
        (id, rx, guard)
    }

    /// Deliver the answer (`Ok(result)` or `Err(error)`) to request `id`
    /// from `subject`. False when no request of that subject waits under
    /// that id (answered already, timed out, another instance's, or
    /// someone else's).
    pub(crate) fn answer(&self, id: &str, subject: &str, outcome: Result<Value, Value>) -> bool {
        let mut waiting = self.lock();
        match waiting.get(id) {
            Some((owner, _)) if owner == subject => {}
            _ => return false,
        }
        let Some((_, tx)) = waiting.remove(id) else {
            return false;
        };
        tx.send(outcome).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_reaches_only_its_own_subject_s_question() {
        let pending = Arc::new(Pending::default());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let stream = Stream::new(tx, Arc::clone(&pending), "alice", Duration::from_secs(5));
        let q = Elicitation::new("Sure?", json!({"type": "object", "properties": {}}));
        let asking = tokio::spawn(async move { stream.ask(&q).await });
        let request = rx.recv().await.unwrap();
        let id = request["id"].as_str().unwrap().to_owned();
        assert_eq!(request["method"], "elicitation/create");
        assert_eq!(request["params"]["message"], "Sure?");
        assert!(!pending.answer(&id, "mallory", Ok(json!({"action": "accept"}))));
        assert!(!pending.answer("elicit-guess", "alice", Ok(json!({"action": "accept"}))));
        assert!(pending.answer(&id, "alice", Ok(json!({"action": "decline"}))));
        assert_eq!(asking.await.unwrap(), Ok(Answer::Decline));
        // Answered once: the id is gone.
        assert!(!pending.answer(&id, "alice", Ok(json!({"action": "accept"}))));
    }

    #[test]
    fn rounds_find_answers_by_key_and_collect_new_questions() {
        let q = Elicitation::new("Sure?", json!({"type": "object", "properties": {}}));
        let mut answers = Map::new();
        answers.insert(
            "q1".into(),
            json!({"action": "accept", "content": {"x": 1}}),
        );
        let round = Rounds::new(answers);
        let mut content = Map::new();
        content.insert("x".into(), json!(1));
        assert_eq!(round.ask(None, &q), Ok(Answer::Accept(content)));
        assert_eq!(round.ask(None, &q), Err(Unanswered::InputRequired));
        let asked = Asker::Rounds(round).unanswered().unwrap().0;
        assert_eq!(asked.keys().collect::<Vec<_>>(), ["q2"]);
        assert_eq!(asked["q2"]["method"], "elicitation/create");
        assert_eq!(asked["q2"]["params"]["mode"], "form");
    }
}
