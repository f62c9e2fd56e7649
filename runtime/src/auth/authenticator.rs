//! The one question every credential source answers: who is this?

use crate::caller::Caller;
use crate::handler::def::BoxFuture;

/// Why a presented credential was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Malformed, expired, revoked, wrong audience or issuer, unknown key:
    /// all look the same to the caller.
    #[error("the access token is invalid")]
    InvalidToken,
    /// The credential could not be checked (e.g. the key store is down).
    /// Fails closed.
    #[error("credentials cannot be verified right now")]
    Unavailable,
}

/// Turns a presented credential (a bearer token or an access key) into a
/// [`Caller`]. The same authenticator serves HTTP and stdio.
pub trait Authenticator: Send + Sync + 'static {
    /// Verify `credential`. Never log it.
    fn authenticate<'a>(&'a self, credential: &'a str) -> BoxFuture<'a, Result<Caller, AuthError>>;
}
