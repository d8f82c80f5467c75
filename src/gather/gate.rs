//! The gate of one run: every request a gather or a plan makes goes through one
//! [`crate::policy::gate::Gate`] whose allow-set is [`super::access::run_access`] of the run's
//! gatherers. Before discovery it allows the discovery of the groups named and the requests that
//! need no plural (logs, legacy functions); after discovery, the resources' own rules with the
//! plural and scope the cluster serves.

use kube::Client;
use kube::discovery::Scope as KubeScope;

use crate::definition::{Gatherer, Resources};
use crate::policy::LocalPolicy;
use crate::policy::gate::Gate;

use super::access::{self, Resolution, Resolver};
use super::resources::Discovered;
use super::{Decided, Step};

/// Plurals and scopes from the cluster's discovery.
pub(crate) struct ByDiscovery<'a>(pub &'a Discovered);

impl Resolver for ByDiscovery<'_> {
    fn resolve(&self, r: &Resources) -> Resolution {
        let discovery = match self.0 {
            Ok(d) => d,
            Err(e) => return Resolution::Failed(e.clone()),
        };
        match discovery.resolve_gvk(&kube::api::GroupVersionKind::gvk(&r.group, &r.version, &r.kind)) {
            Some((ar, caps)) => Resolution::Served {
                plural: ar.plural,
                scope: match caps.scope {
                    KubeScope::Namespaced => crate::policy::Scope::Namespaced,
                    KubeScope::Cluster => crate::policy::Scope::Cluster,
                },
            },
            None => Resolution::NotServed,
        }
    }
}

/// The gatherers of the steps that will make requests.
fn gatherers(decided: &[Decided]) -> Vec<Gatherer> {
    decided
        .iter()
        .flat_map(|d| d.steps.iter())
        .filter_map(|(_, _, step)| match step {
            Step::Resources(r) => Some(Gatherer::Resources(r.clone())),
            Step::Logs(c) => Some(Gatherer::ContainerLogs(c.clone())),
            Step::Legacy(g, _) => Some(g.clone()),
            Step::Metrics(_) | Step::Decided(_) => None,
        })
        .collect()
}

/// A run's gate and the client that sends through it.
pub(crate) struct RunGate {
    gate: Gate,
    pub client: Client,
}

impl RunGate {
    /// The gate before discovery, around `raw`.
    pub(crate) fn new(raw: &Client, decided: &[Decided], policy: &LocalPolicy) -> RunGate {
        let gate = Gate::new(access::run_access(&gatherers(decided), policy, &access::Deferred), policy);
        let client = gate.client(raw);
        RunGate { gate, client }
    }

    /// Widen to the resources' rules now that discovery has said how they are served.
    pub(crate) fn discovered(&self, decided: &[Decided], policy: &LocalPolicy, discovery: &Discovered) {
        let mut access = access::run_access(&gatherers(decided), policy, &ByDiscovery(discovery));
        // Discovery is done: no more discovery requests.
        access.discovery.clear();
        self.gate.set_access(access);
    }
}
