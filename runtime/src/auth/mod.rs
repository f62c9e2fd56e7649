//! Credentials: access keys (issued by this server) and OAuth access tokens
//! (JWTs from the authorization server, or minted locally for development),
//! each turned into a [`Caller`](crate::Caller) by an [`Authenticator`].

mod authenticator;
pub mod cache;
mod credentials;
pub mod dev;
pub mod jwt;
pub mod keys;
mod request_state;
pub mod revocations;
mod seal;
pub mod signer;

pub use crate::caller::AuthMethod;
pub use authenticator::{AuthError, Authenticator};
pub use cache::{CacheConfig, VerifiedCache};
pub use credentials::Credentials;
pub(crate) use credentials::reference;
pub use dev::DevKey;
pub use jwt::{JwksSource, JwtConfig, JwtVerifier, Keys};
pub use keys::{AccessKeys, KeyError, KeyInfo, NewKey};
pub(crate) use request_state::{RequestState, RequestStates, StateRefused};
pub use revocations::RevokedGrants;
pub use seal::Sealer;
pub use signer::{Grant, SigningKey};
