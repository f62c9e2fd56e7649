//! Record kinds: a table of rows, each owned by a subject, declared under
//! `[records.<kind>]` in the manifest.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// A record kind with an ownership rule, declared in the manifest under
/// `[records.<KIND>]`. Derive it: the struct's fields are the columns the
/// runtime's own queries select, in order, and the manifest's `id` column
/// is its id.
///
/// ```ignore
/// #[mcpgen::output]
/// #[derive(mcpgen::Record)]
/// pub struct Note {
///     pub id: String,
///     pub title: String,
///     pub created_at: i64,
/// }
/// ```
///
/// The derive also implements sqlx's `FromRow` (by column name), for
/// queries of the handler's own. Written by hand, `SELECT` lists the columns
/// `from_columns` reads by position.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an mcpgen record",
    note = "derive it: `#[derive(mcpgen::Record)]` on a struct whose fields are the columns of a `[records.<kind>]` table"
)]
pub trait Record: Send + Sync + Unpin + Sized + 'static {
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
    /// The columns the runtime's queries select, comma-separated, in the
    /// order [`Record::from_columns`] reads them.
    const SELECT: &'static str;

    /// The record from a row of [`Record::SELECT`], read by position.
    fn from_columns(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error>;
}
