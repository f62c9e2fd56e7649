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

pub struct Items;

#[mcpgen::tools(manifest = "public_write.toml")]
impl Items {
    #[tool]
    async fn add_item(&self, _cx: WriteCx<'_>, input: Query) -> ToolResult<Item> {
        Ok(Item { id: 1, text: input.text })
    }
}

fn main() {}
