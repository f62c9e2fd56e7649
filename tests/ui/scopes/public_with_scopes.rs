#![allow(unused_imports, dead_code)]

use mcpgen::{Owned, ReadCx, Record, ToolResult, WriteCx};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Query {
    pub text: String,
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Item {
    pub id: i64,
    pub text: String,
}

// Written by hand, as a product may (the derive reads the manifest).
impl Record for Item {
    const KIND: &'static str = "item";
    type Id = i64;
    const SELECT: &'static str = "id, text";
    fn from_columns(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row as _;
        Ok(Self { id: row.try_get(0)?, text: row.try_get(1)? })
    }
}


pub struct Items;

#[mcpgen::tools(manifest = "public_with_scopes.toml")]
impl Items {
    #[tool]
    async fn find_items(&self, _cx: ReadCx<'_>, _input: Query) -> ToolResult<Vec<Item>> {
        Ok(Vec::new())
    }
}

fn main() {}
