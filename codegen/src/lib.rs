//! mcpgen-codegen: the manifest model, its checks and the code generated
//! for `#[mcpgen::tools]`.
//!
//! An ordinary library, so tests, a CLI or a `build.rs` can use it without
//! rustc. The pipeline reads like a sentence:
//! [`manifest::parse`] -> [`check::check`] -> [`bind::handlers`] +
//! [`bind::bijection`] -> [`expand::Expansion::expand`].

pub mod bind;
pub mod check;
pub mod ctxt;
pub mod entries;
pub mod expand;
pub mod manifest;
pub mod model;
pub mod record;
#[cfg(feature = "cli")]
pub mod scaffold;
pub mod types;

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::{ItemImpl, LitStr, Token};

use crate::ctxt::Ctxt;
use crate::expand::{Expansion, ManifestSource};
use crate::model::Model;

/// Where the macro runs: the directories a relative manifest path is
/// resolved against.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// The crate root (`CARGO_MANIFEST_DIR`).
    pub crate_dir: PathBuf,
    /// The directory of the source file holding the attribute, when the
    /// compiler can tell; tried when the path does not exist under the
    /// crate root.
    pub source_dir: Option<PathBuf>,
}

/// `manifest = "path"[, migrations = "dir"][, test_app = "expr"]`.
struct ToolsArgs {
    manifest: LitStr,
    migrations: Option<LitStr>,
    test_app: Option<LitStr>,
}

const TOOLS_OPTIONS: &str = "the options are `manifest = \"mcp-manifest.toml\"`, `migrations = \"migrations\"` \
     and `test_app = \"Tasks::new()\"`";

impl Parse for ToolsArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error(
                "missing manifest path: write `#[mcpgen::tools(manifest = \"mcp-manifest.toml\")]`",
            ));
        }
        let mut manifest = None;
        let mut migrations = None;
        let mut test_app = None;
        while !input.is_empty() {
            let key: syn::Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value: LitStr = input.parse()?;
            match key.to_string().as_str() {
                "manifest" => manifest = Some(value),
                "migrations" => migrations = Some(value),
                "test_app" => test_app = Some(value),
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown option; {TOOLS_OPTIONS}"),
                    ));
                }
            }
            input.parse::<Option<Token![,]>>()?;
        }
        let manifest = manifest.ok_or_else(|| {
            input.error(
                "missing manifest path: write `#[mcpgen::tools(manifest = \"mcp-manifest.toml\")]`",
            )
        })?;
        Ok(Self {
            manifest,
            migrations,
            test_app,
        })
    }
}

/// `#[mcpgen::tools(manifest = "...")]` on an impl block.
pub fn tools(attr: TokenStream, item: TokenStream, env: &Env) -> TokenStream {
    let args: ToolsArgs = match syn::parse2(attr) {
        Ok(a) => a,
        Err(e) => return with_item(e, item),
    };
    let item: ItemImpl = match syn::parse2(item.clone()) {
        Ok(i) => i,
        Err(_) => {
            let e = syn::Error::new_spanned(
                &args.manifest,
                "`#[mcpgen::tools]` goes on an impl block: `impl Notes { #[tool] async fn .. }`",
            );
            return with_item(e, item);
        }
    };
    let loaded = load(&args.manifest, env).and_then(|(text, mut source)| {
        if let Some(dir) = &args.migrations {
            source.migrations = migrations(dir, env)?;
            source.migrations_dir = Some(dir.value());
        }
        source.test_app = match &args.test_app {
            Some(lit) => Some(lit.parse::<syn::Expr>().map_err(|e| {
                syn::Error::new(
                    lit.span(),
                    format!("`test_app` must be a Rust expression that makes the app, e.g. \"Tasks::new()\": {e}"),
                )
            })?),
            None => None,
        };
        Ok((text, source))
    });
    expand_with(item, loaded)
}

/// `#[derive(mcpgen::Record)]`.
pub fn record(input: TokenStream, env: &Env) -> TokenStream {
    record::derive(input, env)
}

/// The `NNNN_description.sql` files of a migrations directory, in order.
fn migrations(dir: &LitStr, env: &Env) -> Result<Vec<(i64, String, String)>, syn::Error> {
    let written = dir.value();
    let relative = Path::new(&written);
    if relative.is_absolute() {
        return Err(syn::Error::new(
            dir.span(),
            "the migrations path is absolute; write it relative to the crate root, e.g. \"migrations\"",
        ));
    }
    let full = std::iter::once(env.crate_dir.join(relative))
        .chain(env.source_dir.iter().map(|d| d.join(relative)))
        .find(|p| p.is_dir())
        .ok_or_else(|| {
            syn::Error::new(
                dir.span(),
                format!(
                    "cannot find the migrations directory {written:?} (relative to the crate root)"
                ),
            )
        })?;
    let mut out = Vec::new();
    let entries = std::fs::read_dir(&full)
        .map_err(|e| syn::Error::new(dir.span(), format!("cannot read {written:?}: {e}")))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".sql") else {
            continue;
        };
        let (version, description) = stem.split_once('_').unwrap_or((stem, ""));
        let version: i64 = version.parse().map_err(|_| {
            syn::Error::new(
                dir.span(),
                format!("migration file {name:?} must be named NNNN_description.sql, e.g. 0001_create_notes.sql"),
            )
        })?;
        out.push((
            version,
            description.replace('_', " "),
            entry.path().to_string_lossy().into_owned(),
        ));
    }
    out.sort();
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(syn::Error::new(
            dir.span(),
            format!(
                "two migrations have version {}: each version is used once",
                w[0].0
            ),
        ));
    }
    Ok(out)
}

/// The manifest text and its source, or the error to report on the path.
pub type Loaded = Result<(String, ManifestSource), syn::Error>;

/// Read the manifest file named in the attribute.
pub(crate) fn load(path: &LitStr, env: &Env) -> Loaded {
    let written = path.value();
    let relative = Path::new(&written);
    if relative.is_absolute() {
        return Err(syn::Error::new(
            path.span(),
            format!(
                "the manifest path {written:?} is absolute; write it relative to the crate root, e.g. \"mcp-manifest.toml\""
            ),
        ));
    }
    let candidates = std::iter::once(env.crate_dir.join(relative))
        .chain(env.source_dir.iter().map(|d| d.join(relative)));
    for full in candidates {
        if let Ok(text) = std::fs::read_to_string(&full) {
            let label = relative
                .file_name()
                .map_or_else(|| written.clone(), |f| f.to_string_lossy().into_owned());
            let source = ManifestSource {
                label,
                include_path: Some(full.to_string_lossy().into_owned()),
                span: path.span(),
                ..ManifestSource::default()
            };
            return Ok((text, source));
        }
    }
    Err(syn::Error::new(
        path.span(),
        format!(
            "cannot read the manifest {written:?} (looked in {}): the path is relative to the crate root",
            env.crate_dir.display()
        ),
    ))
}

/// Check and expand an impl block against manifest text. Split out so tests
/// can run it without a file.
pub fn expand_with(mut item: ItemImpl, loaded: Loaded) -> TokenStream {
    let cx = Ctxt::new();
    let entry_handlers = entries::handlers(&cx, &mut item);
    let handlers = bind::handlers(&cx, &mut item);
    let mut model: Option<(Model, ManifestSource)> = None;
    match loaded {
        Err(e) => cx.syn_error(e),
        Ok((text, source)) => {
            // Every mistake in one build: what the manifest's reading found,
            // then the policy and the handlers checked against every entry
            // that could be read.
            let reading = manifest::read(&text);
            report(&cx, &reading.errors, &source);
            if let Some(m) = reading.model {
                report(&cx, &policy_checks(&m, &reading.left_out), &source);
                let unreadable: Vec<&str> = reading
                    .left_out
                    .iter()
                    .filter(|(section, _)| section == "tools")
                    .map(|(_, name)| name.as_str())
                    .collect();
                bind::bijection(
                    &cx,
                    &m,
                    &unreadable,
                    &handlers,
                    &source.label,
                    expand::impl_span(&item),
                );
                entries::bijection(
                    &cx,
                    &m,
                    &reading.left_out,
                    &entry_handlers,
                    &source.label,
                    expand::impl_span(&item),
                );
                model = Some((m, source));
            }
        }
    }
    let expansion = model.as_ref().map(|(model, source)| Expansion {
        item: &item,
        model,
        handlers: &handlers.ok,
        entries: &entry_handlers.ok,
        source,
    });
    match (cx.check(), expansion) {
        (Ok(()), Some(expansion)) => expansion.expand(),
        (Err(e), expansion) => {
            // Still emit the type checks of the tools that do have handlers,
            // so their mistakes show up in the same build.
            let checks = expansion.map(|x| x.all_checks()).unwrap_or_default();
            let mut out = e.to_compile_error();
            out.extend(expand::fallback(&item, checks));
            out
        }
        (Ok(()), None) => unreachable!("a failed manifest load always records an error"),
    }
}

/// The policy checks of a model read with `left_out` entries unreadable:
/// none when a scope, record kind, environment or client could not be
/// read, since every tool naming it would be reported as naming an
/// undeclared one (the reading error says what to fix first).
fn policy_checks(model: &Model, left_out: &[(String, String)]) -> Vec<model::Diagnostic> {
    if left_out
        .iter()
        .all(|(section, _)| ["tools", "resources", "prompts"].contains(&section.as_str()))
    {
        check::check(model)
    } else {
        Vec::new()
    }
}

/// Every mistake in the manifest text, without building: what reading
/// found and the policy checks (what `mcpgen check` prints).
pub fn check_manifest(text: &str) -> Vec<model::Diagnostic> {
    let reading = manifest::read(text);
    let mut all = reading.errors;
    if let Some(model) = &reading.model {
        all.extend(policy_checks(model, &reading.left_out));
    }
    all.sort_by_key(|d| d.loc);
    all
}

/// Manifest diagnostics are reported on the attribute's path literal, with
/// `file:LINE:COL` in the message (rustc cannot point into a TOML file).
fn report(cx: &Ctxt, diags: &[model::Diagnostic], source: &ManifestSource) {
    for d in diags {
        cx.error_at(source.span, d.render(&source.label));
    }
}

fn with_item(err: syn::Error, item: TokenStream) -> TokenStream {
    let mut out = err.to_compile_error();
    out.extend(item);
    out
}
