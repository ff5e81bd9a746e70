use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

struct NoFuncs;
impl Functions for NoFuncs {
    fn call(&mut self, _: &str, _: &[Value]) -> Option<Result<Value, String>> {
        None
    }
}

/// `listSecrets` answering two fixed secrets, counting its calls.
struct Fake(usize);
impl Functions for Fake {
    fn call(&mut self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "listSecrets" | "secret" => {
                self.0 += 1;
                if args.len() < 3 {
                    return Some(Err("wants 3 arguments".into()));
                }
                let s = |k: &str, v: &str| {
                    object([
                        ("Key", Value::Str(k.into())),
                        ("SecretKey", Value::Str(k.into())),
                        ("Value", Value::Str(v.into())),
                        ("SecretValue", Value::Str(v.into())),
                    ])
                };
                Some(Ok(Value::List(Arc::new(vec![s("A", "1"), s("B", "two")]))))
            }
            _ => None,
        }
    }
}

fn render(src: &str) -> Result<String, TemplateError> {
    Template::parse(src)?.render(Value::Nil, &mut Fake(0), Limits::default())
}

#[test]
fn infisical_docs_template_renders_key_value_lines() {
    let src = "{{- with secret \"6553ccb2b7da580d7f6e7260\" \"dev\" \"/\" }}\n{{- range . }}\n{{ .Key }}={{ .Value }}\n{{- end }}\n{{- end }}";
    assert_eq!(render(src).unwrap(), "\nA=1\nB=two");
}

#[test]
fn variables_pipelines_if_else_if_and_printf() {
    let src = r#"{{ range $i, $s := listSecrets "p" "dev" "/" }}{{ if eq $s.SecretKey "A" }}a{{ else if eq $s.Key "B" }}b{{ else }}?{{ end }}{{ $i }}{{ end }}|{{ $x := "v" }}{{ $x | printf "%s-%q" "k" }}|{{ "x" | upper }}"#;
    assert_eq!(render(src).unwrap(), r#"a0b1|k-"v"|X"#);
}

#[test]
fn with_else_range_else_and_comments() {
    let src = r#"{{/* a comment */}}{{ with "" }}no{{ else }}yes{{ end }}{{ range list }}x{{ else }}empty{{ end }}"#;
    assert_eq!(render(src).unwrap(), "yesempty");
}

#[test]
fn nested_parentheses_and_fields() {
    let src =
        r#"{{ (index (listSecrets "p" "e" "/") 1).Value }} {{ len (listSecrets "p" "e" "/") }}"#;
    assert_eq!(render(src).unwrap(), "two 2");
}

#[test]
fn errors_are_one_line_and_never_show_values() {
    let e = render(r#"{{ range listSecrets "p" "e" "/" }}{{ .Nope }}{{ end }}"#).unwrap_err();
    assert!(matches!(e, TemplateError::Exec(_)), "{e}");
    assert!(!e.to_string().contains("two"));
    assert!(matches!(render("{{ if 1 }}"), Err(TemplateError::Parse(_))));
    assert!(matches!(render("{{ end }}"), Err(TemplateError::Parse(_))));
    assert!(matches!(render("{{ nope }}"), Err(TemplateError::Exec(_))));
    assert!(matches!(render("{{ \"x }}"), Err(TemplateError::Parse(_))));
}

#[test]
fn bounds_hold() {
    let deep = "{{ if 1 }}".repeat(MAX_DEPTH + 2) + &"{{ end }}".repeat(MAX_DEPTH + 2);
    assert!(matches!(render(&deep), Err(TemplateError::Parse(_))));
    let big = "x".repeat(MAX_SOURCE_BYTES + 1);
    assert!(matches!(
        Template::parse(&big),
        Err(TemplateError::Limit(_))
    ));
    let t = Template::parse("{{ range 1000 }}{{ range 1000 }}x{{ end }}{{ end }}").unwrap();
    let limits = Limits {
        max_output: usize::MAX,
        max_iterations: 10_000,
        max_calls: 100,
    };
    assert!(matches!(
        t.render(Value::Nil, &mut NoFuncs, limits),
        Err(TemplateError::Limit(_))
    ));
    let limits = Limits {
        max_output: 10,
        ..Limits::default()
    };
    let t = Template::parse("{{ range 20 }}x{{ end }}").unwrap();
    assert!(matches!(
        t.render(Value::Nil, &mut NoFuncs, limits),
        Err(TemplateError::Limit(_))
    ));
}

#[test]
fn maps_print_no_value_for_missing_keys() {
    let mut m = BTreeMap::new();
    m.insert("a".to_owned(), Value::Str("1".into()));
    let t = Template::parse("{{ .a }}/{{ .b }}").unwrap();
    let out = t
        .render(Value::Map(Arc::new(m)), &mut NoFuncs, Limits::default())
        .unwrap();
    assert_eq!(out, "1/<no value>");
}

#[test]
fn define_template_and_block() {
    let src = r#"{{ define "line" }}{{ .Key }}={{ .Value }};{{ end }}{{ range listSecrets "p" "e" "/" }}{{ template "line" . }}{{ end }}|{{ block "footer" "end" }}[{{ . }}]{{ end }}|{{ template "footer" }}"#;
    assert_eq!(render(src).unwrap(), "A=1;B=two;|[end]|[<no value>]");
    // The called template sees its data as `$`, not the caller's variables.
    assert!(matches!(
        render(r#"{{ define "t" }}{{ $x }}{{ end }}{{ $x := 1 }}{{ template "t" }}"#),
        Err(TemplateError::Exec(_))
    ));
    assert_eq!(
        render(r#"{{ define "t" }}{{ $ }}{{ end }}{{ template "t" "d" }}"#).unwrap(),
        "d"
    );
    // Errors: unknown, twice, nested define, unbounded recursion.
    assert!(matches!(
        render(r#"{{ template "nope" }}"#),
        Err(TemplateError::Exec(_))
    ));
    assert!(matches!(
        render(r#"{{ define "a" }}x{{ end }}{{ define "a" }}y{{ end }}"#),
        Err(TemplateError::Parse(_))
    ));
    assert!(matches!(
        render(r#"{{ if 1 }}{{ define "a" }}x{{ end }}{{ end }}"#),
        Err(TemplateError::Parse(_))
    ));
    assert!(matches!(
        render(r#"{{ define "r" }}{{ template "r" }}{{ end }}{{ template "r" }}"#),
        Err(TemplateError::Limit(_))
    ));
    assert!(matches!(
        render(r#"{{ template x }}"#),
        Err(TemplateError::Parse(_))
    ));
}

#[test]
fn break_and_continue_in_range() {
    let src = r#"{{ range $i, $s := listSecrets "p" "e" "/" }}{{ if eq $i 1 }}{{ break }}{{ end }}{{ $s.Key }}{{ end }}|{{ range $i, $e := list 1 2 3 4 }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ with $e }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}{{ end }}"#;
    assert_eq!(render(src).unwrap(), "A|13");
    for bad in [
        "{{ break }}",
        "{{ if 1 }}{{ continue }}{{ end }}",
        "{{ range 2 }}x{{ else }}{{ break }}{{ end }}",
        "{{ range 2 }}{{ define \"d\" }}{{ break }}{{ end }}{{ end }}",
        "{{ range 2 }}{{ break 1 }}{{ end }}",
    ] {
        assert!(matches!(render(bad), Err(TemplateError::Parse(_))), "{bad}");
    }
}

proptest! {
    /// `{{break}}` at iteration k of n leaves k iterations' output;
    /// `{{continue}}` skips exactly the marked ones.
    #[test]
    fn break_and_continue_count(n in 0i64..20, k in 0i64..25, m in 1i64..5) {
        let src = format!("{{{{ range $i := {n} }}}}{{{{ if eq $i {k} }}}}{{{{ break }}}}{{{{ end }}}}x{{{{ end }}}}");
        prop_assert_eq!(render(&src).unwrap(), "x".repeat(n.min(k) as usize));
        // Skip multiples of m (eq $i (multiples listed explicitly)).
        let skip: Vec<i64> = (0..n).filter(|i| i % m == 0).collect();
        let cond = if skip.is_empty() {
            "false".to_string()
        } else {
            format!("eq $i {}", skip.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(" "))
        };
        let src = format!("{{{{ range $i := {n} }}}}{{{{ if {cond} }}}}{{{{ continue }}}}{{{{ end }}}}{{{{ $i }}}},{{{{ end }}}}");
        let want: String = (0..n).filter(|i| i % m != 0).map(|i| format!("{i},")).collect();
        prop_assert_eq!(render(&src).unwrap(), want);
    }

    /// Calling a defined template renders what inlining it would.
    #[test]
    fn template_call_equals_inlining(body in "[a-z =;]{0,20}", field in "[A-B]") {
        let inline = format!("{{{{ range listSecrets \"p\" \"e\" \"/\" }}}}{body}{{{{ .{field} }}}}{{{{ end }}}}");
        let called = format!("{{{{ define \"t\" }}}}{body}{{{{ .{field} }}}}{{{{ end }}}}{{{{ range listSecrets \"p\" \"e\" \"/\" }}}}{{{{ template \"t\" . }}}}{{{{ end }}}}");
        // A and B are not fields of a secret: both fail the same way.
        prop_assert_eq!(render(&inline).map_err(|e| e.to_string()), render(&called).map_err(|e| e.to_string()));
        let inline = format!("{{{{ range listSecrets \"p\" \"e\" \"/\" }}}}{body}{{{{ .Key }}}}{{{{ end }}}}");
        let called = format!("{{{{ define \"t\" }}}}{body}{{{{ .Key }}}}{{{{ end }}}}{{{{ range listSecrets \"p\" \"e\" \"/\" }}}}{{{{ template \"t\" . }}}}{{{{ end }}}}");
        prop_assert_eq!(render(&inline).unwrap(), render(&called).unwrap());
    }

    /// Text with no action renders to itself.
    #[test]
    fn literal_text_is_identity(s in "[^{]*") {
        prop_assert_eq!(render(&s).unwrap(), s);
    }

    /// `{{- ` eats all whitespace before it, ` -}}` all whitespace after.
    #[test]
    fn trim_markers_eat_adjacent_whitespace(
        a in "[a-z]{0,5}", ws1 in "[ \t\r\n]{0,6}", ws2 in "[ \t\r\n]{0,6}", b in "[a-z]{0,5}"
    ) {
        let src = format!("{a}{ws1}{{{{- \"x\" -}}}}{ws2}{b}");
        prop_assert_eq!(render(&src).unwrap(), format!("{a}x{b}"));
        let kept = format!("{a}{ws1}{{{{ \"x\" }}}}{ws2}{b}");
        prop_assert_eq!(render(&kept).unwrap(), format!("{a}{ws1}x{ws2}{b}"));
    }

    /// A string literal prints back exactly.
    #[test]
    fn string_literals_round_trip(s in "[a-zA-Z0-9 _.,:/=-]{0,40}") {
        prop_assert_eq!(render(&format!("{{{{ `{s}` }}}}")).unwrap(), s);
    }

    /// Parsing never panics on arbitrary input.
    #[test]
    fn parse_never_panics(s in "\\PC{0,200}") {
        let _ = render(&s);
    }
}

/// The README's agent template example parses, and renders up to the
/// dynamic secret (which these fake functions do not offer).
#[test]
fn readme_template_example_parses() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("```gotemplate\n")
        .expect("the README has the example")
        + 14;
    let end = start + readme[start..].find("```").unwrap();
    let src = &readme[start..end];
    let t = Template::parse(src).unwrap();
    let e = t
        .render(Value::Nil, &mut Fake(0), Limits::default())
        .unwrap_err();
    assert!(e.to_string().contains("dynamicSecret"), "{e}");
}
