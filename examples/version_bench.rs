//! Rough timings of range parsing, normalisation and the partition on 10,000 definitions.
//! `cargo run --example version_bench [--release]`; the figures go into reports, not assertions.

use std::time::Instant;

use rrctl::version::{IntervalSet, VersionRange, partition};

/// A small deterministic generator, so runs are comparable.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn realistic(rng: &mut Lcg) -> String {
    let a = 10 + rng.below(10);
    let b = a + rng.below(4);
    let (c, d) = (rng.below(30), rng.below(30));
    match rng.below(6) {
        0 => format!(">=4.{a}.0-0 <4.{b}.{c}-0"),
        1 => format!("4.{a}"),
        2 => format!(">=4.{a}.{c}"),
        3 => format!("4.{a} || 4.{b}"),
        4 => format!("4.{a}.{c} - 4.{b}.{d}"),
        _ => format!("<=4.{a}.{c} || >=4.{b}.0-rc.{d}"),
    }
}

/// Narrow ranges with distinct bounds: many segments, few members each.
fn narrow(i: u64) -> String {
    format!("4.{}.{} - 4.{}.{}", 10 + i % 10, i, 10 + i % 10, i + 3)
}

fn run(name: &str, ranges: Vec<String>) {
    let t = Instant::now();
    let parsed: Vec<VersionRange> = ranges.iter().map(|r| VersionRange::parse(r).expect("valid range")).collect();
    let t_parse = t.elapsed();
    let t = Instant::now();
    let items: Vec<(String, IntervalSet)> =
        parsed.iter().enumerate().map(|(n, r)| (format!("definition-{n:05}"), r.intervals())).collect();
    let t_norm = t.elapsed();
    let t = Instant::now();
    let segments = partition(&items);
    let t_part = t.elapsed();
    let members: usize = segments.iter().map(|s| s.members.len()).sum();
    let t = Instant::now();
    let index: Vec<(usize, IntervalSet)> = items.iter().enumerate().map(|(n, (_, s))| (n, s.clone())).collect();
    let by_index = partition(&index);
    let t_part_idx = t.elapsed();
    println!(
        "{name}: {} ranges; parse {t_parse:?}, normalise {t_norm:?}, partition (String ids) {t_part:?} -> {} segments, \
         {members} memberships; partition (usize ids) {t_part_idx:?} -> {} segments",
        ranges.len(),
        segments.len(),
        by_index.len()
    );
}

fn main() {
    let mut rng = Lcg(42);
    run("realistic", (0..10_000).map(|_| realistic(&mut rng)).collect());
    run("narrow, distinct bounds", (0..10_000).map(narrow).collect());
}
