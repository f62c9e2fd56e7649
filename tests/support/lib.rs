//! Fixtures for the workspace tests in `tests/`. This package has no code
//! of its own beyond them.

pub mod conformance;
pub mod databases;
pub mod notes;
pub mod oauth;
pub mod process;
pub mod proxy;
pub mod schemas;
pub mod sneaky;
pub mod tokens;
pub mod workspace;
