use mcpgen::{ToolResult, WriteCx};

#[mcpgen::input]
pub struct NewItem {
    pub text: String,
}

#[mcpgen::output]
pub struct Added {
    pub id: u32,
}

pub struct Items;

#[mcpgen::tools(manifest = "confirm_unbalanced_brace.toml")]
impl Items {
    #[tool]
    async fn add_item(&self, _cx: WriteCx<'_>, _input: NewItem) -> ToolResult<Added> {
        Ok(Added { id: 1 })
    }
}

fn main() {}
