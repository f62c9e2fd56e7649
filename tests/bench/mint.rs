//! Mints RS256 access tokens for the load benchmark, as the example
//! manifest's authorization server would (the test-only key in
//! `tests/fixtures/auth`), one per line on stdout.
//!
//! `mcpgen-bench-mint --sub alice --scopes notes:read --count 1000`
//!
//! `mcpgen-bench-mint --measure-verify 2000` instead prints the cost of
//! one RS256 verification with jsonwebtoken on its aws-lc-rs backend (the
//! server's), in microseconds: the median of five timed passes over that
//! many distinct tokens, after a warm-up.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    };
    let sub = arg("--sub", "alice");
    let scopes = arg("--scopes", "notes:read").replace(',', " ");
    let count: usize = arg("--count", "1").parse().expect("--count N");
    let ttl: i64 = arg("--ttl", "3600").parse().expect("--ttl SECONDS");
    let root = env!("CARGO_MANIFEST_DIR");
    let pem = std::fs::read(format!("{root}/tests/fixtures/auth/as-key.pem")).expect("key");
    let key = EncodingKey::from_rsa_pem(&pem).expect("RSA PEM");
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("as-key-1".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunks: Vec<Vec<String>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|w| {
                let (key, header, sub, scopes) = (&key, &header, &sub, &scopes);
                s.spawn(move || {
                    (w..count)
                        .step_by(threads)
                        .map(|i| {
                            let claims = json!({
                                "iss": "https://auth.example.com", "aud": "http://127.0.0.1:8080/mcp",
                                "sub": sub, "iat": now, "nbf": now - 5, "exp": now + ttl,
                                "jti": format!("bench-{i}"), "client_id": "bench", "scope": scopes,
                            });
                            encode(header, &claims, key).expect("signed")
                        })
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    if let Some(i) = args.iter().position(|a| a == "--measure-verify") {
        let n: usize = args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(count);
        let tokens: Vec<&String> = chunks.iter().flatten().take(n).collect();
        let public =
            std::fs::read(format!("{root}/tests/fixtures/auth/as-key.pub.pem")).expect("key");
        let key = DecodingKey::from_rsa_pem(&public).expect("RSA PEM");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["http://127.0.0.1:8080/mcp"]);
        validation.set_issuer(&["https://auth.example.com"]);
        // The claims the server reads, into a struct as the server does.
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Claims {
            sub: String,
            scope: Option<String>,
            client_id: Option<String>,
            jti: Option<String>,
            exp: i64,
        }
        // Warm the key, the code and the allocator first, then time each
        // token in five rounds and take the median round: a cold first
        // pass measured more than the server pays.
        let verify = |t: &str| {
            decode::<Claims>(t, &key, &validation).expect("valid");
        };
        tokens.iter().take(200).for_each(|t| verify(t));
        let mut rounds: Vec<f64> = (0..5)
            .map(|_| {
                let start = std::time::Instant::now();
                tokens.iter().for_each(|t| verify(t));
                start.elapsed().as_secs_f64() * 1e6 / tokens.len() as f64
            })
            .collect();
        rounds.sort_by(f64::total_cmp);
        let per = rounds[2];
        println!("{per:.1}");
        return;
    }
    let mut out = String::new();
    for chunk in chunks {
        for t in chunk {
            out.push_str(&t);
            out.push('\n');
        }
    }
    print!("{out}");
}
