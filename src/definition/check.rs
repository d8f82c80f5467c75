//! Semantic checks: what the schema cannot say. Every check reports into diagnostics and moves
//! on, so one run shows every problem.

use std::collections::{BTreeMap, HashMap};

use super::selector::{check_label_selector, check_series_selector};
use super::{Condition, Definition, Gatherer, LoadedDefinition, parse_date};
use crate::diag::{Diagnostic, Report, Severity, Span};
use crate::policy;
use crate::version::{VersionRange, released_in};
use crate::yaml::Node;

/// Days before `expires` from which a warning is given.
const EXPIRY_WARNING_DAYS: i64 = 14;
const MAX_GATHERERS: usize = 16;

struct Ctx<'a> {
    tree: &'a Node,
    text: &'a str,
    file: &'a str,
    out: &'a mut Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn span(&self, ptr: &str) -> Span {
        self.tree.pointer(ptr).map(|n| n.span).or_else(|| self.tree.key_span(ptr)).unwrap_or(self.tree.span)
    }

    fn push(&mut self, code: &'static str, ptr: &str, msg: String) -> &mut Diagnostic {
        let span = self.span(ptr);
        self.out.push(Diagnostic::new(code, msg).in_file(self.file).at(span));
        self.out.last_mut().expect("just pushed")
    }

    /// A span inside a string scalar: exact for plain and simply quoted one-line scalars,
    /// the whole scalar otherwise.
    fn inner_span(&self, ptr: &str, offset: usize, len: usize) -> Span {
        let node = self.span(ptr);
        let raw = self.text.get(node.offset..node.offset + node.len).unwrap_or("");
        if raw.contains('\n') || raw.contains('\\') || raw.starts_with(['|', '>']) {
            return node;
        }
        let skip = usize::from(raw.starts_with(['"', '\'']));
        let start = node.offset + skip + offset;
        if start > self.text.len() {
            return node;
        }
        Span::at_offset(self.text, start, len.max(1).min(self.text.len() - start))
    }
}

/// Checks of one file's definition.
#[allow(clippy::too_many_arguments)]
pub(super) fn file_checks(
    def: &Definition,
    tree: &Node,
    text: &str,
    file: &str,
    stem: &str,
    team: &str,
    today: time::Date,
    out: &mut Vec<Diagnostic>,
) {
    let mut cx = Ctx { tree, text, file, out };
    if def.id != stem {
        cx.push("id-mismatch", "/id", format!("id `{}` differs from the file name `{stem}.yaml`", def.id));
    }
    if def.owner != team {
        cx.push("owner-mismatch", "/owner", format!("owner `{}` differs from the team folder `{team}`", def.owner));
    }
    check_range(&mut cx, "/versions", &def.versions, true);
    for (i, cond) in def.when.iter().enumerate() {
        // The existing operator evaluates this condition with blang/semver's range grammar, not
        // with rrctl's: check it with that grammar, or the rule would silently never apply.
        if let Condition::ClusterVersionMatches(r) = cond
            && let Err(e) = crate::condition::OperatorRange::parse(r)
        {
            cx.push(
                "version-range-invalid",
                &format!("/when/{i}/clusterVersionMatches"),
                format!("not a range the existing operator understands ({e}); write full versions such as `>=4.16.0 <4.17.0` or `4.16.x`"),
            );
        }
    }
    if let Some(expires) = &def.expires {
        match parse_date(expires) {
            None => {
                cx.push("expires-invalid", "/expires", format!("`{expires}` is not a calendar date (YYYY-MM-DD)"));
            }
            Some(date) if date < today => {
                cx.push("expired", "/expires", format!("expired on {expires} (today is {today})"));
            }
            Some(date) if (date - today).whole_days() <= EXPIRY_WARNING_DAYS => {
                let days = (date - today).whole_days();
                cx.push("expires-soon", "/expires", format!("expires on {expires}, in {days} days"));
            }
            Some(_) => {}
        }
    }
    if def.gather.is_empty() {
        cx.push("gather-empty", "/gather", "`gather` has no gatherers".into());
    } else if def.gather.len() > MAX_GATHERERS {
        cx.push(
            "gather-too-many",
            "/gather",
            format!("`gather` has {} gatherers; at most {MAX_GATHERERS} are allowed", def.gather.len()),
        );
    }
    for (i, g) in def.gather.iter().enumerate() {
        let base = format!("/gather/{i}/{}", g.kind_name());
        match g {
            Gatherer::ContainerLogs(c) => {
                check_namespace_name(&mut cx, &format!("{base}/namespace"), &c.namespace);
                check_regex(&mut cx, &format!("{base}/podNameRegex"), &c.pod_name_regex);
                if let Some(r) = &c.container_name_regex {
                    check_regex(&mut cx, &format!("{base}/containerNameRegex"), r);
                }
                for (j, m) in c.messages.iter().enumerate() {
                    let ptr = format!("{base}/messages/{j}");
                    check_regex(&mut cx, &ptr, m);
                    if m.starts_with('^') {
                        let span = cx.inner_span(&ptr, 0, 1);
                        cx.out.push(
                            Diagnostic::new(
                                "regex-anchored-message",
                                format!(
                                    "message regex `{m}` is anchored with `^` and never matches a timestamped line"
                                ),
                            )
                            .in_file(file)
                            .at(span),
                        );
                    }
                }
            }
            Gatherer::Resources(r) => {
                if policy::is_denied_kind(&r.group, &r.kind) {
                    let group = if r.group.is_empty() { "core".to_string() } else { r.group.clone() };
                    cx.push(
                        "kind-denied",
                        &format!("{base}/kind"),
                        format!("kind `{}` ({group} group) is never gathered", r.kind),
                    );
                }
                match (policy::known_scope(&r.group, &r.kind), &r.namespace) {
                    (Some(policy::Scope::Cluster), Some(ns)) => {
                        cx.push(
                            "scope-mismatch",
                            &format!("{base}/namespace"),
                            format!("`{}` is cluster-scoped but a namespace (`{ns}`) is given", r.kind),
                        );
                    }
                    (Some(policy::Scope::Namespaced), None) => {
                        cx.push(
                            "scope-mismatch",
                            &format!("{base}/kind"),
                            format!("`{}` is namespaced but no namespace is given", r.kind),
                        );
                    }
                    _ => {}
                }
                if let Some(sel) = &r.label_selector
                    && let Err((at, msg)) = check_label_selector(sel)
                {
                    let ptr = format!("{base}/labelSelector");
                    let span = cx.inner_span(&ptr, at, 1);
                    cx.out.push(
                        Diagnostic::new("selector-invalid", format!("label selector: {msg}")).in_file(file).at(span),
                    );
                }
                for (j, f) in r.fields.iter().enumerate() {
                    if let Err(msg) = check_pointer(f) {
                        cx.push("field-pointer-invalid", &format!("{base}/fields/{j}"), msg);
                    }
                }
                // Names go into request URLs and archive paths: exactly what the API server
                // accepts as object names, no more (the gate refuses anything else too).
                for (j, n) in r.names.iter().enumerate() {
                    if !policy::names::is_dns1123_subdomain(n) {
                        cx.push(
                            "name-invalid",
                            &format!("{base}/names/{j}"),
                            format!("`{n}` is not a Kubernetes object name (a DNS-1123 subdomain)"),
                        );
                    }
                }
                if let Some(ns) = &r.namespace {
                    check_namespace_name(&mut cx, &format!("{base}/namespace"), ns);
                }
            }
            Gatherer::ContainersLogs(c) => {
                if let Some(container) = &c.container
                    && !policy::names::is_dns1123_label(container)
                {
                    cx.push(
                        "name-invalid",
                        &format!("{base}/container"),
                        format!("`{container}` is not a Kubernetes container name (a DNS-1123 label)"),
                    );
                }
                if let Some(ns) = &c.namespace {
                    check_namespace_name(&mut cx, &format!("{base}/namespace"), ns);
                }
            }
            Gatherer::LogsOfNamespace(l) => check_namespace_name(&mut cx, &format!("{base}/namespace"), &l.namespace),
            Gatherer::ImageStreamsOfNamespace(i) => {
                check_namespace_name(&mut cx, &format!("{base}/namespace"), &i.namespace)
            }
            Gatherer::Metrics(m) => {
                for (j, sel) in m.selectors.iter().enumerate() {
                    if let Err((at, msg)) = check_series_selector(sel) {
                        let ptr = format!("{base}/selectors/{j}");
                        let span = cx.inner_span(&ptr, at, 1);
                        cx.out.push(
                            Diagnostic::new("selector-invalid", format!("series selector: {msg}"))
                                .in_file(file)
                                .at(span),
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

/// A namespace is a DNS-1123 label. The schema's pattern says so too; this names the rule
/// when a namespace passes the prefix but not the length (or the schema changes).
fn check_namespace_name(cx: &mut Ctx, ptr: &str, ns: &str) {
    if !policy::names::is_dns1123_label(ns) && policy::namespace_allowed(ns) {
        cx.push("name-invalid", ptr, format!("`{ns}` is not a Kubernetes namespace name (a DNS-1123 label)"));
    }
}

fn check_range(cx: &mut Ctx, ptr: &str, text: &str, warn_no_release: bool) {
    match VersionRange::parse(text) {
        Err(e) => {
            let span = cx.inner_span(ptr, e.offset, e.len);
            cx.out.push(
                Diagnostic::new("version-range-invalid", format!("invalid version range: {}", e.message))
                    .in_file(cx.file)
                    .at(span),
            );
        }
        Ok(range) => {
            let set = range.intervals();
            if set.is_empty() {
                cx.push("version-range-empty", ptr, format!("version range `{text}` matches no version at all"));
            } else if warn_no_release && released_in(&set).is_empty() {
                cx.push(
                    "version-range-no-release",
                    ptr,
                    format!("version range `{text}` matches no released OpenShift version"),
                );
            }
        }
    }
}

/// A JSON pointer per RFC 6901: empty, or `/`-separated tokens with `~` only as `~0`/`~1`.
fn check_pointer(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("an empty pointer selects the whole object; leave `fields` out instead".into());
    }
    if !p.starts_with('/') {
        return Err(format!("`{p}` is not a JSON pointer: it must start with `/`"));
    }
    let bytes = p.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'~' && !matches!(bytes.get(i + 1), Some(b'0' | b'1')) {
            return Err(format!("`{p}`: `~` must be escaped as `~0` (and `/` inside a name as `~1`)"));
        }
    }
    Ok(())
}

#[derive(Clone)]
enum RegexProblem {
    Invalid(String),
    TooLarge,
}

/// What validation knows about one pattern: its problem, or its Rust form and compiled size.
#[derive(Clone)]
enum RegexVerdict {
    Problem(RegexProblem),
    Ok { rust: std::sync::Arc<str>, nfa_bytes: usize },
}

impl RegexVerdict {
    fn problem(&self) -> Option<RegexProblem> {
        match self {
            RegexVerdict::Problem(p) => Some(p.clone()),
            RegexVerdict::Ok { .. } => None,
        }
    }
}

/// Compiled-regex verdicts by pattern, shared by the loader's threads and the cross-file checks
/// (which ran on another thread and compiled every message again): content repeats patterns, and
/// compiling is the costly part.
fn regex_cache() -> &'static std::sync::Mutex<HashMap<String, RegexVerdict>> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<HashMap<String, RegexVerdict>>> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Compile a pattern in Rust syntax into a Thompson NFA under a size limit; its size in bytes.
/// No DFA is built: validation only needs to know the pattern compiles and how big it is, and
/// building DFAs dominated the run time.
fn nfa_size(rust: &str, limit: usize) -> Result<usize, RegexProblem> {
    let hir = match regex_syntax::ParserBuilder::new().nest_limit(NEST_LIMIT + 1).build().parse(rust) {
        Ok(h) => h,
        Err(e) => {
            let text = e.to_string();
            // The parser prints the pattern and a caret; keep the explanation line.
            let reason = text.lines().rev().find(|l| l.starts_with("error:")).unwrap_or(text.as_str());
            return Err(RegexProblem::Invalid(reason.trim_start_matches("error:").trim().to_string()));
        }
    };
    hir_nfa_size(&hir, limit)
}

/// Nesting validation allows in a pattern (as the Rust parser counts it); Go allows more.
const NEST_LIMIT: u32 = 64;

fn hir_nfa_size(hir: &regex_syntax::hir::Hir, limit: usize) -> Result<usize, RegexProblem> {
    use regex_automata::nfa::thompson;
    let config =
        thompson::Config::new().nfa_size_limit(Some(limit)).shrink(false).which_captures(thompson::WhichCaptures::None);
    match thompson::Compiler::new().configure(config).build_from_hir(hir) {
        Ok(nfa) => Ok(nfa.memory_usage()),
        Err(e) if e.size_limit().is_some() => Err(RegexProblem::TooLarge),
        Err(e) => Err(RegexProblem::Invalid(e.to_string())),
    }
}

/// A definition's pattern: first the portable dialect (what Go's `regexp` and the Rust engine
/// both read the same way, [`super::regex_dialect`]), then the compiled size.
fn regex_verdict(pattern: &str, limit: usize) -> RegexVerdict {
    // Parsed once: the dialect check's HIR is what is compiled.
    let (rust, hir) = match super::regex_dialect::to_rust_hir(pattern, NEST_LIMIT) {
        Ok(r) => r,
        Err(e) => return RegexVerdict::Problem(RegexProblem::Invalid(e.to_string())),
    };
    match hir_nfa_size(&hir, limit) {
        Ok(nfa_bytes) => RegexVerdict::Ok { rust: rust.into(), nfa_bytes },
        Err(p) => RegexVerdict::Problem(p),
    }
}

/// [`regex_verdict`] with the per-thread cache.
fn cached_regex_verdict(pattern: &str) -> RegexVerdict {
    // Compiled outside the lock: two threads may compile one pattern twice, which is harmless.
    if let Some(v) = regex_cache().lock().unwrap_or_else(|p| p.into_inner()).get(pattern) {
        return v.clone();
    }
    let v = regex_verdict(pattern, policy::REGEX_SIZE_LIMIT);
    regex_cache().lock().unwrap_or_else(|p| p.into_inner()).insert(pattern.to_string(), v.clone());
    v
}

fn cached_regex_problem(pattern: &str) -> Option<RegexProblem> {
    cached_regex_verdict(pattern).problem()
}

/// Bytes of every compiled pattern that a union of patterns holds only once (the unanchored
/// prefix, the start and match states): the size of the empty pattern's NFA.
fn nfa_scaffolding_bytes() -> usize {
    static BYTES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BYTES.get_or_init(|| nfa_size("", usize::MAX).unwrap_or(0))
}

/// What a union adds per alternative besides the alternative's own states (its entry in the union
/// state and the state joining it to the shared end), with room to spare; the property test
/// below holds the bound against the compiler.
const UNION_BYTES_PER_ALTERNATIVE: usize = 64;

/// An estimate from above of the NFA size of the union of patterns whose own NFAs have
/// `part_bytes`: one scaffolding, each part without its scaffolding, and the union's own states.
/// The compiler mostly makes a union smaller than that (shared prefixes, merged classes,
/// duplicates); the UTF-8 suffix cache can make it a few bytes per ten thousand bigger, so the
/// property test below holds it within one eighth and [`merged_too_large`] uses half the limit.
fn union_bound(part_bytes: impl IntoIterator<Item = usize>) -> usize {
    let scaffolding = nfa_scaffolding_bytes();
    part_bytes.into_iter().fold(scaffolding, |bound, part| {
        bound.saturating_add(part.saturating_sub(scaffolding)).saturating_add(UNION_BYTES_PER_ALTERNATIVE)
    })
}

/// Whether the union of `messages` (each valid alone) compiles above `limit`. A union whose
/// [`union_bound`] is at most half the limit is not compiled (the common case, and compiling is
/// the costly part); otherwise the union is compiled under the limit, which stops as soon as it
/// is passed.
fn merged_too_large(messages: &[&str], limit: usize) -> bool {
    let mut parts = Vec::with_capacity(messages.len());
    let mut sizes = Vec::with_capacity(messages.len());
    for m in messages {
        // An invalid part is reported on its own; the union is not judged then.
        let RegexVerdict::Ok { rust, nfa_bytes } = cached_regex_verdict(m) else {
            return false;
        };
        sizes.push(nfa_bytes);
        parts.push(rust);
    }
    if union_bound(sizes) <= limit / 2 {
        return false;
    }
    // Parsed one by one and joined as syntax trees: the same union as `(?:a)|(?:b)|…` (flags stay
    // inside their part), without the syntax tree of one pattern as long as all parts together.
    let mut hirs = Vec::with_capacity(parts.len());
    for rust in &parts {
        match regex_syntax::ParserBuilder::new().nest_limit(NEST_LIMIT + 1).build().parse(rust) {
            Ok(h) => hirs.push(h),
            Err(_) => return false,
        }
    }
    matches!(hir_nfa_size(&regex_syntax::hir::Hir::alternation(hirs), limit), Err(RegexProblem::TooLarge))
}

/// [`merged_too_large`] for each group of messages (a single message is checked on its own), on
/// the available cores: each union that may fit is compiled once, and that is the costly part.
fn merged_too_large_each(groups: Vec<&[&str]>) -> Vec<bool> {
    crate::parallel::map(&groups, 16, |m| m.len() > 1 && merged_too_large(m, policy::MERGED_REGEX_SIZE_LIMIT))
}

fn check_regex(cx: &mut Ctx, ptr: &str, pattern: &str) {
    match cached_regex_problem(pattern) {
        None => {}
        Some(RegexProblem::Invalid(reason)) => {
            let mut hint = String::new();
            if pattern.contains("(?=")
                || pattern.contains("(?!")
                || pattern.contains("(?<=")
                || pattern.contains("(?<!")
            {
                hint = " (RE2 has no look-around)".into();
            } else if regex::Regex::new(r"\\[1-9]").is_ok_and(|r| r.is_match(pattern)) {
                hint = " (RE2 has no back-references)".into();
            }
            cx.push("regex-invalid", ptr, format!("regex `{pattern}` does not compile: {reason}{hint}"));
        }
        Some(RegexProblem::TooLarge) => {
            cx.push(
                "regex-too-large",
                ptr,
                format!("regex compiles to more than {} KiB", policy::REGEX_SIZE_LIMIT / 1024),
            );
        }
    }
}

/// Checks across files: duplicate ids, merged message regexes, previous-flag conflicts.
pub(super) fn cross_file(defs: &[LoadedDefinition], trees: &[Node], report: &mut Report) {
    let mut by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, d) in defs.iter().enumerate() {
        by_id.entry(d.definition.id.as_str()).or_default().push(i);
    }
    for (id, idx) in &by_id {
        for &i in idx.iter().skip(1) {
            let span = trees[i].pointer("/id").map(|n| n.span);
            report.push(
                Diagnostic::new("id-duplicate", format!("id `{id}` is also used by {}", defs[idx[0]].file))
                    .in_file(defs[i].file.clone())
                    .at_opt(span),
            );
        }
    }

    // The operator merges every message regex of one namespace and pod pattern with `|`.
    struct Group<'a> {
        messages: Vec<&'a str>,
        previous: BTreeMap<bool, (usize, String)>,
        first: (usize, String),
    }
    let mut groups: BTreeMap<(&str, &str), Group> = BTreeMap::new();
    for (i, d) in defs.iter().enumerate() {
        for (g, gatherer) in d.definition.gather.iter().enumerate() {
            if let Gatherer::ContainerLogs(c) = gatherer {
                let ptr = format!("/gather/{g}/containerLogs");
                let group = groups.entry((c.namespace.as_str(), c.pod_name_regex.as_str())).or_insert_with(|| Group {
                    messages: Vec::new(),
                    previous: BTreeMap::new(),
                    first: (i, ptr.clone()),
                });
                group.messages.extend(c.messages.iter().map(String::as_str));
                group.previous.entry(c.previous.unwrap_or(false)).or_insert((i, ptr));
            }
        }
    }
    let merged_checks: Vec<bool> = merged_too_large_each(groups.values().map(|g| g.messages.as_slice()).collect());
    for (((ns, pod), group), too_large) in groups.iter().zip(merged_checks) {
        if too_large {
            let (i, ptr) = &group.first;
            report.push(
                Diagnostic::new(
                    "regex-merged-too-large",
                    format!(
                        "the {} message regexes for pods `{pod}` in `{ns}` merge into a regex above {} KiB",
                        group.messages.len(),
                        policy::MERGED_REGEX_SIZE_LIMIT / 1024
                    ),
                )
                .in_file(defs[*i].file.clone())
                .at_opt(trees[*i].pointer(&format!("{ptr}/podNameRegex")).map(|n| n.span)),
            );
        }
        if let (Some(_), Some((i, ptr))) = (group.previous.get(&false), group.previous.get(&true)) {
            let (fi, _) = &group.previous[&false];
            report.push(
                Diagnostic::new(
                    "previous-conflict",
                    format!(
                        "pods `{pod}` in `{ns}` are requested with `previous: true` here and `previous: false` in {}",
                        defs[*fi].file
                    ),
                )
                .with_severity(Severity::Warning)
                .in_file(defs[*i].file.clone())
                .at_opt(trees[*i].pointer(&format!("{ptr}/podNameRegex")).map(|n| n.span)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(pattern: &str) -> usize {
        nfa_size(pattern, usize::MAX).unwrap_or_else(|_| panic!("{pattern} compiles"))
    }

    fn union_of(patterns: &[String]) -> String {
        patterns.iter().map(|m| format!("(?:{m})")).collect::<Vec<_>>().join("|")
    }

    /// Two thousand short messages for one pod: together their own NFAs pass the limit, but they
    /// share one scaffolding once merged, and the union compiles far below it (measured here by
    /// compiling it, independently of the bound).
    #[test]
    fn many_small_messages_fit_once_merged() {
        let messages: Vec<String> = (0..2000).map(|i| format!("error code {i:04} seen")).collect();
        let sum: usize = messages.iter().map(|m| size(m)).sum();
        assert!(sum > policy::MERGED_REGEX_SIZE_LIMIT, "the parts alone add up to {sum} bytes");
        let union = size(&union_of(&messages));
        assert!(union < policy::MERGED_REGEX_SIZE_LIMIT / 2, "the union is {union} bytes");
        let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
        assert!(!merged_too_large(&refs, policy::MERGED_REGEX_SIZE_LIMIT));
    }

    /// Messages whose union is above the limit are found, whether or not the bound already fits.
    #[test]
    fn a_union_over_the_limit_is_found() {
        // Unicode letter classes repeated (the same in Go and Rust): each is big alone, but under the
        // per-pattern limit.
        let messages: Vec<String> = (0..12).map(|i| format!(r"w{i} \pL{{8}}")).collect();
        let each = size(&messages[0]);
        assert!(each < policy::REGEX_SIZE_LIMIT && each * 12 > policy::MERGED_REGEX_SIZE_LIMIT, "{each}");
        assert!(nfa_size(&union_of(&messages), policy::MERGED_REGEX_SIZE_LIMIT).is_err(), "over the limit merged");
        let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
        assert!(merged_too_large(&refs, policy::MERGED_REGEX_SIZE_LIMIT));
        assert!(!merged_too_large(&refs[..2], policy::MERGED_REGEX_SIZE_LIMIT), "two of them fit");
    }

    fn pattern() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let atom = prop_oneof![
            "[a-z]{1,8}",
            Just(r"\d+".to_string()),
            Just(r"\w".to_string()),
            Just("[A-Fa-f0-9]{2,6}".to_string()),
            Just(".*".to_string()),
            Just(r"\s".to_string()),
            Just("(?i)timeout".to_string()),
            Just("é+".to_string()),
        ];
        proptest::collection::vec(
            (atom, prop_oneof![Just(""), Just("?"), Just("+"), Just("{2,5}")]).prop_map(|(a, q)| format!("(?:{a}){q}")),
            0..5,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]
        /// The compiled union stays within one eighth above the bound (which lets a union of at
        /// most half the limit go uncompiled).
        #[test]
        fn a_union_never_compiles_far_above_its_bound(patterns in proptest::collection::vec(pattern(), 1..12)) {
            let bound = union_bound(patterns.iter().map(|p| size(p)));
            let union = size(&union_of(&patterns));
            proptest::prop_assert!(union <= bound + bound / 8, "union {} > bound {} + 1/8 for {:?}", union, bound, patterns);
        }

        /// What the decision gives equals compiling the union, whichever way it is reached.
        #[test]
        fn the_merged_verdict_equals_compiling_the_union(patterns in proptest::collection::vec(pattern(), 2..12), limit in 2_000usize..200_000) {
            let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
            let rust: Vec<String> = patterns.iter().map(|p| super::super::regex_dialect::to_rust(p).unwrap_or_else(|_| panic!("{p} is portable"))).collect();
            let compiled_too_large = matches!(nfa_size(&union_of(&rust), limit), Err(RegexProblem::TooLarge));
            proptest::prop_assert_eq!(merged_too_large(&refs, limit), compiled_too_large, "{:?} under {}", patterns, limit);
        }
    }
}
