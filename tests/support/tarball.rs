//! Reading the archives `rrctl gather` writes (`.tar.gz`), independently of rrctl's own code.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Every file of the `.tar.gz` at `path`, by its path in the archive; a path twice fails.
pub fn read_archive(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        assert!(out.insert(name.clone(), bytes).is_none(), "{name} twice in {}", path.display());
    }
    out
}
