//! The example mcpgen product: a notes service whose records belong to the
//! authenticated subject. Its manifest is the workspace's
//! `mcp-manifest.toml`.

use std::sync::Mutex;

use mcpgen::{Owned, ReadCx, Record, ToolError, ToolResult, WriteCx};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Longest accepted title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest accepted body, in characters.
pub const MAX_BODY: usize = 20_000;

/// A note, as returned to its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Note {
    /// Stable id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Body text.
    pub body: String,
}

impl Record for Note {
    const KIND: &'static str = "note";
    type Id = i64;
}

/// Arguments of `search_owned_notes`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// Text to look for in titles and bodies; empty matches every note.
    #[schemars(length(max = 200))]
    pub query: String,
    /// How many notes to return (1 to 50).
    #[schemars(range(min = 1, max = 50))]
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// Which notes come first: `newest_first` (the default) or `oldest_first`.
    #[serde(default)]
    pub order: Order,
}

/// The order of search results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // variant docs would turn the schema's `enum` into `oneOf`
pub enum Order {
    #[default]
    NewestFirst,
    OldestFirst,
}

fn default_limit() -> u32 {
    20
}

/// The notes found.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Found {
    /// Matching notes, newest first.
    pub notes: Vec<Note>,
}

/// Arguments of `create_text_note`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// Title, 1 to 200 characters.
    #[schemars(length(min = 1, max = 200))]
    pub title: String,
    /// Body, up to 20000 characters.
    #[schemars(length(max = 20000))]
    pub body: String,
}

/// The note that was created.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Created {
    /// The new note.
    pub note: Note,
}

/// The notes service.
#[derive(Debug, Default)]
pub struct Notes {
    // Owner subject and note, in creation order. Moves to the database
    // with the record store.
    notes: Mutex<Vec<(String, Note)>>,
}

#[mcpgen::tools(manifest = "../mcp-manifest.toml")]
impl Notes {
    #[tool]
    async fn search_owned_notes(&self, cx: ReadCx<'_>, input: Search) -> ToolResult<Found> {
        let query = input.query.to_lowercase();
        let notes = self.notes.lock().map_err(|_| internal())?;
        let ordered: Box<dyn Iterator<Item = &(String, Note)>> = match input.order {
            Order::NewestFirst => Box::new(notes.iter().rev()),
            Order::OldestFirst => Box::new(notes.iter()),
        };
        let found = ordered
            .filter(|(owner, _)| owner == cx.caller().subject())
            .map(|(_, note)| note)
            .filter(|n| {
                n.title.to_lowercase().contains(&query) || n.body.to_lowercase().contains(&query)
            })
            .take(input.limit as usize)
            .cloned()
            .collect();
        Ok(Found { notes: found })
    }

    #[tool]
    async fn get_owned_note(&self, _cx: ReadCx<'_>, note: Owned<Note>) -> ToolResult<Note> {
        Ok(note.into_inner())
    }

    #[tool]
    async fn create_text_note(&self, cx: WriteCx<'_>, input: NewNote) -> ToolResult<Created> {
        let title = input.title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            return Err(ToolError::invalid_arguments(format!(
                "title must be 1 to {MAX_TITLE} characters"
            )));
        }
        if input.body.chars().count() > MAX_BODY {
            return Err(ToolError::invalid_arguments(format!(
                "body must be at most {MAX_BODY} characters"
            )));
        }
        let mut notes = self.notes.lock().map_err(|_| internal())?;
        let note = Note {
            id: notes.len() as i64 + 1,
            title: title.to_owned(),
            body: input.body,
        };
        notes.push((cx.caller().subject().to_owned(), note.clone()));
        Ok(Created { note })
    }
}

fn internal() -> ToolError {
    ToolError::Internal("the note store is unavailable".into())
}
