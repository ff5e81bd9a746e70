//! Building HTML as strings, safely: every piece of text that did not come
//! from this module's own literals goes through `esc` (element text and
//! double-quoted attribute values alike), and every value put into a URL
//! through `url_part`. Templates are plain Rust functions over `Html`, so a
//! page that forgets to escape does not exist: `Html::text` escapes, and raw
//! markup can only be written from a `&'static str`.

use std::fmt::Write;

/// Escapes `&`, `<`, `>`, `"` and `'`: safe in element text and in quoted
/// attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for one
/// path segment or one query value.
pub fn url_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A page body under construction.
#[derive(Default)]
pub struct Html(String);

impl Html {
    pub fn new() -> Self {
        Html(String::with_capacity(4096))
    }

    /// Markup written by this crate's code (never user data).
    pub fn raw(&mut self, markup: &'static str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// Text (or an attribute value), escaped.
    pub fn text(&mut self, text: &str) -> &mut Self {
        self.0.push_str(&esc(text));
        self
    }

    /// A number: nothing to escape.
    pub fn num(&mut self, n: i64) -> &mut Self {
        let _ = write!(self.0, "{n}");
        self
    }

    /// Another fragment built with `Html` (already escaped).
    pub fn html(&mut self, other: Html) -> &mut Self {
        self.0.push_str(&other.0);
        self
    }

    /// `<input type="hidden" name=NAME value=VALUE>`.
    pub fn hidden(&mut self, name: &'static str, value: &str) -> &mut Self {
        self.raw("<input type=\"hidden\" name=\"")
            .raw(name)
            .raw("\" value=\"")
            .text(value)
            .raw("\">")
    }

    /// `<a href=HREF>TEXT</a>`; `href` is built by the caller from literals
    /// and `url_part`s, and escaped here again for the attribute.
    pub fn link(&mut self, href: &str, text: &str) -> &mut Self {
        self.raw("<a href=\"")
            .text(href)
            .raw("\">")
            .text(text)
            .raw("</a>")
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert('x')</script>&"#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
        assert_eq!(esc(r#"" onmouseover="x"#), "&quot; onmouseover=&quot;x");
        let mut h = Html::new();
        h.hidden("v", "\"><img src=x>");
        assert_eq!(
            h.into_string(),
            "<input type=\"hidden\" name=\"v\" value=\"&quot;&gt;&lt;img src=x&gt;\">"
        );
    }

    #[test]
    fn url_parts_are_percent_encoded() {
        assert_eq!(url_part("/api/x y&z=1"), "%2Fapi%2Fx%20y%26z%3D1");
        assert_eq!(url_part("DB_URL-1.x~"), "DB_URL-1.x~");
    }
}
