//! Dynamic Client Registration (RFC 7591): checked metadata, a secret
//! (stored hashed) unless the client is public, limits per network and in
//! all, and a cap on how many are kept.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::clients;
use super::server::AuthorizationServer;
use super::types::OAuthError;
use crate::auth::signer::random_token;
use crate::store::now;

impl AuthorizationServer {
    /// Dynamic Client Registration (RFC 7591): `body` is the client's
    /// metadata; the answer its registration (with a secret, shown once,
    /// unless it asked for `none`).
    pub async fn register(&self, body: &[u8], peer: Option<IpAddr>) -> Result<Value, OAuthError> {
        let peer_text = peer.map(|p| p.to_string()).unwrap_or_default();
        let result = self.register_inner(body, peer).await;
        match &result {
            Ok(v) => self.audit.authorization(
                "oauth:register",
                Ok("registered"),
                &peer_text,
                "",
                v["client_id"].as_str().unwrap_or_default(),
                "",
            ),
            Err(e) => {
                self.audit
                    .authorization("oauth:register", Err(e.error), &peer_text, "", "", "")
            }
        }
        result
    }

    async fn register_inner(&self, body: &[u8], peer: Option<IpAddr>) -> Result<Value, OAuthError> {
        if let Some(ip) = peer {
            if self.registrations.len() > 10_000 {
                self.registrations.retain_recent();
            }
            if self
                .registrations
                .check_key(&clients::network_of(ip))
                .is_err()
            {
                return Err(OAuthError::new(
                    "slow_down",
                    "too many registrations from this address; retry in a minute",
                ));
            }
        }
        if self.all_registrations.check().is_err() {
            return Err(OAuthError::new(
                "slow_down",
                "too many registrations right now; retry in a minute",
            ));
        }
        let meta: serde_json::Map<String, Value> = serde_json::from_slice(body).map_err(|_| {
            OAuthError::new(
                "invalid_client_metadata",
                "the body must be a JSON object of client metadata",
            )
        })?;
        let invalid = |d: String| OAuthError::new("invalid_client_metadata", d);
        let redirect_uris: Vec<String> = match meta.get("redirect_uris") {
            Some(Value::Array(list)) if !list.is_empty() && list.len() <= 20 => list
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| invalid("redirect_uris must be strings".into()))?,
            _ => {
                return Err(OAuthError::new(
                    "invalid_redirect_uri",
                    "redirect_uris must list 1 to 20 URIs",
                ));
            }
        };
        if let Some(problem) = redirect_uris
            .iter()
            .find_map(|r| clients::redirect_uri_problem(r))
        {
            return Err(OAuthError::new("invalid_redirect_uri", problem));
        }
        let method = match meta.get("token_endpoint_auth_method") {
            None => "client_secret_basic".to_owned(),
            Some(Value::String(m))
                if ["none", "client_secret_post", "client_secret_basic"].contains(&m.as_str()) =>
            {
                m.clone()
            }
            Some(other) => {
                return Err(invalid(format!(
                    "token_endpoint_auth_method {other} is not supported: use none, client_secret_post or client_secret_basic"
                )));
            }
        };
        for (field, allowed) in [
            ("grant_types", &["authorization_code", "refresh_token"][..]),
            ("response_types", &["code"][..]),
        ] {
            if let Some(v) = meta.get(field) {
                let ok = v.as_array().is_some_and(|l| {
                    l.iter()
                        .all(|g| g.as_str().is_some_and(|g| allowed.contains(&g)))
                });
                if !ok {
                    return Err(invalid(format!(
                        "{field} may list only {}",
                        allowed.join(", ")
                    )));
                }
            }
        }
        let name = clients::clean_name(meta.get("client_name").and_then(Value::as_str))
            .unwrap_or_else(|| clients::redirect_host(&redirect_uris[0]));
        let client_id = format!("mcpc_{}", random_token(16));
        let secret = (method != "none").then(|| format!("mcps_{}", random_token(32)));
        self.store
            .register(
                &client_id,
                secret.as_deref(),
                &name,
                &redirect_uris,
                &method,
                self.settings.max_registered_clients,
            )
            .await
            .map_err(|e| OAuthError::unavailable(&e))?;
        let mut answer = json!({
            "client_id": client_id,
            "client_id_issued_at": now(),
            "client_name": name,
            "redirect_uris": redirect_uris,
            "token_endpoint_auth_method": method,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        });
        if let Some(s) = secret {
            answer["client_secret"] = s.into();
            answer["client_secret_expires_at"] = 0.into();
        }
        Ok(answer)
    }
}
