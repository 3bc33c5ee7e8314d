//! Character tests (`a`, `.`, `\d`, `[...]`, escapes) as the set of ASCII characters Python
//! would accept there. A conn id is ASCII, so that set is the whole meaning of the test.

use super::{Flags, Item, Parser, Tok, at, unit};

/// Bit `n` set: ASCII character `n` matches.
pub(super) type AsciiSet = u128;

fn range(lo: u32, hi: u32) -> AsciiSet {
    (lo..=hi.min(127)).fold(0, |set, c| set | 1 << c)
}

/// The non-ASCII characters that Python's `re.IGNORECASE` (Unicode rules) matches with
/// ASCII letters: `K` (Kelvin) lowercases to `k`, `İ` to `i`, and `ı`/`ſ` share their
/// uppercase with `i`/`s` (`re._casefix`). tests/lookup_pattern_python.rs checks against
/// Python that no other character does.
fn unicode_fold(c: u32) -> AsciiSet {
    match c {
        0x130 | 0x131 => 1 << b'i',
        0x17f => 1 << b's',
        0x212a => 1 << b'k',
        _ => 0,
    }
}

/// Every ASCII letter in `set` with its other case (Python's ASCII `lower()`).
fn fold_case(set: AsciiSet) -> AsciiSet {
    let upper = set & (range(u32::from(b'A'), u32::from(b'Z')));
    let lower = set & (range(u32::from(b'a'), u32::from(b'z')));
    set | upper << 32 | lower >> 32
}

fn finish(raw: AsciiSet, flags: Flags) -> AsciiSet {
    if flags.ignorecase {
        fold_case(raw)
    } else {
        raw
    }
}

/// One character of the pattern, by code point (`\ud800` is one in Python).
fn raw_char(c: u32, flags: Flags) -> AsciiSet {
    let folded = if flags.ignorecase && !flags.ascii {
        unicode_fold(c)
    } else {
        0
    };
    range(c, c) | folded
}

fn raw_range(lo: u32, hi: u32, flags: Flags) -> AsciiSet {
    let ascii = if lo < 128 { range(lo, hi) } else { 0 };
    let special = [0x130, 0x131, 0x17f, 0x212a]
        .into_iter()
        .filter(|c| (lo..=hi).contains(c))
        .fold(0, |set, c| set | raw_char(c, flags));
    ascii | special
}

pub(super) fn literal(c: u32, flags: Flags) -> AsciiSet {
    finish(raw_char(c, flags), flags)
}

/// `.`: anything but a newline, or anything with `(?s)`.
pub(super) fn dot(flags: Flags) -> AsciiSet {
    let all = range(0, 127);
    if flags.dotall {
        all
    } else {
        all & !(1 << b'\n')
    }
}

/// `\d \D \s \S \w \W`, by Python's Unicode rules (or ASCII ones under `(?a)`) on ASCII.
fn category(c: char, flags: Flags) -> Option<AsciiSet> {
    let digit = range(0x30, 0x39);
    let word = digit | range(0x41, 0x5a) | range(0x61, 0x7a) | 1 << b'_';
    // str.isspace() holds for \x1c-\x1f too; the ASCII rules leave them out.
    let space = range(0x09, 0x0d) | 1 << b' ' | if flags.ascii { 0 } else { range(0x1c, 0x1f) };
    let all = range(0, 127);
    Some(match c {
        'd' => digit,
        'D' => all & !digit,
        'w' => word,
        'W' => all & !word,
        's' => space,
        'S' => all & !space,
        _ => return None,
    })
}

/// The set as a fancy-regex class of explicit code points (nothing left to its own rules).
pub(super) fn class_text(set: AsciiSet) -> String {
    let set = set & range(0, 127);
    if set == 0 {
        return r"[^\x{0}-\x{10FFFF}]".into();
    }
    let mut out = String::from("[");
    let mut c = 0;
    while c < 128 {
        if set >> c & 1 == 0 {
            c += 1;
            continue;
        }
        let start = c;
        while c < 128 && set >> c & 1 == 1 {
            c += 1;
        }
        out.push_str(&format!(r"\x{{{start:x}}}"));
        if c - 1 > start {
            out.push_str(&format!(r"-\x{{{:x}}}", c - 1));
        }
    }
    out.push(']');
    out
}

/// The simple escapes shared by both contexts (`ESCAPES` in `_parser.py`).
fn control(c: char) -> Option<u32> {
    Some(match c {
        'a' => 0x07,
        'f' => 0x0c,
        'n' => 0x0a,
        'r' => 0x0d,
        't' => 0x09,
        'v' => 0x0b,
        '\\' => 0x5c,
        _ => return None,
    })
}

enum ClassItem {
    Char(u32),
    Set(AsciiSet),
}

impl Parser {
    /// `\xhh`, `\uhhhh`, `\Uhhhhhhhh`, `\N{...}`; `None` for other escapes.
    fn code_point(&mut self, c: char) -> Result<Option<u32>, String> {
        let digits = match c {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            'N' => return Err(r"\N{...} named characters are not supported here".into()),
            _ => return Ok(None),
        };
        let hex = self.get_while(digits, |c| c.is_ascii_hexdigit());
        if hex.len() != digits {
            return Err(format!(r"incomplete escape \{c}{hex}"));
        }
        match u32::from_str_radix(&hex, 16) {
            Ok(n) if n <= 0x10ffff => Ok(Some(n)),
            _ => Err(format!(r"bad escape \{c}{hex}")),
        }
    }

    /// `_escape`: a backslash outside a class.
    pub(super) fn escape(&mut self, c: char, flags: Flags) -> Result<Item, String> {
        match c {
            'A' => return Ok(at(r"\A")),
            // Python's \Z is the very end (fancy-regex's \z); ids hold no newline anyway.
            'Z' => return Ok(at(r"\z")),
            'b' => return Ok(at(r"\b")),
            'B' => return Ok(at(r"\B")),
            _ => {}
        }
        if let Some(set) = category(c, flags) {
            return Ok(unit(set));
        }
        if let Some(n) = control(c) {
            return Ok(unit(literal(n, flags)));
        }
        if let Some(n) = self.code_point(c)? {
            return Ok(unit(literal(n, flags)));
        }
        if c == '0' {
            let oct = self.get_while(2, |c| matches!(c, '0'..='7'));
            let n = u32::from_str_radix(&format!("0{oct}"), 8).map_err(|e| e.to_string())?;
            return Ok(unit(literal(n, flags)));
        }
        if let Some(d) = c.to_digit(10) {
            // An octal escape of three digits, or a group reference (Python's "sigh").
            let mut digits = c.to_string();
            if let Some(Tok::Char(d2 @ '0'..='9')) = self.peek() {
                self.pos += 1;
                digits.push(d2);
                if d < 8
                    && d2 < '8'
                    && let Some(Tok::Char(d3 @ '0'..='7')) = self.peek()
                {
                    self.pos += 1;
                    digits.push(d3);
                    let n = u32::from_str_radix(&digits, 8).map_err(|e| e.to_string())?;
                    if n > 0o377 {
                        return Err(format!(
                            r"octal escape value \{digits} outside of range 0-0o377"
                        ));
                    }
                    return Ok(unit(literal(n, flags)));
                }
            }
            let gid: usize = digits.parse().map_err(|_| "bad escape".to_owned())?;
            if gid < self.groups {
                return self.backref(gid, flags);
            }
            return Err(format!("invalid group reference {gid}"));
        }
        if c.is_ascii_alphabetic() {
            return Err(format!(r"bad escape \{c}"));
        }
        Ok(unit(literal(u32::from(c), flags)))
    }

    /// `_class_escape`: a backslash inside `[...]`.
    fn class_escape(&mut self, c: char, flags: Flags) -> Result<ClassItem, String> {
        if c == 'b' {
            return Ok(ClassItem::Char(0x08));
        }
        if let Some(n) = control(c) {
            return Ok(ClassItem::Char(n));
        }
        if let Some(set) = category(c, flags) {
            return Ok(ClassItem::Set(set));
        }
        if let Some(n) = self.code_point(c)? {
            return Ok(ClassItem::Char(n));
        }
        if matches!(c, '0'..='7') {
            let oct = format!("{c}{}", self.get_while(2, |c| matches!(c, '0'..='7')));
            let n = u32::from_str_radix(&oct, 8).map_err(|e| e.to_string())?;
            if n > 0o377 {
                return Err(format!(
                    r"octal escape value \{oct} outside of range 0-0o377"
                ));
            }
            return Ok(ClassItem::Char(n));
        }
        if c.is_ascii_alphanumeric() {
            return Err(format!(r"bad escape \{c}"));
        }
        Ok(ClassItem::Char(u32::from(c)))
    }

    fn class_item(&mut self, tok: Tok, flags: Flags) -> Result<ClassItem, String> {
        match tok {
            Tok::Esc(c) => self.class_escape(c, flags),
            Tok::Char(c) => Ok(ClassItem::Char(u32::from(c))),
        }
    }

    /// After `[`: `]` first is a literal, `[` inside is a literal (no POSIX classes in
    /// Python), ranges need two single characters in order.
    pub(super) fn class(&mut self, flags: Flags) -> Result<AsciiSet, String> {
        let negate = self.eat('^');
        let mut raw: AsciiSet = 0;
        let mut empty = true;
        loop {
            let tok = self.get().ok_or("unterminated character set")?;
            if tok == Tok::Char(']') && !empty {
                break;
            }
            empty = false;
            let first = self.class_item(tok, flags)?;
            if !self.eat('-') {
                raw |= match first {
                    ClassItem::Char(c) => raw_char(c, flags),
                    ClassItem::Set(set) => set,
                };
                continue;
            }
            let that = self.get().ok_or("unterminated character set")?;
            if that == Tok::Char(']') {
                raw |= match first {
                    ClassItem::Char(c) => raw_char(c, flags),
                    ClassItem::Set(set) => set,
                } | 1 << b'-';
                break;
            }
            match (first, self.class_item(that, flags)?) {
                (ClassItem::Char(lo), ClassItem::Char(hi)) if lo <= hi => {
                    raw |= raw_range(lo, hi, flags);
                }
                _ => return Err("bad character range".into()),
            }
        }
        let set = finish(raw, flags);
        Ok(if negate { range(0, 127) & !set } else { set })
    }
}
