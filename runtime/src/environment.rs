//! Where a server runs and what it may touch: the manifest environment it
//! was started in, chosen fail-closed, and the blunt report
//! `get_environment_status` gives of it.

use schemars::JsonSchema;
use serde::Serialize;

use mcpgen_spec::{DataKind, EnvironmentSpec, ManifestSpec, RuntimeKind};

/// What a running server knows about itself.
#[derive(Debug, Clone)]
pub(crate) struct ServerFacts {
    /// The manifest it serves.
    pub(crate) manifest: &'static ManifestSpec,
    /// The server's version.
    pub(crate) version: String,
    /// The environment it runs in.
    pub(crate) environment: EnvironmentSpec,
    /// `sqlite` or `postgres`, when a database is attached.
    pub(crate) database: Option<&'static str>,
    /// The data class the attached database recorded, when known.
    pub(crate) database_data: Option<DataKind>,
}

/// Why a server may not run in the environment asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvironmentError {
    /// `--env` names no `[environments.*]` entry.
    #[error("unknown environment `{name}`: the manifest declares {available}")]
    Unknown {
        /// What was asked for.
        name: String,
        /// What exists.
        available: String,
    },
    /// The environment says `enabled = false`.
    #[error(
        "environment `{0}` is disabled in the manifest (enabled = false): the server refuses to start there. \
         Set `enabled = true` under [environments.{0}] when it is ready"
    )]
    Disabled(String),
}

/// The manifest environment called `name`. A manifest without
/// `[environments]` has one implicit environment, `local`.
pub(crate) fn select(
    manifest: &ManifestSpec,
    name: &str,
) -> Result<EnvironmentSpec, EnvironmentError> {
    let list = manifest.environments();
    let env = list
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| EnvironmentError::Unknown {
            name: name.to_owned(),
            available: list.iter().map(|e| &*e.name).collect::<Vec<_>>().join(", "),
        })?;
    if !env.enabled {
        return Err(EnvironmentError::Disabled(env.name.to_string()));
    }
    Ok(env.clone())
}

/// `get_environment_status`'s result.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct EnvironmentReport {
    /// Server name.
    pub(crate) server: String,
    /// Server version.
    pub(crate) version: String,
    /// Environment name from the manifest.
    pub(crate) environment: String,
    /// Where it runs: local, test, preview, staging or production.
    pub(crate) runtime: String,
    /// Which data it uses: local, test, staging or production.
    pub(crate) data: String,
    /// Whether this server reads and writes production data.
    pub(crate) shares_production_data: bool,
    /// Whether write tools may run here.
    pub(crate) writes_enabled: bool,
    /// Whether it is safe to run tests that write here (not production data).
    pub(crate) safe_for_tests: bool,
    /// `sqlite`, `postgres`, or null.
    pub(crate) database: Option<String>,
    /// The class of data the database says it holds (recorded by the first
    /// environment that used it), or null.
    pub(crate) database_data: Option<String>,
    /// The same, in one blunt sentence.
    pub(crate) summary: String,
}

impl ServerFacts {
    /// What `get_environment_status` says about this server.
    pub(crate) fn report(&self) -> EnvironmentReport {
        let env = &self.environment;
        // What the database says it holds wins over what the environment
        // says it uses (a server refuses to start when the two differ).
        let production_data =
            env.shares_production_data() || self.database_data == Some(DataKind::Production);
        let runtime = capitalized(env.runtime.as_str());
        let summary = match (env.runtime, production_data, env.writes) {
            (RuntimeKind::Production, true, true) => {
                "Production runtime on production data. Writes are enabled: every change is real."
                    .to_owned()
            }
            (_, true, false) => format!(
                "{runtime} runtime on PRODUCTION data. Writes are disabled: write tools are hidden and refused."
            ),
            (_, true, true) => format!(
                "{runtime} runtime on PRODUCTION data, with writes ENABLED: changes here change production."
            ),
            (_, false, writes) => format!(
                "{runtime} runtime on {} data (not production). Writes are {}; safe for tests.",
                env.data,
                if writes { "enabled" } else { "disabled" }
            ),
        };
        EnvironmentReport {
            server: self.manifest.server.name.to_string(),
            version: self.version.clone(),
            environment: env.name.to_string(),
            runtime: env.runtime.as_str().to_owned(),
            data: env.data.as_str().to_owned(),
            shares_production_data: production_data,
            writes_enabled: env.writes,
            safe_for_tests: !production_data,
            database: self.database.map(str::to_owned),
            database_data: self.database_data.map(|d| d.as_str().to_owned()),
            summary,
        }
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
