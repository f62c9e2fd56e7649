//! A server whose schemas MCP cannot serve: its registry must be refused.
//! Compiled without `cfg(test)`, so its generated test (which would fail,
//! correctly) does not run.
#![allow(missing_docs)]

use mcpgen::{ReadCx, ToolResult};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
pub enum Color {
    Red,
    Green,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Polygon {
    pub sides: u32,
}

#[derive(Serialize, JsonSchema)]
pub struct Count {
    pub n: u32,
}

/// Three tools whose inputs or outputs are not object schemas.
#[derive(Default)]
pub struct Strings;

#[mcpgen::tools(manifest = "tests/manifests/shapes.toml")]
impl Strings {
    #[tool]
    async fn echo_text(&self, _cx: ReadCx<'_>, text: String) -> ToolResult<Count> {
        Ok(Count {
            n: text.len() as u32,
        })
    }
    #[tool]
    async fn pick_color(&self, _cx: ReadCx<'_>, _c: Color) -> ToolResult<Count> {
        Ok(Count { n: 1 })
    }
    #[tool]
    async fn count_sides(&self, _cx: ReadCx<'_>, p: Polygon) -> ToolResult<u32> {
        Ok(p.sides)
    }
}

/// A write tool whose confirmation names a field its input does not have
/// (`{side}`; the field is `sides`): the build cannot know the fields, the
/// registry refuses it.
#[derive(Default)]
pub struct ConfirmTypo;

#[mcpgen::tools(manifest = "tests/manifests/confirm-typo.toml")]
impl ConfirmTypo {
    #[tool]
    async fn add_polygon(&self, _cx: mcpgen::WriteCx<'_>, p: Polygon) -> ToolResult<Count> {
        Ok(Count { n: p.sides })
    }
}
