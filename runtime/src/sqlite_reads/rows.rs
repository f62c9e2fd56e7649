//! SQLite rows as sqlx builds them: statements bound the way sqlx's SQLite
//! driver binds them (`$N`, `?N`, `?`), and each row returned as an
//! [`AnyRow`] whose values are typed by what SQLite stored, so a record's
//! `FromRow` reads them exactly as it reads sqlx's.

use std::sync::Arc;

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use sqlx_core::any::{AnyColumn, AnyRow, AnyTypeInfo, AnyTypeInfoKind, AnyValue, AnyValueKind};
use sqlx_core::ext::ustr::UStr;

use super::{Param, ReadError};

/// Prepare (from the connection's cache), bind and run one statement.
pub(super) fn run(
    conn: &Connection,
    sql: &str,
    params: &[Param],
) -> Result<Vec<AnyRow>, ReadError> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, params)?;
    let columns = stmt.column_count();
    let mut names = sqlx_core::HashMap::with_capacity_and_hasher(columns, Default::default());
    let mut declared = Vec::with_capacity(columns);
    for (i, column) in stmt.columns().iter().enumerate() {
        names.insert(UStr::new(column.name()), i);
        declared.push((
            UStr::new(column.name()),
            column.decl_type().and_then(declared_kind),
        ));
    }
    let names = Arc::new(names);
    let mut out = Vec::new();
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next()? {
        let mut row_out = AnyRow {
            column_names: Arc::clone(&names),
            columns: Vec::with_capacity(columns),
            values: Vec::with_capacity(columns),
        };
        for (i, (name, declared)) in declared.iter().enumerate() {
            let kind = match row.get_ref(i)? {
                ValueRef::Null => AnyValueKind::Null(declared.unwrap_or(AnyTypeInfoKind::Null)),
                ValueRef::Integer(v) => AnyValueKind::BigInt(v),
                ValueRef::Real(v) => AnyValueKind::Double(v),
                ValueRef::Text(v) => AnyValueKind::Text(Arc::new(
                    String::from_utf8(v.to_vec())
                        .map_err(|_| ReadError::Decode(format!("column {name} is not UTF-8")))?,
                )),
                ValueRef::Blob(v) => AnyValueKind::Blob(Arc::new(v.to_vec())),
            };
            let value_kind = value_type(&kind);
            row_out.columns.push(AnyColumn {
                ordinal: i,
                name: name.clone(),
                type_info: AnyTypeInfo {
                    kind: declared.unwrap_or(value_kind),
                },
            });
            row_out.values.push(AnyValue { kind });
        }
        out.push(row_out);
    }
    Ok(out)
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

fn value_type(kind: &AnyValueKind) -> AnyTypeInfoKind {
    match kind {
        AnyValueKind::Null(_) => AnyTypeInfoKind::Null,
        AnyValueKind::BigInt(_) => AnyTypeInfoKind::BigInt,
        AnyValueKind::Double(_) => AnyTypeInfoKind::Double,
        AnyValueKind::Text(_) => AnyTypeInfoKind::Text,
        _ => AnyTypeInfoKind::Blob,
    }
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
