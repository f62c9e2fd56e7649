use mcpgen::{ReadCx, ToolResult};

#[mcpgen::input]
pub struct Query {
    pub text: String,
}

#[mcpgen::output]
pub struct Found {
    pub count: u32,
}

pub struct Items;

#[mcpgen::tools(manifest = "confirm_on_read_tool.toml")]
impl Items {
    #[tool]
    async fn find_items(&self, _cx: ReadCx<'_>, _input: Query) -> ToolResult<Found> {
        Ok(Found { count: 0 })
    }
}

fn main() {}
