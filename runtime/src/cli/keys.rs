//! `keys`: create, revoke, list and verify access keys from the command line.

use super::args::{Common, KeysCommand};
use super::setup::{BoxError, open_db};
use crate::auth::AccessKeys;
use crate::registry::Tools;

/// `keys ...`.
pub(super) async fn keys<S: Tools>(cmd: KeysCommand, common: &Common) -> Result<(), BoxError> {
    let env = crate::environment::select(S::manifest(), &common.env)?;
    let (db, _) = open_db::<S>(common, &env).await?;
    let store = AccessKeys::new(db, S::manifest().scopes.iter().map(|s| s.name.to_string()));
    match cmd {
        KeysCommand::Create {
            owner,
            scopes,
            client,
            expires,
            json,
        } => {
            let ttl = expires.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
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
                    } else if k.expires_at.is_some_and(|e| e <= crate::store::now()) {
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
