//! The one HTML document shape the server's pages share (consent pages,
//! the operator page): server-rendered by maud, which escapes every value,
//! no JavaScript, one inline style sheet, no referrer to other sites.

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// A whole page titled `title`, styled by `style`, with `body`.
pub(crate) fn document(title: &str, style: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) }
                style { (PreEscaped(style)) }
            }
            body { (body) }
        }
    }
    .into_string()
}
