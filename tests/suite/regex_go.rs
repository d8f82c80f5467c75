//! Differential test of the portable regex dialect against Go's `regexp` itself.
//!
//! `tools/regexcheck` (standard library only, built here with Debian's `golang-go`, offline, in a
//! temporary GOCACHE/GOPATH) compiles every pattern of a generated corpus with Go's
//! `regexp.Compile` and matches it against a set of subjects. For every pattern rrctl's verdict
//! (`regex_dialect::to_rust`) must equal Go's, and for every accepted one the Rust `regex` crate,
//! given the translation, must match exactly the subjects Go matches.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rrctl::definition::regex_dialect::to_rust;

/// Whether the gather (`gather::regex::compile_set`, matching raw log bytes) matches each
/// subject, as a string of 0/1.
fn gather_bits(pattern: &str, subjects: &[&str]) -> Result<String, String> {
    let set = rrctl::gather::regex::compile_set(&[pattern]).map_err(|e| e.to_string())?;
    Ok(subjects.iter().map(|s| if set.is_match(s.as_bytes()) { '1' } else { '0' }).collect())
}

/// Run the Go reference on `patterns` against `subjects`: one line per pattern.
fn run_go(dir: &Path, bin: &Path, subjects: &[&str], patterns: &[String]) -> Vec<String> {
    let subjects_file = dir.join("subjects.txt");
    let subjects_text: String = subjects.iter().map(|s| go_quote(s) + "\n").collect();
    std::fs::write(&subjects_file, subjects_text).unwrap();
    let input: String = patterns.iter().map(|p| go_quote(p) + "\n").collect();
    let mut child = Command::new(bin)
        .arg(&subjects_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run regexcheck");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "regexcheck failed: {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), patterns.len(), "one verdict per pattern");
    lines
}

/// Go-quoted form of `s` (what `strconv.Unquote` reads).
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// The Go toolchain: on PATH, or where Debian's `golang-go` puts it. Missing is a failure, not
/// a skip.
fn find_go() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/bin", "/usr/lib/go/bin", "/usr/local/go/bin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(extra)
        .map(|d| d.join("go"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`go` not found: this test needs Debian's golang-go (scripts/test.sh installs it)"))
}

/// Build the Go reference checker into `dir`.
fn build_regexcheck(dir: &Path) -> PathBuf {
    let go = find_go();
    let bin = dir.join("regexcheck");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/regexcheck/main.go");
    let out = Command::new(&go)
        .arg("build")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .env("GOCACHE", dir.join("gocache"))
        .env("GOPATH", dir.join("gopath"))
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("run go build");
    assert!(out.status.success(), "go build failed: {}", String::from_utf8_lossy(&out.stderr));
    bin
}

/// Subjects every accepted pattern is matched against.
const SUBJECTS: &[&str] = &[
    "", "a", "b", "c", "ab", "aa", "aaa", "abc", "A", "AB", "AbC", "é", "É", "a.b", "axb", "a{,5}", "{", "}", "{2}",
    "[", "]", "-", "&", "~", "|", "x y", "\t", "\n", "a\nb", "\u{0B}", "\u{0C}", "\u{212A}", "k", "K", "\u{17F}", "s",
    "S", "\u{663}", "3", "7", "_", "α", "Ω", "\u{0}", "<", ">", "\\", "abc123", ":", "d", "Q", "E", "e\u{301}",
    "\u{1}", "A\u{0}", "中", "-a-", "a-b", "ba", "bb", "$", "^", "*", "+", "?", ".", "(", ")", "#", " ", "x",
];

/// Patterns picked by hand: the issue's examples and the places where Go and Rust read the same
/// text differently.
const PICKED: &[&str] = &[
    "a{1001}",
    "a{1000}",
    "\\u0041",
    "\\u{41}",
    "(?x)a b",
    "(?u)a",
    "(?i-u)a",
    "a**",
    "a*+",
    "[a--b]",
    "\\p{Letter}",
    "\\p{Script=Greek}",
    "\\Qa.b\\E",
    "\\Qa.b",
    "\\Q\\E*",
    "a*\\Q\\E*",
    "x\\Q*\\E+",
    "(a{10}){101}",
    "(a{10}){100}",
    "((a{2}){5}){100}",
    "((a{2}){5}){101}",
    "(a{10}|b){100}",
    "(a{10}|b){101}",
    "(?:a{0}){1001}",
    "(a{500}){0}{3}",
    "((a{500}){0}){3}",
    "a{2}{3}",
    "a{2}*",
    "a*?",
    "a*??",
    "a+?+",
    "a{,5}",
    "a{01}",
    "a{ 2}",
    "a{x}",
    "{",
    "}",
    "{2}",
    "a{2,1}",
    "a{1,}",
    "a{99999999999}",
    "\\b{start}",
    "\\<a",
    "a\\>",
    "[a[b]]",
    "[[]",
    "[a&&b]",
    "[a~~b]",
    "[a||b]",
    "[&&]",
    "[[:alpha:]]",
    "[[:^alpha:]]",
    "[[:foo:]]",
    "[[:alpha]",
    "[:alpha:]",
    "[[:alpha:]-z]",
    "[\\d-z]",
    "[a-\\d]",
    "[]a]",
    "[^]a]",
    "[]",
    "[^]",
    "[a-]",
    "[-a]",
    "[z-a]",
    "[\\x{D800}]",
    "[\\x{D7FF}-\\x{E000}]",
    "\\x{D800}",
    "\\x{10FFFF}",
    "\\x{110000}",
    "\\x{}",
    "\\xg",
    "\\x4",
    "\\101",
    "\\0",
    "\\08",
    "\\1",
    "\\8",
    "\\12",
    "\\_",
    "\\e",
    "\\C",
    "\\Z",
    "\\z",
    "\\A",
    "\\G",
    "\\K",
    "\\N",
    "\\h",
    "\\",
    "(?ii)a",
    "(?i-i)a",
    "(?)",
    "(?)a",
    "(?-)",
    "(?i-)",
    "(?--i)",
    "(?-i-s)",
    "(?P<n>a)",
    "(?P<1>a)",
    "(?P<>a)",
    "(?P<n>a)(?P<n>b)",
    "(?<n>a)",
    "(?P=n)",
    "(?#c)",
    "(?=a)",
    "(?!a)",
    "(?<=a)",
    "(?R)",
    "ab(?i)*",
    "(?i)*",
    "a(?U)*",
    "a(?U)*?",
    "(?U)a*",
    "(?U)a*?",
    "^*",
    "$+",
    "\\b?",
    "(?i)k",
    "(?i)\\w",
    "(?i)\\W",
    "(?i)[k]",
    "(?i)[^k]",
    "\\pL",
    "\\p{L}",
    "\\PL",
    "\\p{^L}",
    "\\P{^L}",
    "\\pLu",
    "\\p{Lu}",
    "\\p{Greek}",
    "\\p{greek}",
    "\\p{Han}",
    "\\p{Any}",
    "\\P{Any}",
    "\\p{C}",
    "\\p{Cs}",
    "\\P{Cs}",
    "\\p{Cn}",
    "\\p{L",
    "\\p",
    "\\pX",
    "\\p{}",
    "[\\pL]",
    "[\\p{Greek}a]",
    "[^\\PL]",
    "\\d",
    "\\D",
    "\\s",
    "\\S",
    "\\w",
    "\\W",
    "\\b",
    "\\B",
    "[\\d]",
    "[\\D]",
    "[^\\d]",
    "[\\s]",
    "[\\b]",
    "[\\Q]",
    "[\\E]",
    "(a",
    "a)",
    "()",
    "(|)",
    "a|",
    "|",
    "a||b",
    "(?:)",
    "(?i:a)b",
    "(?i)a(?-i)a",
    "((?i)a)a",
    "(?s).",
    ".",
    "(?m)^a$",
    "^a$",
    "\\Aa\\z",
    "a$",
    "a\\z",
    "[[:word:]]",
    "[[:space:]]",
    "[[:^space:]]",
    "[[:blank:]]",
    "[[:punct:]]",
    "[[:xdigit:]]",
    "\\.",
    "\\-",
    "\\ ",
    "é",
    "(?i)é",
    "(?i)É",
    "\\x{212A}",
    "(?i)\\x{212A}",
    "(?i)[a-z]",
    "(?i)ſ",
];

/// Pieces the generator combines; many are errors to Go, some only to Rust.
const ATOMS: &[&str] = &[
    "a",
    "b",
    "A",
    "é",
    "k",
    "-",
    "&",
    "~",
    ".",
    "^",
    "$",
    "\\d",
    "\\D",
    "\\w",
    "\\W",
    "\\s",
    "\\S",
    "\\b",
    "\\B",
    "\\A",
    "\\z",
    "\\pL",
    "\\p{Greek}",
    "\\p{Lu}",
    "\\PL",
    "\\p{^Greek}",
    "\\p{Letter}",
    "\\p{greek}",
    "\\p{Any}",
    "\\x41",
    "\\x{41}",
    "\\x{D800}",
    "\\101",
    "\\0",
    "\\8",
    "\\1",
    "\\u0041",
    "\\Qa.b\\E",
    "\\Q*\\E",
    "\\Q\\E",
    "\\.",
    "\\-",
    "\\_",
    "\\<",
    "\\e",
    "\\C",
    "\\Z",
    "{",
    "}",
    "]",
    "[a-c]",
    "[^a]",
    "[]a]",
    "[a-]",
    "[-a]",
    "[a--b]",
    "[a-\\-]",
    "[a&&b]",
    "[a~~b]",
    "[[:alpha:]]",
    "[[:^digit:]]",
    "[[:foo:]]",
    "[[:alpha]",
    "[a[b]]",
    "[[]",
    "[\\d-z]",
    "[\\w]",
    "[\\pL]",
    "[z-a]",
    "[\\b]",
    "[\\]]",
    "[.]",
    "[^\\n]",
    "[\\x{D800}-\\x{DFFF}]",
];
const GROUPS: &[&str] =
    &["(", "(?:", "(?i:", "(?-i:", "(?s:", "(?m:", "(?U:", "(?P<n>", "(?P<1>", "(?<n>", "(?x:", "(?u:", "(?i-u:"];
const FLAGS: &[&str] = &["(?i)", "(?-i)", "(?m)", "(?s)", "(?U)", "(?x)", "(?u)", "(?ii)", "(?i-i)", "(?)", "(?-)"];
const OPS: &[&str] = &[
    "*", "+", "?", "*?", "+?", "??", "{2}", "{2,}", "{1,3}", "{,3}", "{3,2}", "{1001}", "{01}", "{ 2}", "{x}", "**",
    "*+", "{2}{3}", "{0}",
];

/// A small deterministic generator (xorshift), so the corpus is the same on every run.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }

    /// A pattern with balanced groups most of the time, built from the pieces above.
    fn pattern(&mut self, depth: u32) -> String {
        let mut s = String::new();
        let alternatives = 1 + usize::from(self.below(4) == 0);
        for alt in 0..alternatives {
            if alt > 0 {
                s.push('|');
            }
            for _ in 0..1 + self.below(3) {
                match self.below(10) {
                    0 if depth > 0 => {
                        s.push_str(self.pick(GROUPS));
                        let inner = self.pattern(depth - 1);
                        s.push_str(&inner);
                        // Sometimes leave the group open or close one too many.
                        match self.below(20) {
                            0 => {}
                            1 => s.push_str("))"),
                            _ => s.push(')'),
                        }
                    }
                    1 => s.push_str(self.pick(FLAGS)),
                    _ => s.push_str(self.pick(ATOMS)),
                }
                if self.below(3) == 0 {
                    s.push_str(self.pick(OPS));
                }
            }
        }
        s
    }
}

fn corpus() -> Vec<String> {
    let mut patterns: Vec<String> = PICKED.iter().map(|s| s.to_string()).collect();
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let mut seen: std::collections::HashSet<String> = patterns.iter().cloned().collect();
    while patterns.len() < 5000 {
        let p = g.pattern(3);
        if seen.insert(p.clone()) {
            patterns.push(p);
        }
    }
    patterns
}

#[test]
fn verdicts_and_matches_equal_gos() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = build_regexcheck(tmp.path());
    let subjects_file = tmp.path().join("subjects.txt");
    let subjects_text: String = SUBJECTS.iter().map(|s| go_quote(s) + "\n").collect();
    std::fs::write(&subjects_file, subjects_text).unwrap();
    let patterns = corpus();
    let input: String = patterns.iter().map(|p| go_quote(p) + "\n").collect();
    let mut child = Command::new(&bin)
        .arg(&subjects_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run regexcheck");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "regexcheck failed: {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), patterns.len(), "one verdict per pattern");

    let mut mismatches = Vec::new();
    let (mut go_ok, mut go_err) = (0, 0);
    for (pattern, line) in patterns.iter().zip(&lines) {
        let ours = to_rust(pattern);
        match (line.strip_prefix("ok "), &ours) {
            (Some(bits), Ok(rust)) => {
                go_ok += 1;
                let re = match regex::RegexBuilder::new(rust).size_limit(1 << 28).build() {
                    Ok(re) => re,
                    Err(e) => {
                        mismatches.push(format!("{pattern:?}: translated {rust:?} does not compile: {e}"));
                        continue;
                    }
                };
                let rust_bits: String = SUBJECTS.iter().map(|s| if re.is_match(s) { '1' } else { '0' }).collect();
                // What the gather executes: the same pattern compiled by the gather's own path.
                match gather_bits(pattern, SUBJECTS) {
                    Ok(g) if g == rust_bits => {}
                    Ok(g) => mismatches.push(format!("{pattern:?}: the gather matches {g}, validation {rust_bits}")),
                    Err(e) => mismatches.push(format!("{pattern:?}: validates but the gather cannot compile it: {e}")),
                }
                if rust_bits != bits {
                    let differ: Vec<&str> = SUBJECTS
                        .iter()
                        .zip(bits.chars().zip(rust_bits.chars()))
                        .filter(|(_, (g, r))| g != r)
                        .map(|(s, _)| *s)
                        .collect();
                    mismatches.push(format!("{pattern:?} (as {rust:?}) matches differently on {differ:?}"));
                }
            }
            (None, Err(_)) => go_err += 1,
            (Some(_), Err(e)) => mismatches.push(format!("{pattern:?}: Go accepts it, rrctl refuses it: {e}")),
            (None, Ok(rust)) => {
                mismatches.push(format!("{pattern:?}: Go refuses it ({line}), rrctl accepts it as {rust:?}"))
            }
        }
    }
    println!(
        "{} patterns compared with Go's regexp: {go_ok} accepted by both (each matched against {} subjects), {go_err} refused by both, {} mismatches",
        patterns.len(),
        SUBJECTS.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} patterns differ from Go:\n{}",
        mismatches.len(),
        patterns.len(),
        mismatches.join("\n")
    );
    // The corpus exercises both sides.
    assert!(go_ok > 500 && go_err > 500, "{go_ok} accepted, {go_err} refused");
}

/// Log lines with non-ASCII digits and letters, where Unicode and ASCII readings of `\d`, `\w`,
/// `\b` and case folding differ.
const LOG_LINES: &[&str] = &[
    "2026-11-26T11:30:00Z W | slow fdatasync took 1.2s",
    "W | slow fdatasync took \u{663}.\u{662}s", // Arabic-Indic digits
    "W | took \u{967}\u{968}\u{969} ms",        // Devanagari digits
    "W | took １２ ms",                         // full-width digits
    "error: café unreachable",
    "error: CAFÉ UNREACHABLE",
    "pod etcd-0 crashed",
    "pod ΕΤCD-0 crashed", // Greek capitals
    "a.b literal",
    "axb not literal",
    "value=a+b*c",
    "Kelvin \u{212A} sign",
    "straße",
    "x_y z",
    "éx",
    "",
];

/// The dialect's hard cases, as validation, the gather and Go read them. Expected matches were
/// written by hand from Go's documented semantics (ASCII `\d`, `\w`, `\b`; `\Q…\E` literal;
/// `(?i)` simple Unicode folding) and are checked against Go itself too.
const HARD_CASES: &[(&str, &[usize])] = &[
    (r"\Qa.b\E", &[8]),
    (r"\Qa+b*c\E", &[10]),
    (r"took \d", &[0]),
    (r"took \d+ ms", &[]),
    (r"took \D", &[1, 2, 3]),
    (r"^\w+ \w", &[6, 9, 13]),
    (r"caf\w", &[]),
    (r"\bx", &[13, 14]),
    (r"(?i)café", &[4, 5]),
    (r"(?i)etcd-\d", &[6]),
    (r"(?i)k", &[0, 1, 2, 3, 11]),
    (r"(?i)STRASSE", &[]),
    (r"[[:digit:]]{2}", &[0]),
];

#[test]
fn hard_cases_match_the_same_in_validation_gather_and_go() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = build_regexcheck(tmp.path());
    let patterns: Vec<String> = HARD_CASES.iter().map(|(p, _)| p.to_string()).collect();
    let go = run_go(tmp.path(), &bin, LOG_LINES, &patterns);
    for ((pattern, expected), go_line) in HARD_CASES.iter().zip(&go) {
        let want: String = (0..LOG_LINES.len()).map(|i| if expected.contains(&i) { '1' } else { '0' }).collect();
        let go_bits = go_line.strip_prefix("ok ").unwrap_or_else(|| panic!("Go refuses {pattern:?}: {go_line}"));
        assert_eq!(go_bits, want, "Go on {pattern:?}");
        // Validation accepts it, and its reading matches the same lines.
        let rust = to_rust(pattern).unwrap_or_else(|e| panic!("validation refuses {pattern:?}: {e}"));
        let re = regex::Regex::new(&rust).unwrap();
        let validated: String = LOG_LINES.iter().map(|l| if re.is_match(l) { '1' } else { '0' }).collect();
        assert_eq!(validated, want, "validation on {pattern:?}");
        assert_eq!(gather_bits(pattern, LOG_LINES).unwrap(), want, "the gather on {pattern:?}");
    }
}

/// Random patterns that validation accepts, through validation's reading, the gather's and Go's,
/// on the log lines above.
#[test]
fn random_validated_patterns_match_alike_on_log_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = build_regexcheck(tmp.path());
    let mut g = Gen(0xD1B5_4A32_D192_ED03);
    let mut patterns = Vec::new();
    while patterns.len() < 2000 {
        let p = g.pattern(2);
        if to_rust(&p).is_ok() {
            patterns.push(p);
        }
    }
    let go = run_go(tmp.path(), &bin, LOG_LINES, &patterns);
    let mut mismatches = Vec::new();
    for (pattern, line) in patterns.iter().zip(&go) {
        let Some(go_bits) = line.strip_prefix("ok ") else {
            mismatches.push(format!("{pattern:?}: validated, but Go refuses it: {line}"));
            continue;
        };
        match gather_bits(pattern, LOG_LINES) {
            Ok(bits) if bits == go_bits => {}
            Ok(bits) => mismatches.push(format!("{pattern:?}: gather {bits}, Go {go_bits}")),
            Err(e) => mismatches.push(format!("{pattern:?}: the gather cannot compile it: {e}")),
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
