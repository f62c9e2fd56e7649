//! A write tool's confirmation (`confirm = "Create the note {title}?"`):
//! the question a person answers before the tool runs, with placeholders
//! naming the tool's input fields, and what to do with clients that cannot
//! ask a person (`without_elicitation`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Text;

/// A confirmation declared on a write tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confirm {
    /// The question, with `{field}` placeholders (`{{` and `}}` for braces).
    pub message: Text,
    /// What happens when the client cannot ask a person.
    pub without_elicitation: WithoutElicitation,
}

/// What a confirming tool does when called by a client that cannot ask a
/// person (it did not declare the elicitation capability).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WithoutElicitation {
    /// Refuse the call with a message saying why (the default).
    #[default]
    Refuse,
    /// Run the tool unconfirmed (stated explicitly in the manifest).
    Allow,
}

impl WithoutElicitation {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refuse => "refuse",
            Self::Allow => "allow",
        }
    }
}

/// Why a confirmation message cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageError {
    /// Empty, or only spaces.
    Empty,
    /// A `{` without a field name and `}` after it, or a lone `}`.
    Unbalanced {
        /// Byte offset of the offending brace.
        at: usize,
    },
    /// `{...}` whose content is not a field name.
    NotAName {
        /// What was between the braces.
        found: String,
    },
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the confirmation message is empty"),
            Self::Unbalanced { at } => write!(
                f,
                "the brace at byte {at} of the confirmation message is not part of a placeholder; \
                 write `{{field}}` to insert an argument, `{{{{` or `}}}}` for a brace"
            ),
            Self::NotAName { found } => write!(
                f,
                "`{{{found}}}` in the confirmation message is not a placeholder: \
                 write an input field's name between the braces, e.g. `{{title}}`"
            ),
        }
    }
}

/// One piece of a message: text, or a field to fill in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Literal text.
    Text(&'a str),
    /// The named input field.
    Field(&'a str),
}

/// Split `message` into text and placeholders.
pub fn pieces(message: &str) -> Result<Vec<Piece<'_>>, MessageError> {
    if message.trim().is_empty() {
        return Err(MessageError::Empty);
    }
    let mut out = Vec::new();
    let mut rest = message;
    let mut offset = 0;
    while let Some(i) = rest.find(['{', '}']) {
        if i > 0 {
            out.push(Piece::Text(&rest[..i]));
        }
        let brace = rest.as_bytes()[i];
        let after = &rest[i + 1..];
        if after.as_bytes().first() == Some(&brace) {
            // `{{` or `}}`: one literal brace.
            out.push(Piece::Text(&rest[i..=i]));
            offset += i + 2;
            rest = &rest[i + 2..];
            continue;
        }
        if brace == b'}' {
            return Err(MessageError::Unbalanced { at: offset + i });
        }
        let Some(end) = after.find('}') else {
            return Err(MessageError::Unbalanced { at: offset + i });
        };
        let name = &after[..end];
        let is_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !is_name {
            return Err(MessageError::NotAName {
                found: name.to_owned(),
            });
        }
        out.push(Piece::Field(name));
        offset += i + 1 + end + 1;
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

impl Confirm {
    /// The input fields the message names, in order (a message that does
    /// not parse names none: the build refuses it).
    pub fn fields(&self) -> Vec<&str> {
        pieces(&self.message)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| match p {
                Piece::Field(f) => Some(f),
                Piece::Text(_) => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_escaped_braces() {
        assert_eq!(
            pieces("Create {title} {{draft}}?").unwrap(),
            vec![
                Piece::Text("Create "),
                Piece::Field("title"),
                Piece::Text(" "),
                Piece::Text("{"),
                Piece::Text("draft"),
                Piece::Text("}"),
                Piece::Text("?"),
            ]
        );
        assert_eq!(pieces("   "), Err(MessageError::Empty));
        assert_eq!(
            pieces("Create {title"),
            Err(MessageError::Unbalanced { at: 7 })
        );
        assert_eq!(pieces("a } b"), Err(MessageError::Unbalanced { at: 2 }));
        assert_eq!(
            pieces("Create {the title}?"),
            Err(MessageError::NotAName {
                found: "the title".into()
            })
        );
        assert_eq!(
            pieces("{}"),
            Err(MessageError::NotAName { found: "".into() })
        );
    }
}
