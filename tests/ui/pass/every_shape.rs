//! Every handler shape the macro accepts, and the registry it generates.

use mcpgen::spec::Access;
use mcpgen::{Owned, ReadCx, Record, ToolResult, Tools, WriteCx};
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


#[derive(Serialize, JsonSchema)]
pub struct Clock {
    pub unix_seconds: u64,
}

pub struct Items;

#[mcpgen::tools(manifest = "every_shape.toml")]
impl Items {
    /// A dotted tool name needs `name = ...`: Rust names cannot hold dots.
    #[tool(name = "items.find")]
    async fn find(&self, _cx: ReadCx<'_>, _input: Query) -> ToolResult<Vec<Item>> {
        Ok(Vec::new())
    }

    #[tool]
    async fn get_item(&self, _cx: ReadCx<'_>, item: Owned<Item>) -> ToolResult<Item> {
        Ok(item.into_inner())
    }

    #[tool]
    async fn add_item(&self, _cx: WriteCx<'_>, input: Query) -> ToolResult<Item> {
        Ok(Item { id: 1, text: input.text })
    }

    /// No input at all.
    #[tool]
    async fn server_time(&self, _cx: ReadCx<'_>) -> ToolResult<Clock> {
        Ok(Clock { unix_seconds: 0 })
    }

    /// Methods without `#[tool]` are left alone.
    fn helper(&self) -> u8 {
        7
    }
}

fn main() {
    assert_eq!(Items.helper(), 7);
    let names: Vec<&str> = Items::definitions()
        .iter()
        .map(|d| &*d.spec.name)
        .collect();
    assert_eq!(names, ["add_item", "get_item", "items.find", "server_time"]);
    let add = &Items::definitions()[0].spec;
    assert_eq!(add.access, Access::Write);
    assert_eq!(*add.scopes, ["items:read", "items:write"]);
    assert_eq!(add.annotations.idempotent_hint, Some(true));
    assert_eq!(add.annotations.destructive_hint, Some(false));
    let confirm = add.confirm.as_ref().expect("confirm");
    assert_eq!(confirm.fields(), ["text"]);
    assert_eq!(
        confirm.without_elicitation,
        mcpgen::spec::WithoutElicitation::Allow
    );
    let time = &Items::definitions()[3].spec;
    assert!(time.public && time.scopes.is_empty());
    assert_eq!(Items::definitions()[1].spec.record.as_deref(), Some("item"));
    let preview = &Items::manifest().environments[0];
    assert_eq!((&*preview.name, preview.writes), ("local", true));
    assert!(!Items::manifest().environments[1].writes);
    // Items' output schema is an array, which legacy MCP clients cannot
    // take; the registry says so by name.
    let err = Items::registry().err().expect("an array output is refused");
    assert!(err.to_string().contains("tool `items.find`"), "{err}");
}
