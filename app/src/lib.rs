//! The example mcpgen product: a notes service whose records belong to the
//! authenticated subject. Its manifest is the workspace's
//! `mcp-manifest.toml`.

use mcpgen::{Owned, PromptMessage, ReadCx, ResourceContents, ToolError, ToolResult, WriteCx};

/// Longest accepted title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest accepted body, in characters.
pub const MAX_BODY: usize = 20_000;

/// A note, as returned to its owner.
#[mcpgen::output]
#[derive(Debug, Clone, PartialEq, Eq, mcpgen::Record)]
#[record(manifest = "../mcp-manifest.toml")]
pub struct Note {
    /// Stable id, e.g. `note_3f2a...`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Body text.
    pub body: String,
    /// Creation time, Unix microseconds.
    pub created_at: i64,
}

/// Arguments of `search_owned_notes`.
#[mcpgen::input]
#[derive(Debug)]
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
    /// Where to continue: the `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// The order of search results.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    mcpgen::serde::Deserialize,
    mcpgen::schemars::JsonSchema,
)]
#[serde(crate = "mcpgen::serde", rename_all = "snake_case")]
#[schemars(crate = "mcpgen::schemars")]
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
#[mcpgen::output]
#[derive(Debug)]
pub struct Found {
    /// Matching notes, in the requested order.
    pub notes: Vec<Note>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An opaque page position: the last note's `created_at` and `id`.
fn encode_cursor(note: &Note) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}:{}", note.created_at, note.id))
}

fn decode_cursor(cursor: &str) -> Option<(i64, String)> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (at, id) = text.split_once(':')?;
    Some((at.parse().ok()?, id.to_owned()))
}

/// Arguments of `create_text_note`.
#[mcpgen::input]
#[derive(Debug)]
pub struct NewNote {
    /// Title, 1 to 200 characters.
    #[schemars(length(min = 1, max = 200))]
    pub title: String,
    /// Body, up to 20000 characters.
    #[schemars(length(max = 20000))]
    pub body: String,
}

/// The note that was created.
#[mcpgen::output]
#[derive(Debug)]
pub struct Created {
    /// The new note.
    pub note: Note,
}

/// Arguments of the `review_my_notes` prompt.
#[mcpgen::input]
#[derive(Debug)]
pub struct Review {
    /// What to look for in the notes, e.g. "deadlines"; every note when left out.
    pub focus: Option<String>,
}

/// The notes service. Its records live in the `notes` table
/// (`migrations/`); every query goes through the caller's context.
#[derive(Debug, Default, Clone, Copy)]
pub struct Notes;

/// The LIKE pattern matching `query` anywhere, lowercased, its wildcards
/// escaped (`\` is the escape character).
fn contains_pattern(query: &str) -> String {
    let lowered = query.to_lowercase();
    let mut pattern = String::with_capacity(lowered.len() + 2);
    pattern.push('%');
    for c in lowered.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The search condition on `$2`, the pattern: `$2 || ''` rather than a bare
/// parameter because SQLite re-prepares a statement on every call whose
/// LIKE pattern is a bound parameter (the value could change the plan),
/// which was a third of this query's cost in SQLite; an expression keeps
/// the cached plan. (No index could serve `LOWER(...) LIKE`.)
macro_rules! matching {
    () => {
        "(LOWER(title) LIKE ($2 || '') ESCAPE '\\' OR LOWER(body) LIKE ($2 || '') ESCAPE '\\')"
    };
}

#[mcpgen::tools(manifest = "../mcp-manifest.toml", migrations = "migrations")]
impl Notes {
    #[tool]
    async fn search_owned_notes(&self, cx: ReadCx<'_>, input: Search) -> ToolResult<Found> {
        // Each statement text is a constant, so each is prepared once per
        // connection (`LIMIT ($N + 0)`: a bare LIMIT parameter makes SQLite
        // re-prepare too). One more than the page, to know whether another
        // page follows.
        let mut query = cx
            .select_owned::<Note>()?
            .bind(contains_pattern(&input.query));
        query = match &input.cursor {
            None => query.filter(matching!()).then(match input.order {
                Order::NewestFirst => "ORDER BY created_at DESC, id DESC LIMIT ($3 + 0)",
                Order::OldestFirst => "ORDER BY created_at ASC, id ASC LIMIT ($3 + 0)",
            }),
            Some(cursor) => {
                let (at, id) = decode_cursor(cursor).ok_or_else(|| {
                    ToolError::invalid_arguments(
                        "unknown cursor: pass the next_cursor of a previous page",
                    )
                })?;
                match input.order {
                    Order::NewestFirst => query
                        .filter(concat!(matching!(), " AND (created_at, id) < ($3, $4)"))
                        .then("ORDER BY created_at DESC, id DESC LIMIT ($5 + 0)"),
                    Order::OldestFirst => query
                        .filter(concat!(matching!(), " AND (created_at, id) > ($3, $4)"))
                        .then("ORDER BY created_at ASC, id ASC LIMIT ($5 + 0)"),
                }
                .bind(at)
                .bind(id)
            }
        };
        let mut notes = query.bind(i64::from(input.limit) + 1).fetch_all().await?;
        let next_cursor = if notes.len() > input.limit as usize {
            notes.truncate(input.limit as usize);
            notes.last().map(encode_cursor)
        } else {
            None
        };
        Ok(Found { notes, next_cursor })
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
        let note = Note {
            id: mcpgen::random_id("note"),
            title: title.to_owned(),
            body: input.body,
            created_at: now_micros(),
        };
        let mut conn = cx.conn().await?;
        mcpgen::sqlx::query(
            "INSERT INTO notes (id, owner_id, title, body, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&note.id)
        .bind(cx.caller().subject())
        .bind(&note.title)
        .bind(&note.body)
        .bind(note.created_at)
        .execute(&mut *conn)
        .await?;
        Ok(Created { note })
    }

    /// Each note as a resource, `note://{id}`, for its owner only.
    #[resource]
    async fn note(&self, _cx: ReadCx<'_>, id: Owned<Note>) -> ToolResult<ResourceContents> {
        let note = id.into_inner();
        Ok(ResourceContents::text(format!(
            "# {}\n\n{}\n",
            note.title, note.body
        )))
    }

    /// A prompt over the caller's ten newest notes.
    #[prompt]
    async fn review_my_notes(
        &self,
        cx: ReadCx<'_>,
        args: Review,
    ) -> ToolResult<Vec<PromptMessage>> {
        let notes = cx
            .select_owned::<Note>()?
            .then("ORDER BY created_at DESC, id DESC LIMIT ($2 + 0)")
            .bind(10_i64)
            .fetch_all()
            .await?;
        let listed: String = notes
            .iter()
            .map(|n| format!("- note://{} {}: {}\n", n.id, n.title, n.body))
            .collect();
        let focus = args
            .focus
            .as_deref()
            .unwrap_or("anything that needs attention");
        Ok(vec![PromptMessage::user(format!(
            "Review my notes and point out {focus}. My newest notes:\n\n{listed}"
        ))])
    }
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
