//! The tests `#[mcpgen::tools]` generates for a product: each tool's
//! policy (`policy.rs`), each resource's and prompt's (`entries.rs`), the migrations the binary embeds
//! (`migrations.rs`), and the review of its artifacts against snapshots
//! (`review.rs`). They run in-process on a scratch SQLite database.

pub(crate) mod entries;
pub(crate) mod migrations;
pub(crate) mod policy;
pub(crate) mod review;
