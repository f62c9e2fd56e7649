use std::borrow::Cow;

use mcpgen_spec::{
    Access, Annotations, ClientSpec, DataKind, EnvironmentSpec, LimitsSpec, ManifestSpec,
    ResourceSpec, RuntimeKind, ScopeSpec, ServerSpec, ToolSpec,
};
use proptest::prelude::*;

use super::{Policy, Rejection};
use crate::caller::{AuthMethod, Caller};

fn manifest(clients: Vec<ClientSpec>) -> &'static ManifestSpec {
    Box::leak(Box::new(ManifestSpec {
        server: ServerSpec {
            name: "t".into(),
            title: None,
            instructions: None,
        },
        resource: ResourceSpec {
            uri: "http://127.0.0.1:8080/mcp".into(),
            authorization_servers: vec!["https://auth.example.com".into()].into(),
            documentation: None,
        },
        scopes: ["a", "b", "c"]
            .iter()
            .map(|s| ScopeSpec {
                name: (*s).into(),
                description: "d".into(),
                access: Access::Write,
            })
            .collect(),
        records: Cow::Borrowed(&[]),
        environments: Cow::Borrowed(&[]),
        clients: clients.into(),
        limits: LimitsSpec::default(),
    }))
}

fn environment(writes: bool) -> EnvironmentSpec {
    EnvironmentSpec {
        name: "e".into(),
        runtime: RuntimeKind::Local,
        data: DataKind::Local,
        writes,
        enabled: true,
        authorization: mcpgen_spec::Authorization::BuiltIn,
    }
}

fn tool(name: &str, scopes: &[&str], public: bool, access: Access, builtin: bool) -> ToolSpec {
    ToolSpec {
        name: name.to_owned().into(),
        title: None,
        description: "d".into(),
        access,
        scopes: scopes.iter().map(|s| (*s).to_owned().into()).collect(),
        public,
        record: None,
        annotations: Annotations::READ_ONLY,
        declared_at: if builtin {
            mcpgen_spec::BUILT_IN.into()
        } else {
            "m.toml:1:1".into()
        },
        calls_per_minute: None,
        timeout_ms: None,
        example: None,
        confirm: None,
    }
}

fn caller(scopes: &[&str], client: Option<&str>, method: AuthMethod) -> Caller {
    Caller::new("alice", scopes.iter().copied(), client.map(str::to_owned))
        .with_credential(method, None, None)
}

fn clients(entries: &[(&str, &[&str])]) -> Vec<ClientSpec> {
    entries
        .iter()
        .map(|(id, tools)| ClientSpec {
            client_id: (*id).to_owned().into(),
            tools: tools.iter().map(|t| (*t).to_owned().into()).collect(),
            resources: Vec::new().into(),
            prompts: Vec::new().into(),
        })
        .collect()
}

#[test]
fn clients_is_an_allowlist_for_every_oauth_client_not_only_the_ones_it_names() {
    let search = tool("search", &["a"], false, Access::Read, false);
    let policy = Policy::new(
        manifest(clients(&[("dashboard", &["search"])])),
        environment(true),
        std::iter::empty(),
        0,
    );
    let allowed = |c: &Caller| policy.permits(&search, Some(c)).is_ok();
    assert!(allowed(&caller(
        &["a"],
        Some("dashboard"),
        AuthMethod::OAuth
    )));
    // Unlisted, absent, and spelled differently: nothing.
    for client in [None, Some("other"), Some("Dashboard"), Some("dashboard ")] {
        let c = caller(&["a"], client, AuthMethod::OAuth);
        assert!(
            matches!(
                policy.permits(&search, Some(&c)),
                Err(Rejection::ClientNotAllowed { .. })
            ),
            "{client:?}"
        );
    }
    // An access key answers to its own scopes (and to its label's entry
    // when [clients] names the label).
    assert!(allowed(&caller(&["a"], None, AuthMethod::AccessKey)));
    assert!(allowed(&caller(
        &["a"],
        Some("cron-job"),
        AuthMethod::AccessKey
    )));
    // The built-ins describe the caller: every client may use them.
    let whoami = tool("verify_access", &[], false, Access::Read, true);
    assert!(
        policy
            .permits(&whoami, Some(&caller(&[], None, AuthMethod::OAuth)))
            .is_ok()
    );

    // A `"*"` entry is what every other client gets.
    let policy = Policy::new(
        manifest(clients(&[("dashboard", &["search"]), ("*", &["other"])])),
        environment(true),
        std::iter::empty(),
        0,
    );
    let other = tool("other", &["a"], false, Access::Read, false);
    let nobody = caller(&["a"], None, AuthMethod::OAuth);
    assert!(policy.permits(&other, Some(&nobody)).is_ok());
    assert!(policy.permits(&search, Some(&nobody)).is_err());
    let key = caller(&["a"], Some("dashboard"), AuthMethod::AccessKey);
    assert!(
        policy.permits(&other, Some(&key)).is_err(),
        "a key labelled with a listed client gets that client's entry"
    );
}

#[test]
fn an_anonymous_caller_learns_nothing_of_which_tools_exist() {
    let policy = Policy::new(
        manifest(Vec::new()),
        environment(true),
        std::iter::empty(),
        0,
    );
    let a = tool("a_tool", &["a"], false, Access::Read, false);
    let b = tool("b_tool", &["b", "c"], false, Access::Write, false);
    let refusal = |t| policy.permits(t, None).unwrap_err();
    assert_eq!(refusal(&a), refusal(&b));
    assert_eq!(refusal(&a), policy.unauthenticated());
}

/// What the manifest's policy says, restated as plainly as possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Says {
    Granted,
    Unauthenticated,
    InsufficientScope,
    ClientNotAllowed,
    WritesDisabled,
}

#[derive(Debug, Clone)]
struct Case {
    tool_scopes: Vec<&'static str>,
    public: bool,
    write: bool,
    builtin: bool,
    tool_name: &'static str,
    caller: Option<(Vec<&'static str>, Option<&'static str>, AuthMethod)>,
    clients: Vec<(&'static str, Vec<&'static str>)>,
    writes: bool,
}

fn model(c: &Case) -> Says {
    if !c.public {
        let Some((scopes, _, _)) = &c.caller else {
            return Says::Unauthenticated;
        };
        if !c.tool_scopes.iter().all(|s| scopes.contains(s)) {
            return Says::InsufficientScope;
        }
    }
    if let Some((_, client, method)) = &c.caller
        && !c.builtin
        && !c.clients.is_empty()
    {
        let entry_of = |id: &str| c.clients.iter().find(|(k, _)| *k == id);
        let allowed = match client.and_then(entry_of) {
            Some((_, tools)) => tools.iter().any(|t| *t == "*" || *t == c.tool_name),
            None if *method == AuthMethod::AccessKey => true,
            None => entry_of("*")
                .is_some_and(|(_, tools)| tools.iter().any(|t| *t == "*" || *t == c.tool_name)),
        };
        if !allowed {
            return Says::ClientNotAllowed;
        }
    }
    if c.write && !c.writes {
        return Says::WritesDisabled;
    }
    Says::Granted
}

fn case() -> impl Strategy<Value = Case> {
    let scope = prop::sample::select(vec!["a", "b", "c"]);
    let scopes = prop::collection::vec(scope, 0..3);
    let client = prop::option::of(prop::sample::select(vec!["c1", "c2", "zzz", "*"]));
    let method = prop::sample::select(vec![
        AuthMethod::OAuth,
        AuthMethod::AccessKey,
        AuthMethod::DevToken,
    ]);
    let caller = prop::option::of((scopes.clone(), client, method));
    let tool_name = prop::sample::select(vec!["t1", "t2", "t3"]);
    let allowed = prop::collection::vec(prop::sample::select(vec!["*", "t1", "t2", "t3"]), 0..3);
    let entry = (prop::sample::select(vec!["c1", "c2", "*"]), allowed);
    let clients = prop::collection::vec(entry, 0..3).prop_map(|mut v| {
        v.sort_by_key(|e| e.0);
        v.dedup_by_key(|e| e.0);
        v
    });
    (
        scopes,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        tool_name,
        caller,
        clients,
        any::<bool>(),
    )
        .prop_map(
            |(tool_scopes, public, write, builtin, tool_name, caller, clients, writes)| Case {
                tool_scopes,
                public,
                write,
                builtin,
                tool_name,
                caller,
                clients,
                writes,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// For generated manifests and callers, the decision is the reference
    /// model's: scopes, public, the client allowlist, the environment's
    /// write switch.
    #[test]
    fn the_decision_is_the_reference_models(c in case()) {
        let entries: Vec<(&str, &[&str])> =
            c.clients.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        let policy = Policy::new(
            manifest(clients(&entries)),
            environment(c.writes),
            std::iter::empty(),
            0,
        );
        let access = if c.write { Access::Write } else { Access::Read };
        let t = tool(c.tool_name, &c.tool_scopes, c.public, access, c.builtin);
        let who = c.caller.as_ref().map(|(s, client, m)| caller(s, *client, *m));
        let said = match policy.permits(&t, who.as_ref()) {
            Ok(()) => Says::Granted,
            Err(Rejection::Unauthenticated { .. }) => Says::Unauthenticated,
            Err(Rejection::InsufficientScope { .. }) => Says::InsufficientScope,
            Err(Rejection::ClientNotAllowed { .. }) => Says::ClientNotAllowed,
            Err(Rejection::WritesDisabled { .. }) => Says::WritesDisabled,
            Err(other) => panic!("an unexpected refusal: {other:?}"),
        };
        prop_assert_eq!(said, model(&c), "{:?}", c);
    }
}
