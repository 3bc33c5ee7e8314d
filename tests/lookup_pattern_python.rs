//! connections_lookup_pattern means here what it means to Airflow: Python's
//! `re.match(pattern, conn_id, re.IGNORECASE)`, checked against Python's own `re` on a
//! corpus of patterns and conn ids (AIRFLOW3_PYTHON when set, as `make test` sets it,
//! else `python3`; `re` is in the standard library).

// Helpers outside #[test] fns state expectations too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use refresher_core::ids::ConnId;
use refresher_core::naming::LookupPattern;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

#[path = "lookup_pattern_python/corpus.rs"]
mod corpus;
use corpus::{PATTERNS, PIECES, REFUSED_HERE, ids};

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
