#![allow(unused_imports, dead_code)]

use mcpgen::{Owned, PromptMessage, ReadCx, Record, ResourceContents, ToolResult, WriteCx};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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

#[derive(Deserialize, JsonSchema)]
pub struct Args {
    pub topic: Option<String>,
}

pub struct Items;

/// A resource with no scope and not public.
#[mcpgen::tools(manifest = "no_scope.toml")]
impl Items {
    #[resource]
    async fn item(&self, _cx: ReadCx<'_>, id: Owned<Item>) -> ToolResult<ResourceContents> {
        Ok(ResourceContents::text(id.text.clone()))
    }
}

fn main() {}
