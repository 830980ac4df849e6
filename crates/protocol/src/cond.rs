//! The `when` expression language: a small recursive-descent parser that keeps the byte offset
//! (inside the expression) of every variable and value, so validation can point at the exact
//! character of an unknown name.
//!
//! ```text
//! expr    := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | primary
//! primary := "(" expr ")" | NAME ("==" | "!=") VALUE | NAME ["not"] "in" "[" VALUE ("," VALUE)* [","] "]"
//! VALUE   := "text" | 'text' | NAME
//! ```

use std::ops::Range;

use crate::model::Condition;

/// A name used in the expression, with where it is (byte range within the expression).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spot {
    pub text: String,
    pub at: Range<usize>,
}

/// One comparison: a variable and the values it is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Atom {
    pub var: Spot,
    pub values: Vec<Spot>,
}

/// A syntax error at a byte offset of the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub at: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Name(String),
    Str(String),
    EqEq,
    NotEq,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Name(n) => format!("`{n}`"),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::EqEq => "`==`".into(),
        Tok::NotEq => "`!=`".into(),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::LBracket => "`[`".into(),
        Tok::RBracket => "`]`".into(),
        Tok::Comma => "`,`".into(),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

fn lex(src: &str) -> Result<Vec<(Tok, Range<usize>)>, SyntaxError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let two = src.get(i..i + 2);
        let tok = match c {
            '=' | '!' => {
                let t = match two {
                    Some("==") => Tok::EqEq,
                    Some("!=") => Tok::NotEq,
                    _ => {
                        return Err(SyntaxError {
                            at: i,
                            message: format!("`{c}` alone is not an operator; use `==` or `!=`"),
                        });
                    }
                };
                chars.next();
                chars.next();
                out.push((t, i..i + 2));
                continue;
            }
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            ',' => Tok::Comma,
            '"' | '\'' => {
                chars.next();
                let start = i + 1;
                let mut end = None;
                for (j, d) in chars.by_ref() {
                    if d == c {
                        end = Some(j);
                        break;
                    }
                }
                let Some(end) = end else {
                    return Err(SyntaxError {
                        at: i,
                        message: "this quote is never closed".into(),
                    });
                };
                out.push((Tok::Str(src[start..end].to_string()), i..end + 1));
                continue;
            }
            c if is_name_char(c) => {
                let mut end = i;
                while let Some(&(j, d)) = chars.peek() {
                    if !is_name_char(d) {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
                out.push((Tok::Name(src[i..end].to_string()), i..end));
                continue;
            }
            other => {
                return Err(SyntaxError {
                    at: i,
                    message: format!("unexpected `{other}`"),
                });
            }
        };
        chars.next();
        out.push((tok, i..i + c.len_utf8()));
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, Range<usize>)>,
    pos: usize,
    end: usize,
    atoms: Vec<Atom>,
    depth: usize,
}

/// Deeper nesting than this is refused (no input can overflow the stack).
const MAX_DEPTH: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(_, r)| r.start)
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(n)) if n == kw)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            at: self.at(),
            message: message.into(),
        })
    }

    fn found(&self) -> String {
        self.peek()
            .map_or("the end of the expression".into(), describe)
    }

    fn expr(&mut self) -> Result<Condition, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(format!("nested more than {MAX_DEPTH} levels deep"));
        }
        let mut left = self.and()?;
        while self.is_kw("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, SyntaxError> {
        let mut left = self.unary()?;
        while self.is_kw("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Condition, SyntaxError> {
        if self.is_kw("not") {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return self.err(format!("nested more than {MAX_DEPTH} levels deep"));
            }
            self.pos += 1;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Condition::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Condition, SyntaxError> {
        match self.toks.get(self.pos).cloned() {
            Some((Tok::LParen, _)) => {
                self.pos += 1;
                let inner = self.expr()?;
                if self.peek() != Some(&Tok::RParen) {
                    return self.err(format!("expected `)`, found {}", self.found()));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some((Tok::Name(name), r)) if !["and", "or", "in"].contains(&name.as_str()) => {
                self.pos += 1;
                let var = Spot {
                    text: name.clone(),
                    at: r,
                };
                self.comparison(var)
            }
            _ => self.err(format!(
                "expected a factor name, `clip`, `soundtrack`, `not` or `(`, found {}",
                self.found()
            )),
        }
    }

    fn comparison(&mut self, var: Spot) -> Result<Condition, SyntaxError> {
        let name = var.text.clone();
        match self.peek() {
            Some(Tok::EqEq) | Some(Tok::NotEq) => {
                let eq = self.peek() == Some(&Tok::EqEq);
                self.pos += 1;
                let v = self.value()?;
                let value = v.text.clone();
                self.atoms.push(Atom {
                    var,
                    values: vec![v],
                });
                Ok(if eq {
                    Condition::Eq(name, value)
                } else {
                    Condition::Ne(name, value)
                })
            }
            Some(Tok::Name(n)) if n == "in" => {
                self.pos += 1;
                let values = self.list()?;
                let texts = values.iter().map(|v| v.text.clone()).collect();
                self.atoms.push(Atom { var, values });
                Ok(Condition::In(name, texts))
            }
            Some(Tok::Name(n)) if n == "not" => {
                self.pos += 1;
                if !self.is_kw("in") {
                    return self.err(format!("expected `in` after `not`, found {}", self.found()));
                }
                self.pos += 1;
                let values = self.list()?;
                let texts = values.iter().map(|v| v.text.clone()).collect();
                self.atoms.push(Atom { var, values });
                Ok(Condition::NotIn(name, texts))
            }
            _ => self.err(format!(
                "expected `==`, `!=`, `in` or `not in` after `{name}`, found {}",
                self.found()
            )),
        }
    }

    fn value(&mut self) -> Result<Spot, SyntaxError> {
        match self.toks.get(self.pos).cloned() {
            Some((Tok::Str(s), r)) => {
                self.pos += 1;
                // The value's text starts after the opening quote.
                Ok(Spot {
                    text: s,
                    at: r.start + 1..r.end - 1,
                })
            }
            Some((Tok::Name(s), r)) if !["and", "or", "not", "in"].contains(&s.as_str()) => {
                self.pos += 1;
                Ok(Spot { text: s, at: r })
            }
            _ => self.err(format!(
                "expected a value such as \"silence\", found {}",
                self.found()
            )),
        }
    }

    fn list(&mut self) -> Result<Vec<Spot>, SyntaxError> {
        if self.peek() != Some(&Tok::LBracket) {
            return self.err(format!(
                "expected a list such as [\"a\", \"b\"], found {}",
                self.found()
            ));
        }
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            if self.peek() == Some(&Tok::RBracket) && !out.is_empty() {
                self.pos += 1;
                return Ok(out);
            }
            out.push(self.value()?);
            match self.peek() {
                Some(Tok::Comma) => self.pos += 1,
                Some(Tok::RBracket) => {}
                _ => return self.err(format!("expected `,` or `]`, found {}", self.found())),
            }
        }
    }
}

/// Parses an expression; also returns every comparison in it, for checking names.
pub(crate) fn parse(src: &str) -> Result<(Condition, Vec<Atom>), SyntaxError> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return Err(SyntaxError {
            at: 0,
            message: "the condition is empty".into(),
        });
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end: src.len(),
        atoms: Vec::new(),
        depth: 0,
    };
    let c = p.expr()?;
    if p.pos < p.toks.len() {
        return p.err(format!(
            "expected `and`, `or` or the end, found {}",
            p.found()
        ));
    }
    Ok((c, p.atoms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str, vars: &[(&str, &str)]) -> bool {
        let (c, _) = parse(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
        c.eval(&|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn evaluates_the_documented_forms() {
        let t = [("music", "silence"), ("clip", "lake"), ("focus", "felt")];
        assert!(!eval(r#"music != "silence""#, &t));
        assert!(eval(r#"music == "silence""#, &t));
        assert!(eval(r#"clip in ["lake", "street"]"#, &t));
        assert!(!eval(r#"clip not in ["lake", "street"]"#, &t));
        assert!(eval(
            r#"music == 'silence' and not (focus == "perceived")"#,
            &t
        ));
        assert!(eval(r#"music == "sad" or focus == "felt""#, &t));
        assert!(!eval(r#"not music == silence"#, &t));
        // `and` binds tighter than `or`.
        assert!(eval(
            r#"focus == "felt" or music == "sad" and clip == "x""#,
            &t
        ));
        assert!(!eval(
            r#"(focus == "felt" or music == "sad") and clip == "x""#,
            &t
        ));
    }

    #[test]
    fn records_where_names_are() {
        let (_, atoms) = parse(r#"music != "silnce""#).unwrap();
        assert_eq!(atoms[0].var.at, 0..5);
        assert_eq!(atoms[0].values[0].text, "silnce");
        assert_eq!(atoms[0].values[0].at, 10..16);
    }

    #[test]
    fn reports_errors_where_they_are() {
        let e = parse(r#"music = "x""#).unwrap_err();
        assert_eq!(e.at, 6);
        let e = parse(r#"music == "x" and"#).unwrap_err();
        assert_eq!(e.at, 16);
        assert!(e.message.contains("the end"), "{e:?}");
        let e = parse(r#"music in "x""#).unwrap_err();
        assert_eq!(e.at, 9);
        assert!(parse("").is_err());
        assert!(parse(&"not ".repeat(100_000)).is_err());
        assert!(
            parse(&format!(
                "{}music == x{}",
                "(".repeat(1000),
                ")".repeat(1000)
            ))
            .is_err()
        );
    }
}
