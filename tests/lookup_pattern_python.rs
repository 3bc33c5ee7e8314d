//! connections_lookup_pattern means here what it means to Airflow: Python's
//! `re.match(pattern, conn_id, re.IGNORECASE)`, checked against Python's own `re` on a
//! corpus of patterns and conn ids (AIRFLOW3_PYTHON when set, as `make test` sets it,
//! else `python3`; `re` is in the standard library).

// Helpers outside #[test] fns state expectations too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use airflow_ecr_refresher::ids::ConnId;
use airflow_ecr_refresher::naming::LookupPattern;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

/// Python accepts these; this function refuses them on purpose, naming the construct.
const REFUSED_HERE: &[(&str, &str)] = &[
    (r"\N{LATIN SMALL LETTER A}", "named characters"),
    ("(?P<é>x)", "only ASCII group names"),
    ("(?P<g>a)(?P=g)(?P<ü>b)", "only ASCII group names"),
    ("a{1001}", "repetition counts above 1000"),
    ("a{0,4294967294}", "repetition counts above 1000"),
    ("(?t)docker", "template flag"),
    ("(a)(?(+1)b|c)", "only a name or ASCII digits"),
    (r"(a)(?<=\1)", "group reference inside a look-behind"),
    ("(a)(?<=(?(1)a|b))", "conditional inside a look-behind"),
    (
        concat!("(((((((((((((((((((((", "a", ")))))))))))))))))))))"),
        "nested more than 20",
    ),
];

const PATTERNS: &[&str] = &[
    // The issue's examples and MWAA's way to skip aws_default.
    "^(?!aws_default$).*$",
    r"docker\Z",
    r".*_ecr\Z",
    "a{,3}",
    "a{,3}$",
    "(?P<x>a)(?P=x)",
    "(?P=x)",
    "(?x) docker _ ecr  # the ECR logins",
    "[[:alpha:]_]+",
    "[[:alpha:]_]+$",
    "docker)|(.*",
    // Anchors: ids hold no newline, so `$`, `\Z` and multi-line agree.
    "docker$",
    r"$\Z",
    "(?m)^docker$",
    r"\Adocker",
    "",
    // Case folding, and switching it off.
    "DOCKER",
    "(?-i:Docker)",
    "(?-i:[a-z]+$)",
    "[A-Z]+$",
    "(?i)docker",
    "(?-i:(?i:D)ocker)",
    r"(?-i:\w+)",
    // Non-ASCII characters and Python's Unicode case rules.
    "\u{212a}",
    "\u{17f}",
    "\u{130}",
    "\u{131}",
    "(?a)\u{212a}",
    "(?a:\u{131})",
    "(?-i:\u{212a})",
    "é",
    "[^é]+$",
    "[\u{100}-\u{17f}]",
    "[^\u{100}-\u{17f}]",
    "[A-\u{17f}]+$",
    "(?u)(?a)x",
    r"\u212a",
    r"\U0000212a",
    r"[\u0130-\u0131]",
    r"\xe9",
    // Look-around.
    ".*(?<=_ecr)$",
    ".*(?<!prod)$",
    "(?<=a|bc)",
    "a(?<=ab|cd)",
    "(?=.*ecr)",
    "(?!.*prod)docker",
    "(?=a)*",
    "(?=a)+a",
    "(?:^)*",
    r"(?<=\b)x",
    "(?<=(a))b",
    "(?<=(a))b(?P=x)",
    "(?<=(?P<x>a))b(?P=x)",
    "a(?<=(?:)*)",
    "a(?<=a{2})",
    // Backreferences.
    r"(\w)\1",
    r"(a)\1",
    r"(a)|\1",
    r"(a\1)",
    r"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)\12",
    r"(a)\12",
    r"\1",
    r"(?-i:(a)\1)",
    r"(?P<team>\w+)--(?P=team)",
    // Conditionals.
    "(a)?(?(1)b|c)",
    "(?P<g>a)?(?(g)b|c)",
    "(?(1)a|b)",
    "(?(2)a|b)(x)(y)",
    "(a(?(1)b|c))",
    "(a)(?(1)b|c|d)",
    "(?(0)a)",
    "(?(x)a)",
    // Repetition: nested, lazy, possessive, atomic.
    "(a+)+b",
    "(a*)*$",
    "((a|b)*)*c",
    "(?:a|aa)+$",
    "a*?$",
    "a{2,}?",
    "a*+a",
    "a++$",
    "a{1,2}+a",
    "(?>docker|dock)er",
    "(?>a+)a",
    "x{}",
    "x{,}",
    "x{1,2",
    "x{2,1}",
    "x{ 1}",
    ".{0,250}$",
    ".{251}",
    "*",
    "+a",
    "a**",
    "a*{1}",
    "a*{",
    "^*",
    r"\b*",
    "(?#c)*",
    "a(?#c)*",
    "(?i)+",
    // Classes.
    "[]]",
    "[^]]",
    "[a-]+$",
    "[-a]",
    "[z-a]",
    r"[\d-z]",
    r"[a-\d]",
    r"[\d-]+$",
    "[",
    "[]",
    "[^\\W\\d]+$",
    r"[\b]",
    r"[\A]",
    r"[\8]",
    r"[\400]",
    r"[\101-\132]+$",
    "[.-]",
    "[_-]",
    "[&&]",
    // Escapes.
    r"\d+$",
    r"\D",
    r"\w+$",
    r"\W",
    r"\s",
    r"\S+$",
    r"\bdocker\b",
    r"\B",
    r"\x41",
    r"\x4",
    r"\u0041",
    r"\u004",
    r"\101",
    r"\0",
    r"\400",
    r"\8",
    r"\.",
    r"\-",
    r"\_",
    r"\p{L}",
    r"\e",
    r"\z",
    r"\h",
    r"\K",
    r"\G",
    r"\k<x>",
    r"\",
    "a\\",
    // Groups and flags.
    "(?<name>x)",
    "(?P<1a>x)",
    "(?P<a>x)(?P<a>y)",
    "(?P<a>x",
    "(?Px)",
    "(",
    ")",
    "()",
    "(?:)",
    "(?=)",
    "(?!)",
    "a|",
    "|",
    "(?#comment)docker",
    "(?#unterminated",
    "(?s).",
    "(?L)x",
    "(?au)x",
    "(?aa)x",
    "(?-i)x",
    "a(?i)",
    "(?i)|(?x)",
    "(?i:(?x) a)",
    "(?x)a #c\n b",
    "(?x)#c\\\nb",
    "(?x)[ ]",
    "(?x)a| b",
    "(?x:a b)|c d",
    r"(?x)a\ b",
    "(?-x:a b)",
    "(?i-i:a)",
    "(?-:a)",
    "(?z)",
    "(?",
    "(?P",
    "(?<",
    "(?<x",
    // More corners: scoped case rules on references, empty classes, braces, precedence.
    "(?-i:(a)(?i:\\1))",
    "(a)(?-i:\\1)",
    "(?-i:(?P<t>a))(?P=t)",
    "[^\\s\\S]",
    "a|[^\\s\\S]",
    "[\\s\\S]+$",
    "(?s:.)+$",
    ".+$",
    "[\\x00-\\x7f]+$",
    ".*?_ecr$",
    "docker|ecr$",
    "ab|a",
    "(?=docker\\Z)",
    "(?a)\\w+$",
    "(?u)\\w",
    "\\07",
    "\\177",
    "{1}",
    "{",
    "{a}",
    "a{1}?b",
    "(?x)a{1, 2}",
    "(?x)( ?:a)",
    "(?x)a* ?",
    "(?x)\\# x",
    "(?x)[#]x",
    "(?P<n>a)?(?(n)b)",
    "\\ud800",
    "[\\ud800-\\udfff]",
    "[^\\ud800]+$",
];

/// Teams-style, mixed case, the separators, long and short ones.
fn ids() -> Vec<String> {
    let mut ids: Vec<String> = [
        "docker_ecr",
        "DOCKER_ECR",
        "Docker_ecr",
        "docker",
        "dockerer",
        "aws_default",
        "AWS_Default",
        "aws_default_2",
        "ml--docker_ecr",
        "web--docker_ecr",
        "ml--ml",
        "x-ecr_prod",
        "ecr.prod",
        "ab",
        "bc",
        "a",
        "aa",
        "aA",
        "aaa",
        "aaaa",
        "abc",
        "abcdefghijklb",
        "abcdefghijkla",
        "b",
        "c",
        "x",
        "xy",
        "xxyy",
        "ABCZ",
        "k",
        "K",
        "s",
        "S",
        "i",
        "I",
        "1",
        "12345",
        "_",
        "-",
        ".",
        "_-.",
        "aaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaab",
        "aaaaaaaaaaaaaaac",
    ]
    .map(str::to_owned)
    .to_vec();
    // Long ones, without runs that the nested repeats above would take Python ages on.
    ids.push("x".repeat(250));
    ids.push(format!("{}_", "z".repeat(249)));
    ids
}

const PYTHON: &str = r#"
import json, re, sys
req = json.load(sys.stdin)
out = {"cases": [], "folds": []}
for p in req["patterns"]:
    try:
        r = re.compile(p, re.IGNORECASE)
    except Exception as e:  # re.error, and ValueError/OverflowError for some flags and counts
        out["cases"].append({"error": "%s: %s" % (type(e).__name__, e)})
        continue
    out["cases"].append({"matches": [r.match(i) is not None for i in req["ids"]]})
alphabet = req["alphabet"]
if not alphabet:
    json.dump(out, sys.stdout)
    sys.exit(0)
def hits(p):
    r = re.compile(p, re.IGNORECASE)
    return "".join(a for a in alphabet if r.match(a))
def bisect(lo, hi):
    if not hits("[\\U%08x-\\U%08x]" % (lo, hi)):
        return
    if lo == hi:
        out["folds"].append([lo, hits("\\U%08x" % lo)])
        return
    mid = (lo + hi) // 2
    bisect(lo, mid)
    bisect(mid + 1, hi)
bisect(0x80, 0x10FFFF)
json.dump(out, sys.stdout)
"#;

fn python(request: &Value) -> Value {
    let python = std::env::var("AIRFLOW3_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .args(["-W", "ignore", "-c", PYTHON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{python} failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn id(s: &str) -> ConnId {
    ConnId::try_from(s.to_owned()).unwrap()
}

/// The same bisection as the Python side: which non-ASCII characters match which
/// ASCII conn id characters, by this function's reading.
fn rust_folds(alphabet: &[String], lo: u32, hi: u32, out: &mut Vec<Value>) {
    let hits = |p: &str| -> String {
        let re = LookupPattern::new(p).unwrap();
        alphabet
            .iter()
            .filter(|a| re.matches(&id(a)).unwrap())
            .map(String::as_str)
            .collect()
    };
    if hits(&format!(r"[\U{lo:08x}-\U{hi:08x}]")).is_empty() {
        return;
    }
    if lo == hi {
        out.push(json!([lo, hits(&format!(r"\U{lo:08x}"))]));
        return;
    }
    let mid = u32::midpoint(lo, hi);
    rust_folds(alphabet, lo, mid, out);
    rust_folds(alphabet, mid + 1, hi, out);
}

/// Disagreements between this function and Python's answers on `patterns` x `ids`;
/// `refusal_allowed` says which refusals of what Python accepts are on purpose.
fn compare(
    patterns: &[&str],
    ids: &[String],
    answer: &Value,
    refusal_allowed: impl Fn(&str, &str) -> bool,
) -> Vec<String> {
    let mut disagreements = Vec::new();
    for (pattern, python) in patterns.iter().zip(answer["cases"].as_array().unwrap()) {
        match (LookupPattern::new(pattern), python.get("error")) {
            (Err(e), Some(_)) => assert!(e.contains(&format!("{pattern:?}")), "{e}"),
            (Err(e), None) if refusal_allowed(pattern, &e) => {}
            (Err(e), None) => {
                disagreements.push(format!(
                    "{pattern:?}: refused here ({e}), Python accepts it"
                ));
            }
            (Ok(_), Some(err)) => {
                disagreements.push(format!("{pattern:?}: accepted here, Python says {err}"));
            }
            (Ok(re), None) => {
                let listed = REFUSED_HERE.iter().any(|(p, _)| p == pattern);
                assert!(!listed, "{pattern:?} is listed as refused");
                for (i, want) in ids.iter().zip(python["matches"].as_array().unwrap()) {
                    let got = re.matches(&id(i)).unwrap();
                    if Some(got) != want.as_bool() {
                        disagreements.push(format!(
                            "{pattern:?} on {i:?}: {got} here, {want} in Python"
                        ));
                    }
                }
            }
        }
    }
    disagreements
}

#[test]
fn lookup_patterns_mean_what_they_mean_to_python_re() {
    let ids = ids();
    let alphabet: Vec<String> = (0u8..128)
        .map(char::from)
        .filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
        .map(String::from)
        .collect();
    let patterns: Vec<&str> = PATTERNS
        .iter()
        .copied()
        .chain(REFUSED_HERE.iter().map(|(p, _)| *p))
        .collect();
    let answer = python(&json!({"patterns": patterns, "ids": ids, "alphabet": alphabet}));
    let mut disagreements = compare(&patterns, &ids, &answer, |pattern, e| {
        REFUSED_HERE
            .iter()
            .any(|(p, why)| *p == pattern && e.contains(why))
    });
    // The Kelvin sign is one of them: the bisection did look.
    assert!(
        answer["folds"].to_string().contains("[8490,\"Kk\"]"),
        "{}",
        answer["folds"]
    );
    let mut folds = Vec::new();
    rust_folds(&alphabet, 0x80, 0x10ffff, &mut folds);
    if Value::from(folds.clone()) != answer["folds"] {
        disagreements.push(format!(
            "non-ASCII characters matching conn id characters: {folds:?} here, {} in Python",
            answer["folds"]
        ));
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// Pieces of Python syntax, put together at random (a fixed seed: the same patterns on
/// every run) to find what a hand-written corpus misses.
const PIECES: &[&str] = &[
    "a", "b", "A", "-", "_", ".", "(", ")", "|", "*", "+", "?", "{1,2}", "{,1}", "{2}", "{", "}",
    ",", "[", "]", "^", "$", r"\Z", r"\A", r"\b", r"\B", r"\d", r"\w", r"\W", r"\s", r"\1", r"\2",
    "(?=", "(?!", "(?<=", "(?<!", "(?:", "(?>", "(?P<n>", "(?P=n)", "(?(1)", "(?i:", "(?-i:",
    "(?x)", "(?a)", " ", "#", "\n", r"\\", r"\-", "[^", "a-b", "\u{131}", "\u{212a}", "é", "(?#c)",
    r"\x41", r"\0",
];

/// Refusals of what Python accepts that the random patterns may run into, on purpose.
const REFUSAL_MARK: &str = "supported here";

#[test]
fn random_patterns_mean_what_they_mean_to_python_re() {
    let mut seed: u64 = 0x5eed_1234_abcd_0042;
    let mut next = |n: usize| {
        // A linear congruential generator (Knuth's MMIX constants): reproducible, no crate.
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(seed >> 33).unwrap() % n
    };
    let owned: Vec<String> = (0..10_000)
        .map(|_| {
            (0..1 + next(6))
                .map(|_| PIECES[next(PIECES.len())])
                .collect()
        })
        .collect();
    let patterns: Vec<&str> = owned.iter().map(String::as_str).collect();
    // Short ids: a random nested repeat must not take Python long.
    let ids: Vec<String> = [
        "a", "A", "b", "ab", "aB", "ba", "aa", "abab", "a-b", "_", "1", "k",
    ]
    .map(str::to_owned)
    .to_vec();
    let answer = python(&json!({"patterns": patterns, "ids": ids, "alphabet": []}));
    let accepted = answer["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("matches").is_some())
        .count();
    assert!(
        accepted > 2000,
        "only {accepted} valid patterns: a weak sample"
    );
    let disagreements = compare(&patterns, &ids, &answer, |_, e| e.contains(REFUSAL_MARK));
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
