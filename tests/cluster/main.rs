//! Cluster-side tests against a real kube-apiserver (`tests/support/envtest.rs`: etcd and
//! kube-apiserver from `KUBEBUILDER_ASSETS`, started once for this binary): one test crate with
//! a module per concern, so the server starts once and the crate links once (`privacy` alone
//! has a second server, see there). The `stand_in_*` modules, `agent_faults`, `gather_faults` and
//! `upload` use the stand-in API server (`tests/support/kubeapi.rs`) for what a real one cannot be made to do;
//! `contract` checks the stand-in against the real server. The agent's other counterparts are
//! started here too: the faulty test CDN (`cdn`), the upload chain (`tests/support/ingress.rs`),
//! a real Prometheus (`tests/support/prometheus.rs`).

#[path = "../support/envtest.rs"]
mod envtest;
#[path = "../support/ingress.rs"]
mod ingress;
#[path = "../support/injections.rs"]
mod injections;
#[path = "../support/kubeapi.rs"]
mod kubeapi;
#[path = "../support/pki.rs"]
mod pki;
#[path = "../support/prometheus.rs"]
mod prometheus;
#[path = "../support/tarball.rs"]
mod tarball;

mod acceptance;
mod agent;
mod agent_cdn;
mod agent_faults;
mod alerts;
mod bundled;
mod cdn;
mod common;
mod contract;
mod control;
mod fetch_faults;
mod gate;
mod gather;
mod gather_faults;
mod harness;
mod privacy;
#[path = "../support/process.rs"]
mod process;
mod prometheus_client;
mod rbac;
mod stand_in_agent;
mod stand_in_gate;
mod stand_in_gather;
mod stand_in_kubectl;
mod stand_in_plan;
mod stand_in_prometheus;
mod stand_in_server;
mod upload;
