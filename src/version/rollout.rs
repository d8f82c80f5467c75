//! Staged rollout (DESIGN.md section 5): which clusters get a definition whose `rollout.percent`
//! is below 100. The bucket depends only on the definition id and the cluster id, so raising the
//! percentage only adds clusters and every cluster's answer is stable; no server decides.

use sha2::{Digest, Sha256};

/// Smallest and largest `rollout.percent`; 100 (every cluster) is the default.
pub const MIN_PERCENT: u8 = 1;
pub const MAX_PERCENT: u8 = 100;

/// The cluster's bucket for a definition, `0..=99`: the first 8 bytes of
/// SHA-256(`"<definition id>/<cluster id>"`) as a big-endian `u64`, modulo 100.
pub fn rollout_bucket(definition_id: &str, cluster_id: &str) -> u8 {
    let mut h = Sha256::new();
    h.update(definition_id.as_bytes());
    h.update(b"/");
    h.update(cluster_id.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // The remainder is below 100, so it fits a u8.
    (u64::from_be_bytes(first) % 100) as u8
}

/// Whether a cluster in `bucket` gets a definition rolled out to `percent` percent.
pub fn in_rollout(bucket: u8, percent: u8) -> bool {
    bucket < percent
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected buckets computed outside this code:
    //   printf '%s' 'etcd-slow-fdatasync/cluster-a' | sha256sum   -> bcb4eb03088b0db2…
    //     0xbcb4eb03088b0db2 = 13597751573199130034; 13597751573199130034 mod 100 = 34
    //   printf '%s' 'etcd-slow-fdatasync/0b3e8a5c-1f2d-4e6a-9c7b-2d5f8e1a3c4b' | sha256sum -> 890c0e66448a3ba8…
    //     0x890c0e66448a3ba8 = 9875283915316018088; mod 100 = 88
    //   printf '%s' 'a/b' | sha256sum          -> c14cddc033f64b9d…
    //     0xc14cddc033f64b9d = 13928751565125340061; mod 100 = 61
    //   printf '%s' 'new-check/x' | sha256sum  -> 78a943301f2f669f…
    //     0x78a943301f2f669f = 8694554429576144543; mod 100 = 43
    #[test]
    fn buckets_match_sha256sum_by_hand() {
        assert_eq!(rollout_bucket("etcd-slow-fdatasync", "cluster-a"), 34);
        assert_eq!(rollout_bucket("etcd-slow-fdatasync", "0b3e8a5c-1f2d-4e6a-9c7b-2d5f8e1a3c4b"), 88);
        assert_eq!(rollout_bucket("a", "b"), 61);
        assert_eq!(rollout_bucket("new-check", "x"), 43);
    }

    #[test]
    fn percent_is_a_strict_upper_bound_on_the_bucket() {
        // Bucket 34: in at 35 %, out at 34 %; every cluster at 100 %.
        assert!(in_rollout(34, 35));
        assert!(!in_rollout(34, 34));
        assert!(in_rollout(99, 100));
        assert!(!in_rollout(0, 0));
        // Raising the percentage only adds clusters.
        for bucket in 0..100u8 {
            let first = (1..=100u8).find(|&p| in_rollout(bucket, p)).unwrap();
            assert_eq!(first, bucket + 1);
            assert!((first..=100).all(|p| in_rollout(bucket, p)));
        }
    }
}
