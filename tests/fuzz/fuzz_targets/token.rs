//! Any text as a bearer token, through the JWT verifier: refused or
//! accepted, never a panic.

#![no_main]

use std::sync::OnceLock;

use jsonwebtoken::DecodingKey;
use libfuzzer_sys::fuzz_target;
use mcpgen::auth::{JwtConfig, JwtVerifier, Keys};

const PUBLIC_KEY: &[u8] = include_bytes!("../../fixtures/auth/as-key.pub.pem");

fn verifier() -> &'static JwtVerifier {
    static V: OnceLock<JwtVerifier> = OnceLock::new();
    V.get_or_init(|| {
        JwtVerifier::new(
            JwtConfig::new("https://auth.example.com", "http://127.0.0.1:8080/mcp"),
            Keys::Static(vec![(
                Some("as-key-1".into()),
                DecodingKey::from_rsa_pem(PUBLIC_KEY).expect("the fixture key"),
            )]),
        )
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|token: &str| {
    let _ = runtime().block_on(verifier().verify(token));
});
