//! Benchmark of client-side verification on a real built dist: root, head, index and the bundle
//! of one OpenShift version (length and SHA-256, its authentication), in memory, many iterations.
//!
//! `cargo run --release --example verify_dist_bench -- DIST ROOT_JSON OCP_VERSION [ITERATIONS]`
//! (`scripts/bench-build.sh` leaves a 10,000-definition dist to point it at).

use std::time::Instant;

use rrctl::trust::transport::{Fetched, Fetcher, MemFetcher};
use rrctl::trust::verify::{ClientState, VerifyOptions, update};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dist, root, version, rest @ ..] = args.as_slice() else {
        return Err("usage: verify_dist_bench DIST ROOT_JSON OCP_VERSION [ITERATIONS]".into());
    };
    let iterations: u32 = rest.first().map_or(Ok(200), |s| s.parse())?;
    let fetcher = MemFetcher::from_dir(std::path::Path::new(dist))?;
    let root_bytes = std::fs::read(root)?;
    let version = semver::Version::parse(version)?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let now = rrctl::clock::now_unix();
    let mut bundle_len = 0;
    let start = Instant::now();
    for _ in 0..iterations {
        let mut state = ClientState::new(&root_bytes)?;
        let verified = runtime.block_on(update(&mut state, &fetcher, &VerifyOptions::new(now)))?;
        let range = verified.index.select(&version).ok_or("no range holds that version")?;
        let Fetched::Body { bytes, .. } =
            runtime.block_on(fetcher.fetch(&range.bundle.path, range.bundle.length, None))?
        else {
            return Err("bundle missing".into());
        };
        if bytes.len() as u64 != range.bundle.length || rrctl::canonical::sha256_hex(&bytes) != range.bundle.sha256 {
            return Err("bundle does not match its pin".into());
        }
        bundle_len = bytes.len();
    }
    let per = start.elapsed() / iterations;
    println!(
        "verified root, head, index and the {version} bundle ({:.1} MB) of {dist}: {:.2} ms per client update",
        bundle_len as f64 / 1e6,
        per.as_secs_f64() * 1e3
    );
    Ok(())
}
