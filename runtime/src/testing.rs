//! Testing a product: what its own tests call.
//!
//! The policy of each tool and the migrations the binary embeds are
//! checked by tests `#[mcpgen::tools]` generates; the review of the
//! artifacts is one line in a test file of the product:
//!
//! ```no_run
//! # #[derive(Default)] struct Tasks;
//! # fn demo<Tasks: mcpgen::Tools>() {
//! // tests/artifacts.rs
//! #[test]
//! fn artifacts_are_reviewed() {
//!     mcpgen::testing::review_artifacts::<Tasks>(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
//! }
//! # }
//! ```

pub use crate::generated_tests::review::review_artifacts;
