//! Template source → nodes. Positions are tracked in characters so the editor can point at them.

use super::TemplateError;
use chrono::format::{Item, StrftimeItems};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Text(String),
    Output(Expr),
}

impl Node {
    pub(crate) fn variables(&self) -> Vec<(&str, Span)> {
        match self {
            Node::Text(_) => Vec::new(),
            Node::Output(expr) => std::iter::once(&expr.operand)
                .chain(expr.filters.iter().flat_map(|f| f.args.iter()))
                .filter_map(|o| match o {
                    Operand::Variable(path, span) => Some((path.as_str(), *span)),
                    _ => None,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    pub operand: Operand,
    pub filters: Vec<FilterCall>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    /// A dotted path such as `customer.metadata.tier`.
    Variable(String, Span),
    Text(String),
    Number(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FilterCall {
    pub filter: Filter,
    pub args: Vec<Operand>,
}

/// The filters templates may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Default,
    Upcase,
    Downcase,
    Capitalize,
    Truncate,
    Date,
    Append,
    Prepend,
    Strip,
}

impl Filter {
    pub const ALL: [Filter; 9] = [
        Filter::Default,
        Filter::Upcase,
        Filter::Downcase,
        Filter::Capitalize,
        Filter::Truncate,
        Filter::Date,
        Filter::Append,
        Filter::Prepend,
        Filter::Strip,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Filter::Default => "default",
            Filter::Upcase => "upcase",
            Filter::Downcase => "downcase",
            Filter::Capitalize => "capitalize",
            Filter::Truncate => "truncate",
            Filter::Date => "date",
            Filter::Append => "append",
            Filter::Prepend => "prepend",
            Filter::Strip => "strip",
        }
    }

    /// Fewest and most arguments.
    fn arity(self) -> (usize, usize) {
        match self {
            Filter::Upcase | Filter::Downcase | Filter::Capitalize | Filter::Strip => (0, 0),
            Filter::Default | Filter::Date | Filter::Append | Filter::Prepend => (1, 1),
            Filter::Truncate => (1, 2),
        }
    }

    fn usage(self) -> &'static str {
        match self {
            Filter::Default => "default: \"fallback\"",
            Filter::Upcase => "upcase",
            Filter::Downcase => "downcase",
            Filter::Capitalize => "capitalize",
            Filter::Truncate => "truncate: 20 (or truncate: 20, \"…\")",
            Filter::Date => "date: \"%b %d, %Y\"",
            Filter::Append => "append: \" text\"",
            Filter::Prepend => "prepend: \"text \"",
            Filter::Strip => "strip",
        }
    }
}

/// Longest template source accepted, in characters (the rendered SMS is capped far lower).
pub const MAX_SOURCE_CHARS: usize = 10_000;

pub(crate) fn parse(source: &str) -> Result<Vec<Node>, Vec<TemplateError>> {
    let chars: Vec<char> = source.chars().collect();
    let mut p = Parser {
        chars: &chars,
        pos: 0,
        errors: Vec::new(),
    };
    if chars.len() > MAX_SOURCE_CHARS {
        let at = p.span_at(MAX_SOURCE_CHARS, chars.len());
        return Err(vec![error(
            format!(
                "The template is too long ({} characters; at most {MAX_SOURCE_CHARS}).",
                chars.len()
            ),
            None,
            at,
        )]);
    }
    let nodes = p.template();
    if p.errors.is_empty() {
        Ok(nodes)
    } else {
        Err(p.errors)
    }
}

fn error(message: String, expected: Option<&str>, span: Span) -> TemplateError {
    TemplateError {
        message,
        expected: expected.map(str::to_owned),
        line: span.line,
        column: span.column,
        start: span.start,
        end: span.end,
    }
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    errors: Vec<TemplateError>,
}

impl Parser<'_> {
    fn span_at(&self, start: usize, end: usize) -> Span {
        let start = start.min(self.chars.len());
        let mut line = 1;
        let mut column = 1;
        for &c in &self.chars[..start] {
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        Span {
            start,
            end: end.max(start).min(self.chars.len()),
            line,
            column,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(i, c)| self.chars.get(self.pos + i) == Some(&c))
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn fail(
        &mut self,
        message: impl Into<String>,
        expected: Option<&str>,
        start: usize,
        end: usize,
    ) {
        let span = self.span_at(start, end);
        self.errors.push(error(message.into(), expected, span));
    }

    fn template(&mut self) -> Vec<Node> {
        let mut nodes = Vec::new();
        let mut text = String::new();
        let mut trim_next_text = false;
        while let Some(c) = self.peek() {
            if self.at("{{") {
                let open = self.pos;
                self.pos += 2;
                if self.peek() == Some('-') {
                    self.pos += 1;
                    let trimmed = text.trim_end().len();
                    text.truncate(trimmed);
                }
                if !text.is_empty() {
                    nodes.push(Node::Text(std::mem::take(&mut text)));
                }
                match self.output(open) {
                    Some((expr, trim_after)) => {
                        nodes.push(Node::Output(expr));
                        trim_next_text = trim_after;
                    }
                    None => self.recover(),
                }
                continue;
            }
            if self.at("{%") {
                let start = self.pos;
                let end = self.find("%}").map_or(self.chars.len(), |e| e + 2);
                self.fail(
                    "Liquid tags such as {% if %} are not supported in SMS templates.",
                    Some("a merge tag like {{ customer.first_name }}"),
                    start,
                    end,
                );
                self.pos = end;
                continue;
            }
            if trim_next_text && c.is_whitespace() {
                self.pos += 1;
                continue;
            }
            trim_next_text = false;
            text.push(c);
            self.pos += 1;
        }
        if !text.is_empty() {
            nodes.push(Node::Text(text));
        }
        nodes
    }

    fn find(&self, s: &str) -> Option<usize> {
        let needle: Vec<char> = s.chars().collect();
        (self.pos..self.chars.len()).find(|&i| self.chars[i..].starts_with(&needle))
    }

    /// After a bad tag: continue after its `}}` (or at the end).
    fn recover(&mut self) {
        self.pos = self.find("}}").map_or(self.chars.len(), |e| e + 2);
    }

    /// `{{` has been read; reads up to and including `}}`.
    fn output(&mut self, open: usize) -> Option<(Expr, bool)> {
        self.skip_spaces();
        let operand = self.operand("a variable such as customer.first_name, or a quoted text")?;
        let mut filters = Vec::new();
        loop {
            self.skip_spaces();
            if self.at("-}}") {
                self.pos += 3;
                return Some((Expr { operand, filters }, true));
            }
            if self.at("}}") {
                self.pos += 2;
                return Some((Expr { operand, filters }, false));
            }
            match self.peek() {
                Some('|') => {
                    self.pos += 1;
                    filters.push(self.filter()?);
                }
                None => {
                    self.fail(
                        "This merge tag is never closed.",
                        Some("}}"),
                        open,
                        self.chars.len(),
                    );
                    return None;
                }
                Some('{') if self.at("{{") => {
                    self.fail(
                        "This merge tag is never closed.",
                        Some("}}"),
                        open,
                        self.pos,
                    );
                    return None;
                }
                Some(c) => {
                    let start = self.pos;
                    self.fail(
                        format!("Unexpected {c:?} in a merge tag."),
                        Some("| and a filter, or }}"),
                        start,
                        start + 1,
                    );
                    return None;
                }
            }
        }
    }

    fn filter(&mut self) -> Option<FilterCall> {
        self.skip_spaces();
        let start = self.pos;
        let name = self.identifier();
        if name.is_empty() {
            self.fail(
                "A filter name must follow |.",
                Some("a filter: default, upcase, downcase, capitalize, truncate, date, append, prepend or strip"),
                start,
                start + 1,
            );
            return None;
        }
        let Some(filter) = Filter::ALL.into_iter().find(|f| f.name() == name) else {
            let hint = closest_filter(&name)
                .map(|f| format!(" Did you mean {}?", f.name()))
                .unwrap_or_default();
            self.fail(
                format!("There is no filter called {name}.{hint}"),
                Some("default, upcase, downcase, capitalize, truncate, date, append, prepend or strip"),
                start,
                self.pos,
            );
            return None;
        };
        let mut args = Vec::new();
        self.skip_spaces();
        if self.peek() == Some(':') {
            self.pos += 1;
            loop {
                self.skip_spaces();
                args.push(self.operand("a value for the filter, such as \"text\" or 20")?);
                self.skip_spaces();
                if self.peek() == Some(',') {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        let (min, max) = filter.arity();
        if args.len() < min || args.len() > max {
            self.fail(
                format!("{} takes {}.", filter.name(), plural_args(min, max)),
                Some(filter.usage()),
                start,
                self.pos,
            );
            return None;
        }
        self.check_argument_types(filter, &args, start)?;
        Some(FilterCall { filter, args })
    }

    fn check_argument_types(
        &mut self,
        filter: Filter,
        args: &[Operand],
        start: usize,
    ) -> Option<()> {
        match (filter, args) {
            (Filter::Truncate, [first, rest @ ..]) => {
                if !matches!(first, Operand::Number(n) if *n >= 0.0 && n.fract() == 0.0) {
                    self.fail(
                        "truncate needs a whole number of characters.",
                        Some(filter.usage()),
                        start,
                        self.pos,
                    );
                    return None;
                }
                if rest.iter().any(|a| matches!(a, Operand::Number(_))) {
                    self.fail(
                        "The second value of truncate is the text that ends a cut value.",
                        Some(filter.usage()),
                        start,
                        self.pos,
                    );
                    return None;
                }
            }
            (Filter::Date, [Operand::Text(format)])
                if StrftimeItems::new(format).any(|i| matches!(i, Item::Error)) =>
            {
                self.fail(
                    format!("{format:?} is not a valid date format."),
                    Some("strftime codes such as %b %d, %Y or %d/%m"),
                    start,
                    self.pos,
                );
                return None;
            }
            (Filter::Date, [Operand::Text(_)]) => {}
            (Filter::Date, _) => {
                self.fail(
                    "date needs a quoted format.",
                    Some(filter.usage()),
                    start,
                    self.pos,
                );
                return None;
            }
            _ => {}
        }
        Some(())
    }

    fn identifier(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c.is_alphanumeric() || c == '_' || (c == '-' && !out.is_empty() && !self.at("-}}")) {
                out.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        out
    }

    fn operand(&mut self, expected: &str) -> Option<Operand> {
        let start = self.pos;
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.pos += 1;
                let mut text = String::new();
                loop {
                    match self.peek() {
                        Some(c) if c == q => {
                            self.pos += 1;
                            return Some(Operand::Text(text));
                        }
                        Some(c) if !(c == '}' && self.at("}}")) => {
                            text.push(c);
                            self.pos += 1;
                        }
                        _ => {
                            self.fail(
                                "This text is missing its closing quote.",
                                Some(if q == '"' { "\"" } else { "'" }),
                                start,
                                self.pos,
                            );
                            return None;
                        }
                    }
                }
            }
            Some(c)
                if c.is_ascii_digit()
                    || (c == '-'
                        && self
                            .chars
                            .get(self.pos + 1)
                            .is_some_and(char::is_ascii_digit)) =>
            {
                let mut text = String::from(c);
                self.pos += 1;
                while let Some(d) = self.peek().filter(|d| d.is_ascii_digit() || *d == '.') {
                    text.push(d);
                    self.pos += 1;
                }
                match text.parse::<f64>() {
                    Ok(n) => Some(Operand::Number(n)),
                    Err(_) => {
                        self.fail(
                            format!("{text} is not a number."),
                            Some("a number such as 20"),
                            start,
                            self.pos,
                        );
                        None
                    }
                }
            }
            Some(c) if c.is_alphabetic() || c == '_' => {
                let mut path = self.identifier();
                loop {
                    if self.peek() == Some('.') {
                        self.pos += 1;
                        let segment = self.identifier();
                        if segment.is_empty() {
                            self.fail(
                                "A name must follow the dot.",
                                Some("a name such as first_name"),
                                self.pos.saturating_sub(1),
                                self.pos,
                            );
                            return None;
                        }
                        path.push('.');
                        path.push_str(&segment);
                    } else if self.peek() == Some('[') {
                        // customer.metadata["favourite store"]: keys that are not plain names.
                        let open = self.pos;
                        self.pos += 1;
                        self.skip_spaces();
                        let Some(Operand::Text(key)) = self.operand("a quoted key") else {
                            if self.errors.is_empty() {
                                self.fail(
                                    "Brackets take a quoted key.",
                                    Some("[\"key\"]"),
                                    open,
                                    self.pos,
                                );
                            }
                            return None;
                        };
                        self.skip_spaces();
                        if self.peek() != Some(']') {
                            self.fail("The bracket is never closed.", Some("]"), open, self.pos);
                            return None;
                        }
                        self.pos += 1;
                        path.push('.');
                        path.push_str(&key);
                    } else {
                        break;
                    }
                }
                let span = self.span_at(start, self.pos);
                Some(Operand::Variable(path, span))
            }
            Some(c) if !(c == '}' && self.at("}}")) => {
                self.fail(
                    format!("Unexpected {c:?}."),
                    Some(expected),
                    start,
                    start + 1,
                );
                None
            }
            Some(_) => {
                self.fail("This merge tag is empty.", Some(expected), start, start + 2);
                None
            }
            None => {
                self.fail(
                    "The template ends inside a merge tag.",
                    Some(expected),
                    start,
                    start,
                );
                None
            }
        }
    }
}

fn plural_args(min: usize, max: usize) -> String {
    match (min, max) {
        (0, 0) => "no value".into(),
        (1, 1) => "one value".into(),
        (a, b) => format!("{a} or {b} values"),
    }
}

/// The filter one typo away (an edit distance of at most 2).
fn closest_filter(name: &str) -> Option<Filter> {
    Filter::ALL
        .into_iter()
        .map(|f| (edit_distance(name, f.name()), f))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
