//! Credentials on the command line: the sources a server trusts (access
//! keys, the authorization server's tokens, local development tokens) and
//! the `keys` subcommand that manages access keys.

use std::path::Path;
use std::sync::Arc;

use super::{AuthArgs, BoxError, Common, KeysCommand, open_db, runtime_name};
use crate::auth::{
    AccessKeys, CacheConfig, Credentials, DevKey, JwksSource, JwtConfig, JwtVerifier, Keys,
    VerifiedCache,
};
use crate::db::Db;
use crate::registry::Tools;
use crate::server::StartError;
use crate::spec::{EnvironmentSpec, RuntimeKind};

/// The credential sources for `env`: access keys always; OAuth tokens when
/// keys are configured; development tokens only in a local environment.
/// A non-local environment without OAuth keys refuses to start.
pub async fn credentials<S: Tools>(
    auth: &AuthArgs,
    env: &EnvironmentSpec,
    db: &Db,
    data_dir: &Path,
) -> Result<Credentials, BoxError> {
    let manifest = S::manifest();
    let audience = manifest.resource.uri;
    let issuer = auth
        .issuer
        .clone()
        .or_else(|| {
            manifest
                .resource
                .authorization_servers
                .first()
                .map(|s| (*s).to_owned())
        })
        .unwrap_or_default();
    let mut config = JwtConfig::new(issuer, audience);
    if !auth.jwt_typ.is_empty() {
        config.accepted_typ = auth.jwt_typ.clone();
    }
    let keys = if let Some(url) = &auth.jwks_url {
        Some(Keys::Jwks(Box::new(JwksSource::new(url.clone())?)))
    } else if !auth.jwt_public_keys.is_empty() {
        let mut list = Vec::new();
        for spec in &auth.jwt_public_keys {
            let (kid, file) = match spec.split_once('=') {
                Some((k, f)) => (Some(k.to_owned()), f),
                None => (None, spec.as_str()),
            };
            let pem = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
            let key = jsonwebtoken::DecodingKey::from_rsa_pem(&pem)
                .or_else(|_| jsonwebtoken::DecodingKey::from_ec_pem(&pem))
                .or_else(|_| jsonwebtoken::DecodingKey::from_ed_pem(&pem))
                .map_err(|_| format!("{file} is not a PEM RSA, EC or Ed25519 public key"))?;
            list.push((kid, key));
        }
        Some(Keys::Static(list))
    } else {
        None
    };
    let oauth = keys.map(|k| Arc::new(JwtVerifier::new(config, k)));
    if env.runtime != RuntimeKind::Local && oauth.is_none() {
        return Err(StartError::NoCredentialSource {
            name: env.name.to_owned(),
            runtime: runtime_name(env.runtime),
        }
        .into());
    }
    let dev = if env.runtime == RuntimeKind::Local {
        Some(Arc::new(
            DevKey::load_or_create(data_dir)?.verifier(audience),
        ))
    } else {
        None
    };
    let declared = manifest.scopes.iter().map(|s| s.name);
    Ok(Credentials {
        keys: Some(AccessKeys::new(db.clone(), declared)),
        oauth,
        dev,
        cache: Arc::new(VerifiedCache::new(CacheConfig {
            key_ttl: auth.key_cache_ttl,
            token_ttl: auth.token_cache_ttl,
            ..CacheConfig::default()
        })),
    })
}

pub(super) fn check_scopes<S: Tools>(scopes: &[String]) -> Result<(), BoxError> {
    let declared: Vec<&str> = S::manifest().scopes.iter().map(|s| s.name).collect();
    for s in scopes {
        if !declared.contains(&s.as_str()) {
            return Err(format!(
                "unknown scope `{s}`: declared scopes are {}",
                declared.join(", ")
            )
            .into());
        }
    }
    Ok(())
}

pub(super) async fn keys<S: Tools>(cmd: KeysCommand, common: &Common) -> Result<(), BoxError> {
    let db = open_db::<S>(common).await?;
    let store = AccessKeys::new(db, S::manifest().scopes.iter().map(|s| s.name));
    match cmd {
        KeysCommand::Create {
            owner,
            scopes,
            client,
            expires,
            json,
        } => {
            let ttl = expires.map(|d| d.as_secs() as i64);
            let key = store
                .create(&owner, &scopes, client.as_deref(), ttl)
                .await?;
            if json {
                println!("{}", serde_json::to_string(&key)?);
            } else {
                println!("{}", key.key);
                eprintln!(
                    "key {} for {} with scopes {} — shown once, store it now",
                    key.id,
                    key.owner,
                    key.scopes.join(" ")
                );
            }
        }
        KeysCommand::Revoke { id } => {
            if !store.revoke(&id).await? {
                return Err(format!("no active key with id {id}").into());
            }
            eprintln!("revoked {id}");
        }
        KeysCommand::List { owner, json } => {
            let list = store.list(owner.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string(&list)?);
            } else {
                for k in list {
                    let state = if k.revoked_at.is_some() {
                        "revoked"
                    } else if k.expires_at.is_some_and(|e| e <= crate::db::now()) {
                        "expired"
                    } else {
                        "active"
                    };
                    println!(
                        "{}  {:8} {:20} {}",
                        k.id,
                        state,
                        k.owner,
                        k.scopes.join(" ")
                    );
                }
            }
        }
        KeysCommand::Verify { key } => {
            let key = if key == "-" {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                line.trim().to_owned()
            } else {
                key
            };
            match store.verify(&key).await {
                Ok(c) => println!(
                    "{}",
                    serde_json::json!({
                        "subject": c.subject(),
                        "key_id": c.credential_id(),
                        "scopes": c.scopes(),
                        "client": c.client_id(),
                        "expires_at": c.expires_at(),
                    })
                ),
                Err(e) => return Err(format!("key refused: {e}").into()),
            }
        }
    }
    Ok(())
}
