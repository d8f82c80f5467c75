//! `rrctl key`, `rrctl root`, `rrctl head`, `rrctl verify`.
//!
//! Root management is offline and file based: a *draft* is an unsigned root payload (canonical
//! JSON) edited with `root init`/`add-key`/`remove-key`/`set-threshold`; `root sign` turns it
//! into a signed envelope or adds a signature to one, `root merge` joins signatures made on
//! separate copies, `root check` verifies the thresholds (and a rotation with `--prev`).
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::cli::GlobalOpts;
use rrctl::exit;
use rrctl::trust::keys::{self, PrivateKey};
use rrctl::trust::payload::{self, Envelope, Limits, Role, RootPayload, format_time, parse_time};
use rrctl::trust::sign;
use rrctl::trust::transport::{DirFetcher, Fetcher, HttpFetcher, HttpLimits};
use rrctl::trust::verify::{self, ClientState, Expect, TrustedRoot, VerifyOptions};
use rrctl::trust::{KeySource, VerifyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    Root,
    Index,
    Head,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Root => Role::Root,
            RoleArg::Index => Role::Index,
            RoleArg::Head => Role::Head,
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Generate an Ed25519 key: FILE (PKCS#8 PEM, mode 0600, as `openssl genpkey -algorithm
    /// ed25519` writes) and FILE.pub (SPKI PEM); prints the key id.
    Generate {
        /// The role the key is meant for (informational; roles are assigned in the root).
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Private key file to create (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the key id (SHA-256 of the SubjectPublicKeyInfo DER) of a public or private key PEM.
    Id { file: PathBuf },
}

#[derive(Debug, clap::Subcommand)]
pub enum RootCommand {
    /// Create a root draft (unsigned payload): version 1, or the next version of --from.
    Init(RootInitArgs),
    /// Add a public key to a role of a draft.
    AddKey {
        draft: PathBuf,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Public (or private) key PEM file.
        key: PathBuf,
    },
    /// Remove a key (by key id) from a draft.
    RemoveKey { draft: PathBuf, keyid: String },
    /// Set the threshold of a role of a draft.
    SetThreshold {
        draft: PathBuf,
        #[arg(long, value_enum)]
        role: RoleArg,
        threshold: u64,
    },
    /// Sign a draft or a signed root with one key. From a draft, writes (or adds to) the envelope
    /// at --out; from an envelope, adds the signature in place (or writes --out).
    Sign {
        /// Draft or signed root.
        file: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Merge the signatures of copies of one signed root into --out.
    Merge {
        #[arg(long)]
        out: PathBuf,
        /// The previous root, whose keys may have signed this one (a rotation); without it only
        /// signatures by this root's own keys are accepted.
        #[arg(long)]
        prev: Option<PathBuf>,
        #[arg(required = true, num_args = 1..)]
        inputs: Vec<PathBuf>,
    },
    /// Check a signed root: valid, signed by a threshold of its own root keys and, with --prev,
    /// a valid rotation from the previous root (threshold of the old root keys too).
    Check {
        file: PathBuf,
        #[arg(long)]
        prev: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct RootInitArgs {
    /// Draft file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// The content repository's stable id (required without --from).
    #[arg(long)]
    pub repo: Option<String>,
    /// Start from a signed root/<N>.json: keys, roles and thresholds are copied, version N+1.
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Public key PEM files of the root role (repeatable).
    #[arg(long = "root-key")]
    pub root_keys: Vec<PathBuf>,
    /// Public key PEM files of the index role (repeatable).
    #[arg(long = "index-key")]
    pub index_keys: Vec<PathBuf>,
    /// Public key PEM files of the head role (repeatable).
    #[arg(long = "head-key")]
    pub head_keys: Vec<PathBuf>,
    /// Threshold of a role, as ROLE=N (default 1 each, or copied by --from).
    #[arg(long = "threshold", value_name = "ROLE=N")]
    pub thresholds: Vec<String>,
    /// Validity from issue.
    #[arg(long, default_value = "365d")]
    pub expires_in: String,
    /// Issue time (RFC 3339 UTC); default now.
    #[arg(long)]
    pub issued_at: Option<String>,
    /// Overwrite an existing draft.
    #[arg(long)]
    pub force: bool,
}

/// A private key from a file or an environment variable.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct KeyArgs {
    /// Private key PEM file.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Environment variable holding the private key PEM (for CI secrets).
    #[arg(long)]
    pub key_env: Option<String>,
}

impl KeyArgs {
    fn source(&self) -> KeySource {
        match (&self.key, &self.key_env) {
            (Some(p), _) => KeySource::File(p.clone()),
            (None, Some(v)) => KeySource::Env(v.clone()),
            (None, None) => KeySource::Env(String::new()),
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum HeadCommand {
    /// Re-sign DIST/head.json with a fresh expiry and the head key, without rebuilding content.
    Sign {
        /// The dist directory (holding head.json, root/ and index/).
        #[arg(long)]
        dist: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        /// Validity of the new head; refused below 3 × --poll-interval.
        #[arg(long, default_value = "24h")]
        expires_in: String,
        /// The clients' poll interval.
        #[arg(long, default_value = "2h")]
        poll_interval: String,
        /// Issue time (RFC 3339 UTC); default now.
        #[arg(long, conflicts_with = "now")]
        issued_at: Option<String>,
        /// Issue now (the default).
        #[arg(long)]
        now: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// A dist directory or an http(s):// base URL.
    pub target: String,
    /// The pinned root (a signed root/<N>.json); newer roots are reached by rotation.
    #[arg(long)]
    pub root: PathBuf,
    /// Also select and verify the bundle of this OpenShift version (repeatable), and say which of
    /// its definitions apply (their intervals and rollout).
    #[arg(long = "ocp-version")]
    pub ocp_versions: Vec<String>,
    /// The cluster's id (ClusterVersion spec.clusterID), to decide staged rollouts for --ocp-version.
    #[arg(long, requires = "ocp_versions")]
    pub cluster_id: Option<String>,
    /// Expected channel (default: whatever the head says).
    #[arg(long)]
    pub channel: Option<String>,
    /// Expected repo (default: the root's).
    #[arg(long)]
    pub repo: Option<String>,
    /// Output format of the summary (json: one object with `ok`, and `error` on failure).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Judge expiry at this time (RFC 3339 UTC) instead of now.
    #[arg(long)]
    pub now: Option<String>,
    /// Client state file: read if present (rollback and equivocation checks against the last
    /// run), written atomically after success.
    #[arg(long)]
    pub state: Option<PathBuf>,
}

use rrctl::clock::now_unix;

fn time_arg(s: Option<&str>) -> anyhow::Result<i64> {
    match s {
        None => Ok(now_unix()),
        Some(s) => parse_time(s).with_context(|| format!("{s:?} is not an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SSZ")),
    }
}

/// Write a file that is meant to be published or shared (mode 0644, atomically).
fn write_public(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    rrctl::fsutil::write_atomic(path, bytes)?;
    Ok(())
}

fn read(path: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    Ok(rrctl::fsutil::read_bounded(path, limit)?)
}

pub fn run_key(c: KeyCommand, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    match c {
        KeyCommand::Generate { role, out } => {
            let key = PrivateKey::generate()?;
            let pub_path = PathBuf::from(format!("{}.pub", out.display()));
            if pub_path.exists() {
                bail!("{}: already exists; refusing to overwrite", pub_path.display());
            }
            keys::write_private(&out, &key)?;
            write_public(&pub_path, keys::public_pem(&key.public()).as_bytes())?;
            eoutln!("wrote {} ({} private key, mode 0600) and {}", out.display(), Role::from(role), pub_path.display());
            writeln!(crate::cli::stdout(), "{}", key.keyid())?;
        }
        KeyCommand::Id { file } => {
            writeln!(crate::cli::stdout(), "{}", keys::keyid(&keys::load_public(&file)?))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_draft(path: &Path) -> anyhow::Result<RootPayload> {
    let bytes = read(path, Limits::default().root)?;
    let what = path.display().to_string();
    let value = rrctl::trust::strict::parse(&bytes).map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    if value.get("payloadType").is_some() {
        bail!("{what} is a signed root, not a draft; start a new draft with `rrctl root init --from {what}`");
    }
    Ok(RootPayload::from_value(&value, &what)?)
}

fn write_draft(path: &Path, root: &RootPayload) -> anyhow::Result<()> {
    write_public(path, &root.to_bytes())?;
    if let Err(e) = root.validate("draft") {
        eoutln!("note: the draft is not valid yet: {e}");
    }
    Ok(())
}

fn read_signed_root(path: &Path) -> anyhow::Result<(Envelope, RootPayload)> {
    let bytes = read(path, Limits::default().root)?;
    let what = path.display().to_string();
    let (env, value) = payload::open(&bytes, Role::Root, &what)?;
    Ok((env, RootPayload::from_value(&value, &what)?))
}

fn parse_threshold(s: &str) -> anyhow::Result<(Role, u64)> {
    let (r, n) = s.split_once('=').with_context(|| format!("--threshold {s:?}: expected ROLE=N"))?;
    let role = Role::parse(r).with_context(|| format!("--threshold {s:?}: unknown role {r:?}"))?;
    Ok((role, n.parse().with_context(|| format!("--threshold {s:?}: {n:?} is not a number"))?))
}

fn add_key(root: &mut RootPayload, role: Role, path: &Path) -> anyhow::Result<String> {
    let key = keys::load_public(path)?;
    let id = keys::keyid(&key);
    if let Some(existing) = root.role_of(&id) {
        bail!("key {id} ({}) is already in role {existing}; a key serves one role", path.display());
    }
    root.keys.insert(id.clone(), key);
    root.roles.entry(role).or_insert(payload::RoleKeys { keyids: vec![], threshold: 1 }).keyids.push(id.clone());
    Ok(id)
}

fn summarize_root(root: &RootPayload) -> String {
    let mut s = format!(
        "root version {} for repo {:?}, issued {}, expires {}",
        root.version,
        root.repo,
        format_time(root.issued_at),
        format_time(root.expires)
    );
    for (role, spec) in &root.roles {
        s.push_str(&format!("\n  {role}: threshold {} of {}", spec.threshold, spec.keyids.len()));
        for id in &spec.keyids {
            s.push_str(&format!("\n    {id}"));
        }
    }
    s
}

pub fn run_root(c: RootCommand, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    match c {
        RootCommand::Init(a) => {
            if a.out.exists() && !a.force {
                bail!("{}: already exists; pass --force to overwrite", a.out.display());
            }
            let issued_at = time_arg(a.issued_at.as_deref())?;
            let expires = issued_at + sign::parse_duration(&a.expires_in)?;
            let mut root = match &a.from {
                Some(prev) => {
                    let (_, mut root) = read_signed_root(prev)?;
                    root.version += 1;
                    if let Some(repo) = &a.repo
                        && repo != &root.repo
                    {
                        bail!("--repo {repo:?} differs from the previous root's repo {:?}", root.repo);
                    }
                    root
                }
                None => {
                    let repo = a.repo.clone().context("--repo is required without --from")?;
                    sign::new_root(&repo, 1, issued_at, expires, &[])
                }
            };
            root.issued_at = issued_at;
            root.expires = expires;
            for (role, files) in [(Role::Root, &a.root_keys), (Role::Index, &a.index_keys), (Role::Head, &a.head_keys)]
            {
                for f in files {
                    add_key(&mut root, role, f)?;
                }
            }
            for t in &a.thresholds {
                let (role, n) = parse_threshold(t)?;
                root.roles.entry(role).or_insert(payload::RoleKeys { keyids: vec![], threshold: n }).threshold = n;
            }
            write_draft(&a.out, &root)?;
            writeln!(crate::cli::stdout(), "{}", summarize_root(&root))?;
        }
        RootCommand::AddKey { draft, role, key } => {
            let mut root = read_draft(&draft)?;
            let id = add_key(&mut root, role.into(), &key)?;
            write_draft(&draft, &root)?;
            writeln!(crate::cli::stdout(), "{id}")?;
        }
        RootCommand::RemoveKey { draft, keyid } => {
            let mut root = read_draft(&draft)?;
            if root.keys.remove(&keyid).is_none() {
                bail!("{}: no key {keyid}", draft.display());
            }
            for spec in root.roles.values_mut() {
                spec.keyids.retain(|k| k != &keyid);
            }
            write_draft(&draft, &root)?;
        }
        RootCommand::SetThreshold { draft, role, threshold } => {
            let mut root = read_draft(&draft)?;
            let role = Role::from(role);
            let spec = root.roles.get_mut(&role).with_context(|| format!("the draft has no {role} role"))?;
            spec.threshold = threshold;
            write_draft(&draft, &root)?;
        }
        RootCommand::Sign { file, key, out } => {
            let key = PrivateKey::load(&key.source())?;
            let bytes = read(&file, Limits::default().root)?;
            let what = file.display().to_string();
            let value = rrctl::trust::strict::parse(&bytes).map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
            let (mut env, root, target) = if value.get("payloadType").is_some() {
                let (env, root) = read_signed_root(&file)?;
                (env, root, out.unwrap_or(file))
            } else {
                let root = RootPayload::from_value(&value, &what)?;
                root.validate(&what)?;
                let target = out.context("signing a draft needs --out (e.g. root/<N>.json)")?;
                let env = if target.exists() {
                    let (env, _) = read_signed_root(&target)?;
                    if env.payload != root.to_bytes() {
                        bail!("{} holds a different root payload than {what}", target.display());
                    }
                    env
                } else {
                    Envelope {
                        payload_type: Role::Root.payload_type().into(),
                        payload: root.to_bytes(),
                        signatures: vec![],
                    }
                };
                (env, root, target)
            };
            env.add_signature(&key);
            write_public(&target, &env.to_bytes())?;
            let own = match root.role_of(key.keyid()) {
                Some(Role::Root) => "a root key of this root".to_string(),
                Some(r) => format!("a {r} key of this root, which does not count for root signatures"),
                None => "not a key of this root (counts only as a root key of the previous root)".to_string(),
            };
            eoutln!("signed root version {} with {} ({own}) into {}", root.version, key.keyid(), target.display());
            let spec = root.roles.get(&Role::Root);
            let valid = env.signatures.iter().filter(|s| spec.is_some_and(|r| r.keyids.contains(&s.keyid))).count();
            eoutln!(
                "{} signature(s); {valid} by this root's root keys, threshold {}",
                env.signatures.len(),
                spec.map_or(0, |s| s.threshold)
            );
        }
        RootCommand::Merge { out, prev, inputs } => {
            let mut envelopes: Vec<(String, Envelope)> = Vec::new();
            let mut root: Option<RootPayload> = None;
            for input in &inputs {
                let (env, payload) = read_signed_root(input)?;
                if let Some((_, first)) = envelopes.first()
                    && first.payload != env.payload
                {
                    bail!("{} signs a different root payload than {}", input.display(), inputs[0].display());
                }
                root.get_or_insert(payload);
                envelopes.push((input.display().to_string(), env));
            }
            let root = root.context("no inputs")?;
            let prev = prev.as_deref().map(read_signed_root).transpose()?.map(|(_, p)| p);
            let m = rrctl::trust::sign::merge_root_signatures(envelopes, &root, prev.as_ref())?;
            write_public(&out, &m.to_bytes())?;
            eoutln!("{}: {} verified signature(s)", out.display(), m.signatures.len());
        }
        RootCommand::Check { file, prev } => {
            let limits = Limits::default();
            let bytes = read(&file, limits.root)?;
            let result = match &prev {
                None => TrustedRoot::from_pinned(&bytes, &limits),
                Some(p) => {
                    let prev_bytes = read(p, limits.root)?;
                    TrustedRoot::from_pinned(&prev_bytes, &limits)
                        .and_then(|prev| verify::verify_root_update(&prev, &bytes, &limits))
                }
            };
            match result {
                Ok(root) => writeln!(crate::cli::stdout(), "ok: {}", summarize_root(&root.payload))?,
                Err(e) => {
                    eoutln!("{}: refused: {e}", file.display());
                    return Ok(ExitCode::from(exit::PROBLEMS));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_head(c: HeadCommand, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let HeadCommand::Sign { dist, key, expires_in, poll_interval, issued_at, now: _ } = c;
    let key = PrivateKey::load(&key.source())?;
    let issued_at = time_arg(issued_at.as_deref())?;
    let expires = issued_at + sign::parse_duration(&expires_in)?;
    let poll = sign::parse_duration(&poll_interval)?;
    let resigned = sign::resign_head(&dist, &key, issued_at, expires, poll)?;
    // Archive first: head.json must never point at a version whose archive copy is missing.
    for (path, bytes) in resigned.files.iter().rev() {
        write_public(&dist.join(path), bytes)?;
    }
    writeln!(
        crate::cli::stdout(),
        "head version {} (channel {}, root version {}), expires {}",
        resigned.head.version,
        resigned.head.channel,
        resigned.head.root_version,
        format_time(resigned.head.expires)
    )?;
    Ok(ExitCode::SUCCESS)
}

struct BundleReport {
    ocp_version: String,
    path: Option<String>,
    range: Option<String>,
    /// Definitions of the bundle, each with its decision.
    in_bundle: usize,
    applies: Vec<String>,
    /// (id, decision code, reason) of those that do not apply although in the bundle.
    left_out: Vec<(String, &'static str, String)>,
}

fn range_text(r: &rrctl::trust::payload::Range) -> String {
    match &r.to {
        Some(to) => format!("[{}, {to})", r.from),
        None => format!("[{}, ∞)", r.from),
    }
}

async fn verify_with<F: Fetcher>(
    fetcher: &F,
    state: &mut ClientState,
    opts: &VerifyOptions,
    versions: &[semver::Version],
    cluster_id: Option<&str>,
) -> Result<(verify::VerifiedUpdate, Vec<BundleReport>), VerifyError> {
    let verified = verify::update(state, fetcher, opts).await?;
    let mut bundles = Vec::new();
    for v in versions {
        let found = verify::fetch_bundle(fetcher, &verified.index, v, &opts.limits).await?;
        bundles.push(match found {
            Some((range, bundle)) => {
                let mut applies = Vec::new();
                let mut left_out = Vec::new();
                for s in bundle.select(v, cluster_id) {
                    if s.decision.applies() {
                        applies.push(s.id.to_string());
                    } else {
                        left_out.push((s.id.to_string(), s.decision.code(), s.decision.to_string()));
                    }
                }
                BundleReport {
                    ocp_version: v.to_string(),
                    path: Some(range.bundle.path.clone()),
                    range: Some(range_text(&range)),
                    in_bundle: bundle.entries.len(),
                    applies,
                    left_out,
                }
            }
            None => BundleReport {
                ocp_version: v.to_string(),
                path: None,
                range: None,
                in_bundle: 0,
                applies: vec![],
                left_out: vec![],
            },
        });
    }
    Ok((verified, bundles))
}

pub fn run_verify(a: VerifyArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let now = time_arg(a.now.as_deref())?;
    let versions = a
        .ocp_versions
        .iter()
        .map(|v| semver::Version::parse(v).with_context(|| format!("--ocp-version {v:?} is not a version")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let root_bytes = read(&a.root, Limits::default().root)?;
    let fail = |e: &dyn std::fmt::Display, format: Format| -> anyhow::Result<ExitCode> {
        match format {
            Format::Human => {
                eoutln!("verification failed: {e}");
                let text = e.to_string();
                if text.starts_with("head.json: expired") {
                    eoutln!(
                        "hint: heads expire quickly by design; re-sign one with `rrctl head sign --dist DIST --key HEAD_KEY` \
                         (development keys: `--key .rrctl/dev/head.pem`) or rebuild with a later --issued-at"
                    );
                }
            }
            Format::Json => {
                writeln!(crate::cli::stdout(), "{}", serde_json::json!({"ok": false, "error": e.to_string()}))?
            }
        }
        Ok(ExitCode::from(exit::PROBLEMS))
    };
    let mut state = match &a.state {
        Some(p) if p.exists() => ClientState::load(p)?,
        _ => match ClientState::new(&root_bytes) {
            Ok(s) => s,
            Err(e) => return fail(&format!("{}: {e}", a.root.display()), a.format),
        },
    };
    let mut opts = VerifyOptions::new(now);
    opts.expect = Expect { repo: a.repo.clone(), channel: a.channel.clone() };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let is_url = a.target.starts_with("http://") || a.target.starts_with("https://");
    let result = if is_url {
        let fetcher = HttpFetcher::new(&a.target, HttpLimits::default())?;
        rt.block_on(verify_with(&fetcher, &mut state, &opts, &versions, a.cluster_id.as_deref()))
    } else {
        if !Path::new(&a.target).is_dir() {
            bail!("{}: not a directory (nor an http(s) URL)", a.target);
        }
        rt.block_on(verify_with(&DirFetcher::new(&a.target), &mut state, &opts, &versions, a.cluster_id.as_deref()))
    };
    let (v, bundles) = match result {
        Ok(r) => r,
        Err(e @ VerifyError::Fetch { .. }) => return Err(e.into()),
        Err(e) => return fail(&e, a.format),
    };
    if let Some(p) = &a.state {
        state.save(p)?;
    }
    match a.format {
        Format::Human => {
            writeln!(crate::cli::stdout(), "verified {}", a.target)?;
            writeln!(
                crate::cli::stdout(),
                "  root   version {} (repo {}), expires {}",
                v.root.version,
                v.root.repo,
                format_time(v.root.expires)
            )?;
            writeln!(
                crate::cli::stdout(),
                "  head   version {}, channel {}, issued {}, expires {}",
                v.head.version,
                v.head.channel,
                format_time(v.head.issued_at),
                format_time(v.head.expires)
            )?;
            writeln!(
                crate::cli::stdout(),
                "  index  version {}, {} range(s), {}, expires {}",
                v.index.version,
                v.index.ranges.len(),
                v.head.index.path,
                format_time(v.index.expires)
            )?;
            for b in &bundles {
                let mut out = crate::cli::stdout();
                match (&b.path, &b.range) {
                    (Some(p), Some(r)) => {
                        writeln!(
                            out,
                            "  {}  index range {r}: {p} ({} definition(s)); {} apply: {}",
                            b.ocp_version,
                            b.in_bundle,
                            b.applies.len(),
                            b.applies.join(", ")
                        )?;
                        for (id, _, why) in b.left_out.iter().filter(|(_, code, _)| *code != "outside-versions") {
                            writeln!(out, "    not for this cluster: {id} ({why})")?;
                        }
                    }
                    _ => writeln!(out, "  {}  no range holds this version: nothing applies", b.ocp_version)?,
                }
            }
        }
        Format::Json => {
            let bundles: Vec<_> = bundles
                .iter()
                .map(|b| {
                    let left_out: Vec<_> = b
                        .left_out
                        .iter()
                        .map(|(id, code, why)| serde_json::json!({"id": id, "decision": code, "reason": why}))
                        .collect();
                    serde_json::json!({"ocp_version": b.ocp_version, "path": b.path, "range": b.range,
                        "cluster_id": a.cluster_id, "definitions": b.applies, "not_applied": left_out})
                })
                .collect();
            let out = serde_json::json!({
                "ok": true,
                "root": {"version": v.root.version, "repo": v.root.repo, "expires": format_time(v.root.expires)},
                "head": {"version": v.head.version, "channel": v.head.channel,
                         "issued_at": format_time(v.head.issued_at), "expires": format_time(v.head.expires)},
                "index": {"version": v.index.version, "path": v.head.index.path, "ranges": v.index.ranges.len(),
                          "expires": format_time(v.index.expires)},
                "bundles": bundles,
            });
            writeln!(crate::cli::stdout(), "{}", serde_json::to_string_pretty(&out)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
