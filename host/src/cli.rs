//! Parses the command line and runs the verb; errors end here, as text and an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

use crm_migrate::approve::GateError;
use crm_migrate::audit::report;
use crm_migrate::extract::{Export, ExportOptions};
use crm_migrate::pipedrive::PipedriveClient;
use crm_migrate::pipeline::{self, BatchIds, Fate, StageOutput};
use crm_migrate::plugins::{
    CacheOutcome, CompileLimits, Compiler, ComponentCache, CpuBudget, Digest, Hook, Limits, LimitsInForce,
    LimitsReport, LoadError, LoadedPlugin, PluginComponent, PluginHost, SUPPORTED_VERSIONS, TagFate, TrustError,
    TrustStore, TrustedPlugin, file_digest, limits_in_force,
};
use crm_migrate::project::{self, Project};
use crm_migrate::record::ObjectKind;
use crm_migrate::records_csv;
use crm_migrate::untrusted::escape;

/// Exit codes scripts can rely on.
const EXIT_ERROR: u8 = 1;
/// `plugin run` finished, but some batches failed and went to quarantine.
const EXIT_BATCHES_FAILED: u8 = 3;
/// `apply` refused: the mapping was never approved, or changed since.
const EXIT_NOT_APPROVED: u8 = 4;
/// `plan` wrote a mapping that has problems (or `approve` was given one).
const EXIT_MAPPING_INVALID: u8 = 5;
/// `approve` was declined at the prompt.
const EXIT_DECLINED: u8 = 6;
/// `apply` stopped because the daily token budget ran out (policy "stop"); run it again later.
const EXIT_BUDGET_STOP: u8 = 7;
/// `verify` found records that are not as the mapping says.
const EXIT_NOT_VERIFIED: u8 = 8;
/// `rollback` finished, but something apply created is still there (listed).
const EXIT_RESIDUE: u8 = 9;
/// `delta --delete-missing` refused its deletions (a file missing or empty in the newer export,
/// more than the threshold, or not the number given to --expect-deletions); nothing was written.
const EXIT_DELETIONS_REFUSED: u8 = 10;
/// plan left decisions to a person (REVIEW in its summary); the mapping is written.
const EXIT_PLAN_UNDECIDED: u8 = 11;
/// A plugin is not trusted on this machine: the trust store does not list its digest.
const EXIT_NOT_TRUSTED: u8 = 12;

#[derive(Parser)]
#[command(
    name = "crm-migrate",
    version,
    about = "Move a CRM from User.com to Pipedrive; per-customer rules run as sandboxed WebAssembly plugins",
    after_help = "Exit codes: 0 success, 1 error, 2 bad usage, 3 plugin run finished with failed batches (quarantined), \
                  4 apply refused (mapping not approved, or changed since), 5 the mapping has problems, 6 approval declined, \
                  7 apply stopped at the daily token budget (run it again after the reset), 8 verify found differences, 9 rollback left residue, \
                  10 delta refused its deletions (nothing written), 11 plan left decisions marked REVIEW, \
                  12 a plugin is not trusted on this machine (the trust store does not list its digest).\n\
                  A migration: init -> audit -> plan -> approve -> apply (-> verify -> report -> purge).\n\
                  Start with: crm-migrate init --help, crm-migrate audit --help, crm-migrate plugin --help, \
                  crm-migrate sandbox serve --help"
)]
struct Cli {
    /// The migration project directory (holds migration.toml)
    #[arg(short = 'C', long = "project", global = true, value_name = "DIR", default_value = ".")]
    project: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a migration project: a directory with a commented migration.toml and reports/
    #[command(after_help = "Examples:\n  crm-migrate init acme --export exports/acme-2026-11\n  \
        crm-migrate init acme --export exports/acme --pipedrive https://acme.pipedrive.com --plan premium --seats 5 \\\n      \
        --plugin clean=plugins/acme_clean.wasm --plugin dedup=target/wasm32-wasip2/plugin/dedup_email.wasm\n\n\
        Each --plugin is vetted first; its digest is pinned and its options written, commented, for you to fill in. \
        The API token is read from $PIPEDRIVE_API_TOKEN (or the file you name in migration.toml), never stored. \
        Then: crm-migrate -C acme audit")]
    Init(InitArgs),
    /// Read a User.com account through its REST API into a local snapshot (resumable; --changes at cutover)
    #[command(after_help = "Examples:\n  USERCOM_TOKEN=... crm-migrate -C acme extract\n  \
        USERCOM_TOKEN=... crm-migrate -C acme extract --changes     # at cutover: what changed since\n\n\
        For a project whose [source] is api = \"https://ACCOUNT.user.com\" (crm-migrate init --usercom-api URL). \
        Reads users, companies, deals, activities, pipelines, stages, tags, segments and their members, attributes, \
        products (and automations and email templates where the API has them), then each user's events and \
        conversations with their messages. Each page is committed to state.db with the cursor after it: killed, \
        run it again and it continues from the last page it has, asking for none twice. Then writes the snapshot \
        (a CSV export directory) that audit, plan, apply and verify read. Once there is one, a second extract \
        (or --changes) reads the lists again (a record gone from them was deleted) and the events and \
        conversations only of users updated since, and writes a new snapshot beside the first for delta --export. \
        The token is read from [source] token_env or token_file and never written anywhere.")]
    Extract(ExtractArgs),
    /// Audit a User.com export: counts, duplicates, orphans, bad values, billing, inventory
    #[command(after_help = "Example:\n  crm-migrate audit --export examples/usercom-export --out reports\n\n\
        Reads every CSV of the export (users, companies, deals, pipelines, stages, activities, events, conversations, \
        tags, segments, attributes, automations, email templates; missing ones are listed) and writes three reports \
        into --out: audit.md (for people), audit.json (for machines) and billing-audit.csv (each contact User.com \
        bills for, and why). Nothing else is written. Encodings are detected (UTF-8, Windows-1250/1251, \
        ISO-8859-5); when a file is misread, name its encoding: --encoding companies.csv=windows-1250.")]
    Audit(AuditArgs),
    /// Propose mapping.toml from the export and the target workspace, with the workspace changes and the token bill
    #[command(after_help = "Example:\n  PIPEDRIVE_API_TOKEN=... crm-migrate -C acme plan\n\n\
        Reads the export (every file, once) and the Pipedrive workspace (users, fields, pipelines, stages, activity \
        types, webhooks; 8 reads, about 90 tokens) and writes nothing to Pipedrive. Writes mapping.toml: one entry per User.com \
        attribute (a built-in field, an existing custom field, a new custom field with its type, or skip), each with a \
        confidence and its reasons, plus agents -> users, pipelines and stages, deal statuses and activity types. \
        Then reports/plan.md: what apply will create, records per phase, and the token bill in days of the account's \
        budget. Run it again after editing mapping.toml or the export: your edits are kept, new attributes added. \
        Exit codes: 0 a mapping apply can follow, 5 the mapping has problems (listed; fix them, then plan or approve).")]
    Plan(PlanArgs),
    /// Approve mapping.toml (after showing what changed since the last approval); apply needs it
    #[command(
        after_help = "Examples:\n  crm-migrate -C acme approve\n  crm-migrate -C acme approve --yes --by \"Ola Nowak\"\n\n\
        Checks the mapping against the export and the workspace plan read, shows its summary and the diff since the \
        last approval (for a plugin swapped since, what the swap changes on the export), asks for confirmation (or \
        takes --yes), and records the mapping's sha256, who and when in state.db. Change mapping.toml afterwards and apply refuses to start until it is approved again."
    )]
    Approve(ApproveArgs),
    /// Load the export into Pipedrive by the approved mapping: phase by phase, journalled, reconciled, resumable
    #[command(
        after_help = "Examples:\n  crm-migrate -C acme apply --sample        # 300 contacts and what they link to, first\n  \
        crm-migrate -C acme apply                 # the full migration\n\n\
        Refuses to start (exit code 4) when mapping.toml was never approved or changed since its approval, printing the \
        diff. Runs the project's plugins (clean, dedup), then: workspace (users, fields, pipelines, stages, activity types, \
        labels), organizations, persons, deals, activities and events, notes. Each phase is reconciled (source = created + \
        merged + quarantined + excluded) before the next. Every create is journalled in state.db: after a crash or a \
        stop, run apply again and it continues where it stopped, without duplicates. Reports: reports/quarantine.csv, \
        reports/reconciliation.md. Exit codes: 0 done, 4 not approved, 7 stopped because the daily token budget ran out \
        (on_budget_exhausted = \"stop\"; run apply again after midnight UTC), 1 any other error."
    )]
    Apply(ApplyArgs),
    /// Show where the migration stands: approval, runs, each object's fates against the export, tokens left
    #[command(after_help = "Example:\n  crm-migrate -C acme status\n  crm-migrate -C acme status --json\n\n\
        Reads state.db and the export; talks to no one. A run without an end was killed or crashed: apply resumes it. \
        \"open\" counts creates sent whose answer is not journalled (apply looks them up before sending again).")]
    Status(StatusArgs),
    /// Read back what arrived in Pipedrive and compare every migrated record, field by field, with the mapping
    #[command(after_help = "Example:\n  PIPEDRIVE_API_TOKEN=... crm-migrate -C acme verify\n\n\
        Lists organizations, persons, deals, activities and notes (500 a call) and compares each record the journal \
        says was created with what apply sends for it: text, numbers, money, dates and times (UTC), options by id, \
        emails and phones (primary first), labels, owner, links, add time. Reports verified, mismatched (field, \
        expected, actual), missing, and unexpected records (a User.com marker the journal does not know), with the \
        tokens spent, and the compatibility of every object and field: reports/verification.md and .json. \
        Then, from the export's side, the source coverage: each non-empty source value is looked for where the \
        mapping sends it, or found listed as left out with its reason (skipped, a bad value, a record merged, \
        quarantined or excluded, a secret); a value in neither is missing. \
        Writes nothing to Pipedrive. Exit codes: 0 everything verified, 8 anything not verified or any source value missing, 1 error.")]
    Verify(VerifyArgs),
    /// Move what changed since the migrated export: new records created, changed ones updated, deleted ones listed
    #[command(after_help = "Examples:\n  crm-migrate -C acme delta --export exports/acme-cutover\n  \
        crm-migrate -C acme delta --export exports/acme-cutover --delete-missing --yes\n  \
        crm-migrate -C acme delta --export exports/acme-cutover --delete-missing --expect-deletions 1200 --yes\n  \
        crm-migrate -C acme rollback --run 7     # undo delta run 7\n\n\
        First shows what it will do per object (in the export, new, gone from it). Then reads the newer export through \
        the same plugins and the approved mapping, and compares each record with what was sent for it: new records are \
        created (with their links), changed ones updated (a PATCH of only the changed fields; each field's prior value \
        is journalled), records deleted in User.com are listed and, with --delete-missing, deleted in Pipedrive (asked \
        first, or --yes). Deletions are refused, and nothing is written, when an object's file is missing or empty in \
        the newer export, or when they exceed the larger of 2% of the records created and 50, unless \
        --expect-deletions names their exact number. A record someone changed in Pipedrive since the migration wrote \
        it is a conflict: listed with both values and left alone (--overwrite-conflicts writes anyway). Each deleted \
        record's last values are journalled: `rollback --run N` undoes the delta. Same journal, reconciliation and \
        crash safety as apply; a second delta with no changes writes nothing. Exit codes as apply's, and 10 when the \
        deletions are refused.")]
    Delta(DeltaArgs),
    /// Write the handoff for the customer's admin: reports/handoff/*.md and one self-contained handoff.html
    #[command(after_help = "Example:\n  crm-migrate -C acme report\n\n\
        Writes the automations inventory (each User.com automation with its trigger, conditions, delays and actions, and \
        the Pipedrive equivalent: workflow automation, sequence or manual, with the reason), the segment-to-filter \
        mapping (each segment's rules as Pipedrive filter conditions, flagged where Pipedrive cannot express them), the \
        email templates to rebuild, the billing audit, the quarantine and a one-page summary (what moved, what did not \
        and why, tokens spent, time taken). Reads the export, the mapping and state.db; talks to no one.")]
    Report,
    /// Undo the migration (or only its sample runs): delete what apply created, in reverse order
    #[command(after_help = "Examples:\n  crm-migrate -C acme rollback --sample     # before the production run\n  \
        crm-migrate -C acme rollback --yes\n  \
        crm-migrate -C acme rollback --run 7 --yes   # undo delta run 7 only (status lists the runs)\n\n\
        Deletes notes, activities and events, deals, persons and organizations that apply created (the journal knows \
        which), then, for a full rollback, the labels, options, custom fields, stages, pipelines and activity types it \
        created. Never touches anything apply did not create. A record someone changed in Pipedrive since apply wrote \
        it is kept, with what it links to and the workspace it uses, and named (--include-changed deletes it too). \
        --run N undoes one delta instead: what it created is deleted, what it updated gets its prior values back, what \
        it deleted is created again from its journalled payload. Rate-limited like apply, and resumable: run it again \
        after a stop. Ends by listing the target and naming any residue. Asks first unless --yes. Exit codes: 0 no \
        residue, 9 residue or kept records left (listed), 1 error.")]
    Rollback(RollbackArgs),
    /// Remove the customer data a finished migration no longer needs; ids, counts and the audit trail stay
    #[command(after_help = "Examples:\n  crm-migrate -C acme purge\n  crm-migrate -C acme purge --yes --json\n\n\
        Once the migration is finished (the last run ended done) and verified, the project still holds customer data: \
        in state.db what was last sent for each record, each changed field's prior and new value, the reasons of \
        quarantined records (which can quote values), and reports that quote records (quarantine.csv, \
        billing-audit.csv, audit.md/.json, verification.md/.json, the handoff's billing, quarantine and handoff.html). \
        purge lists them with counts, asks (or takes --yes), clears them, and rebuilds state.db (VACUUM) so that \
        they are gone from the disk, not only from the tables. Kept: every record's id, fate and Pipedrive id, counts, \
        runs, tokens, approvals; status still shows where the migration stands, and rollback still works. \
        Afterwards a delta cannot tell which fields changed: it takes what it would send now as the baseline. \
        Refuses while the last run is unfinished or stopped (run apply again first). Talks to no one. \
        Exit codes: 0 purged, 6 declined at the prompt, 1 refused or error.")]
    Purge(PurgeArgs),
    /// Vet, try out and scaffold plugins
    #[command(
        subcommand,
        after_help = "A plugin's life:\n  crm-migrate plugin new acme-rules          # a crate that builds and passes its tests\n  \
            crm-migrate plugin vet acme_rules.wasm     # check it, get the digest to pin\n  \
            crm-migrate plugin run acme_rules.wasm --hook clean --input records.csv   # see what it does\n  \
            crm-migrate -C acme plugin diff acme_rules_v1.wasm acme_rules.wasm       # what a swap changes on the export\n\n\
            On a shared machine, the operator's trust store lists the plugins that may run (plugin trust, untrust, \
            list): $CRM_MIGRATE_TRUST_STORE, else $XDG_CONFIG_HOME/crm-migrate/trust.toml (~/.config/...), else \
            /etc/crm-migrate/trust.toml."
    )]
    Plugin(PluginCommand),
    /// The whole story on the sample exports against an in-process Pipedrive sandbox, in a few minutes
    #[command(after_help = "Example:\n  cargo run -p crm-migrate -- demo\n\n\
        Starts a Pipedrive sandbox in this process (plan premium, its real pacing), creates a project in \
        ./crm-migrate-demo, and runs: audit, plan, approve, a sample apply of 50 contacts and its rollback, the full \
        apply, a delta with examples/usercom-export-changes (deleting what User.com deleted), verify and the handoff report. Prints a table of steps \
        (outcome, tokens, seconds) and where the reports are.")]
    Demo(crate::demo::DemoArgs),
    /// Run the local Pipedrive sandbox (an API-compatible Pipedrive for rehearsals)
    #[command(subcommand)]
    Sandbox(SandboxCommand),
}

#[derive(Subcommand)]
enum SandboxCommand {
    /// Serve a Pipedrive-compatible API on this machine, with Pipedrive's rate limits and optional faults
    #[command(after_help = "Examples:\n  crm-migrate sandbox serve\n  \
        crm-migrate sandbox serve --plan lite --record requests.jsonl --state account.json\n  \
        crm-migrate sandbox serve --server-error-rate 0.05 --lost-response-rate 0.02 --seed 7\n\n\
        Point a migration at it with its URL (http://127.0.0.1:8089) and the token sandbox-token. \
        It keeps the account in memory; --state keeps it across restarts.")]
    Serve(crate::sandbox_serve::ServeArgs),
    /// Serve a local User.com: a generated account over User.com's REST API, with its auth, paging, rate limit and faults
    #[command(after_help = "Examples:\n  crm-migrate sandbox serve-usercom\n  \
        crm-migrate sandbox serve-usercom --contacts 5000 --deal-products --rate 10 --faults 0.02\n\n\
        The account is the one `usercom-export-gen` writes with the same --seed and --contacts: \
        migrate it from the API (url = the printed URL) and from that export to compare.")]
    ServeUsercom(crate::sandbox_serve::ServeUsercomArgs),
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Check a plugin component and print its name, version, hooks, options, imports and digest
    #[command(after_help = "Example:\n  crm-migrate plugin vet target/wasm32-wasip2/plugin/clean_basic.wasm\n\n\
        Put the printed digest into the migration so that exactly this file runs. A component that imports \
        anything beyond what plugins are granted, or that was built against an unsupported contract, is refused.")]
    Vet {
        #[command(flatten)]
        plugin: PluginArgs,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Run one hook of a plugin over a CSV file and show what it did to each record
    #[command(after_help = "Examples:\n  \
        crm-migrate plugin run target/wasm32-wasip2/plugin/clean_basic.wasm --hook clean \\\n      \
        --input examples/plugin-run/contacts.csv --config default_country=PL --config drop_email_domains=example.com\n  \
        crm-migrate plugin run target/wasm32-wasip2/plugin/dedup_email.wasm --hook dedup --input examples/plugin-run/contacts.csv\n  \
        crm-migrate plugin run target/wasm32-wasip2/plugin/segment_labels.wasm --hook label \\\n      \
        --input examples/plugin-run/tags.csv --segments examples/plugin-run/segments.csv --config colors=VIP=red\n\n\
        Input CSV: the header names the fields; `id` is the record's id, `kind` its object kind. Declare a column's \
        type with a suffix (score:number, vip:boolean, birthday:date, updated_at:datetime, tags:choices with \
        options separated by |); the rest is text, an empty cell is null. For --hook label the input is the tag \
        catalogue (id,name,record_count) and --segments the segment list (id,name,definition).")]
    Run(RunArgs),
    /// Run two builds of a plugin over the project's export and report what swapping them changes
    #[command(
        after_help = "Example:\n  crm-migrate -C acme plugin diff plugins/dedup_email.wasm plugins/dedup_email_oldest.wasm\n\n\
        Both builds must be for the same hook. Each runs over the project's export with the project's other plugins \
        and its configuration, as apply would run it; nothing is sent anywhere. Reports, per object, the records whose \
        fate changes (kept, dropped, quarantined, merged and into which record), the fields whose values change (with \
        examples; secrets never shown) and, for the label hook, the tags decided otherwise: reports/plugin-diff.md, \
        .json and .csv (every change). Exit code 0 when it ran, whether or not anything changes."
    )]
    Diff(DiffArgs),
    /// Vet a plugin and add it to this machine's trust store: only listed plugins load while a store is configured
    #[command(after_help = "Examples:\n  crm-migrate plugin trust acme_rules.wasm --by \"Ola Nowak\"\n  \
        CRM_MIGRATE_TRUST_STORE=/srv/crm/trust.toml crm-migrate plugin trust acme_rules.wasm --name acme-rules --version 1.2.0\n\n\
        Vets the file as plugin vet does (a plugin that fails vetting is not added) and records its digest, name, \
        version, who vetted it and when, its contract, hooks, imports and the limits it was vetted under. The store \
        is $CRM_MIGRATE_TRUST_STORE, else $XDG_CONFIG_HOME/crm-migrate/trust.toml (else ~/.config/crm-migrate/trust.toml), \
        else /etc/crm-migrate/trust.toml: the first that is set or exists; a new one is written in the user's \
        configuration directory. Maxima of the limits go in its [maxima] table (memory_mib, fuel_per_call, \
        fuel_per_record, batch_seconds, run_fuel, run_seconds, core_instances), or an entry's [plugins.maxima].")]
    Trust {
        #[command(flatten)]
        plugin: PluginArgs,
        /// Refuse the file unless it describes itself with this name
        #[arg(long)]
        name: Option<String>,
        /// Refuse the file unless it describes itself with this version
        #[arg(long)]
        version: Option<String>,
        /// Who vetted it, as the store records it (default: the login name)
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// Remove a plugin from this machine's trust store, by digest or by its file
    Untrust {
        /// sha256:<hex>, or the plugin's .wasm file
        #[arg(value_name = "DIGEST|FILE")]
        plugin: String,
    },
    /// List the plugins this machine's trust store lists, and its maxima
    List {
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Compile a component read from stdin, write its compiled code to stdout (run by crm-migrate
    /// itself, in a child process with time and memory limits)
    #[command(hide = true)]
    Compile {
        #[arg(long)]
        stack_bytes: usize,
        #[arg(long)]
        cpu: String,
        #[arg(long)]
        max_file_bytes: u64,
    },
    /// Create a new plugin crate that builds and passes its tests as is
    #[command(after_help = "Example:\n  crm-migrate plugin new acme-rules\n  cd acme-rules && cargo test && \
        cargo build --release --target wasm32-wasip2\n  crm-migrate plugin vet target/wasm32-wasip2/release/acme_rules.wasm")]
    New {
        /// Plugin name (lower-case letters, digits and dashes)
        name: String,
        /// Where to create it (default: ./NAME)
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The crm-migrate-plugin-sdk crate to depend on, by its directory (default: the published
        /// crate, at this binary's version)
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

#[derive(Args)]
struct DiffArgs {
    /// The build the project runs now (or ran when last approved)
    old: PathBuf,
    /// The build to swap in
    new: PathBuf,
    /// Print the diff as JSON (the same as reports/plugin-diff.json) instead of the summary
    #[arg(long)]
    json: bool,
    /// Where the reports go (default: the project's reports/)
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct PlanArgs {
    /// Print the plan as JSON (the same as reports/plan.json) instead of the summary
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ApproveArgs {
    /// Approve without asking (for scripts; the summary and diff are still printed)
    #[arg(long)]
    yes: bool,
    /// Who approves, as recorded in state.db (default: the login name)
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
    /// Print the outcome as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ApplyArgs {
    /// A test migration of N contacts (default: sample_size in migration.toml, 300) with what they link to
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "0")]
    sample: Option<usize>,
    /// Stop after this phase: workspace, organizations, persons, deals, activities, notes
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(crm_migrate::apply::PHASE_NAMES))]
    phase: Option<String>,
    #[command(flatten)]
    load: LoadArgs,
}

/// How apply and delta load: shared by both.
#[derive(Args)]
struct LoadArgs {
    /// Writes in flight at once; the client paces them to the account's burst limit either way
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Records per plugin call (a call that fails quarantines its batch, and the run goes on)
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Print progress events and the outcome as JSON lines instead of text
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DeltaArgs {
    /// The newer User.com export (a directory of CSV files)
    #[arg(long, value_name = "DIR")]
    export: PathBuf,
    /// Also delete in Pipedrive the records whose source is gone from the newer export
    #[arg(long)]
    delete_missing: bool,
    /// The number of deletions you expect: needed when they exceed the threshold, refused when not exact
    #[arg(long, value_name = "N", requires = "delete_missing")]
    expect_deletions: Option<u64>,
    /// Delete without asking (for scripts; what is deleted is still listed)
    #[arg(long)]
    yes: bool,
    /// Update or delete records someone changed in Pipedrive since the migration wrote them
    #[arg(long)]
    overwrite_conflicts: bool,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Args)]
struct RollbackArgs {
    /// Only the sample runs' records (the workspace stays for the production run)
    #[arg(long, conflicts_with = "run")]
    sample: bool,
    /// Undo one delta run: delete what it created, restore what it updated, create again what it deleted
    #[arg(long, value_name = "N")]
    run: Option<i64>,
    /// Also delete (or restore) records someone changed in Pipedrive since the migration wrote them
    #[arg(long)]
    include_changed: bool,
    /// Do not ask for confirmation
    #[arg(long)]
    yes: bool,
    /// Deletes in flight at once
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Print the outcome as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct PurgeArgs {
    /// Do not ask for confirmation
    #[arg(long)]
    yes: bool,
    /// Print what is removed, and the outcome, as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct VerifyArgs {
    /// The export the migration last moved, when a delta moved a newer one than migration.toml's
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// Print the verification as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct StatusArgs {
    /// Print the status as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ExtractArgs {
    /// Only what changed since the last extraction (refused without one); without it, the
    /// first extraction, or the changes once there is one
    #[arg(long, conflicts_with = "first")]
    changes: bool,
    /// The first extraction only (refused once there is one)
    #[arg(long)]
    first: bool,
    /// Print progress events and the outcome as JSON lines
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct InitArgs {
    /// The project directory to create
    dir: PathBuf,
    /// The User.com export: a directory with one CSV per object
    #[arg(long, value_name = "DIR", required_unless_present = "usercom_api", conflicts_with = "usercom_api")]
    export: Option<PathBuf>,
    /// Or User.com's REST API: the account's URL (https://ACCOUNT.user.com), read by crm-migrate extract
    #[arg(long, value_name = "URL")]
    usercom_api: Option<String>,
    /// The User.com account (acme for acme.user.com), part of every record's marker in Pipedrive
    /// [default: the export directory's name, as lower-case letters, digits and hyphens]
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// The Pipedrive account's URL (https://COMPANY.pipedrive.com), or a local sandbox's
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8089")]
    pipedrive: String,
    /// The account's plan: sets the daily token budget and the burst limit
    #[arg(long, default_value = "growth")]
    plan: crm_migrate::pipedrive::Plan,
    /// Seats on the account
    #[arg(long, default_value_t = 1)]
    seats: u32,
    /// A plugin for a hook, HOOK=FILE.wasm (hooks: clean, dedup, label); repeatable
    #[arg(long = "plugin", value_name = "HOOK=FILE", value_parser = parse_plugin_arg)]
    plugins: Vec<(Hook, PathBuf)>,
}

fn parse_plugin_arg(text: &str) -> Result<(Hook, PathBuf), String> {
    let (hook, file) =
        text.split_once('=').ok_or_else(|| format!("'{text}' is not HOOK=FILE (e.g. clean=acme_clean.wasm)"))?;
    let hook = match hook.trim() {
        "clean" => Hook::Clean,
        "dedup" => Hook::Dedup,
        "label" => Hook::Label,
        other => return Err(format!("unknown hook '{other}'; expected clean, dedup or label")),
    };
    Ok((hook, PathBuf::from(file)))
}

#[derive(Args)]
struct AuditArgs {
    /// The export directory: one CSV file per object (default: the project's, see -C)
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// Where the reports are written, created if missing (default: the project's reports/, else ./reports)
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// A text encoding: LABEL for every file, or FILE=LABEL for one (e.g. companies.csv=windows-1250); repeatable
    #[arg(long = "encoding", value_name = "[FILE=]LABEL", value_parser = parse_encoding)]
    encodings: Vec<(Option<String>, &'static encoding_rs::Encoding)>,
    /// Print the summary as JSON instead of text
    #[arg(long)]
    json: bool,
}

fn parse_encoding(text: &str) -> Result<(Option<String>, &'static encoding_rs::Encoding), String> {
    let (file, label) = match text.split_once('=') {
        Some((file, label)) => (Some(file.trim().to_owned()), label),
        None => (None, text),
    };
    let encoding = crm_migrate::extract::sniff::encoding_for_label(label)
        .ok_or_else(|| format!("unknown encoding '{label}'; use e.g. utf-8, windows-1250, windows-1251, iso-8859-5"))?;
    Ok((file, encoding))
}

#[derive(Clone, Copy, ValueEnum)]
enum HookArg {
    Clean,
    Dedup,
    Label,
}

/// Which plugin file to load, and the sandbox to load it in.
#[derive(Args)]
struct PluginArgs {
    /// The plugin's .wasm file
    file: PathBuf,
    /// Refuse the file unless its sha256 is this (sha256:<hex>)
    #[arg(long)]
    digest: Option<Digest>,
    /// Where compiled plugins are cached (default: $CRM_MIGRATE_CACHE_DIR, else ~/.cache/crm-migrate)
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Compile the plugin every time instead of using the cache
    #[arg(long)]
    no_cache: bool,
    /// Memory a plugin instance may use, in MiB
    #[arg(long, default_value_t = Limits::default().memory_bytes >> 20)]
    memory_limit_mib: usize,
    /// CPU budget per record of a batch, in fuel (about one unit per WebAssembly instruction)
    #[arg(long, default_value_t = default_fuel_per_record())]
    fuel_per_record: u64,
    /// Largest plugin file accepted, in MiB
    #[arg(long, default_value_t = CompileLimits::default().max_file_bytes >> 20)]
    max_file_mib: u64,
    /// Time compiling a plugin may take, in seconds (it runs in a child process, killed then)
    #[arg(long, default_value_t = CompileLimits::default().timeout.as_secs())]
    compile_timeout_secs: u64,
    /// Address space of the process compiling a plugin, in MiB
    #[arg(long, default_value_t = CompileLimits::default().memory_bytes >> 20)]
    compile_memory_mib: u64,
}

fn default_fuel_per_record() -> u64 {
    match Limits::default().cpu {
        CpuBudget::Fuel { per_record, .. } => per_record,
        CpuBudget::WallClock { .. } => unreachable!("the default budget is counted in fuel"),
    }
}

impl PluginArgs {
    /// Opens the plugin to vet it: under the limits the flags ask, capped by the trust store's
    /// maxima, but not refused for being unlisted (vetting is how a plugin gets listed).
    fn vet(&self) -> anyhow::Result<(PluginComponent, LimitsInForce, Option<TrustStore>)> {
        self.open_under(TrustStore::configured()?, false)
    }

    /// Opens the plugin to run it: refused unless the trust store, when one is configured, lists it.
    fn open_trusted(&self) -> anyhow::Result<PluginComponent> {
        self.open_under(TrustStore::configured()?, true).map(|(component, _, _)| component)
    }

    fn open_under(
        &self,
        store: Option<TrustStore>,
        require_trust: bool,
    ) -> anyhow::Result<(PluginComponent, LimitsInForce, Option<TrustStore>)> {
        let compile = CompileLimits {
            max_file_bytes: self.max_file_mib << 20,
            timeout: std::time::Duration::from_secs(self.compile_timeout_secs),
            memory_bytes: self.compile_memory_mib << 20,
            ..CompileLimits::default()
        };
        // Pinned to the digest its limits were chosen for: a file changed in between is refused.
        let digest = match &self.digest {
            Some(digest) => *digest,
            None => file_digest(&self.file, &compile)?,
        };
        let defaults = Limits::default();
        let cpu = match defaults.cpu {
            CpuBudget::Fuel { per_call, .. } => CpuBudget::Fuel { per_call, per_record: self.fuel_per_record },
            other => other,
        };
        let requested = Limits { cpu, memory_bytes: self.memory_limit_mib << 20, ..defaults };
        let in_force = limits_in_force(requested, store.as_ref(), &digest);
        let cache_dir = if self.no_cache { None } else { self.cache_dir.clone().or_else(ComponentCache::default_dir) };
        let host = PluginHost::new(in_force.limits, ComponentCache::new(cache_dir))
            .map_err(|error| anyhow::anyhow!("{error:#}"))?;
        let host = host
            .with_compiler(Compiler { limits: compile, ..Compiler::default() })
            .with_trust_store(store.clone().filter(|_| require_trust));
        let component = host.open(&self.file, Some(&digest))?;
        Ok((component, in_force, store))
    }
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    plugin: PluginArgs,
    /// Which hook to run
    #[arg(long, value_enum)]
    hook: HookArg,
    /// Records CSV (for --hook label: the tag catalogue)
    #[arg(long)]
    input: PathBuf,
    /// Segments CSV, for --hook label
    #[arg(long)]
    segments: Option<PathBuf>,
    /// Object kind of records without a `kind` column
    #[arg(long, default_value = "contact")]
    kind: ObjectKind,
    /// Plugin configuration, KEY=VALUE; repeat for several keys
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_config_pair)]
    config: Vec<(String, String)>,
    /// Records per plugin call
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

fn parse_config_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.trim().to_owned(), value.to_owned()))
        .ok_or_else(|| format!("'{text}' is not KEY=VALUE"))
}

pub fn main() -> ExitCode {
    // Plugins are compiled in a child process of this binary, which can be stopped (see
    // `plugins::compile`); without the path, on a thread, which cannot.
    if let Ok(program) = std::env::current_exe() {
        crm_migrate::plugins::compile_in_child_processes_of(program);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(args) => init(&args),
        Command::Extract(args) => extract(&cli.project, &args),
        Command::Audit(args) => audit(&cli.project, &args),
        Command::Plan(args) => plan(&cli.project, &args),
        Command::Approve(args) => approve(&cli.project, &args),
        Command::Apply(args) => apply(&cli.project, &args),
        Command::Status(args) => status(&cli.project, &args),
        Command::Verify(args) => verify(&cli.project, &args),
        Command::Rollback(args) => rollback(&cli.project, &args),
        Command::Delta(args) => delta(&cli.project, &args),
        Command::Report => report_handoff(&cli.project),
        Command::Purge(args) => purge(&cli.project, &args),
        Command::Demo(args) => crate::demo::demo(&args),
        Command::Plugin(PluginCommand::Vet { plugin, json }) => vet(&plugin, json),
        Command::Plugin(PluginCommand::Run(args)) => run(&args),
        Command::Plugin(PluginCommand::Diff(args)) => plugin_diff(&cli.project, &args),
        Command::Plugin(PluginCommand::Trust { plugin, name, version, by }) => {
            trust(&plugin, name.as_deref(), version.as_deref(), by.as_deref())
        }
        Command::Plugin(PluginCommand::Untrust { plugin }) => untrust(&plugin),
        Command::Plugin(PluginCommand::List { json }) => list_trusted(json),
        Command::Plugin(PluginCommand::Compile { stack_bytes, cpu, max_file_bytes }) => {
            Ok(crm_migrate::plugins::run_compile_child(stack_bytes, &cpu, max_file_bytes))
        }
        Command::Plugin(PluginCommand::New { name, dir, sdk }) => crate::scaffold::new_plugin(&name, dir, sdk),
        Command::Sandbox(SandboxCommand::Serve(args)) => crate::sandbox_serve::serve(args).map(|()| ExitCode::SUCCESS),
        Command::Sandbox(SandboxCommand::ServeUsercom(args)) => {
            crate::sandbox_serve::serve_usercom(args).map(|()| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", escape_lines(&format!("{error:#}")));
            ExitCode::from(if refused_by_trust_store(&error) { EXIT_NOT_TRUSTED } else { EXIT_ERROR })
        }
    }
}

/// Whether the machine's trust store refused a plugin, wherever the refusal sits in the error's
/// chain (the library's errors carry it transparently, as each layer's own variant).
fn refused_by_trust_store(error: &anyhow::Error) -> bool {
    use crm_migrate::{apply::ApplyError, plan::PlanError, project::ProjectError};
    error.chain().any(|cause| {
        let refusal = cause
            .downcast_ref::<TrustError>()
            .or_else(|| match cause.downcast_ref::<LoadError>() {
                Some(LoadError::Trust(error)) => Some(error),
                _ => None,
            })
            .or_else(|| match cause.downcast_ref::<ProjectError>() {
                Some(ProjectError::Trust(error)) => Some(error),
                _ => None,
            })
            .or_else(|| match cause.downcast_ref::<PlanError>() {
                Some(PlanError::Trust(error)) => Some(error),
                _ => None,
            })
            .or_else(|| match cause.downcast_ref::<ApplyError>() {
                Some(ApplyError::Project(ProjectError::Trust(error))) => Some(error),
                _ => None,
            });
        refusal.is_some_and(TrustError::refuses_plugin)
    })
}

/// `text` with each line [`escape`]d: the host's own line breaks stay, anything a line holds
/// that a terminal would act on does not.
fn escape_lines(text: &str) -> String {
    text.split('\n').map(|line| escape(line).into_owned()).collect::<Vec<_>>().join("\n")
}

fn init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let source = match (&args.export, &args.usercom_api) {
        (Some(export), _) if !export.is_dir() => {
            bail!("the export {} is not a directory (a User.com export is a directory of CSV files)", export.display())
        }
        (Some(export), _) => project::InitSource::Export(export.clone()),
        (None, Some(url)) => project::InitSource::Api(url.clone()),
        (None, None) => unreachable!("clap requires one"),
    };
    let host = PluginHost::new(Limits::default(), ComponentCache::new(ComponentCache::default_dir()))
        .map_err(|error| anyhow::anyhow!("{error:#}"))?;
    let mut plugins = Vec::new();
    for (hook, path) in &args.plugins {
        plugins
            .push(project::InitPlugin::vet(&host, *hook, path).with_context(|| format!("plugin {}", path.display()))?);
    }
    // The vetted plugins, for the hooks --plugin leaves open: proposed when built, else how to build them.
    let mut proposed = Vec::new();
    let mut missing = Vec::new();
    for (hook, stem) in
        project::VETTED_PLUGINS.into_iter().filter(|(hook, _)| !args.plugins.iter().any(|(given, _)| given == hook))
    {
        match project::built_plugin(stem) {
            Ok(path) => proposed.push(
                project::InitPlugin::vet(&host, hook, &path)
                    .with_context(|| format!("the vetted plugin {}", path.display()))?,
            ),
            Err(path) => missing.push(path),
        }
    }
    let options = project::InitOptions {
        source,
        account: args.account.clone(),
        pipedrive_url: args.pipedrive.clone(),
        plan: args.plan,
        seats: args.seats,
        plugins,
        proposed,
    };
    let project = project::init(&args.dir, &options)?;
    let store = TrustStore::configured()?;
    println!("created {}", project.dir.join(project::CONFIG_FILE).display());
    match project.usercom_api() {
        Some(api) => println!(
            "  source  {api}, User.com's API (account {}); API token from $USERCOM_TOKEN; crm-migrate extract writes the snapshot {}",
            project.markers().account().unwrap_or_default(),
            project.export_dir().display()
        ),
        None => println!(
            "  source  {} (account {})",
            project.export_dir().display(),
            project.markers().account().unwrap_or_default()
        ),
    }
    println!(
        "  target  {} (plan {}, {} seat(s)); API token from $PIPEDRIVE_API_TOKEN",
        args.pipedrive, args.plan, args.seats
    );
    for plugin in &options.plugins {
        println!("  plugin  {} {} ({})", plugin.hook, escape(&plugin.name), plugin.digest);
    }
    for plugin in &options.proposed {
        println!(
            "  proposed plugin  {} {} ({}): commented out in {}; to use it, take the first \"# \" off each line of its entry",
            plugin.hook,
            escape(&plugin.name),
            plugin.digest,
            project::CONFIG_FILE
        );
    }
    if let Some(store) = &store {
        for plugin in
            options.plugins.iter().chain(&options.proposed).filter(|plugin| store.find(&plugin.digest).is_none())
        {
            println!(
                "  plugin  {} is not listed by this machine's trust store {}: plan refuses it until an operator runs crm-migrate plugin trust",
                escape(&plugin.name),
                store.path().display()
            );
        }
    }
    if let Some(first) = missing.first() {
        println!(
            "  the vetted plugins are not built ({} is missing): run `{}` in the crm-migrate checkout, then add them with --plugin or in {}",
            first.display(),
            project::BUILD_PLUGINS,
            project::CONFIG_FILE
        );
    }
    let first = if project.usercom_api().is_some() { "extract" } else { "audit" };
    println!("next: read and edit migration.toml, then: crm-migrate -C {} {first}", args.dir.display());
    Ok(ExitCode::SUCCESS)
}

fn extract(project_dir: &std::path::Path, args: &ExtractArgs) -> anyhow::Result<ExitCode> {
    use crm_migrate::usercom::{self, ExtractEvent, ExtractOptions};
    let project = Project::open(project_dir)?;
    let mut client = usercom::client_for(&project)?;
    let options = ExtractOptions {
        changes: if args.changes {
            Some(true)
        } else if args.first {
            Some(false)
        } else {
            None
        },
    };
    let json_output = args.json;
    let mut progress = |event: &ExtractEvent| {
        if json_output {
            if let Ok(line) = serde_json::to_string(event) {
                println!("{line}");
            }
            return;
        }
        match event {
            ExtractEvent::Started { extraction, kind, resumed: true, pages_before } => {
                eprintln!(
                    "resuming extraction {extraction} ({kind}): {pages_before} pages already read are not read again"
                )
            }
            ExtractEvent::Started { extraction, kind, .. } => eprintln!("extraction {extraction} ({kind})"),
            ExtractEvent::Page { resource, page, items, total, requests } => eprintln!(
                "  {}: page {page}, {items} records{}; {requests} requests",
                escape(resource),
                total.map(|total| format!(" (of {total})")).unwrap_or_default()
            ),
            ExtractEvent::Users { done, of, per_second, eta_seconds, requests } => eprintln!(
                "  events and conversations: {done} of {of} users, {per_second:.1} a second, about {} left; {requests} requests",
                crm_migrate::pipedrive::human_duration(std::time::Duration::from_secs_f64(eta_seconds.unwrap_or(0.0)))
            ),
            ExtractEvent::Absent { resource } => {
                eprintln!("  {}: not in this account's API (404), left out", escape(resource))
            }
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let outcome = runtime.block_on(usercom::extract(&project, &mut client, options, &mut progress))?;
    if json_output {
        println!("{}", serde_json::to_string(&json!({"event": "done", "outcome": outcome}))?);
    } else {
        println!(
            "extracted ({}{}) into {}: {} pages read now, {} before; {} requests ({} answered 429, {} retried)",
            outcome.kind,
            if outcome.resumed { ", resumed" } else { "" },
            outcome.snapshot.display(),
            outcome.pages_fetched,
            outcome.pages_before,
            outcome.requests.requests,
            outcome.requests.throttled,
            outcome.requests.retried
        );
        for (file, rows) in &outcome.rows {
            println!("  {file:<22} {:>9}", report::thousands(*rows));
        }
        if let Some(users) = outcome.users_refetched {
            println!(
                "  events read again for every user; conversations for the {users} users changed or new since the last extraction"
            );
        }
        if !outcome.absent.is_empty() {
            println!("  not in this account's API: {}", outcome.absent.join(", "));
        }
        if outcome.kind == "full" {
            println!("next: crm-migrate -C {} audit", project_dir.display());
        } else {
            println!("next: crm-migrate -C {} delta --export {}", project_dir.display(), outcome.snapshot.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn audit(project_dir: &std::path::Path, args: &AuditArgs) -> anyhow::Result<ExitCode> {
    // Without --export, the project's export and reports directory (and its declared encodings).
    let project = match &args.export {
        Some(_) => None,
        None => Some(Project::open(project_dir).context("no --export given, and no project to take it from")?),
    };
    let mut encodings = args.encodings.clone();
    if let Some(project) = &project {
        for (file, label) in &project.config.source.encodings {
            let encoding = crm_migrate::extract::sniff::encoding_for_label(label).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: unknown encoding '{label}' for {file}",
                    project.dir.join(project::CONFIG_FILE).display()
                )
            })?;
            encodings.push((Some(file.clone()), encoding));
        }
    }
    let export_dir = args.export.clone().or_else(|| project.as_ref().map(Project::export_dir)).expect("one of the two");
    let out = args
        .out
        .clone()
        .or_else(|| project.as_ref().map(Project::reports_dir))
        .unwrap_or_else(|| PathBuf::from("reports"));
    let limits = project.as_ref().map(|project| *project.config.source.limits.get_ref()).unwrap_or_default();
    let options = ExportOptions { encodings, limits, ..ExportOptions::default() };
    let export = Export::open(&export_dir, options)?;
    let (audit, paths) = report::write_reports(&export, &out)?;
    if args.json {
        let summary = json!({
            "export": audit.export,
            "reports": paths,
            "files": audit.files.len(),
            "missing_files": audit.missing_files,
            "counts": audit.counts,
            "duplicate_groups": {"by_email": audit.duplicates.by_email.len(), "by_phone": audit.duplicates.by_phone.len()},
            "duplicate_ids": audit.duplicate_ids,
            "orphans": audit.orphans.iter().map(|o| (format!("{}.{}", o.object, o.field), o.count)).collect::<std::collections::BTreeMap<_, _>>(),
            "bad_values": audit.mismatches.iter().map(|m| (format!("{}.{}", m.object, m.field), m.count)).collect::<std::collections::BTreeMap<_, _>>(),
            "billing": audit.billing,
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", escape_lines(&report::summary(&audit, &paths)));
    }
    Ok(ExitCode::SUCCESS)
}

fn plan(project_dir: &std::path::Path, args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(project_dir)?;
    let client = PipedriveClient::new(project.client_config()?, None)?;
    eprintln!(
        "reading the export {} and the workspace at {}",
        project.export_dir().display(),
        project.config.target.url.get_ref()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // What the trust store capped (the load itself refuses what it does not list).
    let store = if project.config.plugins.is_empty() { None } else { TrustStore::configured()? };
    for plugin in &project.config.plugins {
        for capped in project.plugin_limits(plugin, store.as_ref())?.capped {
            eprintln!("  plugin {} limits: {capped}", plugin.hook.get_ref());
        }
    }
    let prepared = crm_migrate::plan::prepare(&project, &mut read_progress())?;
    let result = runtime.block_on(crm_migrate::plan::plan(&project, &client, prepared))?;
    let reports = crm_migrate::plan::report::write_reports(&result, project.budget_policy, &project.reports_dir())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&crm_migrate::plan::report::to_json(&result))?);
    } else {
        print!("{}", escape_lines(&crm_migrate::plan::report::summary(&result, project.budget_policy, &reports)));
    }
    Ok(if !result.errors.is_empty() {
        ExitCode::from(EXIT_MAPPING_INVALID)
    } else if !result.decisions.is_empty() {
        ExitCode::from(EXIT_PLAN_UNDECIDED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Progress of reading an export, on standard error: each file when done (records, rate), and
/// every 100,000 records of a long one.
fn read_progress() -> impl FnMut(&str, u64, bool) {
    let mut started = std::time::Instant::now();
    move |file: &str, records: u64, done: bool| {
        if records == 0 && !done {
            started = std::time::Instant::now();
            return;
        }
        let rate = records as f64 / started.elapsed().as_secs_f64().max(1e-3);
        let state = if done { "read" } else { "reading" };
        eprintln!(
            "  {state} {}: {} records ({} a second)",
            escape(file),
            report::thousands(records),
            report::thousands(rate as u64)
        );
    }
}

fn plugin_diff(project_dir: &std::path::Path, args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(project_dir)?;
    let diff =
        crm_migrate::plugin_diff::diff_files(&project, &args.old, &args.new, &mut |line: &str| eprintln!("{line}"))?;
    let reports = diff.write_reports(&args.out.clone().unwrap_or_else(|| project.reports_dir()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&diff)?);
    } else {
        print!("{}", diff.summary());
        for path in reports {
            println!("  report {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn approve(project_dir: &std::path::Path, args: &ApproveArgs) -> anyhow::Result<ExitCode> {
    use crm_migrate::approve::{self as approval, ApproveError};
    let project = Project::open(project_dir)?;
    let review = match approval::review(&project, &mut read_progress()) {
        Ok(review) => review,
        Err(error @ ApproveError::Invalid { .. }) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(EXIT_MAPPING_INVALID));
        }
        Err(error) => return Err(error.into()),
    };
    let counts = crm_migrate::plan::report::entry_counts(&review.mapping);
    if review.already_approved() {
        let previous = review.previous.as_ref().expect("approved before");
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"approved": true, "digest": review.digest, "approved_by": previous.approved_by, "approved_at": previous.approved_at, "changed": false})
                )?
            );
        } else {
            println!(
                "{} is already approved, unchanged ({} at {}; {})",
                review.path.display(),
                previous.approved_by,
                previous.approved_at,
                review.digest
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    // A plugin swapped since: what the swap does to this export, shown (and in the JSON answer)
    // before anyone approves it.
    let swaps = review
        .previous_basis()
        .map(|approved| {
            crm_migrate::plugin_diff::since_approval(&project, &approved, &mut |line: &str| eprintln!("{line}"))
        })
        .unwrap_or_default();
    if !args.json {
        println!("{} ({})", review.path.display(), review.digest);
        println!("  {counts}");
        println!(
            "  {} agents, {} pipelines, {} activity types mapped; checked against the workspace read at {}",
            review.mapping.agents.len(),
            review.mapping.pipelines.len(),
            review.mapping.activity_types.len(),
            review.workspace.taken_at
        );
        let plugins = review.basis.plugins.iter().map(|pin| format!("{} {}", pin.hook, pin.digest)).collect::<Vec<_>>();
        println!("  plugins: {}", if plugins.is_empty() { "none".to_owned() } else { plugins.join(", ") });
        println!("  export: {} files; target: {}", review.basis.export.len(), review.basis.target_url);
        match (&review.previous, &review.diff) {
            (Some(previous), Some(diff)) => {
                println!("changed since {} approved it at {}:\n{diff}", previous.approved_by, previous.approved_at)
            }
            (Some(_), None) => println!("  the mapping is unchanged since the last approval"),
            _ => println!(
                "  first approval of this project's mapping (the full text is recorded; the next approval shows a diff)"
            ),
        }
        for change in &review.basis_changes {
            println!("  changed since the last approval: {change}");
        }
        for (hook, swap) in &swaps {
            match swap {
                Ok(diff) => print!("what the swapped {hook} plugin changes on this export: {}", diff.summary()),
                Err(error) => println!(
                    "  the {hook} plugin changed; what it changes cannot be shown: {}",
                    escape(&error.to_string())
                ),
            }
        }
    }
    if !args.yes && !confirm("Approve this mapping? Nothing is written to Pipedrive until apply.")? {
        println!("not approved");
        return Ok(ExitCode::from(EXIT_DECLINED));
    }
    let approval = approval::approve(&project, &review, &approval::approver(args.by.as_deref()))?;
    if args.json {
        let swaps_json: Vec<serde_json::Value> = swaps
            .iter()
            .map(|(hook, swap)| match swap {
                Ok(diff) => json!({"hook": hook.to_string(), "summary": diff.summary()}),
                Err(error) => json!({"hook": hook.to_string(), "error": error.to_string()}),
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"approved": true, "digest": approval.digest, "approved_by": approval.approved_by, "approved_at": approval.approved_at, "changed": review.previous.is_some(), "diff": review.diff, "basis": review.basis, "basis_changes": review.basis_changes, "plugin_swaps": swaps_json})
            )?
        );
    } else {
        println!("approved by {} at {} ({})", approval.approved_by, approval.approved_at, approval.digest);
        println!("next: crm-migrate -C {} apply", project_dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn apply(project_dir: &std::path::Path, args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(project_dir)?;
    let sample = args.sample.map(|size| if size == 0 { project.config.options.sample_size } else { size });
    let options = crm_migrate::apply::ApplyOptions {
        sample,
        concurrency: args.load.concurrency,
        until: args.phase.clone(),
        batch_size: args.load.batch_size,
        ..crm_migrate::apply::ApplyOptions::default()
    };
    run_apply(&project, project_dir, &options, args.load.json, None)
}

fn delta(project_dir: &std::path::Path, args: &DeltaArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(project_dir)?;
    if !args.export.is_dir() {
        bail!(
            "the export {} is not a directory (a User.com export is a directory of CSV files)",
            args.export.display()
        );
    }
    let options = crm_migrate::apply::ApplyOptions {
        concurrency: args.load.concurrency,
        batch_size: args.load.batch_size,
        export: Some(args.export.clone()),
        delete_missing: args.delete_missing,
        expect_deletions: args.expect_deletions,
        overwrite_conflicts: args.overwrite_conflicts,
        ..crm_migrate::apply::ApplyOptions::default()
    };
    run_apply(&project, project_dir, &options, args.load.json, Some(args.yes))
}

/// A delta's preview: per object what is in the newer export, new, and gone from it; the
/// deletions refused, or asked for. Returns the exit code when the delta must not go on.
fn delta_preview(
    project: &Project,
    prepared: &crm_migrate::apply::Prepared,
    options: &crm_migrate::apply::ApplyOptions,
    yes: bool,
    json_output: bool,
) -> anyhow::Result<Option<ExitCode>> {
    let preview = crm_migrate::apply::preview(project, prepared, options.expect_deletions)?;
    if json_output {
        println!("{}", serde_json::to_string(&json!({"event": "delta_plan", "plan": preview}))?);
    } else {
        println!(
            "delta: per object, records in the newer export / new (to create) / gone from it (deleted in User.com)"
        );
        for row in preview.objects.iter().filter(|row| row.in_export + row.created > 0) {
            println!(
                "  {:<13} {:>8} / {:>6} / {:>6}   ({})",
                row.object.as_str(),
                report::thousands(row.in_export),
                report::thousands(row.new),
                report::thousands(row.gone),
                row.file.as_deref().unwrap_or("no file in the export")
            );
        }
    }
    if !options.delete_missing || preview.deletions == 0 {
        if preview.deletions > 0 && !json_output {
            println!(
                "  the {} records gone from the export are kept in Pipedrive (--delete-missing deletes them)",
                preview.deletions
            );
        }
        return Ok(None);
    }
    if !preview.refusals.is_empty() {
        for refusal in &preview.refusals {
            eprintln!("refused: {refusal}");
        }
        eprintln!(
            "nothing was written to Pipedrive. Check the newer export; when the deletions are real, name their number: --expect-deletions {}",
            preview.deletions
        );
        return Ok(Some(ExitCode::from(EXIT_DELETIONS_REFUSED)));
    }
    if !yes
        && !confirm(&format!(
            "Delete {} records from Pipedrive (their last values are journalled; rollback --run undoes it)?",
            preview.deletions
        ))?
    {
        println!("nothing written");
        return Ok(Some(ExitCode::from(EXIT_DECLINED)));
    }
    Ok(None)
}

/// An apply (or a delta, with its preview and `--yes`) with progress, its outcome, and the exit
/// code scripts rely on.
fn run_apply(
    project: &Project,
    project_dir: &std::path::Path,
    options: &crm_migrate::apply::ApplyOptions,
    json_output: bool,
    delta_yes: Option<bool>,
) -> anyhow::Result<ExitCode> {
    use crm_migrate::apply::{self as migration, ApplyError, ProgressEvent, Reporter};
    let observer: crm_migrate::pipedrive::EventObserver = std::sync::Arc::new(
        |event: &crm_migrate::pipedrive::ClientEvent| {
            if let crm_migrate::pipedrive::ClientEvent::WaitingForBudgetReset { resets_in } = event {
                eprintln!(
                    "  the daily token budget is used up: waiting {} for Pipedrive's reset (midnight UTC); stop with Ctrl-C and run apply again later to resume",
                    crm_migrate::pipedrive::human_duration(*resets_in)
                );
            }
        },
    );
    let client = std::sync::Arc::new(PipedriveClient::new(project.client_config()?, Some(observer))?);
    let reporter = if json_output {
        Reporter::new(|event: &ProgressEvent| {
            println!("{}", serde_json::to_string(event).expect("plain data serializes"))
        })
    } else {
        text_progress()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let prepared = match (migration::prepare(project, options), delta_yes) {
        (Ok(prepared), Some(yes)) => match delta_preview(project, &prepared, options, yes, json_output)? {
            Some(code) => return Ok(code),
            None => Ok(prepared),
        },
        (prepared, _) => prepared,
    };
    let result = prepared
        .and_then(|prepared| runtime.block_on(migration::apply(project, prepared, client.clone(), options, &reporter)));
    match result {
        Ok(outcome) => {
            if json_output {
                println!("{}", serde_json::to_string(&json!({"event": "done", "outcome": outcome}))?);
            } else {
                for line in &outcome.gone_from_source {
                    println!("  {}", escape(line));
                }
                for conflict in &outcome.conflicts {
                    for line in conflict.lines() {
                        println!("  conflict: {}", escape(&line));
                    }
                }
                if outcome.conflicts.iter().any(|conflict| !conflict.overridden) {
                    println!(
                        "  records changed in Pipedrive were left alone; --overwrite-conflicts writes them anyway"
                    );
                }
                if let Some(hierarchy) = outcome
                    .relationships
                    .as_ref()
                    .filter(|hierarchy| hierarchy.created + hierarchy.existing > 0 || !hierarchy.unsent.is_empty())
                {
                    println!(
                        "  company hierarchy: {} parent relationships made, {} made before, {} not sent (reconciliation.md says why)",
                        report::thousands(hierarchy.created),
                        report::thousands(hierarchy.existing),
                        report::thousands(hierarchy.unsent.len() as u64)
                    );
                }
                println!(
                    "{} run {} done: {} tokens, {:.1} s",
                    outcome.kind,
                    outcome.run_id,
                    report::thousands(outcome.tokens),
                    outcome.seconds
                );
                for path in &outcome.reports {
                    println!("  report {}", path.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(
            error @ ApplyError::Gate(
                GateError::NotApproved(_)
                | GateError::Changed { .. }
                | GateError::BasisChanged { .. }
                | GateError::NoMapping(_),
            ),
        ) => {
            let ApplyError::Gate(gate) = &error else { unreachable!("matched above") };
            if json_output {
                let reason = match gate {
                    GateError::NotApproved(_) => "not_approved",
                    GateError::Changed { .. } | GateError::BasisChanged { .. } => "changed_since_approval",
                    _ => "no_mapping",
                };
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"applied": false, "refused": reason, "message": error.to_string()})
                    )?
                );
            } else {
                eprintln!("error: {error}");
            }
            Ok(ExitCode::from(EXIT_NOT_APPROVED))
        }
        Err(error @ ApplyError::DeletionsRefused(_)) => {
            eprintln!("error: {error}");
            Ok(ExitCode::from(EXIT_DELETIONS_REFUSED))
        }
        Err(error) if error.is_budget_stop() => {
            eprintln!(
                "stopped: {:#}. Everything sent so far is journalled; run `crm-migrate -C {} apply` again after the reset to continue.",
                anyhow::Error::from(error),
                project_dir.display()
            );
            Ok(ExitCode::from(EXIT_BUDGET_STOP))
        }
        Err(error) => Err(error.into()),
    }
}

fn verify(project_dir: &std::path::Path, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(project_dir)?;
    let client = PipedriveClient::new(project.client_config()?, None)?;
    let options =
        crm_migrate::apply::ApplyOptions { export: args.export.clone(), ..crm_migrate::apply::ApplyOptions::default() };
    let prepared = crm_migrate::apply::prepare(&project, &options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let verification = runtime.block_on(crm_migrate::verify::verify(&project, prepared, &client))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verification)?);
    } else {
        for (object, counts) in &verification.objects {
            println!(
                "{object}: {} verified, {} mismatched, {} missing, {} unexpected",
                report::thousands(counts.verified),
                report::thousands(counts.mismatched),
                report::thousands(counts.missing),
                report::thousands(counts.unexpected)
            );
        }
        for mismatch in verification.mismatches.iter().take(20) {
            let line = format!(
                "{} {}: {}: expected {}, found {}",
                mismatch.object, mismatch.source_id, mismatch.field, mismatch.expected, mismatch.actual
            );
            println!("  {}", escape(&line));
        }
        if verification.mismatches.len() > 20 {
            println!("  ... {} more mismatches in the report", verification.mismatches.len() - 20);
        }
        for missing in &verification.missing {
            println!(
                "  missing: {} {} (was Pipedrive id {})",
                missing.object,
                escape(&missing.source_id),
                missing.pipedrive_id
            );
        }
        for unexpected in &verification.unexpected {
            println!(
                "  unexpected: {} marked {} (Pipedrive id {})",
                unexpected.object, unexpected.marker, unexpected.pipedrive_id
            );
        }
        for (object, [in_field, in_note, left_out, missing]) in verification.coverage.per_object() {
            println!(
                "{object} source values: {} in a field, {} in a note, {} left out with a reason, {} missing",
                report::thousands(in_field),
                report::thousands(in_note),
                report::thousands(left_out),
                report::thousands(missing)
            );
        }
        let examples = verification
            .coverage
            .attributes
            .iter()
            .flat_map(|row| row.missing_examples.iter().map(move |example| (row.object, example)));
        for (object, example) in examples.clone().take(20) {
            println!(
                "  missing value: {}",
                escape(&format!("{object} {} {}: {}", example.source_id, example.attribute, example.why))
            );
        }
        if verification.coverage.missing() > 20 {
            println!(
                "  ... {} more values missing: see the report",
                verification.coverage.missing() - examples.take(20).count() as u64
            );
        }
        println!("read back for {} tokens", report::thousands(verification.tokens));
        for path in &verification.reports {
            println!("  report {}", path.display());
        }
    }
    Ok(if verification.all_verified() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_NOT_VERIFIED) })
}

fn report_handoff(project_dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let project = Project::open(project_dir)?;
    let paths = crm_migrate::handoff::write(&project)?;
    println!("wrote the handoff:");
    for path in &paths {
        println!("  {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks a yes/no question on the terminal; without one, tells to pass --yes.
fn confirm(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        bail!("this asks for confirmation on a terminal; from a script, pass --yes");
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

fn rollback(project_dir: &std::path::Path, args: &RollbackArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(project_dir)?;
    if let Some(run) = args.run {
        return undo_run(&project, run, args);
    }
    let (records, workspace) = crm_migrate::rollback::preview(&project, args.sample)?;
    let what = records
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(object, count)| format!("{} {object}", report::thousands(*count)))
        .collect::<Vec<_>>()
        .join(", ");
    let scope = if args.sample { "the sample runs' records" } else { "everything apply created" };
    if !args.json {
        println!(
            "rollback of {scope}: {} records ({}), {workspace} workspace objects",
            records.values().sum::<u64>(),
            if what.is_empty() { "none".into() } else { what }
        );
    }
    if !args.yes && !confirm("Delete them from Pipedrive?")? {
        println!("nothing deleted");
        return Ok(ExitCode::from(EXIT_DECLINED));
    }
    let client = std::sync::Arc::new(PipedriveClient::new(project.client_config()?, None)?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let outcome = runtime.block_on(crm_migrate::rollback::rollback(
        &project,
        client,
        args.sample,
        args.include_changed,
        args.concurrency,
    ))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        for (object, count) in &outcome.deleted {
            println!("  deleted {} {object}", report::thousands(*count));
        }
        if outcome.relationships_deleted > 0 {
            println!(
                "  deleted {} parent relationships between organizations",
                report::thousands(outcome.relationships_deleted)
            );
        }
        if outcome.deal_products_removed > 0 {
            println!(
                "  removed {} deal products, deal participants and products",
                report::thousands(outcome.deal_products_removed)
            );
        }
        if !outcome.workspace_removed.is_empty() {
            println!("  removed {} workspace objects apply had created", outcome.workspace_removed.len());
        }
        for (object, count) in &outcome.existing.restored {
            println!(
                "  gave {} {object} records the account had their prior values back (never deleted)",
                report::thousands(*count)
            );
        }
        for conflict in &outcome.conflicts {
            for line in conflict.lines() {
                println!("  conflict: {line}");
            }
        }
        println!("  {} tokens", report::thousands(outcome.tokens));
        if outcome.residue.is_empty() {
            println!("residue: none (the listings show nothing apply created)");
        } else {
            println!("residue:");
            for line in &outcome.residue {
                println!("  {line}");
            }
        }
    }
    Ok(if outcome.residue.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_RESIDUE) })
}

/// `rollback --run N`: undoes one delta.
fn undo_run(project: &Project, run: i64, args: &RollbackArgs) -> anyhow::Result<ExitCode> {
    if !args.json {
        println!(
            "undo of delta run {run}: what it created is deleted, what it updated gets its prior values, what it deleted is created again"
        );
    }
    if !args.yes && !confirm(&format!("Undo run {run} in Pipedrive?"))? {
        println!("nothing changed");
        return Ok(ExitCode::from(EXIT_DECLINED));
    }
    let client = std::sync::Arc::new(PipedriveClient::new(project.client_config()?, None)?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let outcome = runtime.block_on(crm_migrate::rollback::undo_run(project, client, run, args.include_changed))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        let show = |what: &str, counts: &std::collections::BTreeMap<ObjectKind, u64>| {
            for (object, count) in counts {
                println!("  {what} {} {object}", report::thousands(*count));
            }
        };
        show("deleted", &outcome.deleted);
        show("restored", &outcome.restored);
        show("created again", &outcome.recreated);
        show("linked again to them:", &outcome.relinked);
        for conflict in &outcome.conflicts {
            for line in conflict.lines() {
                println!("  conflict: {line}");
            }
        }
        for line in &outcome.not_restored {
            println!("  not restored: {line}");
        }
        println!("run {run} undone: {} tokens", report::thousands(outcome.tokens));
    }
    let left = outcome.conflicts.iter().any(|conflict| !conflict.overridden) || !outcome.not_restored.is_empty();
    Ok(if left { ExitCode::from(EXIT_RESIDUE) } else { ExitCode::SUCCESS })
}

fn purge(project_dir: &std::path::Path, args: &PurgeArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(project_dir)?;
    let preview = crm_migrate::purge::preview(&project)?;
    // With --json and --yes, one document at the end: what was to go, and what went.
    if !args.json {
        print!("{}", crm_migrate::purge::preview_text(&preview));
    } else if !args.yes {
        println!("{}", serde_json::to_string_pretty(&json!({ "preview": preview }))?);
    }
    if !args.yes && !confirm("Remove this data for good?")? {
        println!("nothing removed");
        return Ok(ExitCode::from(EXIT_DECLINED));
    }
    let outcome = crm_migrate::purge::purge(&project)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!({ "preview": preview, "outcome": outcome }))?);
    } else {
        for count in &outcome.state {
            println!("  cleared {} rows: {}", report::thousands(count.rows), count.what);
        }
        for path in &outcome.reports_removed {
            println!("  removed {}", path.display());
        }
        println!(
            "state.db rebuilt: {} -> {} bytes (the cleared values are gone from the file, not only from the tables)",
            report::thousands(outcome.state_bytes_before),
            report::thousands(outcome.state_bytes_after)
        );
        println!("from now on:");
        for line in outcome.afterwards {
            println!("  - {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn status(project_dir: &std::path::Path, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let project = Project::open(project_dir)?;
    let status = crm_migrate::status::status(&project)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", crm_migrate::status::text(&status));
    }
    Ok(ExitCode::SUCCESS)
}

/// Progress on standard error: each phase's start and end (with its reconciliation), and at most
/// once a second the count, rate, time left and tokens spent.
fn text_progress() -> crm_migrate::apply::Reporter {
    use crm_migrate::apply::ProgressEvent;
    use std::sync::Mutex;
    // (when the current object started, when progress was last shown, which object)
    let last = Mutex::new((std::time::Instant::now(), std::time::Instant::now(), None));
    crm_migrate::apply::Reporter::new(move |event: &ProgressEvent| {
        let mut last = last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match event {
            ProgressEvent::PhaseStarted { phase, records } => {
                *last = (std::time::Instant::now(), std::time::Instant::now(), None);
                eprintln!("{phase}: {} records", report::thousands(*records));
            }
            ProgressEvent::Progress { object, done, total, tokens } => {
                if last.2 != Some(*object) {
                    *last = (std::time::Instant::now(), std::time::Instant::now(), Some(*object));
                }
                if last.1.elapsed() < std::time::Duration::from_secs(1) && done != total {
                    return;
                }
                last.1 = std::time::Instant::now();
                let rate = *done as f64 / last.0.elapsed().as_secs_f64().max(1e-3);
                let left = total.saturating_sub(*done) as f64 / rate.max(1e-9);
                eprintln!(
                    "  {object}: {}/{} ({rate:.1}/s, {} left, {} tokens spent)",
                    report::thousands(*done),
                    report::thousands(*total),
                    crm_migrate::pipedrive::human_duration(std::time::Duration::from_secs_f64(left.min(1e9))),
                    report::thousands(*tokens)
                );
            }
            ProgressEvent::PhaseDone { phase, reconciliation, tokens, seconds } => {
                for row in reconciliation {
                    let c = row.counts;
                    let updated = if row.updated > 0 {
                        format!(" ({} updated)", report::thousands(row.updated))
                    } else {
                        String::new()
                    };
                    let duplicates = if row.duplicate_rows > 0 {
                        format!(" + {} duplicate-id rows quarantined", report::thousands(row.duplicate_rows))
                    } else {
                        String::new()
                    };
                    // Shown only where there are any: the line stays as it was for an empty account.
                    let linked = if c.linked > 0 {
                        format!(" + {} linked to records the account had", report::thousands(c.linked))
                    } else {
                        String::new()
                    };
                    eprintln!(
                        "  {}: {} = {} created + {} merged + {} quarantined + {} excluded{linked}{duplicates}{updated}",
                        row.object,
                        report::thousands(row.in_scope),
                        report::thousands(c.created),
                        report::thousands(c.merged),
                        report::thousands(c.quarantined),
                        report::thousands(c.excluded)
                    );
                    if row.fields_left_out > 0 {
                        // A line of its own: the line above adds up to the source, this one counts within `created`.
                        eprintln!(
                            "  {}: {}, listed in reports/quarantine.csv",
                            row.object,
                            crm_migrate::apply::report::migrated_with_fields_left_out(row)
                        );
                    }
                }
                eprintln!("  {phase} done: {} tokens, {seconds:.1} s", report::thousands(*tokens));
            }
        }
    })
}

fn vet(plugin: &PluginArgs, json: bool) -> anyhow::Result<ExitCode> {
    let (component, in_force, store) = plugin.vet()?;
    let info = &component.info;
    let limits = LimitsReport::from(&in_force.limits);
    let trusted = store.as_ref().map(|store| store.find(&component.digest).is_some());
    if json {
        let report = json!({
            "file": component.path,
            "digest": component.digest.to_string(),
            "size_bytes": component.size,
            "contract": component.contract_version(),
            "supported_contracts": SUPPORTED_VERSIONS,
            "plugin": info,
            "imports": component.imports,
            "compiled": component.cache,
            "load_ms": component.load_time.as_secs_f64() * 1000.0,
            "limits": limits,
            "capped": in_force.capped,
            "trust_store": store.as_ref().map(|store| json!({"path": store.path(), "lists_it": trusted})),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} {}  ({})", escape(&info.name), escape(&info.version), escape(&info.description));
    println!("  file      {} ({} bytes)", component.path.display(), component.size);
    println!("  digest    {}", component.digest);
    println!(
        "  contract  crm-migrate:plugin@{} (this host supports {})",
        component.contract_version(),
        SUPPORTED_VERSIONS.join(", ")
    );
    let hooks: Vec<String> = info.hooks.iter().map(ToString::to_string).collect();
    println!("  hooks     {}", if hooks.is_empty() { "none".to_owned() } else { hooks.join(", ") });
    println!("  options");
    if info.options.is_empty() {
        println!("    (none)");
    }
    for option in &info.options {
        let default = option.default.as_deref().map(|d| format!(" [default: {}]", escape(d))).unwrap_or_default();
        println!("    {:<20} {}{default}", escape(&option.key), escape(&option.description));
    }
    println!("  imports   (all granted: host log and deny-all WASI stubs)");
    for import in &component.imports {
        println!("    {}", escape(import));
    }
    let cache = match &component.cache {
        CacheOutcome::Hit => "from cache".to_owned(),
        CacheOutcome::Compiled => "compiled".to_owned(),
        CacheOutcome::Rebuilt { reason } => format!("compiled again (cache entry rejected: {reason})"),
        CacheOutcome::Untrusted { reason } => format!("compiled, cache not used ({reason})"),
    };
    println!("  loaded    {cache} in {:.1} ms", component.load_time.as_secs_f64() * 1000.0);
    println!("  limits    {}", limits_text(&limits));
    for capped in &in_force.capped {
        println!("    {capped}");
    }
    match &store {
        Some(store) if trusted == Some(true) => {
            println!("  trusted   listed by the trust store {}", store.path().display())
        }
        Some(store) => println!(
            "  trusted   NO: the trust store {} does not list it (crm-migrate plugin trust adds it)",
            store.path().display()
        ),
        None => println!("  trusted   no trust store is configured on this machine"),
    }
    println!("\nvetted: pin it with  digest = \"{}\"", component.digest);
    Ok(ExitCode::SUCCESS)
}

/// A plugin's limits on one line.
fn limits_text(limits: &LimitsReport) -> String {
    let fuel = match (limits.fuel_per_call, limits.fuel_per_record) {
        (Some(per_call), Some(per_record)) => {
            format!("{} fuel a call + {} a record", report::thousands(per_call), report::thousands(per_record))
        }
        _ => "a wall-clock CPU budget".to_owned(),
    };
    format!(
        "memory {} MiB, {fuel}, {} s for a 1,000-record batch, at most {} fuel and {} s a run{}",
        limits.memory_mib,
        limits.batch_seconds,
        report::thousands(limits.run_fuel),
        limits.run_seconds,
        limits.core_instances.map(|count| format!(", {count} core instances")).unwrap_or_default()
    )
}

/// `plugin trust`: vets the file as `plugin vet` does, and adds it to the store.
fn trust(plugin: &PluginArgs, name: Option<&str>, version: Option<&str>, by: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut store = TrustStore::for_writing()?;
    let (component, in_force, _) = plugin.open_under(Some(store.clone()), false)?;
    for (expected, found) in [(name, &component.info.name), (version, &component.info.version)] {
        if let Some(expected) = expected.filter(|expected| *expected != found.as_str()) {
            return Err(TrustError::NotAsNamed {
                path: component.path.clone(),
                expected: expected.to_owned(),
                found: found.clone(),
            }
            .into());
        }
    }
    let entry = TrustedPlugin::vetted(&component, &in_force.limits, crm_migrate::approve::approver(by));
    println!(
        "trusted {} {} ({}), vetted by {} at {}",
        escape(&entry.name),
        escape(&entry.version),
        entry.digest.get_ref(),
        escape(&entry.vetted_by),
        entry.vetted_at
    );
    store.add(entry);
    store.save()?;
    println!("  in the trust store {}", store.path().display());
    Ok(ExitCode::SUCCESS)
}

/// `plugin untrust DIGEST|FILE`.
fn untrust(plugin: &str) -> anyhow::Result<ExitCode> {
    let mut store = TrustStore::for_writing()?;
    let digest = match plugin.parse::<Digest>() {
        Ok(digest) => digest,
        Err(_) => file_digest(std::path::Path::new(plugin), &CompileLimits::default())?,
    };
    let removed = store.remove(&digest)?;
    store.save()?;
    println!(
        "untrusted {} {} ({}) in the trust store {}",
        escape(&removed.name),
        escape(&removed.version),
        digest,
        store.path().display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `plugin list`: the store in force, its maxima and its plugins.
fn list_trusted(json_output: bool) -> anyhow::Result<ExitCode> {
    let store = TrustStore::configured()?;
    if json_output {
        let listing = match &store {
            Some(store) => json!({"store": store.path(), "maxima": store.maxima(), "plugins": store.plugins()}),
            None => json!({"store": null, "maxima": {}, "plugins": []}),
        };
        println!("{}", serde_json::to_string_pretty(&listing)?);
        return Ok(ExitCode::SUCCESS);
    }
    let Some(store) = store else {
        println!("no trust store is configured on this machine: every plugin a project pins may load");
        return Ok(ExitCode::SUCCESS);
    };
    println!("trust store {}: {} plugin(s)", store.path().display(), store.plugins().len());
    println!("  maxima    {}", serde_json::to_string(store.maxima())?);
    for plugin in store.plugins() {
        let hooks: Vec<String> = plugin.hooks.iter().map(ToString::to_string).collect();
        println!("  {} {} ({})", escape(&plugin.name), escape(&plugin.version), plugin.digest.get_ref());
        println!(
            "    hooks {}; vetted by {} at {}; {}",
            hooks.join(", "),
            escape(&plugin.vetted_by),
            escape(&plugin.vetted_at),
            limits_text(&plugin.limits)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let component = args.plugin.open_trusted()?;
    let plugin = component.configure_for(Hook::from(args.hook), args.config.clone())?;
    match args.hook {
        HookArg::Label => run_label(args, &plugin),
        HookArg::Clean | HookArg::Dedup => run_records(args, &plugin),
    }
}

fn run_records(args: &RunArgs, plugin: &LoadedPlugin) -> anyhow::Result<ExitCode> {
    let hook = Hook::from(args.hook);
    let input = records_csv::read_records(&args.input, args.kind)?;
    let lines: std::collections::HashMap<String, u64> =
        input.records.iter().map(|record| record.source_id.clone()).zip(input.lines.iter().copied()).collect();
    let total = input.records.len();
    let input_fields = pipeline::fields_of(&input.records);
    let started = std::time::Instant::now();
    let mut ids = BatchIds::default();
    let output = match hook {
        Hook::Clean => pipeline::clean(plugin, input.records, args.batch_size, &mut ids),
        _ => pipeline::dedup(plugin, input.records, args.batch_size, &mut ids),
    };
    let elapsed = started.elapsed();
    let counts = output.counts();
    anyhow::ensure!(counts.total() == total, "internal error: {} fates for {total} records", counts.total());

    let new_fields = pipeline::new_fields(&output, &input_fields);
    if args.json {
        print_stage_json(args, plugin, &output, &lines, &new_fields)?;
    } else {
        print_stage_text(args, plugin, &output, &lines, total, elapsed);
        for ((kind, field), records) in &new_fields {
            println!(
                "  new field (not in the input): {kind}.{}, set on {records} record{}",
                escape(field),
                if *records == 1 { "" } else { "s" }
            );
        }
    }
    Ok(if output.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_BATCHES_FAILED) })
}

fn print_stage_text(
    args: &RunArgs,
    plugin: &LoadedPlugin,
    output: &StageOutput,
    lines: &std::collections::HashMap<String, u64>,
    total: usize,
    elapsed: std::time::Duration,
) {
    let counts = output.counts();
    println!(
        "{} ({}) ran {} over {}: {total} records in {} batch{}, {:.1} ms, {} fuel",
        escape(&plugin.name()),
        plugin.component().digest,
        Hook::from(args.hook),
        args.input.display(),
        output.batches,
        if output.batches == 1 { "" } else { "es" },
        elapsed.as_secs_f64() * 1000.0,
        output.fuel_used
    );
    println!(
        "  kept {} ({} changed), dropped {}, merged {}, rejected {}, quarantined {} (failed batches: {})\n",
        counts.kept,
        counts.changed,
        counts.dropped,
        counts.merged,
        counts.rejected,
        counts.quarantined,
        output.failures.len()
    );
    for entry in &output.fates {
        let line = lines.get(&entry.source_id).map_or("?".to_owned(), u64::to_string);
        let what = match &entry.fate {
            Fate::Kept { changes } if changes.is_empty() => continue,
            Fate::Kept { changes } => format!(
                "changed      {}",
                changes
                    .iter()
                    .map(|c| format!("{}: {} -> {}", c.field, c.before, c.after))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Fate::Dropped { reason } => format!("dropped      {reason}"),
            Fate::Rejected { issues } => format!(
                "rejected     {}",
                issues.iter().map(|i| format!("{}: {}", i.field, i.message)).collect::<Vec<_>>().join("; ")
            ),
            Fate::Quarantined { reason } => format!("quarantined  {reason}"),
            Fate::Merged { survivor } => format!("merged into  {survivor}"),
        };
        println!("  line {line:>5}  {:<12} {}", escape(&entry.source_id), escape(&what));
    }
    for (batch, log) in &output.logs {
        println!("  log batch {batch} [{}] {}", log.level, escape(&log.message));
    }
    for failure in &output.failures {
        eprintln!("failed: {}", escape(&failure.to_string()));
    }
    for group in &output.unmerged_groups {
        eprintln!(
            "warning: {} records share match keys, more than {} merged automatically; left unmerged for review \
             (a placeholder email or phone?): {}{}",
            group.len(),
            pipeline::MAX_MERGE_GROUP,
            escape(&group.iter().take(5).cloned().collect::<Vec<_>>().join(", ")),
            if group.len() > 5 { ", ..." } else { "" }
        );
    }
}

fn print_stage_json(
    args: &RunArgs,
    plugin: &LoadedPlugin,
    output: &StageOutput,
    lines: &std::collections::HashMap<String, u64>,
    new_fields: &std::collections::BTreeMap<(ObjectKind, String), u64>,
) -> anyhow::Result<()> {
    let fates: Vec<serde_json::Value> = output
        .fates
        .iter()
        .map(|entry| {
            let mut value = match &entry.fate {
                Fate::Kept { changes } => json!({
                    "fate": if changes.is_empty() { "kept" } else { "changed" },
                    "changes": changes.iter().map(|c| json!({"field": c.field, "before": c.before.to_string(), "after": c.after.to_string()})).collect::<Vec<_>>(),
                }),
                Fate::Dropped { reason } => json!({"fate": "dropped", "reason": reason}),
                Fate::Rejected { issues } => json!({"fate": "rejected", "issues": issues}),
                Fate::Quarantined { reason } => json!({"fate": "quarantined", "reason": reason}),
                Fate::Merged { survivor } => json!({"fate": "merged", "survivor": survivor}),
            };
            value["source_id"] = json!(entry.source_id);
            value["kind"] = json!(entry.kind);
            value["line"] = json!(lines.get(&entry.source_id));
            value
        })
        .collect();
    let report = json!({
        "plugin": plugin.name(),
        "digest": plugin.component().digest.to_string(),
        "hook": Hook::from(args.hook).to_string(),
        "input": args.input,
        "counts": output.counts(),
        "batches": output.batches,
        "fuel_used": output.fuel_used,
        "failures": output.failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "unmerged_groups": output.unmerged_groups,
        "new_fields": new_fields.iter().map(|((kind, field), records)| json!({"kind": kind, "field": field, "records": records})).collect::<Vec<_>>(),
        "logs": output.logs.iter().map(|(batch, log)| json!({"batch": batch, "level": log.level, "message": log.message})).collect::<Vec<_>>(),
        "records": fates,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn run_label(args: &RunArgs, plugin: &LoadedPlugin) -> anyhow::Result<ExitCode> {
    let tags = records_csv::read_tags(&args.input)?;
    let segments = match &args.segments {
        Some(path) => records_csv::read_segments(path)?,
        None => Vec::new(),
    };
    let call = plugin.label(&tags, &segments).context("the label hook failed")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!({"plugin": plugin.name(), "decisions": call.output}))?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} decided {} tags ({} segments given):", escape(&plugin.name()), tags.len(), segments.len());
    for (tag, decision) in tags.iter().zip(&call.output) {
        let fate = match &decision.fate {
            TagFate::Label { name, color } => format!("label \"{name}\" ({color})"),
            TagFate::Skip { reason } => format!("skip: {reason}"),
        };
        let origin = if decision.segment_origin { "  [segment-origin: rebuild as a Pipedrive filter]" } else { "" };
        println!("  {:<24} -> {}{origin}", escape(&tag.name), escape(&fate));
    }
    Ok(ExitCode::SUCCESS)
}

impl From<HookArg> for Hook {
    fn from(hook: HookArg) -> Hook {
        match hook {
            HookArg::Clean => Hook::Clean,
            HookArg::Dedup => Hook::Dedup,
            HookArg::Label => Hook::Label,
        }
    }
}
