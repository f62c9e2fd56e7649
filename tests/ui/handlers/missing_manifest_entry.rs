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

impl Record for Item {
    const KIND: &'static str = "item";
    type Id = i64;
}

impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for Item {
    fn from_row(row: &'r sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row as _;
        Ok(Self { id: row.try_get("id")?, text: row.try_get("text")? })
    }
}

pub struct Items;

#[mcpgen::tools(manifest = "missing_manifest_entry.toml")]
impl Items {
    #[tool]
    async fn find_items(&self, _cx: ReadCx<'_>, _input: Query) -> ToolResult<Vec<Item>> {
        Ok(Vec::new())
    }

    #[tool]
    async fn delete_item(&self, _cx: WriteCx<'_>, _item: Owned<Item>) -> ToolResult<Item> {
        unimplemented!()
    }
}

fn main() {}
