//! Cluster-side tests against a real kube-apiserver (`tests/support/envtest.rs`: etcd and
//! kube-apiserver from `KUBEBUILDER_ASSETS`, started once for this binary): one test crate with
//! a module per concern, so the server starts once and the crate links once.

#[path = "../support/envtest.rs"]
mod envtest;
#[path = "../support/ingress.rs"]
mod ingress;
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
mod alerts;
mod bundled;
mod common;
mod contract;
mod control;
mod gather;
mod harness;
mod rbac;
