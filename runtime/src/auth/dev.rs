//! Development tokens: a signing key created on first use in the data
//! directory, trusted only in the local environment, so the quickstart can
//! show a real bearer flow without an authorization server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, encode};
use serde::Serialize;

use super::jwt::{JwtConfig, JwtVerifier, Keys};
use crate::caller::AuthMethod;
use crate::store::now;

/// The `iss` of development tokens. No real authorization server uses it.
pub const DEV_ISSUER: &str = "urn:mcpgen:dev";
const KID: &str = "mcpgen-dev";
const FILE: &str = "dev-signing-key.p8";

/// The local development signing key.
pub struct DevKey {
    pkcs8: Vec<u8>,
    public: Vec<u8>,
    path: PathBuf,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
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
                let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
                    .map_err(|_| std::io::Error::other("cannot generate a signing key"))?;
                match publish_private(&path, doc.as_ref()) {
                    Ok(()) => doc.as_ref().to_vec(),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read(&path)?
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| {
            std::io::Error::other(format!("{} is not an Ed25519 PKCS#8 key", path.display()))
        })?;
        Ok(Self {
            public: pair.public_key().as_ref().to_vec(),
            pkcs8,
            path,
        })
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
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(KID.into());
        let iat = now();
        let jti = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode({
            let mut b = [0u8; 12];
            aws_lc_rs::rand::fill(&mut b)
                .expect("the system random number generator is unavailable");
            b
        });
        let claims = Claims {
            iss: DEV_ISSUER,
            sub: subject,
            aud: audience,
            iat,
            nbf: iat,
            exp: iat.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            jti,
            scope: scopes.join(" "),
            client_id: client,
        };
        encode(&header, &claims, &EncodingKey::from_ed_der(&self.pkcs8))
    }

    /// A verifier that accepts this key's tokens for `audience`.
    pub fn verifier(&self, audience: &str) -> JwtVerifier {
        let mut config = JwtConfig::new(DEV_ISSUER, audience);
        config.algorithms = vec![Algorithm::EdDSA];
        config.method = AuthMethod::DevToken;
        JwtVerifier::new(
            config,
            Keys::Static(vec![(
                Some(KID.into()),
                DecodingKey::from_ed_der(&self.public),
            )]),
        )
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
            let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
                let workers: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            DevKey::load_or_create(&dir).map(|k| k.public)
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
