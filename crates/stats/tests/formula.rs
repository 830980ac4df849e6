//! The lme4 formula parser: accepted formulas and their expansion as R's `terms()` gives it,
//! rejected ones with the column of the offending term.

use cuelab_stats::formula::{FormulaErrorKind, ModelSpec, parse_formula};

/// A compact rendering of a spec: `y ~ [1] a + b + a:b | (1 + a | g) …`.
fn render(m: &ModelSpec) -> String {
    let mut fixed: Vec<String> = Vec::new();
    if m.intercept {
        fixed.push("1".into());
    } else {
        fixed.push("0".into());
    }
    fixed.extend(m.fixed.iter().map(|t| t.label()));
    let random: Vec<String> = m
        .random
        .iter()
        .map(|r| {
            let mut parts = vec![if r.intercept { "1" } else { "0" }.to_string()];
            parts.extend(r.terms.iter().map(|t| t.label()));
            format!("({} | {})", parts.join(" + "), r.group.name)
        })
        .collect();
    format!(
        "{} ~ {} {}",
        m.response.name,
        fixed.join(" + "),
        random.join(" ")
    )
    .trim_end()
    .to_string()
}

#[track_caller]
fn check_ok(formula: &str, want: &str) {
    let m = parse_formula(formula).unwrap_or_else(|e| panic!("{formula}: {e}"));
    assert_eq!(render(&m), want, "{formula}");
}

#[track_caller]
fn check_err(formula: &str, column: usize, message: &str) {
    let e = parse_formula(formula).expect_err(formula);
    assert_eq!(e.column, column, "{formula}: {e}");
    assert_eq!(e.to_string(), message, "{formula}");
}

#[test]
fn accepted_formulas_expand_as_r_terms() {
    check_ok(
        "RT ~ congruence + (1 + congruence | participant) + (1 | item)",
        "RT ~ 1 + congruence (1 + congruence | participant) (1 | item)",
    );
    check_ok("y ~ a*b", "y ~ 1 + a + b + a:b");
    check_ok("y ~ a*b*c", "y ~ 1 + a + b + c + a:b + a:c + b:c + a:b:c");
    check_ok("y ~ a:b + a", "y ~ 1 + a + a:b");
    check_ok("y ~ a + a + b:a + a:b", "y ~ 1 + a + b:a");
    check_ok("y ~ 0 + a", "y ~ 0 + a");
    check_ok("y ~ a - 1", "y ~ 0 + a");
    check_ok("y ~ 1", "y ~ 1");
    check_ok("y ~ a + (a | s)", "y ~ 1 + a (1 + a | s)");
    check_ok("y ~ a + (0 + a | s)", "y ~ 1 + a (0 + a | s)");
    check_ok(
        "y ~ a*b + (a*b | s)",
        "y ~ 1 + a + b + a:b (1 + a + b + a:b | s)",
    );
    check_ok(
        "`reaction time` ~ `music type`",
        "reaction time ~ 1 + music type",
    );
    check_ok(
        "log.ratio~music_2+(1|p.id)",
        "log.ratio ~ 1 + music_2 (1 | p.id)",
    );
}

#[test]
fn spans_point_into_the_formula() {
    let f = "RT ~ congruence + (1 + congruence | participant)";
    let m = parse_formula(f).unwrap();
    let g = &m.random[0].group;
    assert_eq!(&f[g.span.start..g.span.end], "participant");
    let r = m.random[0].span;
    assert_eq!(&f[r.start..r.end], "(1 + congruence | participant)");
    let c = &m.fixed[0].factors[0];
    assert_eq!(&f[c.span.start..c.span.end], "congruence");
}

#[test]
fn rejected_formulas_point_at_the_term() {
    check_err(
        "RT ~ a + (1 + a || participant)",
        17,
        "column 17: `||` (uncorrelated random effects) is not supported",
    );
    check_err(
        "RT ~ a + (1 | school/class)",
        15,
        "column 15: a nested grouping (`a/b`, `a:b`) is not supported",
    );
    check_err(
        "RT ~ a + (1 | school:class)",
        15,
        "column 15: a nested grouping (`a/b`, `a:b`) is not supported",
    );
    check_err(
        "RT ~ log(a)",
        6,
        "column 6: a function of a variable is not supported",
    );
    check_err(
        "RT ~ a + 2",
        10,
        "column 10: a number other than 0 or 1 is not supported",
    );
    check_err(
        "RT ~ .",
        6,
        "column 6: `.` (all other columns) is not supported",
    );
    check_err(
        "RT ~ (a + b)^2",
        6,
        "column 6: a parenthesised group of fixed terms (write the terms out) is not supported",
    );
    check_err(
        "RT ~ a^2",
        7,
        "column 7: `^` (interactions up to an order) is not supported",
    );
    check_err(
        "RT ~ a - b",
        8,
        "column 8: removing a term other than the intercept is not supported",
    );
    check_err("RT a", 4, "column 4: expected `~`");
    check_err(
        "RT ~ a +",
        9,
        "column 9: the formula ends where a variable name is expected",
    );
    check_err(
        "RT ~ a + (1 | s",
        16,
        "column 16: the formula ends where `)` is expected",
    );
    check_err(
        "RT ~ a + (0 | s)",
        10,
        "column 10: expected an intercept or a slope in the random term",
    );
    check_err("RT ~ a $ b", 8, "column 8: unexpected character '$'");
    check_err("~ a", 1, "column 1: expected a variable name");
    check_err(
        "y ~ a*b*c*d*e*f*g*h*i",
        5,
        "column 5: a crossing of more than 8 factors is not supported",
    );
    // Columns count characters, not bytes.
    let e = parse_formula("Dauer_ü ~ Musik + (1 | Person) + 3").unwrap_err();
    assert_eq!(e.column, 34);
    assert_eq!(e.span.start, 34, "the ü takes two bytes");
    assert!(matches!(e.kind, FormulaErrorKind::Unsupported(_)));
}

#[test]
fn build_rejects_what_it_cannot_code_at_the_term() {
    use cuelab_stats::formula::FactorData;
    let levels = ["l1".to_string(), "l2".to_string()];
    let codes = [0, 1, 0, 1];
    let lookup = |name: &str| {
        ["a", "b", "g"].contains(&name).then_some(FactorData {
            levels: &levels,
            codes: &codes,
            reference: 0,
        })
    };
    let check = |formula: &str, column: usize, message: &str| {
        let spec = parse_formula(formula).unwrap();
        let e = spec.build(4, &lookup).unwrap_err();
        assert_eq!(e.column, column, "{formula}: {e}");
        assert_eq!(e.to_string(), message, "{formula}");
    };
    check(
        "y ~ a:b + (1 | g)",
        5,
        "column 5: an interaction without its main effects in the same part is not supported",
    );
    check(
        "y ~ a + (0 + a | g)",
        9,
        "column 9: a random term without an intercept is not supported",
    );
    check(
        "y ~ 0 + a",
        1,
        "column 1: a model without an intercept is not supported",
    );
    check("y ~ a + c", 9, "column 9: no variable named \"c\"");
    let spec = parse_formula("y ~ a*b + (1 + a | g)").unwrap();
    let m = spec.build(4, &lookup).unwrap();
    assert_eq!(m.x.names(), ["(Intercept)", "al2", "bl2", "al2:bl2"]);
    assert_eq!(m.random[0].names, ["(Intercept)", "al2"]);
    assert_eq!(m.random[0].columns[1], [0.0, 1.0, 0.0, 1.0]);
}

/// Every prefix of a few formulas (cut at each character) parses or fails with a span inside
/// the text and a matching column — never a panic.
#[test]
fn truncated_formulas_fail_inside_the_text() {
    for f in [
        "RT ~ congruence * block + (1 + congruence | participant) + (1 | item)",
        "`Zeit (s)` ~ Musik:Szene - 1 + (0 + Musik || Person)",
        "y ~ a + (1 | g/h) + log(x) + 3 + . ^ 2 % $",
    ] {
        for (cut, _) in f.char_indices().chain(std::iter::once((f.len(), ' '))) {
            let text = &f[..cut];
            if let Err(e) = parse_formula(text) {
                assert!(
                    e.span.start <= e.span.end && e.span.end <= text.len(),
                    "{text:?}: {e:?}"
                );
                assert_eq!(
                    e.column,
                    text[..e.span.start].chars().count() + 1,
                    "{text:?}"
                );
            }
        }
    }
}
