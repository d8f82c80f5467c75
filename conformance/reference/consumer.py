#!/usr/bin/env python3
"""A minimal reference consumer of the rrctl dist, written from docs/format.md and
docs/signing.md only (no rrctl code), for the conformance suite (conformance/README.md).

One poll: walk the root chain, verify head, index and bundle, select the definitions for this
cluster, print one JSON result line on stdout and commit the state only on success.

Python 3.11 standard library plus `cryptography` (Ed25519).

RRCTL_CONFORMANCE_BREAK=threshold|expiry|clock makes it deliberately wrong (any one valid
signature of a role is enough / no expiry checks / expiry judged at the clock even when it went
back), to show that the suite catches such consumers.
"""

import argparse
import base64
import binascii
import calendar
import hashlib
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SPEC_VERSION = 2
LIMITS = {"root": 64 * 1024, "head": 16 * 1024, "index": 16 * 1024 * 1024, "bundle": 64 * 1024 * 1024}
CLOCK_TOLERANCE = 600
SPKI_ED25519_PREFIX = bytes.fromhex("302a300506032b6570032100")
BREAK = os.environ.get("RRCTL_CONFORMANCE_BREAK", "")


class Refused(Exception):
    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


class NotFound(Exception):
    pass


def refuse(reason, message):
    raise Refused(reason, message)


# --- time and versions -------------------------------------------------------------------

def parse_time(s, what):
    if not isinstance(s, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s):
        refuse("malformed", f"{what}: not YYYY-MM-DDTHH:MM:SSZ: {s!r}")
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")


def parse_version(s, what):
    m = SEMVER.fullmatch(s) if isinstance(s, str) else None
    if not m:
        refuse("malformed", f"{what}: not a SemVer version: {s!r}")
    pre = m.group(4)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), pre.split(".") if pre else None)


def cmp_version(a, b):
    """SemVer 2.0.0 precedence: -1, 0, 1."""
    if a[:3] != b[:3]:
        return -1 if a[:3] < b[:3] else 1
    pa, pb = a[3], b[3]
    if pa is None or pb is None:
        return 0 if pa == pb else (1 if pa is None else -1)
    for x, y in zip(pa, pb):
        if x == y:
            continue
        xn, yn = x.isdigit(), y.isdigit()
        if xn and yn:
            return -1 if int(x) < int(y) else 1
        if xn != yn:
            return -1 if xn else 1
        return -1 if x < y else 1
    return (len(pa) > len(pb)) - (len(pa) < len(pb))


def in_interval(v, frm, to, what):
    lo = parse_version(frm, what + ".from")
    if cmp_version(lo, v) > 0:
        return False
    return to is None or cmp_version(v, parse_version(to, what + ".to")) < 0


def bucket(definition_id, cluster_id):
    digest = hashlib.sha256(f"{definition_id}/{cluster_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


# --- fetching -----------------------------------------------------------------------------

SAFE_PATH = re.compile(r"[A-Za-z0-9._/-]+")


def check_path(path, kind, sha):
    if not isinstance(path, str) or not SAFE_PATH.fullmatch(path) or ".." in path.split("/") or path.startswith("/"):
        refuse("malformed", f"unsafe path {path!r}")
    if path != f"{kind}/{sha}.json":
        refuse("malformed", f"{path!r} is not {kind}/<its sha256>.json")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are refused (a dist is served in place), as HTTP errors."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def fetch(base, path, limit):
    """GET base+path, reading at most limit+1 bytes; NotFound on 404."""
    url = base.rstrip("/") + "/" + path
    try:
        with OPENER.open(url, timeout=30) as r:
            return r.read(limit + 1)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise NotFound(url)
        refuse("http", f"{url}: HTTP {e.code}")


def fetch_capped(base, path, limit, what):
    body = fetch(base, path, limit)
    if len(body) > limit:
        refuse("size", f"{what} is larger than {limit} bytes")
    return body


def fetch_pinned(base, ref, kind, limit):
    """A file pinned by {path, sha256, length}: capped at the pinned length, checked before parsing."""
    if not isinstance(ref, dict):
        refuse("malformed", f"{kind} reference is not an object")
    sha, length = ref.get("sha256"), ref.get("length")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha) or not isinstance(length, int):
        refuse("malformed", f"{kind} reference: bad sha256 or length")
    check_path(ref.get("path"), kind, sha)
    if length > limit:
        refuse("size", f"{kind} pinned length {length} is above the limit {limit}")
    body = fetch(base, ref["path"], length)
    if len(body) > length:
        refuse("size", f"{ref['path']} is longer than its pinned length {length}")
    if len(body) != length or hashlib.sha256(body).hexdigest() != sha:
        refuse("hash", f"{ref['path']}: length or SHA-256 differs from the pin")
    return body


# --- envelopes and payloads ---------------------------------------------------------------

def parse_json(data, what):
    def no_duplicates(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                refuse("malformed", f"{what}: duplicate key {k!r}")
            d[k] = v
        return d

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates,
                          parse_float=lambda s: refuse("malformed", f"{what}: non-integer number"))
    except (UnicodeDecodeError, ValueError) as e:
        refuse("malformed", f"{what}: not JSON: {e}")


def open_envelope(data, role):
    env = parse_json(data, role)
    if not isinstance(env, dict) or set(env) != {"payload", "payloadType", "signatures"}:
        refuse("malformed", f"{role}: not an envelope")
    if env["payloadType"] != f"application/vnd.rrctl.{role}+json":
        refuse("malformed", f"{role}: payloadType is {env['payloadType']!r}")
    try:
        payload = base64.b64decode(env["payload"], validate=True)
    except (binascii.Error, TypeError):
        refuse("malformed", f"{role}: payload is not standard base64")
    sigs = env["signatures"]
    if not isinstance(sigs, list):
        refuse("malformed", f"{role}: signatures is not a list")
    body = parse_json(payload, role + " payload")
    if not isinstance(body, dict):
        refuse("malformed", f"{role}: payload is not an object")
    if body.get("_type") != f"rrctl/{role}":
        refuse("malformed", f"{role}: _type is {body.get('_type')!r}")
    if body.get("spec_version") != SPEC_VERSION:
        refuse("malformed", f"{role}: unsupported spec_version {body.get('spec_version')!r}")
    return payload, body, sigs


def root_keys(root):
    """{keyid: public key} of a root payload, checking that each key id is its key's hash."""
    keys = {}
    for keyid, k in root.get("keys", {}).items():
        if not isinstance(k, dict) or k.get("keytype") != "ed25519":
            refuse("malformed", f"root: key {keyid} is not ed25519")
        raw = bytes.fromhex(k["public"])
        if hashlib.sha256(SPKI_ED25519_PREFIX + raw).hexdigest() != keyid:
            refuse("malformed", f"root: key id {keyid} is not the hash of its key")
        keys[keyid] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


def check_threshold(root, role, payload, sigs, what):
    spec = root["roles"].get(role)
    if not isinstance(spec, dict):
        refuse("malformed", f"root has no {role} role")
    keys = root_keys(root)
    good = set()
    for s in sigs:
        keyid = s.get("keyid") if isinstance(s, dict) else None
        if keyid not in spec["keyids"] or keyid not in keys:
            continue
        try:
            keys[keyid].verify(base64.b64decode(s.get("sig", ""), validate=True), payload)
        except (InvalidSignature, binascii.Error, ValueError):
            continue
        good.add(keyid)
    threshold = spec["threshold"]
    if BREAK == "threshold":
        threshold = 1
    if len(good) < threshold:
        refuse("signature", f"{what}: {len(good)} valid {role} signature(s), threshold {threshold}")


def check_fresh(body, now, what):
    if BREAK == "expiry":
        return
    if now >= parse_time(body.get("expires"), what + ".expires"):
        refuse("expired", f"{what} expired at {body['expires']}")


# --- one poll -----------------------------------------------------------------------------

def load_state(state_dir, pinned_root):
    path = os.path.join(state_dir, "state.json")
    if os.path.exists(path):
        with open(path, "rb") as f:
            return json.loads(f.read(1024 * 1024))
    payload, root, sigs = open_envelope(pinned_root, "root")
    check_threshold(root, "root", payload, sigs, "pinned root")
    return {"root": base64.b64encode(pinned_root).decode(), "channel": None, "head_version": None,
            "head_payload": None, "index_version": None, "latest_known_time": 0}


def save_state(state_dir, state):
    os.makedirs(state_dir, exist_ok=True)
    tmp = os.path.join(state_dir, "state.json.tmp")
    with open(tmp, "w") as f:
        json.dump(state, f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(state_dir, "state.json"))


def poll(args, state, now):
    base = args.base_url
    _, root, _ = open_envelope(base64.b64decode(state["root"]), "root")
    # 1. Roots: root/N+1.json until 404, each signed by the old and its own root role.
    while True:
        n = root["version"] + 1
        try:
            data = fetch_capped(base, f"root/{n}.json", LIMITS["root"], f"root/{n}.json")
        except NotFound:
            break
        payload, new, sigs = open_envelope(data, "root")
        if new.get("version") != n:
            refuse("malformed", f"root/{n}.json has version {new.get('version')}")
        if new.get("repo") != root["repo"]:
            refuse("repo_or_channel", f"root/{n}.json is for repo {new.get('repo')!r}")
        check_threshold(root, "root", payload, sigs, f"root/{n}.json (previous root's keys)")
        check_threshold(new, "root", payload, sigs, f"root/{n}.json (its own keys)")
        root = new
        state["root"] = base64.b64encode(data).decode()
    effective = now if BREAK == "clock" else max(now, state["latest_known_time"] - CLOCK_TOLERANCE)
    check_fresh(root, effective, f"root {root['version']}")

    # 2. Head.
    payload, head, sigs = open_envelope(fetch_capped(base, "head.json", LIMITS["head"], "head.json"), "head")
    check_threshold(root, "head", payload, sigs, "head.json")
    if head.get("repo") != root["repo"]:
        refuse("repo_or_channel", f"head is for repo {head.get('repo')!r}")
    if state["channel"] is not None and head.get("channel") != state["channel"]:
        refuse("repo_or_channel", f"head is for channel {head.get('channel')!r}")
    if not isinstance(head.get("root_version"), int) or head["root_version"] > root["version"]:
        refuse("signature", "head names a root newer than any verified")
    if state["head_version"] is not None:
        if head["version"] < state["head_version"]:
            refuse("rollback", f"head version {head['version']} is below {state['head_version']}")
        if head["version"] == state["head_version"] and base64.b64encode(payload).decode() != state["head_payload"]:
            refuse("equivocation", f"head version {head['version']} with other bytes")
    check_fresh(head, effective, "head")

    # 3. Index.
    pin = head.get("index")
    data = fetch_pinned(base, pin, "index", LIMITS["index"])
    ipayload, index, isigs = open_envelope(data, "index")
    check_threshold(root, "index", ipayload, isigs, pin["path"])
    if index.get("repo") != head["repo"] or index.get("channel") != head["channel"]:
        refuse("repo_or_channel", "index repo or channel differs from the head's")
    if index.get("version") != pin.get("version"):
        refuse("malformed", "index version differs from the head's pin")
    if state["index_version"] is not None and index["version"] < state["index_version"]:
        refuse("rollback", f"index version {index['version']} is below {state['index_version']}")
    check_fresh(index, effective, "index")

    # 4. Selection: the index range, then the bundle, then intervals and rollout.
    v = parse_version(args.ocp_version, "--ocp-version")
    chosen = None
    for i, r in enumerate(index.get("ranges", [])):
        if in_interval(v, r.get("from"), r.get("to"), f"ranges[{i}]"):
            chosen = r
            break
    result = {"ok": True, "bundle_sha256": None, "definitions": []}
    if chosen is not None:
        bundle = parse_json(fetch_pinned(base, chosen.get("bundle"), "bundles", LIMITS["bundle"]), "bundle")
        if not isinstance(bundle, dict) or bundle.get("_type") != "rrctl/bundle" or bundle.get("spec_version") != SPEC_VERSION:
            refuse("malformed", "bundle: wrong _type or spec_version")
        if bundle.get("repo") != head["repo"]:
            refuse("repo_or_channel", "bundle is for another repo")
        ids = []
        for d in bundle.get("definitions", []):
            ok = any(in_interval(v, iv.get("from"), iv.get("to"), f"{d.get('id')}.intervals") for iv in d.get("intervals", []))
            percent = d.get("rollout", {}).get("percent")
            if ok and (percent == 100 or (args.cluster_id and bucket(d["id"], args.cluster_id) < percent)):
                ids.append(d["id"])
        result = {"ok": True, "bundle_sha256": chosen["bundle"]["sha256"], "definitions": sorted(ids)}

    state.update({"channel": head["channel"], "head_version": head["version"],
                  "head_payload": base64.b64encode(payload).decode(), "index_version": index["version"],
                  "latest_known_time": max(state["latest_known_time"], now)})
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-url", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--state-dir", required=True)
    p.add_argument("--ocp-version", required=True)
    p.add_argument("--cluster-id")
    p.add_argument("--now", help="the clock, YYYY-MM-DDTHH:MM:SSZ (default: the system clock)")
    args = p.parse_args()
    now = parse_time(args.now, "--now") if args.now else int(time.time())
    with open(args.root, "rb") as f:
        pinned = f.read(LIMITS["root"] + 1)
    try:
        state = load_state(args.state_dir, pinned)
        result = poll(args, state, now)
    except Refused as e:
        print(json.dumps({"ok": False, "reason": e.reason, "message": str(e)}))
        return 1
    except NotFound as e:
        print(json.dumps({"ok": False, "reason": "not_found", "message": str(e)}))
        return 1
    save_state(args.state_dir, state)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
