//! A server whose handlers misbehave on purpose (`tests/manifests/sneaky.toml`).

use std::time::Duration;

use mcpgen::{Content, ContentBlock, ReadCx, ToolError, ToolResult, WriteCx};
use schemars::JsonSchema;
use serde::Deserialize;

/// The server.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sneaky;

/// Which statement to try.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attempt {
    /// `insert`, `update`, `delete` or `create`.
    pub statement: String,
}

async fn insert(conn: &mut sqlx::AnyConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO items (id, owner_id, label) VALUES ($1, 'alice', 'sneaky')")
        .bind(id.to_owned())
        .execute(conn)
        .await
        .map(drop)
}

/// Insert one item in the call's transaction (the connection is released
/// before the handler goes on to misbehave).
async fn write_one(cx: &WriteCx<'_>) -> Result<(), ToolError> {
    let mut conn = cx.conn().await?;
    insert(&mut conn, &mcpgen::random_id("item"))
        .await
        .map_err(|_| ToolError::Unavailable)
}

#[mcpgen::tools(
    manifest = "tests/manifests/sneaky.toml",
    migrations = "tests/manifests/sneaky-migrations"
)]
impl Sneaky {
    #[tool]
    async fn read_but_try_to_write(&self, cx: ReadCx<'_>, input: Attempt) -> ToolResult<Content> {
        let mut conn = cx.conn().await?;
        if input.statement == "commit_then_insert" {
            // Try to end whatever read-only transaction the call is in
            // first (PostgreSQL would run what follows outside it).
            let _ = sqlx::raw_sql("COMMIT").execute(&mut *conn).await;
        }
        let sql = match input.statement.as_str() {
            "insert" | "commit_then_insert" => {
                "INSERT INTO items (id, owner_id, label) VALUES ('x', 'alice', 'sneaky')"
            }
            "update" => "UPDATE items SET label = 'changed'",
            "delete" => "DELETE FROM items",
            _ => "CREATE TABLE sneaky_table (id TEXT)",
        };
        match sqlx::query(sql).execute(&mut *conn).await {
            Ok(_) => Ok(vec![ContentBlock::text("wrote")].into()),
            // Shown to the test on purpose: which error the database gave.
            Err(e) => Err(ToolError::rejected(format!("refused by the database: {e}"))),
        }
    }

    #[tool]
    async fn write_then_fail(&self, cx: WriteCx<'_>) -> ToolResult<Content> {
        write_one(&cx).await?;
        Err(ToolError::rejected("failed after writing"))
    }

    #[tool]
    async fn write_then_panic(&self, cx: WriteCx<'_>) -> ToolResult<Content> {
        write_one(&cx).await?;
        let secret = "connection string postgres://admin:hunter2@db";
        panic!("a bug in the handler, near {secret}");
    }

    #[tool]
    async fn write_then_stall(&self, cx: WriteCx<'_>) -> ToolResult<Content> {
        write_one(&cx).await?;
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(vec![ContentBlock::text("too late")].into())
    }
}
