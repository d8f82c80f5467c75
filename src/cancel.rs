//! Cancellation and deadlines of one agent cycle: a [`Cancel`] carries the process's shutdown
//! token (SIGTERM, Ctrl-C) and the cycle's deadline, and is passed by reference through fetch,
//! gather and upload. Every wait of a cycle is raced against [`Cancel::stopped`] (or wrapped in
//! [`Cancel::run`]), so a shutdown ends any phase within moments and an overrun cycle ends at its
//! deadline, wherever it is.

use std::future::Future;
use std::time::Duration;

pub use tokio_util::sync::CancellationToken;

/// The shutdown token and the deadline of a unit of work. Cheap to clone; [`Cancel::default`]
/// never stops (one-shot commands and tests).
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    token: CancellationToken,
    deadline: Option<tokio::time::Instant>,
}

/// Why work stopped before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Stopped {
    /// The shutdown token was cancelled (SIGTERM, Ctrl-C).
    #[error("stopped by the shutdown signal")]
    Cancelled,
    /// The deadline passed.
    #[error("the time limit was reached")]
    DeadlineExceeded,
}

impl Cancel {
    /// Stops when `token` is cancelled; no deadline.
    pub fn new(token: CancellationToken) -> Self {
        Cancel { token, deadline: None }
    }

    /// The shutdown token (cancel it to stop everything that holds a clone of this value).
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// The deadline, when there is one.
    pub fn deadline(&self) -> Option<tokio::time::Instant> {
        self.deadline
    }

    /// The same token with the earlier of the current deadline and `deadline`.
    pub fn with_deadline(&self, deadline: tokio::time::Instant) -> Self {
        let deadline = Some(self.deadline.map_or(deadline, |d| d.min(deadline)));
        Cancel { token: self.token.clone(), deadline }
    }

    /// The same token with a deadline `limit` from now at the latest (a limit too large to
    /// represent is no limit).
    pub fn with_timeout(&self, limit: Duration) -> Self {
        match tokio::time::Instant::now().checked_add(limit) {
            Some(d) => self.with_deadline(d),
            None => self.clone(),
        }
    }

    /// Time left before the deadline (`None`: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()))
    }

    /// `Err` once cancelled or past the deadline.
    pub fn check(&self) -> Result<(), Stopped> {
        if self.token.is_cancelled() {
            Err(Stopped::Cancelled)
        } else if self.deadline.is_some_and(|d| d <= tokio::time::Instant::now()) {
            Err(Stopped::DeadlineExceeded)
        } else {
            Ok(())
        }
    }

    /// Resolves when the token is cancelled or the deadline passes.
    pub async fn stopped(&self) -> Stopped {
        match self.deadline {
            Some(d) => tokio::select! {
                biased;
                _ = self.token.cancelled() => Stopped::Cancelled,
                _ = tokio::time::sleep_until(d) => Stopped::DeadlineExceeded,
            },
            None => {
                self.token.cancelled().await;
                Stopped::Cancelled
            }
        }
    }

    /// Run `work` until it finishes or this stops; a stopped `work` is dropped (so it must leave
    /// nothing half-written behind when dropped at an `.await`).
    pub async fn run<F: Future>(&self, work: F) -> Result<F::Output, Stopped> {
        self.check()?;
        tokio::select! {
            biased;
            why = self.stopped() => Err(why),
            out = work => Ok(out),
        }
    }

    /// Sleep for `delay` unless this stops first.
    pub async fn sleep(&self, delay: Duration) -> Result<(), Stopped> {
        self.run(tokio::time::sleep(delay)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deadline_and_token_stop_work() {
        let c = Cancel::default().with_timeout(Duration::from_millis(50));
        assert_eq!(c.run(std::future::pending::<()>()).await, Err(Stopped::DeadlineExceeded));
        assert_eq!(c.check(), Err(Stopped::DeadlineExceeded));
        // A later deadline never extends an earlier one.
        let earlier = Cancel::default().with_timeout(Duration::from_secs(1)).with_timeout(Duration::from_secs(60));
        assert!(earlier.remaining().is_some_and(|r| r <= Duration::from_secs(1)));
        let token = CancellationToken::new();
        let c = Cancel::new(token.clone());
        assert_eq!(c.run(async { 7 }).await, Ok(7));
        token.cancel();
        assert_eq!(c.sleep(Duration::from_secs(3600)).await, Err(Stopped::Cancelled));
        assert_eq!(Cancel::default().with_timeout(Duration::MAX).remaining(), None, "an unrepresentable limit is none");
    }
}
