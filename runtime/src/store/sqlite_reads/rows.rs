//! SQLite rows as sqlx builds them: statements bound the way sqlx's SQLite
//! driver binds them (`$N`, `?N`, `?`), and each row handed to the caller's
//! decoder as an [`AnyRow`] whose values are typed by what SQLite stored,
//! so a record's `FromRow` reads them exactly as it reads sqlx's.
//!
//! One `AnyRow` serves every row of a statement: its columns are built
//! once, and each text or blob value is copied into the buffer the
//! previous row's value left, when the decoder kept no reference to it.
//! (A row of its own per result row cost a vector of columns, a vector of
//! values and two allocations per text value, all freed again once the
//! record had copied what it needed: 13 allocations per row of the example
//! app's notes, about 5% of a read tool call's CPU.)

use std::sync::Arc;

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use sqlx_core::any::{AnyColumn, AnyRow, AnyTypeInfo, AnyTypeInfoKind, AnyValue, AnyValueKind};
use sqlx_core::ext::ustr::UStr;

/// A parameter value, as sqlx's `Any` arguments hold it.
pub(crate) type Param = AnyValueKind;

/// A read that failed. The message is for the log only: it can name the
/// file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Decode(String),
    #[error("the blocking pool is gone")]
    ShutDown,
}

/// What `run` knows of a statement's result columns, built once per
/// statement and connection: the names and types each row carries.
pub(super) struct Shape {
    /// Column name to index, shared by every row.
    names: Arc<sqlx_core::HashMap<UStr, usize>>,
    /// Each column's name and the type its declaration gives.
    declared: Vec<(UStr, Option<AnyTypeInfoKind>)>,
    /// The declared types as SQLite reports them, to notice a statement
    /// SQLite prepared again after a schema change.
    decl_types: Vec<Option<Box<str>>>,
}

impl Shape {
    fn of(stmt: &rusqlite::Statement<'_>) -> Self {
        let columns = stmt.columns();
        let mut names =
            sqlx_core::HashMap::with_capacity_and_hasher(columns.len(), Default::default());
        let mut declared = Vec::with_capacity(columns.len());
        let mut decl_types = Vec::with_capacity(columns.len());
        for (i, column) in columns.iter().enumerate() {
            let name = UStr::new(column.name());
            names.insert(name.clone(), i);
            declared.push((name, column.decl_type().and_then(declared_kind)));
            decl_types.push(column.decl_type().map(Box::from));
        }
        Self {
            names: Arc::new(names),
            declared,
            decl_types,
        }
    }

    /// Whether `stmt` still returns these columns (a migration that adds a
    /// column changes what `SELECT *` returns).
    fn fits(&self, stmt: &rusqlite::Statement<'_>) -> bool {
        let columns = stmt.columns();
        columns.len() == self.declared.len()
            && columns
                .iter()
                .zip(self.declared.iter().zip(&self.decl_types))
                .all(|(c, ((name, _), decl))| {
                    c.name() == &**name && c.decl_type() == decl.as_deref()
                })
    }
}

/// The shapes of one connection's statements, by SQL text; as many as the
/// connection keeps prepared.
#[derive(Default)]
pub(super) struct Shapes(sqlx_core::HashMap<Box<str>, Shape>);

/// Statements a connection keeps prepared, and shapes it remembers.
pub(super) const STATEMENTS: usize = 64;

impl Shapes {
    fn get(&mut self, sql: &str, stmt: &rusqlite::Statement<'_>) -> &Shape {
        let fits = self.0.get(sql).is_some_and(|shape| shape.fits(stmt));
        if !fits {
            if self.0.len() >= STATEMENTS {
                self.0.clear();
            }
            self.0.insert(sql.into(), Shape::of(stmt));
        }
        &self.0[sql]
    }
}

/// What the caller makes of each row (a record's `FromRow`, say). It gets
/// the row by reference: what it keeps, it copies.
pub(crate) type Decode<T> = fn(&AnyRow) -> Result<T, sqlx::Error>;

/// Prepare (from the connection's cache), bind and run one statement, and
/// decode each of its rows.
pub(super) fn run<T>(
    conn: &Connection,
    shapes: &mut Shapes,
    sql: &str,
    params: &[Param],
    decode: Decode<T>,
) -> Result<Vec<T>, ReadError> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, params)?;
    let mut rows = stmt.raw_query();
    let Some(first) = rows.next()? else {
        return Ok(Vec::new());
    };
    // Known only once the statement has run: SQLite prepares it again on
    // its first step if the schema changed since.
    let shape = shapes.get(sql, first.as_ref());
    let mut row = shape.row();
    let decoded = |row: &AnyRow| decode(row).map_err(|e| ReadError::Decode(e.to_string()));
    fill(&mut row, first, shape)?;
    let mut out = vec![decoded(&row)?];
    while let Some(next) = rows.next()? {
        fill(&mut row, next, shape)?;
        out.push(decoded(&row)?);
    }
    Ok(out)
}

impl Shape {
    /// A row of this shape, every value NULL until [`fill`]ed. Each column
    /// is typed by its declaration, as sqlx's SQLite driver types it: a
    /// column with none (an expression) is typed NULL, whatever its values.
    fn row(&self) -> AnyRow {
        let columns = self
            .declared
            .iter()
            .enumerate()
            .map(|(i, (name, declared))| AnyColumn {
                ordinal: i,
                name: name.clone(),
                type_info: AnyTypeInfo {
                    kind: declared.unwrap_or(AnyTypeInfoKind::Null),
                },
            })
            .collect();
        let values = self
            .declared
            .iter()
            .map(|_| AnyValue {
                kind: AnyValueKind::Null(AnyTypeInfoKind::Null),
            })
            .collect();
        AnyRow {
            column_names: Arc::clone(&self.names),
            columns,
            values,
        }
    }
}

/// Put `row`'s values into `out` (a row of `shape`) as sqlx's SQLite driver
/// builds them, each value typed by what SQLite stored. Text and blobs go
/// into the buffers `out` already holds when nothing else shares them.
fn fill(out: &mut AnyRow, row: &rusqlite::Row<'_>, shape: &Shape) -> Result<(), ReadError> {
    for (i, ((name, declared), value)) in
        shape.declared.iter().zip(out.values.iter_mut()).enumerate()
    {
        let slot = &mut value.kind;
        match row.get_ref(i)? {
            ValueRef::Null => {
                *slot = AnyValueKind::Null(declared.unwrap_or(AnyTypeInfoKind::Null));
            }
            ValueRef::Integer(v) => *slot = AnyValueKind::BigInt(v),
            ValueRef::Real(v) => *slot = AnyValueKind::Double(v),
            ValueRef::Text(v) => {
                let text = std::str::from_utf8(v)
                    .map_err(|_| ReadError::Decode(format!("column {name} is not UTF-8")))?;
                if let AnyValueKind::Text(held) = slot
                    && let Some(buffer) = Arc::get_mut(held)
                {
                    buffer.clear();
                    buffer.push_str(text);
                } else {
                    *slot = AnyValueKind::Text(Arc::new(text.to_owned()));
                }
            }
            ValueRef::Blob(v) => {
                if let AnyValueKind::Blob(held) = slot
                    && let Some(buffer) = Arc::get_mut(held)
                {
                    buffer.clear();
                    buffer.extend_from_slice(v);
                } else {
                    *slot = AnyValueKind::Blob(Arc::new(v.to_vec()));
                }
            }
        }
    }
    Ok(())
}

/// Bind `params` the way sqlx's SQLite driver does: `$N` and `?N` take
/// `params[N - 1]`, a bare `?` the next one.
fn bind(stmt: &mut rusqlite::CachedStatement<'_>, params: &[Param]) -> Result<(), ReadError> {
    let mut next = 0;
    for index in 1..=stmt.parameter_count() {
        let n = match stmt.parameter_name(index) {
            Some(name) => name
                .strip_prefix('$')
                .or_else(|| name.strip_prefix('?'))
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| {
                    ReadError::Decode(format!("unsupported parameter `{name}`: write $1, $2, ..."))
                })?,
            None => {
                next += 1;
                next
            }
        };
        let value = n
            .checked_sub(1)
            .and_then(|i| params.get(i))
            .ok_or_else(|| ReadError::Decode(format!("no value bound for parameter ${n}")))?;
        match value {
            AnyValueKind::Null(_) => stmt.raw_bind_parameter(index, rusqlite::types::Null)?,
            AnyValueKind::Bool(v) => stmt.raw_bind_parameter(index, i32::from(*v))?,
            AnyValueKind::SmallInt(v) => stmt.raw_bind_parameter(index, v)?,
            AnyValueKind::Integer(v) => stmt.raw_bind_parameter(index, v)?,
            AnyValueKind::BigInt(v) => stmt.raw_bind_parameter(index, v)?,
            AnyValueKind::Real(v) => stmt.raw_bind_parameter(index, f64::from(*v))?,
            AnyValueKind::Double(v) => stmt.raw_bind_parameter(index, v)?,
            AnyValueKind::Text(v) => stmt.raw_bind_parameter(index, v.as_str())?,
            AnyValueKind::TextSlice(v) => stmt.raw_bind_parameter(index, &**v)?,
            AnyValueKind::Blob(v) => stmt.raw_bind_parameter(index, v.as_slice())?,
            other => {
                return Err(ReadError::Decode(format!(
                    "cannot bind {other:?} to an SQLite parameter"
                )));
            }
        }
    }
    Ok(())
}

/// The column type sqlx's SQLite driver gives a declared type.
fn declared_kind(declared: &str) -> Option<AnyTypeInfoKind> {
    let s = declared.to_ascii_lowercase();
    Some(match &*s {
        "int4" => AnyTypeInfoKind::Integer,
        "boolean" | "bool" => AnyTypeInfoKind::Bool,
        _ if s.contains("int") => AnyTypeInfoKind::BigInt,
        _ if s.contains("char") || s.contains("clob") || s.contains("text") => {
            AnyTypeInfoKind::Text
        }
        _ if s.contains("blob") => AnyTypeInfoKind::Blob,
        _ if s.contains("real") || s.contains("floa") || s.contains("doub") => {
            AnyTypeInfoKind::Double
        }
        _ => return None,
    })
}
