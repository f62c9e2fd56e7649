//! Development tokens: a signing key created on first use in the data
//! directory, trusted only in the local environment, so the quickstart can
//! show a real bearer flow without an authorization server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::jwt::JwtVerifier;
use super::signer::{Grant, SigningKey};
use crate::caller::AuthMethod;

/// The `iss` of development tokens. No real authorization server uses it.
pub const DEV_ISSUER: &str = "urn:mcpgen:dev";
const KID: &str = "mcpgen-dev";
const FILE: &str = "dev-signing-key.p8";

/// The local development signing key.
pub struct DevKey {
    key: SigningKey,
    path: PathBuf,
}

impl DevKey {
    /// Load the key from `data_dir`, creating it (mode 0600) if missing.
    ///
    /// Processes that start together (`serve` and `token mint`) agree on
    /// one key: the key file appears whole or not at all, and a process
    /// that finds another's key already there uses it.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        let path = data_dir.join(FILE);
        let pkcs8 = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::store::private_dir(data_dir)?;
                let doc = SigningKey::generate()?;
                match publish_private(&path, &doc) {
                    Ok(()) => doc,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read(&path)?
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let key = SigningKey::from_pkcs8(KID, pkcs8).ok_or_else(|| {
            std::io::Error::other(format!("{} is not an Ed25519 PKCS#8 key", path.display()))
        })?;
        Ok(Self { key, path })
    }

    /// Where the key lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sign a token for `subject` with `scopes`, valid for `ttl`, for the
    /// resource `audience`.
    pub fn mint(
        &self,
        audience: &str,
        subject: &str,
        scopes: &[String],
        client: Option<&str>,
        ttl: Duration,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.key.mint(&Grant {
            issuer: DEV_ISSUER,
            audience,
            subject,
            scopes,
            client,
            ttl,
            session: None,
        })
    }

    /// A verifier that accepts this key's tokens for `audience`.
    pub fn verifier(&self, audience: &str) -> JwtVerifier {
        self.key
            .verifier(DEV_ISSUER, audience, AuthMethod::DevToken)
    }
}

/// Create `path` holding `bytes`, readable by the owner only, atomically:
/// the bytes go to a private file of this process first, which is then
/// linked to `path` (a hard link never replaces an existing file, so a
/// concurrent creator's key is kept and this one fails `AlreadyExists`).
#[cfg(unix)]
fn publish_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut suffix = [0u8; 8];
    aws_lc_rs::rand::fill(&mut suffix).map_err(|_| std::io::Error::other("no randomness"))?;
    let staging = path.with_extension(format!(
        "p8.{}.{}",
        std::process::id(),
        u64::from_le_bytes(suffix)
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staging)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::hard_link(&staging, path));
    let _ = std::fs::remove_file(&staging);
    written
}

#[cfg(not(unix))]
fn publish_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_starting_together_agree_on_one_key() {
        let dir = std::env::temp_dir().join(format!("mcpgen-devkey-race-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for round in 0..20 {
            let dir = dir.join(round.to_string());
            let start = std::sync::Barrier::new(8);
            let keys: Vec<serde_json::Value> = std::thread::scope(|s| {
                let workers: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            DevKey::load_or_create(&dir).map(|k| k.key.jwk())
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().unwrap().expect("every starter gets the key"))
                    .collect()
            });
            assert!(keys.windows(2).all(|w| w[0] == w[1]), "one key for all");
            let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
            assert_eq!(files.len(), 1, "no staging file is left behind");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(dir.join(FILE))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
