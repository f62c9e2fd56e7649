//! How the code generator writes a spec into generated code: as a
//! constant expression of borrowed `'static` data, with absolute paths
//! through the runtime's hidden face (`::mcpgen::__private::spec`).

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use crate::*;

/// The path generated code reaches this crate by.
fn path() -> TokenStream {
    quote!(::mcpgen::__private::spec)
}

fn text(t: &Text) -> TokenStream {
    let p = path();
    let s: &str = t;
    quote!(#p::Cow::Borrowed(#s))
}

fn opt_text(t: &Option<Text>) -> TokenStream {
    match t {
        Some(t) => {
            let t = text(t);
            quote!(::core::option::Option::Some(#t))
        }
        None => quote!(::core::option::Option::None),
    }
}

fn list<T>(items: &[T], each: impl Fn(&T) -> TokenStream) -> TokenStream {
    let p = path();
    let items = items.iter().map(each);
    quote!(#p::Cow::Borrowed(&[#(#items),*]))
}

fn opt<T: ToTokens>(v: &Option<T>) -> TokenStream {
    match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

macro_rules! enum_tokens {
    ($name:ident) => {
        impl ToTokens for $name {
            fn to_tokens(&self, out: &mut TokenStream) {
                let p = path();
                let variant = quote::format_ident!("{}", format!("{self:?}"));
                out.extend(quote!(#p::$name::#variant));
            }
        }
    };
}

enum_tokens!(Access);
enum_tokens!(RuntimeKind);
enum_tokens!(DataKind);
enum_tokens!(Authorization);

impl ToTokens for ServerSpec {
    fn to_tokens(&self, out: &mut TokenStream) {
        let p = path();
        let (name, title, instructions) = (
            text(&self.name),
            opt_text(&self.title),
            opt_text(&self.instructions),
        );
        out.extend(
            quote!(#p::ServerSpec { name: #name, title: #title, instructions: #instructions }),
        );
    }
}

impl ToTokens for ResourceSpec {
    fn to_tokens(&self, out: &mut TokenStream) {
        let p = path();
        let uri = text(&self.uri);
        let servers = list(&self.authorization_servers, text);
        let documentation = opt_text(&self.documentation);
        out.extend(quote!(#p::ResourceSpec {
            uri: #uri,
            authorization_servers: #servers,
            documentation: #documentation,
        }));
    }
}

impl ToTokens for ScopeSpec {
    fn to_tokens(&self, out: &mut TokenStream) {
        let p = path();
        let (name, description, access) = (text(&self.name), text(&self.description), self.access);
        out.extend(
            quote!(#p::ScopeSpec { name: #name, description: #description, access: #access }),
        );
    }
}

impl ToTokens for RecordSpec {
    fn to_tokens(&self, out: &mut TokenStream) {
        let p = path();
        let (kind, table, id, owner) = (
            text(&self.kind),
            text(&self.table),
            text(&self.id),
            text(&self.owner),
        );
        out.extend(quote!(#p::RecordSpec { kind: #kind, table: #table, id: #id, owner: #owner }));
    }
}

impl ToTokens for EnvironmentSpec {
    fn to_tokens(&self, out: &mut TokenStream) {
        let p = path();
        let name = text(&self.name);
        let (runtime, data, writes, enabled) = (self.runtime, self.data, self.writes, self.enabled);
        let authorization = self.authorization;
        out.extend(quote!(#p::EnvironmentSpec {
            name: #name,
            runtime: #runtime,
            data: #data,
            writes: #writes,
            enabled: #enabled,
            authorization: #authorization,
        }));
    }
}

impl ToTokens for ClientSpec {
    fn to_tokens(&self, out: &mut TokenStream) {
        let p = path();
        let client_id = text(&self.client_id);
        let tools = list(&self.tools, text);
        let resources = list(&self.resources, text);
        let prompts = list(&self.prompts, text);
        out.extend(quote!(#p::ClientSpec {
            client_id: #client_id,
            tools: #tools,
            resources: #resources,
            prompts: #prompts,
        }));
    }
}

impl ToTokens for Annotations {
    fn to_tokens(&self, out: &mut TokenStream) {
        let p = path();
        let read_only = self.read_only_hint;
        let destructive = opt(&self.destructive_hint);
        let idempotent = opt(&self.idempotent_hint);
        let open_world = self.open_world_hint;
        out.extend(quote!(#p::Annotations {
            read_only_hint: #read_only,
            destructive_hint: #destructive,
            idempotent_hint: #idempotent,
            open_world_hint: #open_world,
        }));
    }
}

impl ToTokens for LimitsSpec {
    fn to_tokens(&self, out: &mut TokenStream) {
        let p = path();
        let calls = opt(&self.calls_per_minute);
        let timeout = opt(&self.timeout_ms);
        out.extend(quote!(#p::LimitsSpec { calls_per_minute: #calls, timeout_ms: #timeout }));
    }
}

impl ToTokens for ToolSpec {
    fn to_tokens(&self, out: &mut TokenStream) {
        let p = path();
        let name = text(&self.name);
        let title = opt_text(&self.title);
        let description = text(&self.description);
        let access = self.access;
        let scopes = list(&self.scopes, text);
        let public = self.public;
        let record = opt_text(&self.record);
        let annotations = self.annotations;
        let declared_at = text(&self.declared_at);
        let calls = opt(&self.calls_per_minute);
        let timeout = opt(&self.timeout_ms);
        let example = opt_text(&self.example);
        let confirm = opt(&self.confirm);
        out.extend(quote!(#p::ToolSpec {
            name: #name,
            title: #title,
            description: #description,
            access: #access,
            scopes: #scopes,
            public: #public,
            record: #record,
            annotations: #annotations,
            declared_at: #declared_at,
            calls_per_minute: #calls,
            timeout_ms: #timeout,
            example: #example,
            confirm: #confirm,
        }));
    }
}

impl ToTokens for Confirm {
    fn to_tokens(&self, out: &mut TokenStream) {
        let p = path();
        let message = text(&self.message);
        let without = match self.without_elicitation {
            WithoutElicitation::Refuse => quote!(#p::WithoutElicitation::Refuse),
            WithoutElicitation::Allow => quote!(#p::WithoutElicitation::Allow),
        };
        out.extend(quote!(#p::Confirm { message: #message, without_elicitation: #without }));
    }
}

impl ToTokens for McpResourceSpec {
    fn to_tokens(&self, out: &mut TokenStream) {
        let p = path();
        let name = text(&self.name);
        let title = opt_text(&self.title);
        let description = text(&self.description);
        let mime_type = opt_text(&self.mime_type);
        let uri = text(&self.uri);
        let templated = self.templated;
        let scopes = list(&self.scopes, text);
        let public = self.public;
        let record = opt_text(&self.record);
        let declared_at = text(&self.declared_at);
        let calls = opt(&self.calls_per_minute);
        let timeout = opt(&self.timeout_ms);
        out.extend(quote!(#p::McpResourceSpec {
            name: #name,
            title: #title,
            description: #description,
            mime_type: #mime_type,
            uri: #uri,
            templated: #templated,
            scopes: #scopes,
            public: #public,
            record: #record,
            declared_at: #declared_at,
            calls_per_minute: #calls,
            timeout_ms: #timeout,
        }));
    }
}

impl ToTokens for PromptSpec {
    fn to_tokens(&self, out: &mut TokenStream) {
        let p = path();
        let name = text(&self.name);
        let title = opt_text(&self.title);
        let description = text(&self.description);
        let scopes = list(&self.scopes, text);
        let public = self.public;
        let declared_at = text(&self.declared_at);
        let calls = opt(&self.calls_per_minute);
        let timeout = opt(&self.timeout_ms);
        out.extend(quote!(#p::PromptSpec {
            name: #name,
            title: #title,
            description: #description,
            scopes: #scopes,
            public: #public,
            declared_at: #declared_at,
            calls_per_minute: #calls,
            timeout_ms: #timeout,
        }));
    }
}

impl ToTokens for ManifestSpec {
    fn to_tokens(&self, out: &mut TokenStream) {
        let p = path();
        let server = &self.server;
        let resource = &self.resource;
        let scopes = list(&self.scopes, ToTokens::to_token_stream);
        let records = list(&self.records, ToTokens::to_token_stream);
        let environments = list(&self.environments, ToTokens::to_token_stream);
        let clients = list(&self.clients, ToTokens::to_token_stream);
        let limits = &self.limits;
        out.extend(quote!(#p::ManifestSpec {
            server: #server,
            resource: #resource,
            scopes: #scopes,
            records: #records,
            environments: #environments,
            clients: #clients,
            limits: #limits,
        }));
    }
}
