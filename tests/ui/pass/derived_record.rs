//! A product that depends on mcpgen alone: the record derived from the
//! manifest, inputs and outputs through mcpgen's derives, queries through
//! `mcpgen::sqlx` with `?`.

use mcpgen::{Owned, ReadCx, Record, ToolResult, WriteCx};

/// Kind `task_item`, from the type's name.
#[mcpgen::output]
#[derive(Debug, Clone, PartialEq, mcpgen::Record)]
#[record(manifest = "derived_record.toml")]
pub struct TaskItem {
    pub id: String,
    pub title: String,
    pub created_at: i64,
}

#[mcpgen::input]
pub struct NewTask {
    #[schemars(length(min = 1, max = 100))]
    pub title: String,
    #[serde(default)]
    pub urgent: bool,
}

pub struct Tasks;

#[mcpgen::tools(manifest = "derived_record.toml", test_app = "Tasks")]
impl Tasks {
    #[tool]
    async fn get_owned_task(&self, _cx: ReadCx<'_>, task: Owned<TaskItem>) -> ToolResult<TaskItem> {
        Ok(task.into_inner())
    }

    #[tool]
    async fn add_task(&self, cx: WriteCx<'_>, input: NewTask) -> ToolResult<TaskItem> {
        let mut conn = cx.conn().await?;
        mcpgen::sqlx::query("INSERT INTO tasks (id, owner_id, title, created_at) VALUES ($1, $2, $3, 0)")
            .bind("t1")
            .bind(cx.caller().subject())
            .bind(&input.title)
            .execute(&mut *conn)
            .await?;
        Ok(TaskItem { id: "t1".into(), title: input.title, created_at: 0 })
    }
}

fn main() {
    // Generated: the kind, the columns selected (only the struct's), and
    // the id's type.
    assert_eq!(<TaskItem as Record>::KIND, "task_item");
    assert_eq!(<TaskItem as Record>::SELECT, "id, title, created_at");
    let _: Option<<TaskItem as Record>::Id> = Some(String::new());
    // The example reaches the generated tests through the registry.
    let registry = <Tasks as mcpgen::Tools>::registry().unwrap();
    let add = registry.get("add_task").unwrap();
    assert_eq!(
        add.spec().example.as_deref(),
        Some(r#"{"title":"Water the plants"}"#)
    );
}
