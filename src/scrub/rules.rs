//! The built-in rules of the scrubber, each written from the public description of the format it
//! finds (cited beside it). A rule is a regular expression over bytes (ASCII only, so the lazy
//! DFA never gives up on other bytes); when it has capture groups, the first group that took
//! part in a match is what is replaced (the key or the `Bearer ` before it stays), otherwise the
//! whole match is.

/// One rule: the kind named in the marker, and its pattern.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    pub kind: String,
    pub pattern: String,
}

/// Key names (lower case, without `_`, `-`, `.`) whose values are credentials, matched as the
/// end of a key: `db_password`, `clientSecret`, `AWS_SECRET_ACCESS_KEY`, `auth_token`.
pub const SECRET_KEY_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "accountkey",
    "credential",
    "credentials",
    "authorization",
];

/// Key names that are credentials only when they are the whole key (`auth` of a
/// `.dockerconfigjson` entry; `pwd`).
pub const SECRET_KEYS_EXACT: &[&str] = &["auth", "pwd"];

/// The same keywords as a regex alternation for keys in text (`_`/`-` optional where the
/// normalised form drops them).
const KEY_WORDS: &str = r"(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key|account[_-]?key|credentials?|authorization|pwd)";

/// A value after `=` or `:`: double-quoted (also `\"`-escaped inside JSON text), single-quoted,
/// or bare up to a space or separator. Markers (`<REDACTED:…>`) never match again.
const VALUE: &str = r#"(?:\\"([^"\\\n]*)\\"|"([^"\n]*)"|'([^'\n]*)'|([^\s"'<>,;&}\]\\]+))"#;

/// `Authorization:` or `authorization=` (a header in text, JSON or YAML), up to the scheme.
const AUTHORIZATION: &str = r#"(?i:authorization)["']?[ \t]*[:=][ \t]*["']?"#;

/// Whether `key` names a credential (JSON, YAML keys).
pub fn is_secret_key(key: &str) -> bool {
    let norm: String = key.chars().filter(|c| !matches!(c, '_' | '-' | '.')).flat_map(char::to_lowercase).collect();
    SECRET_KEYS_EXACT.contains(&norm.as_str()) || SECRET_KEY_SUFFIXES.iter().any(|s| norm.ends_with(s))
}

/// A command-line flag whose next argument is a credential (`--password`, `-token`).
pub fn is_secret_flag(arg: &str) -> bool {
    let Some(name) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else { return false };
    !name.is_empty() && !name.contains('=') && is_secret_key(name)
}

fn rule(kind: &str, pattern: &str) -> Rule {
    Rule { kind: kind.to_string(), pattern: pattern.to_string() }
}

/// Every built-in rule, in priority order (at one position the first rule listed wins).
pub fn builtin() -> Vec<Rule> {
    vec![
        // RFC 7468 section 2 and 10: "-----BEGIN <label>-----", base64 lines, "-----END
        // <label>-----"; private keys have labels "PRIVATE KEY", "ENCRYPTED PRIVATE KEY" and the
        // legacy "RSA/EC/DSA/OPENSSH PRIVATE KEY". RFC 1421 headers (Proc-Type, DEK-Info) may
        // precede the base64. Without an END line (a cut log), everything base64-like after the
        // header goes.
        rule(
            "private-key",
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?s:.)*?-----END[A-Z0-9 ]*PRIVATE KEY-----|-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?:[A-Za-z0-9+/=:, \t\r\n-]|\\n)*",
        ),
        // RFC 3986 section 3.2.1: `scheme "://" userinfo "@" host`; userinfo is
        // `user[:password]` ("Use of the format user:password in the userinfo field is
        // deprecated", but it is what leaks). The `@` goes too: `://<REDACTED:x>@` would read
        // as `user:password@` again to the next scanner.
        rule("url-userinfo", r#"\b[A-Za-z][A-Za-z0-9+.-]*://([^\s/?#@"'<>\[\]{}]+@)"#),
        // RFC 7617 section 2: `Authorization: Basic <base64(user-id ":" password)>`.
        rule("basic-auth", &format!(r"{AUTHORIZATION}(?i:basic)[ \t]+([A-Za-z0-9+/]+={{0,2}})")),
        // RFC 6750 section 2.1: `Bearer 1*SP b64token`, b64token = 1*( ALPHA / DIGIT / "-" /
        // "." / "_" / "~" / "+" / "/" ) *"=". At least 16 characters, so that the word
        // "bearer" in prose keeps the word after it.
        rule("bearer-token", &format!(r"{AUTHORIZATION}(?i:bearer)[ \t]+([A-Za-z0-9._~+/-]+=*)")),
        rule("bearer-token", r"\b(?i:bearer)[ \t]+([A-Za-z0-9._~+/-]{16,}=*)"),
        // RFC 9110 section 11.6.2: `Authorization: <scheme> <credentials>`, any other scheme.
        rule("credential-field", &format!(r#"{AUTHORIZATION}(?:[A-Za-z-]+[ \t]+)?([^\s"'<>,;]+)"#)),
        // AWS IAM User Guide, "Unique identifiers" (reference_identifiers.html#identifiers-unique-ids):
        // 4-character prefixes ABIA (STS service bearer token), ACCA (context-specific
        // credential), AKIA (access key), ASIA (temporary access key); access key IDs are 20
        // upper-case alphanumeric characters.
        rule("aws-access-key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
        // GitHub docs "About authentication to GitHub", GitHub's token formats: prefixes ghp_
        // (personal), gho_ (OAuth), ghu_ (user-to-server), ghs_ (server-to-server), ghr_
        // (refresh) then 36 base62 characters; fine-grained personal tokens start `github_pat_`.
        rule("github-token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,244})\b"),
        // GitLab docs "Token prefixes": personal access tokens start `glpat-`, then 20 characters.
        rule("gitlab-token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
        // Slack API docs "Token types": bot `xoxb-`, user `xoxp-`, app-level `xapp-`, workspace
        // `xoxa-`, refresh `xoxr-`, legacy `xoxs-`/`xoxo-`.
        rule("slack-token", r"\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,}"),
        // Slack API docs "Sending messages using incoming webhooks":
        // https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX
        rule("slack-webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]+"),
        // Google Cloud docs "Manage API keys": keys are 39 characters starting `AIza`.
        rule("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}"),
        // Stripe docs "API keys": secret keys `sk_live_`/`sk_test_`, restricted keys `rk_live_`.
        rule("stripe-key", r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}"),
        // npm docs "About access tokens": granular/automation tokens are `npm_` + 36 characters.
        rule("npm-token", r"\bnpm_[A-Za-z0-9]{36}\b"),
        // OpenShift 4.6 release notes / oauth-server: OAuth access and authorize tokens are
        // `sha256~` followed by the unpadded base64url of 32 random bytes (43 characters).
        rule("openshift-token", r"\bsha256~[A-Za-z0-9_-]{20,}"),
        // Kubernetes docs "Pull an image from a private registry": a `.dockerconfigjson` is
        // `{"auths": {...}}`; base64 of `{"auths"` starts `eyJhdXRocyI`, of the pretty-printed
        // `{\n  "auths"` starts `ewogICJhdXRocyI`.
        rule("pull-secret", r"\b(?:eyJhdXRocyI|ewogICJhdXRocyI)[A-Za-z0-9+/=]*"),
        // RFC 7519 section 3 and RFC 7515 section 7.1: a JWT in compact serialisation is
        // BASE64URL(header) "." BASE64URL(claims) "." BASE64URL(signature); header and claims
        // are JSON objects, so both start `eyJ` (base64url of `{"`). The signature may be empty
        // (RFC 7519 section 6, unsecured JWTs).
        rule("jwt", r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
        // Structural: `key=value` (k=v logs, INI, env files, query strings, `--flag=value`) with
        // a key that ends in a credential word.
        rule("credential-field", &format!(r#"(?i:[A-Za-z0-9_.-]*{KEY_WORDS})["']?[ \t]*=[ \t]*{VALUE}"#)),
        // Structural: a quoted key and `:` (JSON or YAML inside text, also `\"`-escaped).
        rule("credential-field", &format!(r#"["'](?i:[A-Za-z0-9_.-]*{KEY_WORDS})\\?["'][ \t]*:[ \t]*{VALUE}"#)),
        // Structural: a YAML-like `key: value` at the start of a line.
        rule(
            "credential-field",
            &format!(r#"(?m:^)[ \t]*(?:-[ \t]+)?(?i:[A-Za-z0-9_.-]*{KEY_WORDS})[ \t]*:[ \t]+{VALUE}"#),
        ),
        // Structural: `--password value` on a command line in text.
        rule(
            "credential-arg",
            &format!(r#"(?:^|[\s"'])--?(?i:[A-Za-z0-9_.-]*{KEY_WORDS})[ \t]+([^\s"'<>-][^\s"'<>]*)"#),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::Scrubber;

    /// Scrub `text` with the defaults; the output and the kinds counted.
    fn scrub(text: &str) -> (String, Vec<String>) {
        let s = Scrubber::default();
        let mut counts = super::super::Counts::default();
        let out = s.scrub_text(text.as_bytes(), &mut counts);
        (String::from_utf8(out).unwrap(), counts.0.keys().cloned().collect())
    }

    fn redacted(text: &str, kind: &str) {
        let (out, kinds) = scrub(text);
        assert!(out.contains(&format!("<REDACTED:{kind}>")), "{text:?} -> {out:?} ({kinds:?})");
    }

    fn kept(text: &str) {
        let (out, _) = scrub(text);
        assert_eq!(out, text);
    }

    #[test]
    fn aws_access_keys_from_the_iam_prefix_table() {
        // The IAM guide's own example key id.
        redacted("aws_access_key_id AKIAIOSFODNN7EXAMPLE in use", "aws-access-key");
        redacted("ASIAY34FZKBOKMUTVV7A", "aws-access-key");
        // 19 characters, a user id prefix (AIDA is not a credential), lower case: not keys.
        kept("AKIAIOSFODNN7EXAMPL end");
        kept("AIDAJQABLZS4A3QDU576Q");
        kept("akiaiosfodnn7example");
    }

    #[test]
    fn github_tokens_by_prefix_and_length() {
        redacted(&format!("ghp_{}", "a1B2".repeat(9)), "github-token");
        redacted(&format!("x ghs_{} y", "Z9".repeat(18)), "github-token");
        redacted(&format!("github_pat_11ABCDEFG0{}", "x_Y".repeat(20)), "github-token");
        // 35 characters after the prefix: too short; an unknown prefix.
        kept(&format!("ghp_{}", "a".repeat(35)));
        kept(&format!("ghx_{}", "a".repeat(36)));
    }

    #[test]
    fn jwts_are_three_base64url_parts_starting_with_json_objects() {
        // RFC 7519 section 3.1's example.
        let jwt = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let (out, _) = scrub(&format!("token is {jwt} ok"));
        assert_eq!(out, "token is <REDACTED:jwt> ok");
        // Unsecured JWT (section 6.1): empty signature.
        redacted("eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UifQ.", "jwt");
        kept("eyJhbGciOiJub25lIn0 alone");
    }

    #[test]
    fn pem_private_keys_with_and_without_end() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----";
        let (out, _) = scrub(&format!("key:\n{pem}\nafter"));
        assert_eq!(out, "key:\n<REDACTED:private-key>\nafter");
        redacted("-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "private-key");
        redacted("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA", "private-key");
        // A certificate is public.
        kept("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----");
    }

    #[test]
    fn slack_webhooks_and_tokens() {
        redacted(
            "posting to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX failed",
            "slack-webhook",
        );
        redacted("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "slack-token");
        kept("https://slack.com/help");
    }

    #[test]
    fn bearer_and_basic_authorization() {
        let (out, _) = scrub("Authorization: Bearer abcdef0123456789.ABCDEF_xyz~+/==");
        assert_eq!(out, "Authorization: Bearer <REDACTED:bearer-token>");
        let (out, _) = scrub("-H 'Authorization: Basic dXNlcjpwYXNzd29yZA=='");
        assert_eq!(out, "-H 'Authorization: Basic <REDACTED:basic-auth>'");
        let (out, _) = scrub("Authorization: Bearer short\nauthorization=Negotiate YIIabc");
        assert_eq!(
            out,
            "Authorization: Bearer <REDACTED:bearer-token>\nauthorization=Negotiate <REDACTED:credential-field>"
        );
        // Prose keeps its words.
        kept("the bearer token expired; basic authentication failed");
    }

    #[test]
    fn openshift_tokens_and_pull_secrets() {
        redacted("oc login --token=sha256~AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd", "credential-field");
        redacted("using sha256~AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd now", "openshift-token");
        // base64 of {"auths":{"quay.io":{"auth":"dXNlcjpwYXNz"}}}
        redacted("eyJhdXRocyI6eyJxdWF5LmlvIjp7ImF1dGgiOiJkWE5sY2pwd1lYTnoifX19", "pull-secret");
        // A sha256 digest is not a token.
        kept("image@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    }

    #[test]
    fn url_userinfo_goes_and_the_host_stays() {
        let (out, _) = scrub("proxy https://admin:s3cr3t@proxy.example.com:3128/ down");
        assert_eq!(out, "proxy https://<REDACTED:url-userinfo>proxy.example.com:3128/ down");
        kept("see https://example.com/a@b");
    }

    #[test]
    fn key_value_forms() {
        for (text, expected) in [
            ("level=info password=hunter2 user=x", "level=info password=<REDACTED:credential-field> user=x"),
            ("--db-password=hunter2", "--db-password=<REDACTED:credential-field>"),
            ("client_secret = abc123", "client_secret = <REDACTED:credential-field>"),
            (r#"{"apiKey": "abc123", "n": 1}"#, r#"{"apiKey": "<REDACTED:credential-field>", "n": 1}"#),
            (r#"msg="{\"token\":\"abc123\"}""#, r#"msg="{\"token\":\"<REDACTED:credential-field>\"}""#),
            ("  password: hunter2\n", "  password: <REDACTED:credential-field>\n"),
            ("run --token abc123 now", "run --token <REDACTED:credential-arg> now"),
            ("GET /x?access_token=abc&y=1", "GET /x?access_token=<REDACTED:credential-field>&y=1"),
        ] {
            assert_eq!(scrub(text).0, expected, "{text}");
        }
        // Keys that only contain a keyword, and prose with a colon after one.
        kept("secretName=router-certs tokens=5 max_tokens=9");
        kept("E1206 failed to refresh token: context deadline exceeded");
    }

    #[test]
    fn key_names() {
        for k in ["password", "db_password", "clientSecret", "AWS_SECRET_ACCESS_KEY", "auth", "x-api-key", "token"] {
            assert!(super::is_secret_key(k), "{k}");
        }
        for k in ["secretName", "tokenExpiry", "authors", "name", "serviceAccountName", "passwordRef"] {
            assert!(!super::is_secret_key(k), "{k}");
        }
        assert!(super::is_secret_flag("--password"));
        assert!(!super::is_secret_flag("--password=x"));
        assert!(!super::is_secret_flag("password"));
    }
}
