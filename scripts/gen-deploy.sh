#!/bin/sh
# Regenerate the generated parts of deploy/ (rbac.yaml, policy.yaml, crd.yaml) from the
# definitions, the built-in policy and the RrctlAgent type; tests/suite/deploy.rs checks that they are
# current.
set -eu
cd "$(dirname "$0")/.."
rrctl=${RRCTL:-target/debug/rrctl}
"$rrctl" rbac definitions > deploy/rbac.yaml
"$rrctl" crd > deploy/crd.yaml
"$rrctl" policy show | python3 -c '
import json, sys
text = sys.stdin.read()
sys.stdout.write("""# The agent'"'"'s local policy: what `rrctl policy show` prints for the built-in defaults.
# Narrow it here (deniedKinds are added to the built-in list; namespace prefixes can only narrow
# openshift-/kube-); `rrctl policy show --policy FILE` prints the effective result and its sha256.
apiVersion: v1
kind: ConfigMap
metadata:
  name: rrctl-policy
  namespace: openshift-insights-rrctl
  labels:
    app.kubernetes.io/name: rrctl-agent
data:
  policy.yaml: %s
""" % json.dumps(text))' > deploy/policy.yaml
