//! An unknown key, a tool with no scope and a misspelt handler: one build
//! reports all three.

use mcpgen::{ReadCx, ToolResult, WriteCx};

#[mcpgen::input]
pub struct Query {
    pub text: String,
}

#[mcpgen::output]
pub struct Found {
    pub count: u32,
}

pub struct Items;

#[mcpgen::tools(manifest = "unknown_key_does_not_hide_the_rest.toml")]
impl Items {
    #[tool]
    async fn find_items(&self, _cx: ReadCx<'_>, _input: Query) -> ToolResult<Found> {
        Ok(Found { count: 0 })
    }

    #[tool]
    async fn add_itme(&self, _cx: WriteCx<'_>, _input: Query) -> ToolResult<Found> {
        Ok(Found { count: 1 })
    }
}

fn main() {}
