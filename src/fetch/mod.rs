//! The cluster side's fetch-and-verify client (DESIGN.md section 6, "Consume" and "Agent state
//! and status"): [`run_once`] loads and re-verifies the state directory ([`state`]), polls the
//! CDN once ([`poll`]) through a [`Fetcher`] (in production the shared
//! [`crate::trust::transport::HttpFetcher`]), commits the new state only when everything verified,
//! and writes `status.json` ([`status`]). A failure of any kind leaves the last good bundle
//! active and says why, with a stable [`Reason`].

pub mod poll;
pub mod state;
pub mod status;

use std::fmt;

use crate::trust::VerifyError;
use crate::trust::transport::{FetchError, Fetcher};

pub use poll::{ClockStep, PollOptions, effective_time};
pub use state::{ActiveBundle, StateDir, StateError, StateLock, VerifiedState};
pub use status::Status;

/// What the client knows about the cluster it runs for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub ocp_version: semver::Version,
    pub cluster_id: Option<String>,
}

/// The `User-Agent` of a cluster client: `rrctl/<version> cluster/<id>`.
pub fn user_agent(cluster_id: Option<&str>) -> String {
    format!("rrctl/{} cluster/{}", env!("CARGO_PKG_VERSION"), cluster_id.unwrap_or("unknown"))
}

/// Why a poll failed: stable names for `status.json` condition reasons and metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// Connection refused or reset, body cut short, DNS, TLS.
    Unreachable,
    Timeout,
    TooSlow,
    RateLimited,
    ServerError,
    HttpStatus,
    RedirectRefused,
    ProtocolError,
    NotFound,
    ContentEncoding,
    TooLarge,
    HashMismatch,
    InvalidSignature,
    Malformed,
    Expired,
    Rollback,
    Equivocation,
    WrongRepoOrChannel,
    StateWriteFailed,
}

impl Reason {
    pub const ALL: [Reason; 19] = [
        Reason::Unreachable,
        Reason::Timeout,
        Reason::TooSlow,
        Reason::RateLimited,
        Reason::ServerError,
        Reason::HttpStatus,
        Reason::RedirectRefused,
        Reason::ProtocolError,
        Reason::NotFound,
        Reason::ContentEncoding,
        Reason::TooLarge,
        Reason::HashMismatch,
        Reason::InvalidSignature,
        Reason::Malformed,
        Reason::Expired,
        Reason::Rollback,
        Reason::Equivocation,
        Reason::WrongRepoOrChannel,
        Reason::StateWriteFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unreachable => "Unreachable",
            Reason::Timeout => "Timeout",
            Reason::TooSlow => "TooSlow",
            Reason::RateLimited => "RateLimited",
            Reason::ServerError => "ServerError",
            Reason::HttpStatus => "HttpStatus",
            Reason::RedirectRefused => "RedirectRefused",
            Reason::ProtocolError => "ProtocolError",
            Reason::NotFound => "NotFound",
            Reason::ContentEncoding => "ContentEncoding",
            Reason::TooLarge => "TooLarge",
            Reason::HashMismatch => "HashMismatch",
            Reason::InvalidSignature => "InvalidSignature",
            Reason::Malformed => "Malformed",
            Reason::Expired => "Expired",
            Reason::Rollback => "Rollback",
            Reason::Equivocation => "Equivocation",
            Reason::WrongRepoOrChannel => "WrongRepoOrChannel",
            Reason::StateWriteFailed => "StateWriteFailed",
        }
    }

    /// Whether the remote configuration could not be obtained at all (condition
    /// `RemoteConfigurationAvailable`), as opposed to obtained and refused
    /// (`RemoteConfigurationValid`).
    pub fn is_availability(self) -> bool {
        matches!(
            self,
            Reason::Unreachable
                | Reason::Timeout
                | Reason::TooSlow
                | Reason::RateLimited
                | Reason::ServerError
                | Reason::HttpStatus
                | Reason::RedirectRefused
                | Reason::ProtocolError
                | Reason::NotFound
                | Reason::StateWriteFailed
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed poll: its reason and the full message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: Reason,
    pub message: String,
    /// The finer class of a refusal ([`VerifyError::class`]); `None` when nothing was refused
    /// (availability, state). Not part of `status.json`.
    pub class: Option<crate::trust::RefusalClass>,
}

impl Failure {
    pub fn from_verify(e: VerifyError) -> Self {
        let reason = match &e {
            VerifyError::Fetch { source, .. } => match source {
                FetchError::TooLarge { .. } => Reason::TooLarge,
                FetchError::Timeout { .. } => Reason::Timeout,
                FetchError::TooSlow { .. } => Reason::TooSlow,
                FetchError::Status { status: 429, .. } => Reason::RateLimited,
                FetchError::Status { status, .. } if *status >= 500 => Reason::ServerError,
                FetchError::Status { .. } => Reason::HttpStatus,
                FetchError::Redirect { .. } => Reason::RedirectRefused,
                FetchError::ContentEncoding { .. } => Reason::ContentEncoding,
                FetchError::Protocol { .. } => Reason::ProtocolError,
                FetchError::Io { .. } => Reason::Unreachable,
            },
            VerifyError::NotFound { .. } => Reason::NotFound,
            VerifyError::TooLarge { .. } | VerifyError::LongerThanPinned { .. } => Reason::TooLarge,
            VerifyError::LengthMismatch { .. } | VerifyError::HashMismatch { .. } => Reason::HashMismatch,
            VerifyError::BadSignature { .. }
            | VerifyError::ThresholdNotMet { .. }
            | VerifyError::DuplicateSignature { .. }
            | VerifyError::RootVersionAhead { .. } => Reason::InvalidSignature,
            VerifyError::Expired { .. } => Reason::Expired,
            VerifyError::HeadRollback { .. } | VerifyError::IndexRollback { .. } => Reason::Rollback,
            VerifyError::HeadEquivocation { .. } => Reason::Equivocation,
            VerifyError::RepoMismatch { .. } | VerifyError::ChannelMismatch { .. } => Reason::WrongRepoOrChannel,
            VerifyError::UnexpectedNotModified { .. } => Reason::ProtocolError,
            VerifyError::State(_) => Reason::StateWriteFailed,
            _ => Reason::Malformed,
        };
        Failure { reason, message: e.to_string(), class: e.class() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.reason)
    }
}

/// How the head compares with the stored one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadChange {
    /// 304 to `If-None-Match`.
    NotModified {
        version: u64,
    },
    /// Served again with the same signed payload (no usable validator).
    Unchanged {
        version: u64,
    },
    New {
        from: Option<u64>,
        to: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleChange {
    /// The index pins the same bundle for this version: nothing fetched.
    Unchanged {
        path: String,
        definitions: usize,
    },
    Activated {
        from: Option<String>,
        to: String,
        definitions: usize,
    },
    /// No index range holds this version: no bundle is active.
    NoneApplies {
        from: Option<String>,
    },
}

/// What a successful poll changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Root version before and after.
    pub root: (u64, u64),
    pub head: HeadChange,
    /// Index version before and after, and whether it was downloaded.
    pub index: (Option<u64>, u64, bool),
    pub bundle: BundleChange,
    pub ocp_version: String,
}

impl Changes {
    /// True when nothing in force changed.
    pub fn is_no_change(&self) -> bool {
        self.root.0 == self.root.1
            && !matches!(self.head, HeadChange::New { .. })
            && !self.index.2
            && matches!(self.bundle, BundleChange::Unchanged { .. } | BundleChange::NoneApplies { from: None })
    }
}

impl fmt::Display for Changes {
    /// One summary line, then one line per part.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bundle = match &self.bundle {
            BundleChange::Unchanged { path, definitions } => {
                format!(
                    "bundle {path} stays active for {} ({definitions} definition(s)), not fetched",
                    self.ocp_version
                )
            }
            BundleChange::Activated { from, to, definitions } => format!(
                "bundle {to} activated for {} ({definitions} definition(s)){}",
                self.ocp_version,
                from.as_ref().map(|p| format!(", replacing {p}")).unwrap_or_default()
            ),
            BundleChange::NoneApplies { from } => format!(
                "no bundle applies to {}{}",
                self.ocp_version,
                from.as_ref().map(|p| format!(" ({p} deactivated)")).unwrap_or_default()
            ),
        };
        let head = match &self.head {
            HeadChange::NotModified { version } => format!("head.json not modified (304), version {version}"),
            HeadChange::Unchanged { version } => format!("head.json unchanged, version {version}"),
            HeadChange::New { from: None, to } => format!("head version {to} (first fetch)"),
            HeadChange::New { from: Some(f), to } => format!("head version {f} -> {to}"),
        };
        if self.is_no_change() {
            writeln!(f, "no change: {head}; {bundle}")?;
        } else {
            writeln!(f, "updated: {head}; {bundle}")?;
        }
        let (r0, r1) = self.root;
        if r0 != r1 {
            writeln!(f, "  root   version {r0} -> {r1} (rotation verified)")?;
        } else {
            writeln!(f, "  root   version {r1} (no newer root)")?;
        }
        let (i0, i1, fetched) = self.index;
        match (i0, fetched) {
            (_, false) => writeln!(f, "  index  version {i1} (unchanged, not fetched)")?,
            (None, true) => writeln!(f, "  index  version {i1} (fetched)")?,
            (Some(p), true) => writeln!(f, "  index  version {p} -> {i1} (fetched)")?,
        }
        Ok(())
    }
}

/// Everything one fetch cycle needs besides the fetcher.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Bytes of the pinned root (`--root`).
    pub pinned_root: Vec<u8>,
    pub state_dir: StateDir,
    pub cluster: Cluster,
    pub poll: PollOptions,
}

/// The result of one cycle.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// Problems found in the stored state (reported, then ignored).
    pub state_problems: Vec<String>,
    pub clock_step: Option<ClockStep>,
    pub result: Result<Changes, Failure>,
    /// The state in force after the cycle: the new one, or the last good one.
    pub state: VerifiedState,
    pub status: Status,
}

/// Errors that stop a cycle before it can start: the pinned root is unusable or the state
/// directory cannot be written (usage and I/O errors, exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("pinned root: {0}")]
    PinnedRoot(VerifyError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// Load and re-verify the state directory, poll once, commit on success, write `status.json`;
/// the state directory's lock is held meanwhile.
pub async fn run_once<F: Fetcher>(fetcher: &F, cfg: &FetchConfig) -> Result<Cycle, SetupError> {
    let lock = cfg.state_dir.lock()?;
    run_once_locked(fetcher, cfg, &lock).await
}

/// [`run_once`] for a caller that holds the state directory's lock (the agent, for its whole
/// life).
pub async fn run_once_locked<F: Fetcher>(
    fetcher: &F,
    cfg: &FetchConfig,
    _lock: &state::StateLock,
) -> Result<Cycle, SetupError> {
    cfg.state_dir.prepare()?;
    let loaded = cfg.state_dir.load(&cfg.pinned_root, &cfg.poll.limits).map_err(SetupError::PinnedRoot)?;
    // Only a root that parsed as one is recorded (load checked it).
    cfg.state_dir.store_pinned_root(&cfg.pinned_root)?;
    for p in &loaded.problems {
        tracing::warn!("state: {p}");
    }
    let stored = loaded.state;
    let (_, clock_step) = effective_time(cfg.poll.now, stored.latest_known_time, cfg.poll.tolerance_secs);
    if let Some(step) = &clock_step {
        tracing::warn!(
            "clock stepped back: now {} is before the latest known time {}; judging expiry at {}",
            crate::clock::format_rfc3339(step.now),
            crate::clock::format_rfc3339(step.latest_known_time),
            crate::clock::format_rfc3339(step.effective)
        );
    }
    let (state, result) = match poll::poll(fetcher, &cfg.state_dir, &stored, &cfg.cluster, &cfg.poll).await {
        Ok((next, changes)) => (next, Ok(changes)),
        Err(failure) => (stored, Err(failure)),
    };
    let mut status = Status::load(&cfg.state_dir);
    status.record_fetch(cfg.poll.now, &result, &state, clock_step.as_ref(), &loaded.problems);
    status.save(&cfg.state_dir)?;
    Ok(Cycle { state_problems: loaded.problems, clock_step, result, state, status })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_time_does_not_follow_a_clock_that_went_back() {
        assert_eq!(effective_time(1_000, 900, 600), (1_000, None));
        assert_eq!(effective_time(1_000, 1_500, 600), (1_000, None), "within the tolerance");
        let (t, step) = effective_time(1_000, 5_000, 600);
        assert_eq!(t, 4_400);
        assert_eq!(step, Some(ClockStep { now: 1_000, latest_known_time: 5_000, effective: 4_400 }));
    }

    #[test]
    fn transition_time_changes_only_with_the_status() {
        let mut s = Status::default();
        s.set_condition("X", "True", "A", "m".into(), 10);
        s.set_condition("X", "True", "B", "n".into(), 20);
        let c = s.condition("X").unwrap();
        assert_eq!(
            (c.reason.as_str(), c.message.as_str(), c.last_transition_time.as_str()),
            ("B", "n", "1970-01-01T00:00:10Z")
        );
        s.set_condition("X", "False", "C", "o".into(), 30);
        assert_eq!(s.condition("X").unwrap().last_transition_time, "1970-01-01T00:00:30Z");
    }

    #[test]
    fn reasons_split_into_availability_and_validity() {
        let fetch = |source| Failure::from_verify(VerifyError::Fetch { what: "head.json".into(), source }).reason;
        assert_eq!(fetch(FetchError::Status { path: "p".into(), status: 429 }), Reason::RateLimited);
        assert_eq!(fetch(FetchError::Status { path: "p".into(), status: 502 }), Reason::ServerError);
        assert_eq!(fetch(FetchError::Io { path: "p".into(), source: "reset".into() }), Reason::Unreachable);
        // A 304 nobody asked for is the server's protocol error, not a refusal of content.
        let not_modified = Failure::from_verify(VerifyError::unexpected_not_modified("root/2.json"));
        assert_eq!((not_modified.reason, not_modified.class), (Reason::ProtocolError, None));
        assert_eq!(not_modified.message, "root/2.json: unexpected 304");
        // Other invalid content, even when its text names a 304, is malformed content.
        let invalid = Failure::from_verify(VerifyError::Invalid { what: "index".into(), reason: "304 items".into() });
        assert_eq!((invalid.reason, invalid.class), (Reason::Malformed, Some(crate::trust::RefusalClass::Malformed)));
        let expired =
            Failure::from_verify(VerifyError::Expired { what: "h".into(), expires: "e".into(), now: "n".into() });
        assert_eq!(expired.reason, Reason::Expired);
        assert!(!expired.reason.is_availability());
        assert!(Reason::Timeout.is_availability());
        let names: std::collections::BTreeSet<_> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), Reason::ALL.len(), "names are distinct");
    }

    #[test]
    fn no_change_means_nothing_new_in_force() {
        let mut c = Changes {
            root: (1, 1),
            head: HeadChange::NotModified { version: 5 },
            index: (Some(5), 5, false),
            bundle: BundleChange::Unchanged { path: "bundles/a.json".into(), definitions: 2 },
            ocp_version: "4.16.3".into(),
        };
        assert!(c.is_no_change());
        assert!(
            c.to_string()
                .starts_with("no change: head.json not modified (304), version 5; bundle bundles/a.json stays active")
        );
        c.root = (1, 2);
        assert!(!c.is_no_change());
        c.root = (1, 1);
        c.bundle = BundleChange::NoneApplies { from: Some("bundles/a.json".into()) };
        assert!(!c.is_no_change(), "a deactivated bundle is a change");
    }
}
