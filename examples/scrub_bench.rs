//! CPU time of the scrubber over the files of archives (scripts/bench-scrub.sh): every entry
//! outside `insights-operator/` passes `Scrubber::scrub_file` as in a gatherer's sink, single
//! threaded, and the time is printed with the bytes and the replacements.
//!
//! `cargo run --release --example scrub_bench -- ARCHIVE.tar.gz...`

use std::io::Read as _;
use std::time::Instant;

fn main() {
    let scrubber = rrctl::scrub::Scrubber::default();
    for path in std::env::args().skip(1) {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let mut files = Vec::new();
        for entry in archive.entries().expect("a tar.gz") {
            let mut entry = entry.expect("an entry");
            let name = entry.path().expect("a path").to_string_lossy().into_owned();
            if name.starts_with("insights-operator/") {
                continue;
            }
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).expect("readable");
            files.push((name, bytes));
        }
        let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
        let mut counts = rrctl::scrub::Counts::default();
        let started = Instant::now();
        for (name, data) in files.iter().cloned() {
            std::hint::black_box(scrubber.scrub_file(&name, data, &mut counts));
        }
        let elapsed = started.elapsed();
        println!(
            "{path}: {} files, {bytes} bytes scrubbed in {:.3} s ({:.1} MB/s), {} replacements {:?}",
            files.len(),
            elapsed.as_secs_f64(),
            bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9),
            counts.total(),
            counts.0
        );
    }
}
