//! `(` in a pattern: groups, look-around, conditionals, comments and inline flags, as
//! `_parser.py` reads them.

use super::{Flags, Item, Kind, MAXCODE, MAXREPEAT, Parser, Tok, other};

/// The flag letters `_parser.py` knows (`t`, the deprecated template flag, is refused).
const FLAG_LETTERS: &str = "iLmsxatu";

/// What `(?flags)` or `(?flags-flags:` sets; `a`/`u` choose ASCII or Unicode case rules.
#[derive(Default)]
struct FlagChange {
    ignorecase: Option<bool>,
    dotall: Option<bool>,
    verbose: Option<bool>,
    ascii: Option<bool>,
}

impl FlagChange {
    fn apply(&self, mut f: Flags) -> Flags {
        f.ignorecase = self.ignorecase.unwrap_or(f.ignorecase);
        f.dotall = self.dotall.unwrap_or(f.dotall);
        f.verbose = self.verbose.unwrap_or(f.verbose);
        f.ascii = self.ascii.unwrap_or(f.ascii);
        f
    }

    fn set(&mut self, c: char, on: bool) -> Result<(), String> {
        match c {
            'i' => self.ignorecase = Some(on),
            's' => self.dotall = Some(on),
            'x' => self.verbose = Some(on),
            // Multi-line: no conn id holds a newline.
            'm' => {}
            'a' | 'u' if on => {
                if self.ascii.is_some_and(|ascii| ascii != (c == 'a')) {
                    return Err("bad inline flag value".into());
                }
                self.ascii = Some(c == 'a');
            }
            'L' => return Err("bad inline flags: cannot use 'L' flag with a str pattern".into()),
            't' => return Err("the template flag (?t) is not supported here".into()),
            _ => return Err("bad inline flag value".into()),
        }
        Ok(())
    }
}

/// Python accepts any `str.isidentifier()` name; this takes the ASCII ones (conn ids are ASCII).
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else if name.is_ascii() {
        Err(format!("bad character in group name {name:?}"))
    } else {
        Err(format!(
            "group name {name:?}: only ASCII group names are supported here"
        ))
    }
}

impl Parser {
    /// After `(`; `None` for what adds nothing (a comment, global flags).
    pub(super) fn group(
        &mut self,
        nested: usize,
        first: bool,
        items: &[Item],
        flags: &mut Flags,
    ) -> Result<Option<Item>, String> {
        let mut name = None;
        let mut inner = *flags;
        let open = if !self.eat('?') {
            "("
        } else {
            match self.get().ok_or("unexpected end of pattern")? {
                Tok::Char('P') => {
                    if self.eat('<') {
                        let n = self.get_until('>', "group name")?;
                        check_name(&n)?;
                        name = Some(n);
                        "("
                    } else if self.eat('=') {
                        let n = self.get_until(')', "group name")?;
                        check_name(&n)?;
                        let gid = *self
                            .names
                            .get(&n)
                            .ok_or_else(|| format!("unknown group name {n:?}"))?;
                        return self.backref(gid, *flags).map(Some);
                    } else {
                        return Err(match self.get() {
                            None => "unexpected end of pattern".into(),
                            Some(_) => "unknown extension ?P".into(),
                        });
                    }
                }
                Tok::Char(':') => "(?:",
                Tok::Char('#') => {
                    while self.get().ok_or("missing ), unterminated comment")? != Tok::Char(')') {}
                    return Ok(None);
                }
                Tok::Char(c @ ('=' | '!' | '<')) => {
                    return self.look_around(c, nested, *flags).map(Some);
                }
                Tok::Char('(') => return self.conditional(nested, *flags).map(Some),
                Tok::Char('>') => "(?>",
                Tok::Char(c) if c == '-' || FLAG_LETTERS.contains(c) => match self.flags(c)? {
                    (change, false) => {
                        if !first || !items.is_empty() {
                            return Err("global flags not at the start of the expression".into());
                        }
                        self.global = change.apply(self.global);
                        self.global_unicode |= change.ascii == Some(false);
                        *flags = change.apply(*flags);
                        return Ok(None);
                    }
                    (change, true) => {
                        inner = change.apply(*flags);
                        "(?:"
                    }
                },
                Tok::Char(c) => return Err(format!("unknown extension ?{c}")),
                Tok::Esc(c) => return Err(format!("unknown extension ?\\{c}")),
            }
        };
        let gid = (open == "(").then(|| self.open_group(name)).transpose()?;
        let (body, width) = self.parse_sub(nested + 1, inner)?;
        if !self.eat(')') {
            return Err("missing ), unterminated subpattern".into());
        }
        if let Some(gid) = gid {
            self.closed[gid] = true;
        }
        Ok(Some(other(format!("{open}{body})"), width)))
    }

    fn open_group(&mut self, name: Option<String>) -> Result<usize, String> {
        let gid = self.groups;
        self.groups += 1;
        self.closed.push(false);
        if let Some(name) = name
            && let Some(was) = self.names.insert(name.clone(), gid)
        {
            return Err(format!(
                "redefinition of group name {name:?} as group {gid}; was group {was}"
            ));
        }
        Ok(gid)
    }

    /// `\N` or `(?P=name)`: the group must be closed; case-insensitive where `re.I` is on
    /// (both sides are ASCII, so any engine's folding agrees with Python's `lower()`).
    pub(super) fn backref(&mut self, gid: usize, flags: Flags) -> Result<Item, String> {
        if !self.closed.get(gid).copied().unwrap_or(false) {
            return Err("cannot refer to an open group".into());
        }
        if self.in_lookbehind > 0 {
            return Err("a group reference inside a look-behind is not supported here".into());
        }
        let re = if flags.ignorecase {
            format!(r"(?i:\{gid})")
        } else {
            format!(r"(?:\{gid})")
        };
        // Its width only matters to a look-behind, where it is refused above.
        Ok(Item {
            re,
            width: (0, MAXREPEAT),
            kind: Kind::Other,
        })
    }

    fn look_around(&mut self, c: char, nested: usize, flags: Flags) -> Result<Item, String> {
        let open = match c {
            '=' => "(?=",
            '!' => "(?!",
            _ => match self.get().ok_or("unexpected end of pattern")? {
                Tok::Char('=') => "(?<=",
                Tok::Char('!') => "(?<!",
                _ => return Err("unknown extension ?<".into()),
            },
        };
        let behind = open.starts_with("(?<");
        self.in_lookbehind += usize::from(behind);
        let (body, (lo, hi)) = self.parse_sub(nested + 1, flags)?;
        self.in_lookbehind -= usize::from(behind);
        if !self.eat(')') {
            return Err("missing ), unterminated subpattern".into());
        }
        if behind && lo > MAXCODE {
            return Err("looks too much behind".into());
        }
        if behind && lo != hi {
            return Err("look-behind requires fixed-width pattern".into());
        }
        Ok(other(format!("{open}{body})"), (0, 0)))
    }

    /// `(?(group)yes|no)`.
    fn conditional(&mut self, nested: usize, flags: Flags) -> Result<Item, String> {
        let cond = self.get_until(')', "group name")?;
        let gid = if check_name(&cond).is_ok() {
            *self
                .names
                .get(&cond)
                .ok_or_else(|| format!("unknown group name {cond:?}"))?
        } else if cond.bytes().all(|b| b.is_ascii_digit()) {
            let n: u64 = cond
                .parse()
                .map_err(|_| format!("invalid group reference {cond}"))?;
            if n == 0 {
                return Err("bad group number".into());
            }
            // Python checks at the end that the group exists, so it may come later.
            self.cond_refs.push(n);
            usize::try_from(n).map_err(|_| format!("invalid group reference {cond}"))?
        } else {
            // Python 3.11 still reads `+1`, ` 1` or non-ASCII digits here (3.12 refuses them).
            return Err(format!(
                "conditional group reference {cond:?}: only a name or ASCII digits are supported here"
            ));
        };
        if self.in_lookbehind > 0 {
            return Err("a conditional inside a look-behind is not supported here".into());
        }
        let (yes, (ylo, yhi)) = self.parse_seq(nested + 1, false, flags)?;
        let no = if self.eat('|') {
            let no = self.parse_seq(nested + 1, false, flags)?;
            if self.peek() == Some(Tok::Char('|')) {
                return Err("conditional backref with more than two branches".into());
            }
            Some(no)
        } else {
            None
        };
        if !self.eat(')') {
            return Err("missing ), unterminated subpattern".into());
        }
        let (re, width) = match no {
            Some((no, (nlo, nhi))) => (
                format!("(?({gid}){yes}|{no})"),
                (ylo.min(nlo), yhi.max(nhi)),
            ),
            None => (format!("(?({gid}){yes})"), (0, yhi)),
        };
        Ok(other(re, width))
    }

    /// `_parse_flags`, from its first character; `true` for a scoped `(?flags-flags:`.
    fn flags(&mut self, mut c: char) -> Result<(FlagChange, bool), String> {
        let mut change = FlagChange::default();
        let mut added = Vec::new();
        if c != '-' {
            loop {
                change.set(c, true)?;
                added.push(c);
                match self.get() {
                    None => return Err("missing -, : or )".into()),
                    Some(Tok::Char(n @ (')' | '-' | ':'))) => {
                        c = n;
                        break;
                    }
                    Some(Tok::Char(n)) if FLAG_LETTERS.contains(n) => c = n,
                    Some(_) => return Err("unknown flag".into()),
                }
            }
        }
        if c == ')' {
            return Ok((change, false));
        }
        if c == '-' {
            let mut n = match self.get() {
                Some(Tok::Char(n)) if FLAG_LETTERS.contains(n) => n,
                _ => return Err("missing flag".into()),
            };
            loop {
                if added.contains(&n) || "aLu".contains(n) {
                    return Err("bad inline flag value".into());
                }
                change.set(n, false)?;
                match self.get() {
                    None => return Err("missing :".into()),
                    Some(Tok::Char(':')) => break,
                    Some(Tok::Char(m)) if FLAG_LETTERS.contains(m) => n = m,
                    Some(_) => return Err("missing :".into()),
                }
            }
        }
        Ok((change, true))
    }
}
