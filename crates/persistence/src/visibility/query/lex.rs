//! The tokenizer. It records each token's byte offset so that every later error can say
//! where in the query the problem is.

use super::{CmpOp, QueryError, err};

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    /// A name; `quoted` when written in backquotes (never a keyword then).
    Ident {
        name: String,
        quoted: bool,
    },
    Str(String),
    Num(String),
    Op(CmpOp),
    LParen,
    RParen,
    Comma,
    Eof,
}

impl Tok {
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Ident { name, .. } => format!("'{name}'"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Num(n) => format!("number {n}"),
            Tok::Op(op) => format!("'{}'", op.sql()),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Eof => "end of query".into(),
        }
    }

    pub(super) fn is_keyword(&self, kw: &str) -> bool {
        matches!(self, Tok::Ident { name, quoted: false } if name.eq_ignore_ascii_case(kw))
    }
}

pub(super) fn lex(q: &str) -> Result<Vec<(Tok, usize)>, QueryError> {
    let chars: Vec<(usize, char)> = q.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        let next = chars.get(i + 1).map(|&(_, c)| c);
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((Tok::LParen, pos));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, pos));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, pos));
                i += 1;
            }
            '=' => {
                out.push((Tok::Op(CmpOp::Eq), pos));
                i += if next == Some('=') { 2 } else { 1 };
            }
            '!' if next == Some('=') => {
                out.push((Tok::Op(CmpOp::Ne), pos));
                i += 2;
            }
            '<' => match next {
                Some('=') => {
                    out.push((Tok::Op(CmpOp::Le), pos));
                    i += 2;
                }
                Some('>') => {
                    out.push((Tok::Op(CmpOp::Ne), pos));
                    i += 2;
                }
                _ => {
                    out.push((Tok::Op(CmpOp::Lt), pos));
                    i += 1;
                }
            },
            '>' => {
                if next == Some('=') {
                    out.push((Tok::Op(CmpOp::Ge), pos));
                    i += 2;
                } else {
                    out.push((Tok::Op(CmpOp::Gt), pos));
                    i += 1;
                }
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&(_, ch)) = chars.get(i) else {
                        return err(format!("unterminated string starting at offset {pos}"));
                    };
                    i += 1;
                    if ch == '\\' {
                        let Some(&(_, esc)) = chars.get(i) else {
                            return err(format!("unterminated string starting at offset {pos}"));
                        };
                        i += 1;
                        s.push(match esc {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            '0' => '\0',
                            other => other,
                        });
                    } else if ch == quote {
                        break;
                    } else {
                        s.push(ch);
                    }
                }
                if chars.get(i).map(|&(_, c)| c) == Some(quote) {
                    return err(format!(
                        "doubled quote at offset {}: write a quote inside a string as \\{quote}",
                        chars[i].0
                    ));
                }
                out.push((Tok::Str(s), pos));
            }
            '`' => {
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&(_, ch)) = chars.get(i) else {
                        return err(format!("unterminated `name` starting at offset {pos}"));
                    };
                    i += 1;
                    if ch == '`' {
                        break;
                    }
                    s.push(ch);
                }
                out.push((Tok::Ident { name: s, quoted: true }, pos));
            }
            '-' if next == Some('-') => return err(format!("comments ('--') are not allowed (offset {pos})")),
            '/' if next == Some('*') => return err(format!("comments ('/*') are not allowed (offset {pos})")),
            c if c.is_ascii_digit()
                || c == '.'
                || (c == '-' && next.is_some_and(|n| n.is_ascii_digit() || n == '.')) =>
            {
                let start = i;
                i += 1;
                while let Some(&(_, ch)) = chars.get(i) {
                    let prev = chars[i - 1].1;
                    if ch.is_ascii_digit()
                        || ch == '.'
                        || ch == 'e'
                        || ch == 'E'
                        || ((ch == '-' || ch == '+') && (prev == 'e' || prev == 'E'))
                    {
                        i += 1;
                    } else {
                        break;
                    }
                }
                let text: String = chars[start..i].iter().map(|&(_, c)| c).collect();
                if text.parse::<f64>().is_err() {
                    return err(format!("malformed number '{text}' at offset {pos}"));
                }
                if chars.get(i).is_some_and(|&(_, c)| c.is_alphanumeric() || c == '_') {
                    return err(format!("malformed number at offset {pos}"));
                }
                out.push((Tok::Num(text), pos));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while chars.get(i).is_some_and(|&(_, c)| c.is_alphanumeric() || c == '_') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().map(|&(_, c)| c).collect();
                out.push((Tok::Ident { name, quoted: false }, pos));
            }
            ';' => return err(format!("';' is not allowed (offset {pos}): a query is a single filter")),
            other => return err(format!("unexpected character '{other}' at offset {pos}")),
        }
    }
    out.push((Tok::Eof, q.len()));
    Ok(out)
}
