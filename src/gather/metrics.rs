//! The `metrics` gatherer: the series matching the definition's selectors, read from the cluster
//! Prometheus's `/federate` (`match[]` per selector), saved as `metrics/<definition id>.txt` in
//! text exposition format, within the gatherer's and the run's byte budgets.

use crate::definition::Metrics;
use crate::prometheus::{PrometheusClient, PrometheusError};

use super::{Fail, Sink};

/// Archive path of a definition's metrics.
pub fn archive_path(definition_id: &str) -> String {
    format!("metrics/{definition_id}.txt")
}

/// A Prometheus error as a gatherer failure (403 is `forbidden`, like the API server's).
pub(crate) fn fail_of(e: &PrometheusError) -> Fail {
    match e {
        PrometheusError::Status { status: 401 | 403, .. } => Fail::Forbidden(e.to_string()),
        _ => Fail::Failed(e.to_string()),
    }
}

/// Federate the selectors and keep at most what the budgets leave (whole lines; a cut is
/// recorded as truncation).
pub(crate) async fn collect(
    client: &PrometheusClient,
    definition_id: &str,
    m: &Metrics,
    sink: &mut Sink,
) -> Result<(), Fail> {
    let room = sink.room();
    let federated = client.federate(&m.selectors, room).await.map_err(|e| fail_of(&e))?;
    if federated.text.is_empty() && !federated.truncated {
        sink.summary = Some(format!("no series match {} selector(s)", m.selectors.len()));
        return Ok(());
    }
    if !sink.reserve(federated.text.len() as u64) {
        // Another gatherer took the run's budget meanwhile: nothing is kept.
        return Ok(());
    }
    if federated.truncated {
        sink.truncated = Some(if room < sink.limit {
            "the run's total byte budget is spent".to_string()
        } else {
            format!("the gatherer's budget of {} bytes is spent", sink.limit)
        });
    }
    let series = series_count(&federated.text);
    sink.records = series;
    sink.summary = Some(format!("{series} sample(s) for {} selector(s)", m.selectors.len()));
    sink.files.push((archive_path(definition_id), federated.text));
    Ok(())
}

/// Sample lines of a text exposition (neither comments nor blank lines).
fn series_count(text: &[u8]) -> u64 {
    text.split(|&b| b == b'\n').filter(|l| !l.is_empty() && l[0] != b'#').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_the_lines_that_are_not_comments() {
        let text = b"# TYPE up untyped\nup{instance=\"a\",job=\"p\"} 1 1700000000000\n\n# HELP x y\nx 2\n";
        assert_eq!(series_count(text), 2);
        assert_eq!(series_count(b""), 0);
    }
}
