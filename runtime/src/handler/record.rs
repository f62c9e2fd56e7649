//! Record kinds with an ownership rule, and records loaded for their owner.

use std::ops::Deref;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// A record kind with an ownership rule, declared in the manifest under
/// `[records.<KIND>]`.
///
/// The type reads itself from a row (`#[derive(sqlx::FromRow)]`).
///
/// ```ignore
/// impl mcpgen::Record for Note {
///     const KIND: &'static str = "note";
///     type Id = i64;
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an mcpgen record",
    note = "implement `mcpgen::Record` for `{Self}` with `const KIND` set to a record kind declared under `[records.<kind>]` in the manifest"
)]
pub trait Record:
    for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Sync + Unpin + Sized + 'static
{
    /// The record kind, a key of `[records]` in the manifest.
    const KIND: &'static str;
    /// The type of the record's id, as the caller sends it.
    type Id: DeserializeOwned
        + JsonSchema
        + for<'q> sqlx::Encode<'q, sqlx::Any>
        + sqlx::Type<sqlx::Any>
        + Clone
        + Send
        + Sync
        + 'static;
}

/// A record loaded by the runtime on behalf of the caller, with the owner
/// condition inside the query: a record owned by someone else is
/// indistinguishable from one that does not exist.
///
/// A handler that takes `Owned<Note>` receives an `id` argument (the schema
/// is generated) and never sees the record unless the caller owns it.
#[derive(Debug, Clone)]
pub struct Owned<R: Record> {
    id: R::Id,
    record: R,
}

impl<R: Record> Owned<R> {
    /// A record the runtime loaded for its owner.
    pub(crate) fn new(id: R::Id, record: R) -> Self {
        Self { id, record }
    }

    /// The id the caller asked for.
    pub fn id(&self) -> &R::Id {
        &self.id
    }

    /// The loaded record.
    pub fn into_inner(self) -> R {
        self.record
    }
}

impl<R: Record> Deref for Owned<R> {
    type Target = R;

    fn deref(&self) -> &R {
        &self.record
    }
}
