#!/usr/bin/env python3
"""A minimal reference consumer of the rrctl dist, written from docs/format.md and
docs/signing.md only (no rrctl code), for the conformance suite (conformance/README.md).

One poll: walk the root chain, verify head, index and bundle, select the definitions for this
cluster, print one JSON result line on stdout and commit the state only on success. A refusal
names its class (the table of conformance/README.md) and what stays in force (the last accepted
bundle and definitions).

Python 3.11 standard library plus `cryptography` (Ed25519).

RRCTL_CONFORMANCE_BREAK=threshold|expiry|clock|forget makes it deliberately wrong (any one valid
signature of a role is enough, repeated signatures included / no expiry checks / expiry judged at
the clock even when it went back / a refusal reports nothing in force instead of the last good
bundle), to show that the suite catches such consumers.
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
MAX_DEPTH = 32
MAX_SAFE_INT = 2**53 - 1
ROLES = ("root", "index", "head")
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


# --- Ed25519 points (to refuse weak keys and small-order R) ---------------------------------

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def decode_point(b):
    """The affine point of a 32-byte encoding, or None when it is not on the curve."""
    y = int.from_bytes(b, "little")
    sign, y = y >> 255, (y & ((1 << 255) - 1)) % P
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y)


def add(p, q):
    (x1, y1), (x2, y2) = p, q
    t = D * x1 * x2 * y1 * y2 % P
    return ((x1 * y2 + y1 * x2) * pow(1 + t, P - 2, P) % P, (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P)


def small_order(point):
    q = point
    for _ in range(3):
        q = add(q, q)
    return q == (0, 1)


# --- time and versions -------------------------------------------------------------------

def parse_time(s, what):
    if not isinstance(s, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s):
        refuse("malformed", f"{what}: not YYYY-MM-DDTHH:MM:SSZ: {s!r}")
    try:
        return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        refuse("malformed", f"{what}: not a time: {s!r}")


SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(\+[0-9A-Za-z.-]+)?")


def parse_version(s, what, build_ok=True):
    m = SEMVER.fullmatch(s) if isinstance(s, str) else None
    if not m or (m.group(5) and not build_ok):
        refuse("malformed", f"{what}: not a SemVer version (without build metadata): {s!r}")
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


def bucket(definition_id, cluster_id):
    digest = hashlib.sha256(f"{definition_id}/{cluster_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


# --- strict JSON and objects ------------------------------------------------------------------

def parse_json(data, what):
    """Strict: UTF-8, no duplicate keys, integers only within ±(2^53-1), depth <= 32, no lone
    surrogates, nothing after the value."""
    def no_duplicates(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                refuse("malformed", f"{what}: duplicate key {k!r}")
            d[k] = v
        return d

    def integer(s):
        n = int(s)
        if abs(n) > MAX_SAFE_INT:
            refuse("malformed", f"{what}: integer {s} out of range")
        return n

    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates, parse_int=integer,
                           parse_float=lambda s: refuse("malformed", f"{what}: non-integer number {s}"),
                           parse_constant=lambda s: refuse("malformed", f"{what}: {s}"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        refuse("malformed", f"{what}: not strict JSON: {e}")

    def walk(v, depth):
        if depth > MAX_DEPTH:
            refuse("malformed", f"{what}: nested deeper than {MAX_DEPTH}")
        items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
        for k, x in items:
            for s in (k, x):
                if isinstance(s, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in s):
                    refuse("malformed", f"{what}: lone surrogate")
            if isinstance(x, (dict, list)):
                walk(x, depth + 1)

    if isinstance(value, (dict, list)):
        walk(value, 1)
    return value


def fields(obj, required, what, optional=()):
    """obj must be an object with exactly the required keys (and maybe the optional ones)."""
    if not isinstance(obj, dict):
        refuse("malformed", f"{what}: not an object")
    for k in required:
        if k not in obj:
            refuse("path" if k == "path" else "malformed", f"{what}: missing {k}")
    for k in obj:
        if k not in required and k not in optional:
            refuse("malformed", f"{what}: unknown field {k!r}")
    return obj


def uint(v, what, minimum=0):
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        refuse("malformed", f"{what}: expected an integer >= {minimum}")
    return v


def nonempty(v, what):
    if not isinstance(v, str) or not v or len(v.encode()) > 256 or any(ord(c) < 32 or ord(c) == 127 for c in v):
        refuse("malformed", f"{what}: expected a non-empty string")
    return v


def header(body, type_name, what):
    if body.get("_type") != type_name:
        refuse("malformed", f"{what}: _type is {body.get('_type')!r}")
    if body.get("spec_version") != SPEC_VERSION or isinstance(body.get("spec_version"), bool):
        refuse("spec_version", f"{what}: unsupported spec_version {body.get('spec_version')!r}")


def validity(body, what):
    issued = parse_time(body.get("issued_at"), what + ".issued_at")
    expires = parse_time(body.get("expires"), what + ".expires")
    if expires <= issued:
        refuse("malformed", f"{what}: expires is not after issued_at")
    return expires


def is_sha256(s):
    return isinstance(s, str) and re.fullmatch(r"[0-9a-f]{64}", s) is not None


def check_path(path):
    if not isinstance(path, str) or not path or len(path) > 512:
        refuse("path", f"bad path {path!r}")
    if path.startswith("/") or "\\" in path or "%" in path:
        refuse("path", f"unsafe path {path!r}")
    if any(seg in ("", ".", "..") for seg in path.split("/")) or not re.fullmatch(r"[A-Za-z0-9._/-]+", path):
        refuse("path", f"unsafe path {path!r}")


def file_ref(ref, kind, limit, what, extra=()):
    """{path, sha256, length} (+ extra keys): a path named kind/<sha256>.json within the limit."""
    fields(ref, ("path", "sha256", "length") + tuple(extra), what)
    check_path(ref["path"])
    if not is_sha256(ref["sha256"]):
        refuse("malformed", f"{what}: bad sha256")
    uint(ref["length"], what + ".length")
    if ref["path"] != f"{kind}/{ref['sha256']}.json":
        refuse("path", f"{what}: {ref['path']!r} is not {kind}/<its sha256>.json")
    if ref["length"] > limit:
        refuse("size", f"{what}: pinned length {ref['length']} above the limit {limit}")
    return ref


# --- fetching -----------------------------------------------------------------------------

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


def fetch_pinned(base, ref):
    """A file pinned by {path, sha256, length}: capped at the pinned length, checked before parsing."""
    body = fetch(base, ref["path"], ref["length"])
    if len(body) > ref["length"]:
        refuse("size", f"{ref['path']} is longer than its pinned length {ref['length']}")
    if len(body) != ref["length"] or hashlib.sha256(body).hexdigest() != ref["sha256"]:
        refuse("hash", f"{ref['path']}: length or SHA-256 differs from the pin")
    return body


# --- envelopes, roots, signatures -----------------------------------------------------------

def std_b64(s, what):
    """Standard base64 with padding, exactly (the canonical encoding of the decoded bytes)."""
    try:
        raw = base64.b64decode(s, validate=True) if isinstance(s, str) else None
    except (binascii.Error, ValueError):
        raw = None
    if raw is None or base64.b64encode(raw).decode() != s:
        refuse("malformed", f"{what}: not standard padded base64")
    return raw


def open_envelope(data, role):
    """(payload bytes, payload object, [(keyid, sig bytes)]): the envelope and its payload type."""
    env = parse_json(data, role)
    fields(env, ("payload", "payloadType", "signatures"), role)
    if env["payloadType"] != f"application/vnd.rrctl.{role}+json":
        refuse("role", f"{role}: payloadType is {env['payloadType']!r}")
    payload = std_b64(env["payload"], role + " payload")
    if not isinstance(env["signatures"], list):
        refuse("malformed", f"{role}: signatures is not a list")
    sigs = []
    for s in env["signatures"]:
        fields(s, ("keyid", "sig"), role + " signature")
        if not is_sha256(s["keyid"]):
            refuse("malformed", f"{role}: bad keyid")
        sig = std_b64(s["sig"], role + " signature")
        if len(sig) != 64:
            refuse("malformed", f"{role}: signature of {len(sig)} bytes")
        sigs.append((s["keyid"], sig))
    body = parse_json(payload, role + " payload")
    if not isinstance(body, dict):
        refuse("malformed", f"{role}: payload is not an object")
    if body.get("_type") != f"rrctl/{role}":
        refuse("role", f"{role}: _type {body.get('_type')!r} does not match the payloadType")
    return payload, body, sigs


def parse_root(body, what):
    """A root payload checked by the root rules; returns it with "_keys": {keyid: raw public key}."""
    header(body, "rrctl/root", what)
    fields(body, ("_type", "spec_version", "repo", "version", "issued_at", "expires", "keys", "roles"), what)
    nonempty(body["repo"], what + ".repo")
    uint(body["version"], what + ".version", 1)
    validity(body, what)
    if not isinstance(body["keys"], dict) or not isinstance(body["roles"], dict):
        refuse("malformed", f"{what}: keys and roles must be objects")
    keys = {}
    for keyid, k in body["keys"].items():
        fields(k, ("keytype", "public"), f"{what}.keys.{keyid}")
        if k["keytype"] != "ed25519":
            refuse("signature", f"{what}: key {keyid} has key type {k['keytype']!r}")
        if not isinstance(k["public"], str) or not re.fullmatch(r"[0-9a-f]{64}", k["public"]):
            refuse("malformed", f"{what}: key {keyid}: public is not 64 lower-case hex digits")
        raw = bytes.fromhex(k["public"])
        if decode_point(raw) is None:
            refuse("signature", f"{what}: key {keyid} is not an Ed25519 point")
        keys[keyid] = raw
    for name, spec in body["roles"].items():
        if name not in ROLES:
            refuse("malformed", f"{what}: unknown role {name!r}")
        fields(spec, ("keyids", "threshold"), f"{what}.roles.{name}")
        if not isinstance(spec["keyids"], list) or not all(isinstance(i, str) for i in spec["keyids"]):
            refuse("malformed", f"{what}: roles.{name}.keyids")
        uint(spec["threshold"], f"{what}.roles.{name}.threshold")
    # The rules between fields.
    if len(set(keys.values())) != len(keys):
        refuse("threshold", f"{what}: one public key under two key ids")
    for keyid, raw in keys.items():
        if hashlib.sha256(SPKI_ED25519_PREFIX + raw).hexdigest() != keyid:
            refuse("signature", f"{what}: key id {keyid} is not the hash of its key")
        if small_order(decode_point(raw)):
            refuse("signature", f"{what}: key {keyid} is a weak (small-order) key")
    role_of = {}
    for name in ROLES:
        spec = body["roles"].get(name)
        if spec is None:
            refuse("malformed", f"{what}: missing role {name}")
        for i, keyid in enumerate(spec["keyids"]):
            if keyid not in keys:
                refuse("role", f"{what}: role {name} lists unknown key {keyid}")
            if keyid in spec["keyids"][:i]:
                refuse("threshold", f"{what}: role {name} lists key {keyid} twice")
            if keyid in role_of:
                refuse("role", f"{what}: key {keyid} is in roles {role_of[keyid]} and {name}")
            role_of[keyid] = name
        if spec["threshold"] == 0 or spec["threshold"] > len(spec["keyids"]):
            refuse("threshold", f"{what}: role {name} threshold {spec['threshold']} with {len(spec['keyids'])} keys")
    body["_keys"] = keys
    return body


def verify_sig(raw_key, sig, payload):
    """Strict Ed25519: canonical S, R not of small order, then the signature equation."""
    r = decode_point(sig[:32])
    if int.from_bytes(sig[32:], "little") >= L or r is None or small_order(r):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(sig, payload)
        return True
    except (InvalidSignature, ValueError):
        return False


def check_signatures(root, role, payload, sigs, what):
    """Distinct valid signatures by the role's keys, at least its threshold. A signature by a key
    of the role that does not verify is refused; a key id signing twice is refused."""
    spec = root["roles"][role]
    keys = root["_keys"]
    seen, good, not_in_role = set(), set(), []
    for keyid, sig in sigs:
        if keyid in seen and BREAK != "threshold":
            refuse("threshold", f"{what}: two signatures by key {keyid}")
        seen.add(keyid)
        if keyid not in spec["keyids"] or keyid not in keys:
            not_in_role.append(keyid)
            continue
        if not verify_sig(keys[keyid], sig, payload):
            refuse("signature", f"{what}: the signature by {role} key {keyid} does not verify")
        good.add(keys[keyid])
    threshold = 1 if BREAK == "threshold" else spec["threshold"]
    if len(good) < threshold:
        if not good and not_in_role:
            refuse("role", f"{what}: signed only by keys outside the {role} role: {not_in_role}")
        refuse("threshold", f"{what}: {len(good)} valid {role} signature(s), threshold {threshold}")


def check_fresh(expires, now, what):
    if BREAK == "expiry":
        return
    if now >= expires:
        refuse("expired", f"{what} expired")


# --- payloads ---------------------------------------------------------------------------------

def parse_head(body):
    what = "head.json"
    header(body, "rrctl/head", what)
    fields(body, ("_type", "spec_version", "repo", "channel", "version", "issued_at", "expires", "root_version",
                  "index"), what)
    nonempty(body["repo"], what + ".repo")
    nonempty(body["channel"], what + ".channel")
    uint(body["version"], what + ".version", 1)
    body["_expires"] = validity(body, what)
    uint(body["root_version"], what + ".root_version", 1)
    file_ref(body["index"], "index", LIMITS["index"], what + ".index", extra=("version",))
    uint(body["index"]["version"], what + ".index.version", 1)
    return body


def parse_index(body, what):
    header(body, "rrctl/index", what)
    fields(body, ("_type", "spec_version", "repo", "channel", "version", "issued_at", "expires", "ranges",
                  "source"), what)
    nonempty(body["repo"], what + ".repo")
    nonempty(body["channel"], what + ".channel")
    uint(body["version"], what + ".version", 1)
    body["_expires"] = validity(body, what)
    if not isinstance(body["ranges"], list):
        refuse("malformed", f"{what}: ranges is not an array")
    ranges, prev_to, prev = [], None, False
    for n, r in enumerate(body["ranges"]):
        rw = f"{what}.ranges[{n}]"
        fields(r, ("from", "to", "bundle"), rw)
        lo = parse_version(r["from"], rw + ".from")
        hi = None if r["to"] is None else parse_version(r["to"], rw + ".to")
        file_ref(r["bundle"], "bundles", LIMITS["bundle"], rw + ".bundle")
        if hi is not None and cmp_version(lo, hi) >= 0:
            refuse("malformed", f"{rw}: from is not below to")
        if prev:
            if prev_to is None:
                refuse("malformed", f"{rw} follows an unbounded range")
            if cmp_version(prev_to, lo) > 0:
                refuse("malformed", f"{rw} overlaps the previous range")
        ranges.append((lo, hi, r["bundle"]))
        prev_to, prev = hi, True
    src = fields(body["source"], ("git_commit", "rrctl_version"), what + ".source")
    if src["git_commit"] is not None and not isinstance(src["git_commit"], str):
        refuse("malformed", f"{what}: source.git_commit")
    if not isinstance(src["rrctl_version"], str):
        refuse("malformed", f"{what}: source.rrctl_version")
    body["_ranges"] = ranges
    return body


def parse_bundle(body, what):
    """Bundle: header, repo, and each definition's id, normalised intervals and rollout."""
    if not isinstance(body, dict):
        refuse("malformed", f"{what}: not an object")
    header(body, "rrctl/bundle", what)
    fields(body, ("_type", "spec_version", "repo", "definitions"), what)
    nonempty(body["repo"], what + ".repo")
    if not isinstance(body["definitions"], list):
        refuse("malformed", f"{what}: definitions is not an array")
    entries, prev_id = [], None
    for n, d in enumerate(body["definitions"]):
        dw = f"{what}.definitions[{n}]"
        if not isinstance(d, dict):
            refuse("malformed", f"{dw}: not an object")
        did = d.get("id")
        if not isinstance(did, str) or not did or len(did) > 253 or any(ord(c) < 32 or ord(c) == 127 for c in did):
            refuse("malformed", f"{dw}.id")
        ivs = d.get("intervals")
        if not isinstance(ivs, list) or not 1 <= len(ivs) <= 256:
            refuse("malformed", f"{dw}.intervals: expected 1 to 256 intervals")
        intervals = []
        for k, iv in enumerate(ivs):
            iw = f"{dw}.intervals[{k}]"
            fields(iv, ("from", "to"), iw)
            lo = parse_version(iv["from"], iw + ".from", build_ok=False)
            hi = None if iv["to"] is None else parse_version(iv["to"], iw + ".to", build_ok=False)
            if hi is not None and cmp_version(lo, hi) >= 0:
                refuse("malformed", f"{iw}: from is not below to")
            if intervals:
                pt = intervals[-1][1]
                if pt is None:
                    refuse("malformed", f"{iw}: follows an unbounded interval")
                if cmp_version(pt, lo) >= 0:
                    refuse("malformed", f"{iw}: does not lie above the previous interval")
            intervals.append((lo, hi))
        if "rollout" not in d:
            refuse("malformed", f"{dw}.rollout: missing")
        percent = uint(fields(d["rollout"], ("percent",), dw + ".rollout")["percent"], dw + ".rollout.percent")
        if not 1 <= percent <= 100:
            refuse("malformed", f"{dw}.rollout.percent: {percent} is not between 1 and 100")
        if prev_id is not None and did <= prev_id:
            refuse("malformed", f"{dw}.id: not sorted or not unique")
        prev_id = did
        entries.append((did, intervals, percent))
    return entries


def contains(lo, hi, v):
    return cmp_version(lo, v) <= 0 and (hi is None or cmp_version(v, hi) < 0)


# --- one poll -----------------------------------------------------------------------------

def pinned_state(pinned_root):
    payload, body, sigs = open_envelope(pinned_root, "root")
    root = parse_root(body, "pinned root")
    check_signatures(root, "root", payload, sigs, "pinned root")
    return {"root": base64.b64encode(pinned_root).decode(), "channel": None, "head_version": None,
            "head_payload": None, "index_version": None, "latest_known_time": 0,
            "in_force": {"bundle_sha256": None, "definitions": []}}


def poll(args, state, now):
    base = args.base_url
    _, body, _ = open_envelope(base64.b64decode(state["root"]), "root")
    root = parse_root(body, "stored root")
    # 1. Roots: root/N+1.json until 404, each of version N+1 and the same repo, valid, signed by
    #    the previous root's root role and by its own.
    while True:
        n = root["version"] + 1
        what = f"root/{n}.json"
        try:
            data = fetch_capped(base, what, LIMITS["root"], what)
        except NotFound:
            break
        payload, body, sigs = open_envelope(data, "root")
        header(body, "rrctl/root", what)
        if body.get("version") != n:
            refuse("rollback", f"{what} has version {body.get('version')!r}")
        if body.get("repo") != root["repo"]:
            refuse("repo_or_channel", f"{what} is for repo {body.get('repo')!r}")
        new = parse_root(body, what)
        check_signatures(root, "root", payload, sigs, f"{what} (previous root's keys)")
        check_signatures(new, "root", payload, sigs, f"{what} (its own keys)")
        root = new
        state["root"] = base64.b64encode(data).decode()
    effective = now if BREAK == "clock" else max(now, state["latest_known_time"] - CLOCK_TOLERANCE)
    check_fresh(parse_time(root["expires"], "root.expires"), effective, f"root {root['version']}")

    # 2. Head.
    payload, body, sigs = open_envelope(fetch_capped(base, "head.json", LIMITS["head"], "head.json"), "head")
    check_signatures(root, "head", payload, sigs, "head.json")
    head = parse_head(body)
    if head["repo"] != root["repo"]:
        refuse("repo_or_channel", f"head is for repo {head['repo']!r}")
    channel = args.channel or state["channel"]
    if channel is not None and head["channel"] != channel:
        refuse("repo_or_channel", f"head is for channel {head['channel']!r}, expected {channel!r}")
    if head["root_version"] > root["version"]:
        refuse("signature", "head names a root newer than any verified")
    if state["head_version"] is not None:
        if head["version"] < state["head_version"]:
            refuse("rollback", f"head version {head['version']} is below {state['head_version']}")
        if head["version"] == state["head_version"] and base64.b64encode(payload).decode() != state["head_payload"]:
            refuse("equivocation", f"head version {head['version']} with other bytes")
    check_fresh(head["_expires"], effective, "head")

    # 3. Index.
    pin = head["index"]
    if state["index_version"] is not None and pin["version"] < state["index_version"]:
        refuse("rollback", f"head pins index version {pin['version']}, below {state['index_version']}")
    ipayload, body, isigs = open_envelope(fetch_pinned(base, pin), "index")
    check_signatures(root, "index", ipayload, isigs, pin["path"])
    index = parse_index(body, pin["path"])
    if index["repo"] != head["repo"] or index["channel"] != head["channel"]:
        refuse("repo_or_channel", "index repo or channel differs from the head's")
    if index["version"] != pin["version"]:
        refuse("hash", "index version differs from the head's pin")
    if state["index_version"] is not None and index["version"] < state["index_version"]:
        refuse("rollback", f"index version {index['version']} is below {state['index_version']}")
    check_fresh(index["_expires"], effective, "index")

    # 4. Selection: the index range, then the bundle, then intervals and rollout.
    v = parse_version(args.ocp_version, "--ocp-version")
    chosen = next((ref for lo, hi, ref in index["_ranges"] if contains(lo, hi, v)), None)
    result = {"ok": True, "bundle_sha256": None, "definitions": []}
    if chosen is not None:
        raw = parse_json(fetch_pinned(base, chosen), chosen["path"])
        entries = parse_bundle(raw, chosen["path"])
        if raw["repo"] != head["repo"]:
            refuse("repo_or_channel", "bundle is for another repo")
        ids = []
        for did, intervals, percent in entries:
            if any(contains(lo, hi, v) for lo, hi in intervals):
                if percent == 100 or (args.cluster_id and bucket(did, args.cluster_id) < percent):
                    ids.append(did)
        result = {"ok": True, "bundle_sha256": chosen["sha256"], "definitions": sorted(ids)}

    state.update({"channel": head["channel"], "head_version": head["version"],
                  "head_payload": base64.b64encode(payload).decode(), "index_version": index["version"],
                  "latest_known_time": max(state["latest_known_time"], now),
                  "in_force": {"bundle_sha256": result["bundle_sha256"], "definitions": result["definitions"]}})
    return result


def load_state(state_dir):
    path = os.path.join(state_dir, "state.json")
    if os.path.exists(path):
        with open(path, "rb") as f:
            return json.loads(f.read(64 * 1024 * 1024))
    return None


def save_state(state_dir, state):
    os.makedirs(state_dir, exist_ok=True)
    tmp = os.path.join(state_dir, "state.json.tmp")
    with open(tmp, "w") as f:
        json.dump(state, f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(state_dir, "state.json"))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-url", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--state-dir", required=True)
    p.add_argument("--ocp-version", required=True)
    p.add_argument("--cluster-id")
    p.add_argument("--channel", help="the channel to expect (default: the first head's, which then sticks)")
    p.add_argument("--now", help="the clock, YYYY-MM-DDTHH:MM:SSZ (default: the system clock)")
    args = p.parse_args()
    now = parse_time(args.now, "--now") if args.now else int(time.time())
    with open(args.root, "rb") as f:
        pinned = f.read(LIMITS["root"] + 1)
    stored = load_state(args.state_dir)
    in_force = stored["in_force"] if stored and BREAK != "forget" else {"bundle_sha256": None, "definitions": []}
    try:
        state = stored if stored else pinned_state(pinned)
        result = poll(args, state, now)
    except (Refused, NotFound) as e:
        reason = e.reason if isinstance(e, Refused) else "not_found"
        print(json.dumps({"ok": False, "reason": reason, "message": str(e), **in_force}))
        return 1
    save_state(args.state_dir, state)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
