//! What every console page shares: the frame around its content (title, navigation,
//! who is signed in, the sign-out form with its CSRF token).

use serde::Serialize;

use super::act;
use super::session::{Abilities, Signed};
use super::templates;

/// The frame's values, given to every page template as `frame`.
#[derive(Debug, Serialize)]
pub struct Frame {
    pub title: String,
    /// Which navigation entry is current (`people`, `support`, `audit`).
    pub nav: &'static str,
    /// Who is signed in, as a person reads it.
    pub who: String,
    pub may: Abilities,
    pub csrf: String,
    /// A fresh command id for the forms of this page (see [`act::execute`]).
    pub command_id: String,
}

impl Frame {
    pub fn new(signed: &Signed, title: impl Into<String>, nav: &'static str) -> Self {
        Self {
            title: title.into(),
            nav,
            who: signed.who.clone(),
            may: signed.may,
            csrf: signed.session.csrf.clone(),
            command_id: act::new_command_id(),
        }
    }
}

/// `template` rendered in the frame, with the page's own values.
pub fn render(template: &str, frame: &Frame, values: minijinja::Value) -> String {
    templates::render(
        template,
        minijinja::context! { frame, title => &frame.title, ..values },
    )
}
