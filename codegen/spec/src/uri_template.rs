//! URI templates for resources (RFC 6570, level 1: `{var}` simple string
//! expansion), parsed once and matched both ways: the code generator
//! checks a manifest's `uri_template` with [`UriTemplate::parse`], the
//! runtime finds which resource a `resources/read` URI names with
//! [`UriTemplate::matches`].
//!
//! Only what can be matched without guessing is accepted: every variable
//! is followed by the end or by a literal that cannot be part of a value
//! (a value is one or more unreserved characters or percent-escapes), so a
//! URI matches a template in at most one way, found in one pass. Operators
//! (`{+var}`, `{#var}`, `{/var}`, `{?var}`, ...), explode (`*`), prefixes
//! (`:3`) and lists (`{a,b}`) are refused with what to write instead. No
//! crate both parses and matches templates: `iri-string` and
//! `uritemplate-next` expand only.

use std::fmt;

/// A parsed level-1 URI template, e.g. `note://{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(String),
}

/// Why a template cannot be used. Each says what to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The template does not start with a scheme (`note://`, `file:///`).
    NoScheme,
    /// A `{` without its `}`, or a `}` without its `{`.
    Unbalanced,
    /// `{}`.
    EmptyVariable,
    /// An operator, explode or prefix modifier, or a list of variables.
    Unsupported(String),
    /// A variable name other than letters, digits and `_`.
    BadName(String),
    /// The same variable twice.
    Repeated(String),
    /// Two variables with nothing between them (`{a}{b}`).
    Adjacent(String, String),
    /// A variable followed by a character that could be part of its value.
    Ambiguous(String, char),
    /// A character a URI template may not hold as a literal.
    BadLiteral(char),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoScheme => f.write_str(
                "a URI template must be an absolute URI: start it with a scheme, e.g. `note://{id}`",
            ),
            Self::Unbalanced => f.write_str("every `{` needs its `}` (and a `}` its `{`)"),
            Self::EmptyVariable => f.write_str("`{}` names no variable: write `{id}`"),
            Self::Unsupported(expr) => write!(
                f,
                "`{{{expr}}}` is not supported: only simple variables like `{{id}}` (RFC 6570 level 1), \
                 so a URI matches in exactly one way"
            ),
            Self::BadName(name) => write!(
                f,
                "variable `{name}`: a name is letters, digits and `_`"
            ),
            Self::Repeated(name) => write!(f, "variable `{name}` appears twice"),
            Self::Adjacent(a, b) => write!(
                f,
                "`{{{a}}}{{{b}}}`: put a separator between two variables, e.g. `{{{a}}}/{{{b}}}`"
            ),
            Self::Ambiguous(name, c) => write!(
                f,
                "`{{{name}}}` is followed by `{c}`, which could be part of its value: follow a variable \
                 by the end or by a separator such as `/`"
            ),
            Self::BadLiteral(c) => write!(
                f,
                "`{}` cannot appear in a URI template: percent-encode it",
                c.escape_default()
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

/// A character that may be part of a variable's value as it appears in a
/// URI (RFC 3986 unreserved; `%` starts an escape).
fn unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

/// A character RFC 6570 §2.1 allows as a literal (outside `{}`; `%` only
/// as the start of an escape, checked separately).
fn literal_ok(c: char) -> bool {
    !(c.is_control() || matches!(c, ' ' | '"' | '\'' | '<' | '>' | '\\' | '^' | '`' | '|'))
}

impl UriTemplate {
    /// Parse `text`; `Err` says what to write instead.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let scheme_end = text.find(':').ok_or(TemplateError::NoScheme)?;
        let scheme = &text[..scheme_end];
        let scheme_ok = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !scheme_ok {
            return Err(TemplateError::NoScheme);
        }
        let mut parts: Vec<Part> = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                Some(i) if rest.as_bytes()[i] == b'}' => return Err(TemplateError::Unbalanced),
                Some(0) => {
                    let close = rest.find('}').ok_or(TemplateError::Unbalanced)?;
                    let expr = &rest[1..close];
                    if expr.contains('{') {
                        return Err(TemplateError::Unbalanced);
                    }
                    if expr.is_empty() {
                        return Err(TemplateError::EmptyVariable);
                    }
                    let operator = expr
                        .starts_with(['+', '#', '.', '/', ';', '?', '&', '=', ',', '!', '@', '|']);
                    if operator || expr.contains([',', '*', ':']) {
                        return Err(TemplateError::Unsupported(expr.to_owned()));
                    }
                    if !expr.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        return Err(TemplateError::BadName(expr.to_owned()));
                    }
                    if parts.iter().any(|p| *p == Part::Variable(expr.to_owned())) {
                        return Err(TemplateError::Repeated(expr.to_owned()));
                    }
                    if let Some(Part::Variable(before)) = parts.last() {
                        return Err(TemplateError::Adjacent(before.clone(), expr.to_owned()));
                    }
                    parts.push(Part::Variable(expr.to_owned()));
                    rest = &rest[close + 1..];
                }
                found => {
                    let end = found.unwrap_or(rest.len());
                    let literal = &rest[..end];
                    check_literal(literal)?;
                    if let (Some(Part::Variable(name)), Some(first)) =
                        (parts.last(), literal.chars().next())
                        && (unreserved(first) || first == '%')
                    {
                        return Err(TemplateError::Ambiguous(name.clone(), first));
                    }
                    parts.push(Part::Literal(literal.to_owned()));
                    rest = &rest[end..];
                }
            }
        }
        Ok(Self { parts })
    }

    /// The variables, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Variable(v) => Some(v.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Whether the template has no variables (a fixed URI).
    pub fn is_fixed(&self) -> bool {
        self.variables().next().is_none()
    }

    /// The value of each variable if `uri` is an expansion of this
    /// template (percent-escapes decoded; a value is never empty and must
    /// decode to UTF-8), else `None`.
    pub fn matches(&self, uri: &str) -> Option<Vec<(&str, String)>> {
        let mut values = Vec::new();
        let mut rest = uri;
        for part in &self.parts {
            match part {
                Part::Literal(l) => rest = rest.strip_prefix(l.as_str())?,
                Part::Variable(name) => {
                    let len = value_len(rest);
                    if len == 0 {
                        return None;
                    }
                    values.push((name.as_str(), decode(&rest[..len])?));
                    rest = &rest[len..];
                }
            }
        }
        rest.is_empty().then_some(values)
    }

    /// The URI with each variable replaced by its value from `values`
    /// (percent-encoding every character that is not unreserved); `None`
    /// if a variable has no value or an empty one.
    pub fn expand(&self, values: &[(&str, &str)]) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(l) => out.push_str(l),
                Part::Variable(name) => {
                    let value = values.iter().find(|(n, _)| n == name)?.1;
                    if value.is_empty() {
                        return None;
                    }
                    for b in value.bytes() {
                        if unreserved(char::from(b)) {
                            out.push(char::from(b));
                        } else {
                            out.push_str(&format!("%{b:02X}"));
                        }
                    }
                }
            }
        }
        Some(out)
    }
}

impl fmt::Display for UriTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Literal(l) => f.write_str(l)?,
                Part::Variable(v) => write!(f, "{{{v}}}")?,
            }
        }
        Ok(())
    }
}

fn check_literal(literal: &str) -> Result<(), TemplateError> {
    let bytes = literal.as_bytes();
    for (i, c) in literal.char_indices() {
        if c == '%' {
            let escape = bytes.get(i + 1..i + 3);
            if !escape.is_some_and(|e| e.iter().all(u8::is_ascii_hexdigit)) {
                return Err(TemplateError::BadLiteral('%'));
            }
        } else if !literal_ok(c) {
            return Err(TemplateError::BadLiteral(c));
        }
    }
    Ok(())
}

/// How many bytes at the start of `s` form a value: unreserved characters
/// and well-formed percent-escapes.
fn value_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if unreserved(char::from(b[i])) && b[i].is_ascii() {
            i += 1;
        } else if b[i] == b'%'
            && b.get(i + 1..i + 3)
                .is_some_and(|e| e.iter().all(u8::is_ascii_hexdigit))
        {
            i += 3;
        } else {
            break;
        }
    }
    i
}

fn decode(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_templates_match_and_expand() {
        let t = UriTemplate::parse("note://{id}").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["id"]);
        assert_eq!(t.matches("note://42"), Some(vec![("id", "42".to_owned())]));
        assert_eq!(t.matches("note://"), None, "a value is never empty");
        assert_eq!(t.matches("note://4/2"), None, "a value holds no `/`");
        assert_eq!(t.matches("notes://42"), None);
        assert_eq!(t.expand(&[("id", "42")]).as_deref(), Some("note://42"));

        let t = UriTemplate::parse("test://template/{id}/data").unwrap();
        assert_eq!(
            t.matches("test://template/a%20b/data"),
            Some(vec![("id", "a b".to_owned())])
        );
        assert_eq!(
            t.expand(&[("id", "a b/c")]).as_deref(),
            Some("test://template/a%20b%2Fc/data")
        );
        assert_eq!(t.matches("test://template/x/data/more"), None);

        let t = UriTemplate::parse("repo://{owner}/{name}").unwrap();
        assert_eq!(
            t.matches("repo://ann/notes.rs"),
            Some(vec![
                ("owner", "ann".to_owned()),
                ("name", "notes.rs".to_owned())
            ])
        );
        assert!(UriTemplate::parse("test://static-text").unwrap().is_fixed());
        assert_eq!(t.to_string(), "repo://{owner}/{name}");
        assert_eq!(t.matches("repo://%FF/x"), None, "values decode to UTF-8");
    }

    #[test]
    fn templates_that_could_match_two_ways_are_refused_with_what_to_write() {
        use TemplateError::*;
        for (text, error) in [
            ("{id}", NoScheme),
            ("//x/{id}", NoScheme),
            ("1x://{id}", NoScheme),
            ("note://{id", Unbalanced),
            ("note://id}", Unbalanced),
            ("note://{}", EmptyVariable),
            ("note://{+path}", Unsupported("+path".into())),
            ("note://x{?q}", Unsupported("?q".into())),
            ("note://{list*}", Unsupported("list*".into())),
            ("note://{id:3}", Unsupported("id:3".into())),
            ("note://{a,b}", Unsupported("a,b".into())),
            ("note://{a-b}", BadName("a-b".into())),
            ("note://{id}/{id}", Repeated("id".into())),
            ("note://{a}{b}", Adjacent("a".into(), "b".into())),
            ("note://{id}x", Ambiguous("id".into(), 'x')),
            ("note://{id}.json", Ambiguous("id".into(), '.')),
            ("note://a b/{id}", BadLiteral(' ')),
            ("note://%zz/{id}", BadLiteral('%')),
        ] {
            assert_eq!(UriTemplate::parse(text), Err(error.clone()), "{text}");
            assert!(!error.to_string().is_empty());
        }
        assert!(
            TemplateError::Unsupported("+path".into())
                .to_string()
                .contains("only simple variables like `{id}`")
        );
    }

    proptest::proptest! {
        /// Whatever the values (any text, slashes, spaces, non-ASCII),
        /// a URI expanded from a template matches it with those values.
        #[test]
        fn an_expansion_matches_with_its_values(a in "\\PC{1,20}", b in "\\PC{1,20}") {
            let t = UriTemplate::parse("t://x/{a}/y/{b}").unwrap();
            let uri = t.expand(&[("a", &a), ("b", &b)]).unwrap();
            proptest::prop_assert_eq!(t.matches(&uri), Some(vec![("a", a.clone()), ("b", b.clone())]));
        }
    }
}
