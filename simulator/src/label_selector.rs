//! Kubernetes label selectors (`labelSelector=` on lists and watches, `kubectl -l`):
//! the grammar of apimachinery's `labels.Parse` and its matching rules.
//!
//! ```text
//! app=web   app==web   app!=web   tier in (a,b)   tier notin (a,b)   app   !canary
//! ```
//!
//! Requirements are separated by commas and all must hold. `!=` and `notin` also hold
//! for objects without the label, as in Kubernetes. The exporter checks its
//! `--selector` with this parser before sending it, as kubectl checks `-l`.

use std::fmt;

/// A parsed selector; the empty one selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// Why a selector does not parse, in kubectl's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError(String);

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SelectorError {}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Not,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
    Open,
    Close,
    Comma,
}

fn tokens(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        let token = match c {
            c if c.is_whitespace() => {
                chars.next();
                continue;
            }
            '!' => {
                chars.next();
                match chars.peek() {
                    Some('=') => {
                        chars.next();
                        Token::NotEquals
                    }
                    _ => Token::Not,
                }
            }
            '=' => {
                chars.next();
                match chars.peek() {
                    Some('=') => {
                        chars.next();
                        Token::DoubleEquals
                    }
                    _ => Token::Equals,
                }
            }
            '>' | '<' | '(' | ')' | ',' => {
                chars.next();
                match c {
                    '>' => Token::GreaterThan,
                    '<' => Token::LessThan,
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                }
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "!=<>(),".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                Token::Word(word)
            }
        };
        tokens.push(token);
    }
    tokens
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn key(&mut self) -> Result<String, SelectorError> {
        match self.next() {
            Some(Token::Word(key)) => check_key(&key).map(|()| key),
            other => Err(SelectorError(format!(
                "found {}, expected a label key",
                describe(other.as_ref())
            ))),
        }
    }

    /// A value after `=`, `==` or `!=`: possibly empty.
    fn value(&mut self) -> Result<String, SelectorError> {
        match self.peek() {
            Some(Token::Word(_)) => match self.next() {
                Some(Token::Word(value)) => check_value(&value).map(|()| value),
                _ => unreachable!("peeked a word"),
            },
            None | Some(Token::Comma) => Ok(String::new()),
            other => Err(SelectorError(format!(
                "found {}, expected a label value",
                describe(other)
            ))),
        }
    }

    fn set(&mut self) -> Result<Vec<String>, SelectorError> {
        if self.next() != Some(Token::Open) {
            return Err(SelectorError("expected '(' after in or notin".to_owned()));
        }
        let mut values = Vec::new();
        loop {
            match self.next() {
                Some(Token::Word(value)) => {
                    check_value(&value)?;
                    values.push(value);
                    match self.next() {
                        Some(Token::Comma) => continue,
                        Some(Token::Close) => break,
                        other => {
                            return Err(SelectorError(format!(
                                "found {}, expected ',' or ')' in a set of values",
                                describe(other.as_ref())
                            )))
                        }
                    }
                }
                Some(Token::Close) if values.is_empty() => {
                    return Err(SelectorError(
                        "a set of values for in or notin must not be empty".to_owned(),
                    ))
                }
                other => {
                    return Err(SelectorError(format!(
                        "found {}, expected a value in a set of values",
                        describe(other.as_ref())
                    )))
                }
            }
        }
        values.sort();
        values.dedup();
        Ok(values)
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        if self.peek() == Some(&Token::Not) {
            self.next();
            let key = self.key()?;
            return Ok(Requirement {
                key,
                operator: Operator::DoesNotExist,
                values: Vec::new(),
            });
        }
        let key = self.key()?;
        let (operator, values) = match self.peek().cloned() {
            None | Some(Token::Comma) => (Operator::Exists, Vec::new()),
            Some(Token::Equals | Token::DoubleEquals) => {
                self.next();
                (Operator::Equals, vec![self.value()?])
            }
            Some(Token::NotEquals) => {
                self.next();
                (Operator::NotEquals, vec![self.value()?])
            }
            Some(token @ (Token::GreaterThan | Token::LessThan)) => {
                self.next();
                let value = self.value()?;
                if value.parse::<i64>().is_err() {
                    return Err(SelectorError(format!(
                        "for '<' and '>', the value must be an integer, not {value:?}"
                    )));
                }
                let operator = match token {
                    Token::GreaterThan => Operator::GreaterThan,
                    _ => Operator::LessThan,
                };
                (operator, vec![value])
            }
            Some(Token::Word(word)) if word == "in" || word == "notin" => {
                self.next();
                let operator = match word.as_str() {
                    "in" => Operator::In,
                    _ => Operator::NotIn,
                };
                (operator, self.set()?)
            }
            other => {
                return Err(SelectorError(format!(
                    "found {}, expected one of '=', '==', '!=', 'in', 'notin', ',' or the end \
                     after the key {key:?}",
                    describe(other.as_ref())
                )))
            }
        };
        Ok(Requirement {
            key,
            operator,
            values,
        })
    }
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "the end".to_owned(),
        Some(Token::Word(word)) => format!("{word:?}"),
        Some(Token::Not) => "'!'".to_owned(),
        Some(Token::Equals) => "'='".to_owned(),
        Some(Token::DoubleEquals) => "'=='".to_owned(),
        Some(Token::NotEquals) => "'!='".to_owned(),
        Some(Token::GreaterThan) => "'>'".to_owned(),
        Some(Token::LessThan) => "'<'".to_owned(),
        Some(Token::Open) => "'('".to_owned(),
        Some(Token::Close) => "')'".to_owned(),
        Some(Token::Comma) => "','".to_owned(),
    }
}

/// A label name: 63 characters at most, alphanumeric at both ends, `-_.` inside.
fn is_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
}

/// A DNS subdomain, as the prefix of a key (`app.kubernetes.io/name`).
fn is_subdomain(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|part| {
            let bytes = part.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= 63
                && bytes[0].is_ascii_alphanumeric()
                && bytes[bytes.len() - 1].is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        })
}

fn check_key(key: &str) -> Result<(), SelectorError> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if prefix.is_some_and(|prefix| !is_subdomain(prefix)) || !is_name(name) {
        return Err(SelectorError(format!(
            "{key:?} is not a valid label key: a name of at most 63 letters, digits, '-', '_' \
             or '.', starting and ending with a letter or digit, optionally after a DNS \
             prefix and '/'"
        )));
    }
    Ok(())
}

fn check_value(value: &str) -> Result<(), SelectorError> {
    if !value.is_empty() && !is_name(value) {
        return Err(SelectorError(format!(
            "{value:?} is not a valid label value: at most 63 letters, digits, '-', '_' or \
             '.', starting and ending with a letter or digit"
        )));
    }
    Ok(())
}

impl LabelSelector {
    /// Parses `text` as kubectl's `-l` and the API server's `labelSelector` do.
    pub fn parse(text: &str) -> Result<LabelSelector, SelectorError> {
        let mut parser = Parser {
            tokens: tokens(text),
            at: 0,
        };
        let mut requirements = Vec::new();
        if parser.peek().is_none() {
            return Ok(LabelSelector { requirements });
        }
        loop {
            requirements.push(parser.requirement()?);
            match parser.next() {
                None => break,
                Some(Token::Comma) => continue,
                other => {
                    return Err(SelectorError(format!(
                        "found {}, expected ',' or the end after a requirement",
                        describe(other.as_ref())
                    )))
                }
            }
        }
        Ok(LabelSelector { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object with these labels is selected.
    pub fn matches<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|requirement| {
            let value = label(&requirement.key);
            let values = &requirement.values;
            let number = |text: &str| text.parse::<i64>().ok();
            match requirement.operator {
                Operator::Exists => value.is_some(),
                Operator::DoesNotExist => value.is_none(),
                Operator::Equals | Operator::In => {
                    value.is_some_and(|v| values.iter().any(|w| w == v))
                }
                Operator::NotEquals | Operator::NotIn => {
                    value.is_none_or(|v| values.iter().all(|w| w != v))
                }
                Operator::GreaterThan | Operator::LessThan => {
                    let (Some(have), Some(bound)) = (value.and_then(number), number(&values[0]))
                    else {
                        return false;
                    };
                    match requirement.operator {
                        Operator::GreaterThan => have > bound,
                        _ => have < bound,
                    }
                }
            }
        })
    }
}

/// The selector as Kubernetes writes it back: what is sent as `labelSelector`.
impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, requirement) in self.requirements.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            let key = &requirement.key;
            let values = requirement.values.join(",");
            match requirement.operator {
                Operator::Exists => write!(f, "{key}")?,
                Operator::DoesNotExist => write!(f, "!{key}")?,
                Operator::Equals => write!(f, "{key}={values}")?,
                Operator::NotEquals => write!(f, "{key}!={values}")?,
                Operator::In => write!(f, "{key} in ({values})")?,
                Operator::NotIn => write!(f, "{key} notin ({values})")?,
                Operator::GreaterThan => write!(f, "{key}>{values}")?,
                Operator::LessThan => write!(f, "{key}<{values}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selects(selector: &str, labels: &[(&str, &str)]) -> bool {
        LabelSelector::parse(selector)
            .unwrap()
            .matches(|key| labels.iter().find(|(k, _)| *k == key).map(|(_, v)| *v))
    }

    #[test]
    fn kubectls_forms_parse_and_print_back() {
        for (text, printed) in [
            ("app=web", "app=web"),
            ("app==web", "app=web"),
            ("app!=web", "app!=web"),
            ("tier in (b, a)", "tier in (a,b)"),
            ("tier notin (a)", "tier notin (a)"),
            ("!canary", "!canary"),
            (" app , !canary ", "app,!canary"),
            (
                "app.kubernetes.io/name=web,env=",
                "app.kubernetes.io/name=web,env=",
            ),
            ("replicas>2", "replicas>2"),
            ("", ""),
        ] {
            let parsed = LabelSelector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed.to_string(), printed, "{text}");
        }
    }

    #[test]
    fn malformed_selectors_are_refused() {
        for text in [
            "app=",
            "=web",
            "app in a,b",
            "app in ()",
            "app in (a",
            "app=web=x",
            "-app=web",
            "app=web!",
            "a b",
            "count>two",
            "Bad_Prefix.example/app=x",
        ] {
            if text == "app=" {
                assert!(
                    LabelSelector::parse(text).is_ok(),
                    "an empty value is allowed"
                );
                continue;
            }
            assert!(LabelSelector::parse(text).is_err(), "{text:?} parsed");
        }
    }

    #[test]
    fn matching_follows_kubernetes() {
        let web = [("app", "web"), ("tier", "front")];
        assert!(selects("app=web", &web));
        assert!(!selects("app=db", &web));
        assert!(selects("app!=db", &web));
        assert!(selects("env!=prod", &web), "!= holds without the label");
        assert!(selects("tier in (front,back)", &web));
        assert!(!selects("tier notin (front)", &web));
        assert!(selects("env notin (prod)", &web));
        assert!(selects("app", &web));
        assert!(!selects("!app", &web));
        assert!(selects("!canary", &web));
        assert!(!selects("app=web,canary", &web));
        assert!(selects("", &[]));
    }
}
