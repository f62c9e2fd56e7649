//! Form and query parameters (`application/x-www-form-urlencoded`) as the
//! OAuth endpoints read them: each name at most once (RFC 6749 §3.1: a
//! repeated parameter is an error, never "the first one wins").

use std::collections::BTreeMap;

/// At most this many parameters in one request.
const MAX_PARAMS: usize = 64;

/// Parsed parameters, each name once.
#[derive(Debug, Default, Clone)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Parse `bytes`; `Err` names the first repeated parameter.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(bytes) {
            if map.len() == MAX_PARAMS {
                return Err(format!("more than {MAX_PARAMS} parameters"));
            }
            if map.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(format!(
                    "parameter `{}` is repeated",
                    k.chars().take(40).collect::<String>()
                ));
            }
        }
        Ok(Self(map))
    }

    /// The value of `name`, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_parameter_is_an_error() {
        let p = Params::parse(b"a=1&b=%20x&c=").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some(" x"));
        assert_eq!(p.get("c"), None);
        let e = Params::parse(b"resource=a&resource=b").unwrap_err();
        assert!(e.contains("`resource` is repeated"), "{e}");
    }
}
