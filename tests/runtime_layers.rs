//! The runtime's imports run one way: transport -> dispatch -> server ->
//! policy -> registry and handlers -> storage and audit -> foundations.
//! This test reads every file of `runtime/src`, finds every path it names
//! into the crate (`crate::…`, `super::…`, `self::…`, and child modules
//! named directly), and fails
//!
//! - when two files import each other, directly or around a loop (an
//!   import cycle), naming every file of the loop and what ties them; and
//! - when a module imports one from a higher layer.
//!
//! A `mod x;` declaration is not an import; `pub use` is. `lib.rs` and
//! `__private.rs` are the crate's faces: they re-export from every layer,
//! and no module may reach anything through them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// Top-level modules by layer, highest first. A module may import its own
/// layer and those below.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "transport",
        &["cli", "http", "stdio", "admin", "generated_tests"],
    ),
    ("dispatch", &["dispatch"]),
    ("server", &["server"]),
    ("policy", &["policy", "auth", "oauth"]),
    (
        "registry and handlers",
        &["registry", "builtin", "handler", "artifacts"],
    ),
    ("storage and audit", &["store", "audit"]),
    (
        "foundations",
        &[
            "caller",
            "endpoint",
            "environment",
            "error",
            "html",
            "protocol",
            "schema",
            "telemetry",
            "trace",
        ],
    ),
];

/// The faces: they re-export, and nothing may import through them.
const FACES: &[&str] = &["", "__private", "testing"];

type ModPath = Vec<String>;

struct Crate {
    /// Module path -> file.
    files: BTreeMap<ModPath, PathBuf>,
}

impl Crate {
    fn read(root: &Path) -> Self {
        let mut files = BTreeMap::new();
        collect(root, root, &mut files);
        Self { files }
    }

    fn is_module(&self, path: &[String]) -> bool {
        self.files.contains_key(path)
    }

    /// The module file a path names: its longest prefix that is a module.
    fn resolve(&self, path: &[String]) -> Option<ModPath> {
        (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| self.is_module(p))
    }
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<ModPath, PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read runtime/src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            let mut module: ModPath = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            out.insert(module, path);
        }
    }
}

/// Every path a file names into the crate, as (the path as written,
/// absolute module path).
fn paths_in(krate: &Crate, module: &ModPath, file: &Path) -> Vec<(String, ModPath)> {
    let text = std::fs::read_to_string(file).unwrap();
    let tokens: TokenStream = text
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut out = Vec::new();
    walk(krate, module, tokens, &mut out);
    out
}

fn walk(krate: &Crate, module: &ModPath, tokens: TokenStream, out: &mut Vec<(String, ModPath)>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        // `mod tests { … }`: an inline module, whose `super` is this one.
        if let (Some(TokenTree::Ident(m)), Some(TokenTree::Ident(name)), Some(TokenTree::Group(g))) =
            (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
            && m == "mod"
            && g.delimiter() == Delimiter::Brace
        {
            let mut inner = module.clone();
            inner.push(name.to_string());
            walk(krate, &inner, g.stream(), out);
            i += 3;
            continue;
        }
        if let TokenTree::Group(g) = &tokens[i] {
            walk(krate, module, g.stream(), out);
            i += 1;
            continue;
        }
        let TokenTree::Ident(id) = &tokens[i] else {
            i += 1;
            continue;
        };
        let first = id.to_string();
        // `mod x;` declares, it does not import; `a::b` after `::` is the
        // middle of a path already read.
        let declares = i > 0 && matches!(&tokens[i - 1], TokenTree::Ident(m) if m == "mod");
        let mid_path = i > 1 && is_path_sep(&tokens, i - 2);
        let base: Option<ModPath> = match first.as_str() {
            // `pub(crate)`, `self.x`: not paths.
            _ if declares || mid_path || !is_path_sep(&tokens, i + 1) => None,
            "crate" => Some(Vec::new()),
            "super" => Some(module[..module.len().saturating_sub(1)].to_vec()),
            "self" => Some(module.clone()),
            child => {
                let mut p = module.clone();
                p.push(child.to_owned());
                // A child module named directly (`db::Db`).
                krate.is_module(&p).then_some(p)
            }
        };
        let Some(base) = base else {
            i += 1;
            continue;
        };
        // The rest of the path: `::ident` segments, then at most one
        // `{…}` use tree.
        let mut j = i + 1;
        let mut end = j;
        while is_path_sep(&tokens, j) {
            match tokens.get(j + 2) {
                Some(TokenTree::Ident(_)) => j += 3,
                Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => j += 3,
                _ => break,
            }
            end = j;
        }
        let rest: Vec<TokenTree> = tokens[i + 1..end].to_vec();
        tree(&first, base, &rest, out);
        i = end.max(i + 1);
    }
}

/// Read a path (or use tree) after its first segment: `::a::b`,
/// `::{a, b::c as d, e::*}`, `::super::x`.
fn tree(
    written: &str,
    mut prefix: ModPath,
    tokens: &[TokenTree],
    out: &mut Vec<(String, ModPath)>,
) {
    let mut written = written.to_owned();
    let mut k = 0;
    while k < tokens.len() {
        match &tokens[k] {
            TokenTree::Punct(p) if p.as_char() == ':' => k += 1,
            TokenTree::Ident(id) if id == "super" => {
                prefix.pop();
                written.push_str("::super");
                k += 1;
            }
            TokenTree::Ident(id) if id == "as" => break,
            TokenTree::Ident(id) => {
                if id != "self" {
                    prefix.push(id.to_string());
                }
                written.push_str("::");
                written.push_str(&id.to_string());
                k += 1;
            }
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => {
                for branch in split_commas(g.stream()) {
                    tree(&written, prefix.clone(), &branch, out);
                }
                return;
            }
            _ => break,
        }
    }
    out.push((written, prefix));
}

fn is_path_sep(tokens: &[TokenTree], i: usize) -> bool {
    matches!(
        (tokens.get(i), tokens.get(i + 1)),
        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) if a.as_char() == ':' && b.as_char() == ':'
    )
}

fn split_commas(stream: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut out = vec![Vec::new()];
    for t in stream {
        match &t {
            TokenTree::Punct(p) if p.as_char() == ',' => out.push(Vec::new()),
            _ => out.last_mut().unwrap().push(t),
        }
    }
    out.retain(|b| !b.is_empty());
    out
}

fn layer_of(module: &ModPath) -> Option<usize> {
    let top = module.first().map_or("", String::as_str);
    LAYERS
        .iter()
        .position(|(_, mods)| mods.contains(&top))
        .map(|i| LAYERS.len() - i)
}

fn name(module: &ModPath) -> String {
    if module.is_empty() {
        "lib.rs".into()
    } else {
        module.join("::")
    }
}

/// Every import edge: (from, to) -> the paths written.
fn edges(krate: &Crate) -> BTreeMap<(ModPath, ModPath), BTreeSet<String>> {
    let mut edges: BTreeMap<(ModPath, ModPath), BTreeSet<String>> = BTreeMap::new();
    for (module, file) in &krate.files {
        for (written, path) in paths_in(krate, module, file) {
            let Some(target) = krate.resolve(&path) else {
                continue;
            };
            // A module naming itself, or a parent naming the children it
            // declares through `self::`, is not an edge to itself.
            if &target == module {
                continue;
            }
            edges
                .entry((module.clone(), target))
                .or_default()
                .insert(written);
        }
    }
    edges
}

#[test]
fn runtime_modules_import_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime/src");
    let krate = Crate::read(&root);
    assert!(
        krate.files.len() > 30,
        "read {} files of runtime/src",
        krate.files.len()
    );
    let edges = edges(&krate);
    assert!(
        edges.len() > 60,
        "found only {} imports: the reader is broken",
        edges.len()
    );
    let mut problems = Vec::new();

    // Nothing reaches anything through the faces.
    for ((from, to), written) in &edges {
        let face = to.len() <= 1 && FACES.contains(&to.first().map_or("", String::as_str));
        if face && !FACES.contains(&from.first().map_or("", String::as_str)) {
            problems.push(format!(
                "{} imports through the face {}: {} (name the module that defines it)",
                name(from),
                name(to),
                written.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }

    // Layers.
    for ((from, to), written) in &edges {
        if let (Some(a), Some(b)) = (layer_of(from), layer_of(to))
            && b > a
        {
            problems.push(format!(
                "{} ({}) imports {} from a higher layer ({}): {}",
                name(from),
                LAYERS[LAYERS.len() - a].0,
                name(to),
                LAYERS[LAYERS.len() - b].0,
                written.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }

    // Cycles: strongly connected components of more than one file.
    let graph: BTreeMap<&ModPath, Vec<&ModPath>> =
        edges.keys().fold(BTreeMap::new(), |mut g, (a, b)| {
            g.entry(a).or_default().push(b);
            g
        });
    for component in strongly_connected(&graph) {
        if component.len() > 1 {
            let members: BTreeSet<&ModPath> = component.iter().copied().collect();
            let ties: Vec<String> = edges
                .iter()
                .filter(|((a, b), _)| members.contains(a) && members.contains(b))
                .map(|((a, b), w)| {
                    format!(
                        "  {} -> {}: {}",
                        name(a),
                        name(b),
                        w.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            problems.push(format!(
                "import cycle among {}:\n{}",
                component
                    .iter()
                    .map(|m| name(m))
                    .collect::<Vec<_>>()
                    .join(", "),
                ties.join("\n")
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// The reader itself: it must see `use` trees, nested groups, `super`,
/// child modules named directly, and ignore `mod` declarations and
/// comments.
#[test]
fn the_reader_finds_every_kind_of_import() {
    let dir = std::env::temp_dir().join(format!("mcpgen-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod a; mod b; pub use a::X;").unwrap();
    std::fs::write(
        dir.join("a/mod.rs"),
        "mod c;\n// crate::b::nothing in a comment\npub struct X(c::Y);\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("a/c.rs"),
        "use super::X;\npub struct Y;\nfn f() { let _ = crate::b::g(); }",
    )
    .unwrap();
    std::fs::write(
        dir.join("b.rs"),
        "use crate::{a::{X as Z}, a};\npub fn g() {}\nmod tests { use super::*; }",
    )
    .unwrap();
    let krate = Crate::read(&dir);
    let edges = edges(&krate);
    let pairs: BTreeSet<(String, String)> = edges.keys().map(|(a, b)| (name(a), name(b))).collect();
    let want: BTreeSet<(String, String)> = [
        ("lib.rs", "a"),
        ("a", "a::c"),
        ("a::c", "a"),
        ("a::c", "b"),
        ("b", "a"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(pairs, want);
    let graph: BTreeMap<&ModPath, Vec<&ModPath>> =
        edges.keys().fold(BTreeMap::new(), |mut g, (a, b)| {
            g.entry(a).or_default().push(b);
            g
        });
    let cycles: Vec<usize> = strongly_connected(&graph)
        .iter()
        .map(Vec::len)
        .filter(|n| *n > 1)
        .collect();
    assert_eq!(cycles, [3], "a, a::c and b import each other around a loop");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Tarjan's algorithm.
fn strongly_connected<'a>(
    graph: &BTreeMap<&'a ModPath, Vec<&'a ModPath>>,
) -> Vec<Vec<&'a ModPath>> {
    struct State<'a> {
        index: usize,
        indices: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        out: Vec<Vec<&'a ModPath>>,
    }
    fn visit<'a>(
        v: &'a ModPath,
        graph: &BTreeMap<&'a ModPath, Vec<&'a ModPath>>,
        s: &mut State<'a>,
    ) {
        s.indices.insert(v, s.index);
        s.low.insert(v, s.index);
        s.index += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in graph.get(v).map(Vec::as_slice).unwrap_or_default() {
            if !s.indices.contains_key(w) {
                visit(w, graph, s);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.indices[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.indices[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w);
                if w == v {
                    break;
                }
            }
            s.out.push(component);
        }
    }
    let mut s = State {
        index: 0,
        indices: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for &v in graph.keys() {
        if !s.indices.contains_key(v) {
            visit(v, graph, &mut s);
        }
    }
    s.out
}
