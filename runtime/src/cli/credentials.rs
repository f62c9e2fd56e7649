//! Credentials on the command line: the sources a server trusts (access
//! keys, the authorization server's tokens, local development tokens).

use std::path::Path;
use std::sync::Arc;

use super::args::AuthArgs;
use super::setup::BoxError;
use crate::auth::{
    AccessKeys, CacheConfig, Credentials, DevKey, JwksSource, JwtConfig, JwtVerifier, Keys,
    VerifiedCache,
};
use crate::registry::Tools;
use crate::server::StartError;
use crate::store::Db;
use mcpgen_spec::{Authorization, EnvironmentSpec, RuntimeKind};

/// The token sources for `env`: OAuth tokens when keys are configured;
/// development tokens only in a local environment. A non-local environment
/// without OAuth keys refuses to start (before it touches a database). Add
/// the access keys of a database with [`with_access_keys`].
pub async fn credentials<S: Tools>(
    auth: &AuthArgs,
    env: &EnvironmentSpec,
    audience: &str,
    data_dir: &Path,
) -> Result<Credentials, BoxError> {
    let manifest = S::manifest();
    let issuer = auth
        .issuer
        .clone()
        .or_else(|| {
            manifest
                .resource
                .authorization_servers
                .first()
                .map(|s| s.to_string())
        })
        .unwrap_or_default();
    if auth.jwks_url.is_some() || !auth.jwt_public_keys.is_empty() {
        crate::endpoint::check_url("issuer", &issuer)?;
    }
    let mut config = JwtConfig::new(issuer, audience);
    config.max_lifetime = auth.max_token_lifetime;
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
    let builtin = env.authorization == Authorization::BuiltIn;
    if env.runtime != RuntimeKind::Local && oauth.is_none() && !builtin {
        return Err(StartError::NoCredentialSource {
            name: env.name.to_string(),
            runtime: env.runtime.to_string(),
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
    Ok(Credentials {
        keys: None,
        oauth,
        builtin: None,
        dev,
        cache: Arc::new(VerifiedCache::new(CacheConfig {
            key_ttl: auth.key_cache_ttl,
            token_ttl: auth.token_cache_ttl,
            ..CacheConfig::default()
        })),
    })
}

/// `credentials` with the access keys stored in `db`.
pub fn with_access_keys<S: Tools>(mut credentials: Credentials, db: &Db) -> Credentials {
    let declared = S::manifest().scopes.iter().map(|s| s.name.to_string());
    credentials.keys = Some(AccessKeys::new(db.clone(), declared));
    credentials
}

pub(super) fn check_scopes<S: Tools>(scopes: &[String]) -> Result<(), BoxError> {
    let declared: Vec<&str> = S::manifest().scopes.iter().map(|s| &*s.name).collect();
    for s in scopes {
        if !declared.contains(&s.as_str()) && s != mcpgen_spec::ADMIN_SCOPE {
            return Err(format!(
                "unknown scope `{s}`: declared scopes are {} (and the admin listener's mcpgen:admin)",
                declared.join(", ")
            )
            .into());
        }
    }
    Ok(())
}
