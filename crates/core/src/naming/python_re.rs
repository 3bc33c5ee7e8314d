//! `connections_lookup_pattern` read as Airflow reads it, with Python's `re` (CPython 3.11's
//! `Lib/re/_parser.py` and `_compiler.py`), and written again in fancy-regex syntax.
//!
//! A translation, not the pattern handed over as it is: fancy-regex's syntax is not
//! Python's (`\Z`, `{,3}`, `[[:alpha:]]`, `\p{L}`, `\e`, `(?<name>..)` differ), so the
//! pattern is parsed here by Python's rules, following `_parser.py` step by step (what it
//! refuses is refused, tokens and all), and each construct is written out in a form that
//! means the same to fancy-regex. Conn ids are ASCII `[A-Za-z0-9_.-]` without a newline
//! (`ConnId`), which settles the Unicode questions: every character test is written as
//! the explicit set of ASCII characters Python would accept there, case folding included
//! (`re.IGNORECASE`), so the engine's own case and Unicode rules never decide anything;
//! `^`, `$`, `\Z` (and their multi-line forms) all mean the ends of the id.
//! What cannot be carried over with certainty is refused, naming the construct.

mod charset;
mod groups;

use charset::{AsciiSet, class_text};
use std::collections::HashMap;

/// `_sre.MAXREPEAT` on 64-bit builds: repetition bounds and widths are capped by it.
const MAXREPEAT: u64 = 4_294_967_295;
/// `_compiler.py`'s MAXCODE: a look-behind longer than that is refused.
const MAXCODE: u64 = 4_294_967_295;
/// Ours: conn ids have at most 250 characters, so larger counts only make big programs.
const MAX_COUNT: u64 = 1000;
/// Ours: the engine's parser recurses; deeper patterns are refused, not crashed on.
const MAX_DEPTH: usize = 20;

type Width = (u64, u64);

/// Flags in force at a point of the pattern. Multi-line changes nothing on an id without
/// a newline, so it is not tracked.
#[derive(Clone, Copy)]
pub(super) struct Flags {
    pub ignorecase: bool,
    pub ascii: bool,
    pub dotall: bool,
    verbose: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Tok {
    Char(char),
    /// A backslash and the character after it: `_parser.py`'s tokenizer reads them as one.
    Esc(char),
}

#[derive(PartialEq)]
enum Kind {
    /// Consumes one character (`_UNITCODES`).
    Unit,
    /// An anchor (`AT`): Python refuses to repeat it.
    At,
    /// Already repeated: repeating again is Python's "multiple repeat".
    Repeat,
    Other,
}

struct Item {
    re: String,
    width: Width,
    kind: Kind,
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// Python's `state.groups`: groups opened so far, plus one.
    groups: usize,
    closed: Vec<bool>,
    names: HashMap<String, usize>,
    cond_refs: Vec<u64>,
    global: Flags,
    global_unicode: bool,
    in_lookbehind: usize,
}

/// The pattern in fancy-regex syntax, unanchored (the caller anchors it at the start).
pub(super) fn translate(source: &str) -> Result<String, String> {
    let mut toks = Vec::new();
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        toks.push(match c {
            '\\' => Tok::Esc(chars.next().ok_or("bad escape (end of pattern)")?),
            c => Tok::Char(c),
        });
    }
    let flags = Flags {
        ignorecase: true,
        ascii: false,
        dotall: false,
        verbose: false,
    };
    let mut p = Parser {
        toks,
        pos: 0,
        groups: 1,
        closed: vec![true],
        names: HashMap::new(),
        cond_refs: Vec::new(),
        global: flags,
        global_unicode: false,
        in_lookbehind: 0,
    };
    let (re, _) = p.parse_sub(0, flags)?;
    if p.peek().is_some() {
        return Err("unbalanced parenthesis".into());
    }
    if let Some(g) = p.cond_refs.iter().find(|&&g| g >= p.groups as u64) {
        return Err(format!("invalid group reference {g}"));
    }
    if p.global.ascii && p.global_unicode {
        return Err("ASCII and UNICODE flags are incompatible".into());
    }
    Ok(re)
}

fn cap((lo, hi): Width) -> Width {
    (lo.min(MAXREPEAT - 1), hi.min(MAXREPEAT))
}

fn unit(set: AsciiSet) -> Item {
    Item {
        re: class_text(set),
        width: (1, 1),
        kind: Kind::Unit,
    }
}

fn at(re: &str) -> Item {
    Item {
        re: re.into(),
        width: (0, 0),
        kind: Kind::At,
    }
}

fn other(re: String, width: Width) -> Item {
    Item {
        re,
        width,
        kind: Kind::Other,
    }
}

impl Parser {
    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.pos).copied()
    }

    fn get(&mut self) -> Option<Tok> {
        let t = self.peek();
        self.pos += usize::from(t.is_some());
        t
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(Tok::Char(c));
        self.pos += usize::from(hit);
        hit
    }

    /// `getwhile`: up to `n` plain characters that satisfy `ok`.
    fn get_while(&mut self, n: usize, ok: fn(char) -> bool) -> String {
        let mut out = String::new();
        while out.len() < n
            && let Some(Tok::Char(c)) = self.peek()
            && ok(c)
        {
            out.push(c);
            self.pos += 1;
        }
        out
    }

    /// `getuntil`: the text up to `end` (escapes kept as written), which must not be empty.
    fn get_until(&mut self, end: char, what: &str) -> Result<String, String> {
        let mut out = String::new();
        loop {
            match self.get() {
                None => return Err(format!("missing {end}, unterminated {what}")),
                Some(Tok::Char(c)) if c == end => break,
                Some(Tok::Char(c)) => out.push(c),
                Some(Tok::Esc(c)) => {
                    out.push('\\');
                    out.push(c);
                }
            }
        }
        if out.is_empty() {
            return Err(format!("missing {what}"));
        }
        Ok(out)
    }

    /// `_parse_sub`: branches separated by `|`.
    fn parse_sub(&mut self, nested: usize, flags: Flags) -> Result<(String, Width), String> {
        // Each group level is two steps of `nested` (a branch list, then a branch).
        if nested / 2 > MAX_DEPTH {
            return Err(format!(
                "groups nested more than {MAX_DEPTH} deep are not supported here"
            ));
        }
        let mut branches: Vec<(String, Width)> = Vec::new();
        loop {
            // At the top level each branch starts with the global flags (`(?x)` included).
            let start = if nested == 0 { self.global } else { flags };
            let first = nested == 0 && branches.is_empty();
            branches.push(self.parse_seq(nested + 1, first, start)?);
            if !self.eat('|') {
                break;
            }
        }
        if branches.len() == 1 {
            return Ok(branches.remove(0));
        }
        let lo = branches.iter().map(|b| b.1.0).fold(MAXREPEAT - 1, u64::min);
        let hi = branches.iter().map(|b| b.1.1).fold(0, u64::max);
        let texts: Vec<&str> = branches.iter().map(|b| b.0.as_str()).collect();
        Ok((texts.join("|"), cap((lo, hi))))
    }

    /// `_parse`: one branch.
    fn parse_seq(
        &mut self,
        nested: usize,
        first: bool,
        mut flags: Flags,
    ) -> Result<(String, Width), String> {
        let mut items: Vec<Item> = Vec::new();
        while let Some(tok) = self.peek() {
            if matches!(tok, Tok::Char('|' | ')')) {
                break;
            }
            self.pos += 1;
            if flags.verbose {
                if matches!(tok, Tok::Char(' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')) {
                    continue;
                }
                if tok == Tok::Char('#') {
                    while !matches!(self.get(), None | Some(Tok::Char('\n'))) {}
                    continue;
                }
            }
            match tok {
                Tok::Esc(c) => items.push(self.escape(c, flags)?),
                Tok::Char('[') => items.push(unit(self.class(flags)?)),
                Tok::Char(c @ ('*' | '+' | '?' | '{')) => self.repeat(c, &mut items, flags)?,
                Tok::Char('.') => items.push(unit(charset::dot(flags))),
                Tok::Char('^') => items.push(at(r"\A")),
                Tok::Char('$') => items.push(at(r"\z")),
                Tok::Char('(') => {
                    if let Some(item) = self.group(nested, first, &items, &mut flags)? {
                        items.push(item);
                    }
                }
                Tok::Char(c) => items.push(unit(charset::literal(u32::from(c), flags))),
            }
        }
        let re = items.iter().map(|i| i.re.as_str()).collect();
        let width = items.iter().fold((0u64, 0u64), |(lo, hi), i| {
            (lo.saturating_add(i.width.0), hi.saturating_add(i.width.1))
        });
        Ok((re, cap(width)))
    }

    fn repeat(&mut self, c: char, items: &mut Vec<Item>, flags: Flags) -> Result<(), String> {
        let (min, max) = match c {
            '?' => (0, Some(1)),
            '*' => (0, None),
            '+' => (1, None),
            _ => {
                // `{` is a literal unless a whole `{m,n}` follows.
                let here = self.pos;
                let lo = self.get_while(usize::MAX, |c| c.is_ascii_digit());
                let hi = if self.eat(',') {
                    Some(self.get_while(usize::MAX, |c| c.is_ascii_digit()))
                } else {
                    None
                };
                if (lo.is_empty() && hi.is_none()) || !self.eat('}') {
                    self.pos = here;
                    items.push(unit(charset::literal(u32::from('{'), flags)));
                    return Ok(());
                }
                let count = |s: &str| -> Result<Option<u64>, String> {
                    if s.is_empty() {
                        return Ok(None);
                    }
                    match s.parse::<u64>() {
                        Ok(n) if n < MAXREPEAT => Ok(Some(n)),
                        _ => Err("the repetition number is too large".to_owned()),
                    }
                };
                let min = count(&lo)?.unwrap_or(0);
                let max = match hi {
                    Some(hi) => count(&hi)?,
                    None => Some(min),
                };
                if max.is_some_and(|max| max < min) {
                    return Err("min repeat greater than max repeat".into());
                }
                (min, max)
            }
        };
        let item = match items.last_mut() {
            None => return Err("nothing to repeat".into()),
            Some(item) if item.kind == Kind::At => return Err("nothing to repeat".into()),
            Some(item) if item.kind == Kind::Repeat => return Err("multiple repeat".into()),
            Some(item) => item,
        };
        let suffix = if self.eat('?') {
            "?"
        } else if self.eat('+') {
            "+"
        } else {
            ""
        };
        if min > MAX_COUNT || max.is_some_and(|m| m > MAX_COUNT) {
            return Err(format!(
                "repetition counts above {MAX_COUNT} are not supported here (a conn id has at most 250 characters)"
            ));
        }
        let quant = match (min, max) {
            (0, Some(1)) => "?".to_owned(),
            (0, None) => "*".to_owned(),
            (1, None) => "+".to_owned(),
            (m, None) => format!("{{{m},}}"),
            (m, Some(n)) => format!("{{{m},{n}}}"),
        };
        if item.width.1 == 0 {
            // Repeating what consumes nothing (`(?=a)*`, `(?:^)+`): fancy-regex refuses it,
            // and to Python it means trying it once, optionally when the minimum is 0.
            item.re = match (min, suffix) {
                (0, "?") => format!("(?:|{})", item.re),
                (0, "+") => format!("(?>{}|)", item.re),
                (0, _) => format!("(?:{}|)", item.re),
                _ => format!("(?:{})", item.re),
            };
            item.kind = Kind::Repeat;
            return Ok(());
        }
        let (lo, hi) = item.width;
        let hi = match max {
            None if hi > 0 => MAXREPEAT,
            None => 0,
            Some(n) => hi.saturating_mul(n),
        };
        item.width = (lo.saturating_mul(min), hi);
        item.re = format!("(?:{}){quant}{suffix}", item.re);
        item.kind = Kind::Repeat;
        Ok(())
    }
}
