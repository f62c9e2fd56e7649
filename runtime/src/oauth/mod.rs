//! The built-in OAuth 2.1 authorization server: what lets Claude, MCP
//! Inspector, the SDKs and every client that starts with the MCP
//! authorization dance connect with nothing but the server's URL.
//!
//! It issues tokens for this one resource only, to the identities the
//! server already has: the owner of an access key (typed on the consent
//! page; the grant never exceeds the key's scopes, and revoking the key
//! ends every refresh token it produced) or, in a local environment, a
//! development subject. Clients are Client ID Metadata Documents (an https
//! `client_id`) or registered dynamically (RFC 7591), with a cap. Codes
//! need PKCE S256 and the exact `resource`; refresh tokens rotate on every
//! use and a reused one revokes its family. Access tokens are RFC 9068
//! JWTs signed with an Ed25519 key kept in the database, so every instance
//! on one database issues and accepts the same tokens, verified by the
//! same code as an external issuer's.
//!
//! The transport (`http/oauth.rs`) maps these to routes:
//! `/.well-known/oauth-authorization-server/oauth` (and the OpenID
//! aliases), `/oauth/authorize`, `/oauth/token`, `/oauth/register`,
//! `/oauth/revoke` and `/oauth/jwks`. The issuer is the resource's origin
//! followed by `/oauth`.

mod authorize;
mod clients;
mod page;
mod params;
mod register;
mod server;
mod store;
mod token;
mod types;

pub use authorize::{Answer, CSRF_COOKIE};
pub use params::Params;
pub use server::{AuthorizationServer, PATH, issuer_for};
pub use store::ClientRow;
pub use types::{ClientCredentials, OAuthError, OAuthSettings, ScopeInfo, scope_catalogue};
