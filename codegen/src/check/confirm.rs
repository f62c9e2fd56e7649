//! A tool's confirmation (`confirm`, `without_elicitation`): only on write
//! tools, a message that says something, placeholders that are names.
//! Whether each placeholder is a field of the tool's input type is checked
//! where the schema is known: when the registry is built (server start and
//! the generated tests).

use mcpgen_spec::confirm::{MessageError, pieces};

use crate::model::*;

/// Every confirmation rule of `tool`.
pub(super) fn check(tool: &Tool, out: &mut Vec<Diagnostic>) {
    let name = tool.name.value.as_str();
    let Some(confirm) = &tool.confirm else {
        if let Some(w) = &tool.without_elicitation {
            out.push(Diagnostic::at(
                w.loc,
                format!(
                    "tool `{name}` sets `without_elicitation`, which says what to do when a client cannot \
                     ask for a confirmation, but it asks for none: add `confirm = \"...\"` (the question a \
                     person answers) or remove `without_elicitation`"
                ),
            ));
        }
        return;
    };
    if tool.access.value == Access::Read {
        out.push(Diagnostic::at(
            confirm.loc,
            format!(
                "tool `{name}` is `access = \"read\"`: a read changes nothing, so there is nothing to \
                 confirm; remove `confirm`, or make the tool `access = \"write\"` if it writes"
            ),
        ));
    }
    match pieces(&confirm.value) {
        Ok(_) => {}
        Err(MessageError::Empty) => out.push(Diagnostic::at(
            confirm.loc,
            format!(
                "tool `{name}`'s `confirm` message is empty: write the question a person answers \
                 before the tool runs, e.g. `confirm = \"Create the note {{title}}?\"`"
            ),
        )),
        Err(e) => out.push(Diagnostic::at(
            confirm.loc,
            format!("tool `{name}`'s `confirm`: {e}"),
        )),
    }
}
