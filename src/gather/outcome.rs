//! What happened to each gatherer and definition: the records of `gathers.json` (a contract,
//! documented in `docs/archive.md`).

use serde::Serialize;

/// The outcome of one gatherer (DESIGN.md section 6). Always paired with a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Collected,
    Empty,
    DeniedByPolicy,
    Truncated,
    NotFound,
    Forbidden,
    TimedOut,
    Failed,
    SkippedCondition,
    SkippedRollout,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Collected => "collected",
            Outcome::Empty => "empty",
            Outcome::DeniedByPolicy => "denied-by-policy",
            Outcome::Truncated => "truncated",
            Outcome::NotFound => "not-found",
            Outcome::Forbidden => "forbidden",
            Outcome::TimedOut => "timed-out",
            Outcome::Failed => "failed",
            Outcome::SkippedCondition => "skipped-condition",
            Outcome::SkippedRollout => "skipped-rollout",
        }
    }

    /// Outcomes that mean the gatherer could not do its job (the command exits 1).
    pub fn is_problem(self) -> bool {
        matches!(self, Outcome::Forbidden | Outcome::TimedOut | Outcome::Failed)
    }

    /// Precedence when one definition's gatherers differ: the first of this list that occurs
    /// is the definition's outcome.
    const PRECEDENCE: [Outcome; 10] = [
        Outcome::Failed,
        Outcome::TimedOut,
        Outcome::Forbidden,
        Outcome::DeniedByPolicy,
        Outcome::Truncated,
        Outcome::NotFound,
        Outcome::Collected,
        Outcome::Empty,
        Outcome::SkippedCondition,
        Outcome::SkippedRollout,
    ];
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a gatherer that could not do its job is still no problem of the run
/// ([`crate::gather::GatherResult::has_problems`]). Not part of `gathers.json`: the reason says
/// it in words there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excuse {
    /// It needs Prometheus (a `metrics` gatherer, or an alert-driven legacy function) and the
    /// run was given none: the caller's choice, not a fault of the cluster.
    NoPrometheus,
}

/// One gatherer's record in `gathers.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GathererReport {
    /// Position in the definition's `gather` list, from 0.
    pub index: usize,
    /// The gatherer's YAML key (`containerLogs`, `resources`, ...).
    pub kind: &'static str,
    pub outcome: Outcome,
    pub reason: String,
    pub duration_ms: u64,
    /// Objects or log lines archived.
    pub records: u64,
    /// Bytes archived.
    pub bytes: u64,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// Credentials the scrubber replaced in this gatherer's files, by kind (never the values).
    pub redactions: crate::scrub::Counts,
    #[serde(skip)]
    pub excuse: Option<Excuse>,
}

impl GathererReport {
    pub fn new(index: usize, kind: &'static str, outcome: Outcome, reason: impl Into<String>) -> Self {
        GathererReport {
            index,
            kind,
            outcome,
            reason: reason.into(),
            duration_ms: 0,
            records: 0,
            bytes: 0,
            errors: Vec::new(),
            warnings: Vec::new(),
            redactions: crate::scrub::Counts::default(),
            excuse: None,
        }
    }

    /// `failed` because the run was given no Prometheus ([`Excuse::NoPrometheus`]).
    pub fn no_prometheus(index: usize, kind: &'static str) -> Self {
        GathererReport {
            excuse: Some(Excuse::NoPrometheus),
            ..GathererReport::new(index, kind, Outcome::Failed, crate::gather::NO_PROMETHEUS)
        }
    }

    /// The gatherer could not do its job ([`Outcome::is_problem`]) and has no [`Excuse`].
    pub fn is_problem(&self) -> bool {
        self.outcome.is_problem() && self.excuse.is_none()
    }
}

/// One definition's record in `gathers.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefinitionReport {
    pub id: String,
    pub outcome: Outcome,
    pub reason: String,
    pub duration_ms: u64,
    pub records: u64,
    pub bytes: u64,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    pub gatherers: Vec<GathererReport>,
}

impl DefinitionReport {
    /// Sum up gatherers: counts add up, the outcome follows [`Outcome::PRECEDENCE`].
    pub fn from_gatherers(id: String, gatherers: Vec<GathererReport>) -> Self {
        let outcome = Outcome::PRECEDENCE
            .into_iter()
            .find(|o| gatherers.iter().any(|g| g.outcome == *o))
            .unwrap_or(Outcome::Empty);
        let with = gatherers.iter().filter(|g| g.outcome == outcome).count();
        let reason = if gatherers.len() == 1 {
            gatherers[0].reason.clone()
        } else if with == gatherers.len() {
            match gatherers.iter().map(|g| g.reason.as_str()).collect::<std::collections::BTreeSet<_>>() {
                reasons if reasons.len() == 1 => gatherers[0].reason.clone(),
                _ => format!("all {} gatherers: {outcome}", gatherers.len()),
            }
        } else {
            let mut counts = std::collections::BTreeMap::new();
            for g in &gatherers {
                *counts.entry(g.outcome.as_str()).or_insert(0usize) += 1;
            }
            let parts: Vec<String> = counts.iter().map(|(o, n)| format!("{n} {o}")).collect();
            format!("{} gatherers: {}", gatherers.len(), parts.join(", "))
        };
        DefinitionReport {
            id,
            outcome,
            reason,
            duration_ms: gatherers.iter().map(|g| g.duration_ms).max().unwrap_or(0),
            records: gatherers.iter().map(|g| g.records).sum(),
            bytes: gatherers.iter().map(|g| g.bytes).sum(),
            errors: Vec::new(),
            warnings: Vec::new(),
            gatherers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_spell_as_the_contract_says() {
        let all = [
            (Outcome::Collected, "collected"),
            (Outcome::Empty, "empty"),
            (Outcome::DeniedByPolicy, "denied-by-policy"),
            (Outcome::Truncated, "truncated"),
            (Outcome::NotFound, "not-found"),
            (Outcome::Forbidden, "forbidden"),
            (Outcome::TimedOut, "timed-out"),
            (Outcome::Failed, "failed"),
            (Outcome::SkippedCondition, "skipped-condition"),
            (Outcome::SkippedRollout, "skipped-rollout"),
        ];
        for (o, s) in all {
            assert_eq!(o.as_str(), s);
            assert_eq!(serde_json::to_value(o).unwrap(), serde_json::json!(s));
        }
    }

    #[test]
    fn a_definition_reports_its_most_severe_gatherer() {
        let d = DefinitionReport::from_gatherers(
            "x".into(),
            vec![
                GathererReport::new(0, "resources", Outcome::Collected, "3 objects"),
                GathererReport::new(1, "containerLogs", Outcome::Forbidden, "403"),
            ],
        );
        assert_eq!(d.outcome, Outcome::Forbidden);
        assert_eq!(d.reason, "2 gatherers: 1 collected, 1 forbidden");
    }
}
