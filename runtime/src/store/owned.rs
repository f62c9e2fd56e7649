//! Ownership, enforced in the query: every read of a record kind declared
//! under `[records.<kind>]` goes through [`OwnedQuery`], whose statement
//! always begins `SELECT … FROM <table> WHERE <owner> = $1` with `$1` bound
//! to the caller's subject. This is the one place that condition is
//! written; `Owned<R>` inputs and `cx.select_owned::<R>()` both come here,
//! so a record owned by someone else is never returned, and looks exactly
//! like one that does not exist.

use std::marker::PhantomData;
use std::sync::Arc;

use super::record::Record;
use super::sqlite_reads::Param;
use super::tx::Tx;
use crate::error::ToolError;
use mcpgen_spec::RecordSpec;

/// A query over the caller's own records of kind `R`: the owner condition
/// is always `$1`, bound to the caller's subject; add a filter and a tail
/// (`ORDER BY ... LIMIT ...`) with further `$N` parameters.
///
/// ```ignore
/// cx.select_owned::<Note>()?
///     .filter("LOWER(title) LIKE $2").bind(pattern)
///     .then("ORDER BY created_at DESC LIMIT $3").bind(limit)
///     .fetch_all().await?
/// ```
pub struct OwnedQuery<'a, R> {
    tx: &'a Tx,
    spec: &'a RecordSpec,
    subject: &'a str,
    filter: Option<String>,
    tail: Option<String>,
    params: Vec<Param>,
    _record: PhantomData<fn() -> R>,
}

/// A value bound to an [`OwnedQuery`] parameter.
#[derive(Debug, Clone)]
pub enum Bind {
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
}

impl From<&str> for Bind {
    fn from(v: &str) -> Self {
        Bind::Text(v.to_owned())
    }
}
impl From<String> for Bind {
    fn from(v: String) -> Self {
        Bind::Text(v)
    }
}
impl From<i64> for Bind {
    fn from(v: i64) -> Self {
        Bind::Int(v)
    }
}

impl<'a, R: Record> OwnedQuery<'a, R> {
    /// The records of `spec` owned by `subject`, in `tx`.
    pub(crate) fn new(tx: &'a Tx, spec: &'a RecordSpec, subject: &'a str) -> Self {
        Self {
            tx,
            spec,
            subject,
            filter: None,
            tail: None,
            params: Vec::new(),
            _record: PhantomData,
        }
    }

    /// An extra condition, ANDed with the owner condition, e.g.
    /// `"title LIKE $2"`.
    pub fn filter(mut self, sql: &str) -> Self {
        self.filter = Some(sql.to_owned());
        self
    }

    /// What follows the conditions, e.g. `"ORDER BY created_at DESC LIMIT $3"`.
    pub fn then(mut self, sql: &str) -> Self {
        self.tail = Some(sql.to_owned());
        self
    }

    /// Bind the next parameter (`$2`, `$3`, ...).
    pub fn bind(mut self, value: impl Into<Bind>) -> Self {
        self.params.push(match value.into() {
            Bind::Text(s) => Param::Text(Arc::new(s)),
            Bind::Int(i) => Param::BigInt(i),
        });
        self
    }

    /// Every matching record the caller owns: the record's own columns
    /// ([`Record::SELECT`]), read by position.
    pub async fn fetch_all(self) -> Result<Vec<R>, ToolError> {
        let tx = self.tx;
        let (sql, params) = self.into_parts(R::SELECT);
        tx.fetch(sql, params, R::from_columns).await
    }

    /// How many matching records the caller owns.
    pub async fn count(self) -> Result<i64, ToolError> {
        let tx = self.tx;
        let (sql, params) = self.into_parts("COUNT(*)");
        tx.fetch(sql, params, |row| sqlx::Row::try_get::<i64, _>(row, 0))
            .await?
            .first()
            .copied()
            .ok_or_else(|| ToolError::Internal("COUNT(*) returned no row".into()))
    }

    /// The record with id `id`, if the caller owns it: `None` for a record
    /// of another owner exactly as for one that does not exist.
    pub(crate) async fn by_id<Id>(self, id: Id) -> Result<Option<R>, ToolError>
    where
        Id: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send,
    {
        let mut args = sqlx::any::AnyArguments::default();
        sqlx::Arguments::add(&mut args, id).map_err(|e| {
            tracing::error!(error = %e, "cannot bind a record id");
            ToolError::Internal("cannot bind the record id".into())
        })?;
        let mut query = self;
        let n = query.params.len() + 2;
        query.filter = Some(format!("{} = ${n}", query.spec.id));
        query.params.append(&mut args.values.0);
        Ok(query.fetch_all().await?.into_iter().next())
    }

    /// The statement and its parameters: `$1` the subject, then the bound
    /// values, moved rather than copied.
    fn into_parts(self, select: &str) -> (String, Vec<Param>) {
        let mut sql = format!(
            "SELECT {select} FROM {} WHERE {} = $1",
            self.spec.table, self.spec.owner
        );
        if let Some(filter) = &self.filter {
            sql.push_str(" AND (");
            sql.push_str(filter);
            sql.push(')');
        }
        if let Some(tail) = &self.tail {
            sql.push(' ');
            sql.push_str(tail);
        }
        let mut params = Vec::with_capacity(1 + self.params.len());
        params.push(Param::Text(Arc::new(self.subject.to_owned())));
        params.extend(self.params);
        (sql, params)
    }
}

/// The ids (as text) of the caller's records of `spec` that begin with
/// `prefix`, in order, at most `limit`: what completing an owned id offers.
/// The owner condition is `$1`, as in every query here.
pub(crate) async fn owned_ids(
    tx: &Tx,
    spec: &RecordSpec,
    subject: &str,
    prefix: &str,
    limit: i64,
) -> Result<Vec<String>, ToolError> {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    let sql = format!(
        "SELECT CAST({id} AS TEXT) FROM {table} WHERE {owner} = $1 \
         AND CAST({id} AS TEXT) LIKE ($2 || '') ESCAPE '\\' ORDER BY 1 LIMIT ($3 + 0)",
        id = spec.id,
        table = spec.table,
        owner = spec.owner
    );
    let params = vec![
        Param::Text(Arc::new(subject.to_owned())),
        Param::Text(Arc::new(pattern)),
        Param::BigInt(limit),
    ];
    tx.fetch(sql, params, |row| sqlx::Row::try_get::<String, _>(row, 0))
        .await
}
