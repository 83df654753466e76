//! The page and its assets, compiled into the binary: nothing is fetched from anywhere else,
//! and it works offline.

/// Only this server's own script, style and data; no inline script or style, no frames, no
/// forms, nothing from elsewhere. Whatever a log line holds is text on the page, and even
/// markup that slipped through could neither run nor load anything.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

pub(crate) const INDEX: &str = include_str!("assets/index.html");
pub(crate) const SCRIPT: &str = include_str!("assets/app.js");
pub(crate) const STYLE: &str = include_str!("assets/app.css");
pub(crate) const ICON: &str = include_str!("assets/icon.svg");
