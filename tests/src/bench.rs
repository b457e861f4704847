//! What the benchmarks in `tests/benches` share: running a measured phase in a child process
//! (so its peak memory and CPU time are its own), the fixtures, and stored rows made by cloning
//! one plan that was really created and signed through the use cases.

use std::io::Read;
use std::process::{Command, Stdio};

use serde_json::Value;
use tranche_domain::creditor::Language;
use tranche_domain::events::Event;
use tranche_domain::mandate::{self, Mandate, MandateId};
use tranche_domain::plan::{Plan, PlanId};
use tranche_domain::ports::Ports;
use tranche_domain::secrets;
use tranche_domain::signing::{self, Links, RequestOrigin, SigningForm, SigningOutcome};
use tranche_domain::use_cases;
use tranche_local::host;

/// The line a child prints its JSON result on.
pub const RESULT_PREFIX: &str = "result: ";

/// What one child process did, as it reported it and as `wait4` saw it.
pub struct ChildRun {
    pub result: Value,
    pub max_rss_kib: i64,
    /// User and system CPU time of the whole child (opening the store included), which, unlike
    /// the wall time, other work on the machine hardly changes.
    pub cpu_seconds: (f64, f64),
}

impl ChildRun {
    pub fn cpu(&self) -> String {
        format!(
            "CPU {:.2} s user + {:.2} s system",
            self.cpu_seconds.0, self.cpu_seconds.1
        )
    }

    pub fn max_rss_mib(&self) -> i64 {
        self.max_rss_kib / 1024
    }
}

/// Prints the cores and the load average: the machine is shared, and a load above its cores
/// stretches the wall times, not the CPU times.
pub fn print_machine() {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{} cores, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// Runs this binary again with `--child` and `args`; answers its result line, its peak memory
/// and its CPU time.
// The child is reaped by `wait4`, not `Child::wait`, which would drop its resource usage.
#[allow(clippy::zombie_processes)]
pub fn run_child(args: &[&str]) -> ChildRun {
    let mut child = Command::new(std::env::current_exe().expect("the bench binary's path"))
        .arg("--child")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the bench binary starts again");
    let mut output = String::new();
    child
        .stdout
        .take()
        .expect("a piped stdout")
        .read_to_string(&mut output)
        .expect("the child's output");

    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value, and `wait4` writes into both out-pointers,
    // which point to live locals.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(
        waited,
        pid,
        "wait4 failed: {}",
        std::io::Error::last_os_error()
    );
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child {args:?} failed with status {status}"
    );

    let line = output
        .lines()
        .find_map(|l| l.strip_prefix(RESULT_PREFIX))
        .unwrap_or_else(|| panic!("child {args:?} printed no result: {output}"));
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    ChildRun {
        result: serde_json::from_str(line).expect("a JSON result"),
        // Linux reports `ru_maxrss` in KiB.
        max_rss_kib: usage.ru_maxrss,
        cpu_seconds: (seconds(usage.ru_utime), seconds(usage.ru_stime)),
    }
}

/// The arguments after `--child`, when this process is a child.
pub fn child_args() -> Option<Vec<String>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let at = args.iter().position(|a| a == "--child")?;
    Some(args[at + 1..].to_vec())
}

/// An API fixture of `tests/fixtures/api`.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/api/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON")
}

pub fn links() -> Links {
    Links {
        public_url: "http://127.0.0.1:8080".to_owned(),
        mail_from: host::DEFAULT_MAIL_FROM.to_owned(),
    }
}

/// Creates a 12-month plan and signs its mandate through the use cases, as a debtor would;
/// answers them as stored.
pub async fn sign_one_plan(ports: &Ports, links: &Links) -> (Plan, Mandate) {
    let mut body = fixture("plan-monthly-consumer.json");
    body["count"] = serde_json::json!(12);
    let created = use_cases::create_plan(ports, &body, &links.public_url)
        .await
        .expect("the plan");
    let token = created
        .signing_url
        .rsplit('/')
        .next()
        .expect("a token in the link");
    let session = signing::open_signing_link(ports, token)
        .await
        .expect("the signing link")
        .expect("a working link");
    let language = Language::De;
    let document = signing::mandate_document(
        &session.creditor,
        &session.plan,
        &session.mandate,
        None,
        language,
    );
    let form = SigningForm {
        name: "Jörg Müller".to_owned(),
        street: "Lindenallee".to_owned(),
        building: "3".to_owned(),
        postcode: "50667".to_owned(),
        town: "Köln".to_owned(),
        country: "DE".to_owned(),
        iban: "de89 3704 0044 0532 0130 00".to_owned(),
        bic: String::new(),
        signature_name: "Jörg Müller".to_owned(),
        accept: true,
        document: document.sha256(),
        ..SigningForm::default()
    };
    let origin = RequestOrigin {
        ip_address: "192.0.2.10".to_owned(),
        user_agent: "tranche-bench".to_owned(),
    };
    let outcome = signing::submit_signature(ports, &session, &form, &origin, language, links)
        .await
        .expect("the signature");
    assert!(
        matches!(outcome, SigningOutcome::Signed { .. }),
        "not signed: {outcome:?}"
    );

    let plan = ports
        .plans
        .get_plan(&created.plan.id)
        .await
        .expect("the plan")
        .expect("a stored plan");
    let mandate_id = MandateId(plan.mandate_id.clone().expect("a mandate"));
    let mandate = ports
        .mandates
        .get_mandate(&mandate_id)
        .await
        .expect("the mandate")
        .expect("a stored mandate");
    (plan, mandate)
}

/// The fresh ids of one copy of a signed plan.
pub struct CopyIds {
    pub plan_id: String,
    pub mandate_id: String,
    pub reference: String,
}

impl CopyIds {
    pub fn fresh(reference_prefix: &str) -> Self {
        Self {
            plan_id: secrets::random_id("pln"),
            mandate_id: secrets::random_id("mnd"),
            reference: mandate::new_reference(reference_prefix),
        }
    }
}

/// A copy of a signed plan and its mandate, with their events.
pub struct SignedCopy {
    pub plan: Plan,
    pub mandate: Mandate,
    /// The plan's events, then the mandate's.
    pub events: Vec<Event>,
    /// Every old value and the new one that replaced it, for the caller's own rows.
    pub renames: Vec<(String, String)>,
}

/// A copy of a signed plan and its mandate under `ids`, with a fresh download link, the signed
/// document's hash recomputed, and both event chains rebuilt for the new ids (with `renames`
/// applied as well): rows as a real signing would have left them.
pub fn clone_signed(
    ids: &CopyIds,
    plan: &Plan,
    mandate: &Mandate,
    plan_events: &[Event],
    mandate_events: &[Event],
    renames: &[(String, String)],
) -> SignedCopy {
    let mut copy_mandate = mandate.clone();
    copy_mandate.id = MandateId(ids.mandate_id.clone());
    copy_mandate.plan_id = PlanId(ids.plan_id.clone());
    copy_mandate.reference = ids.reference.clone();
    copy_mandate.document_key = mandate
        .document_key
        .as_ref()
        .map(|key| key.replace(&mandate.id.0, &ids.mandate_id));
    copy_mandate.download_token_hash = Some(secrets::sha256_hex(secrets::random_token()));
    let mut document_sha256 = None;
    if let Some(document) = copy_mandate.document.as_mut() {
        for field in &mut document.fields {
            if field.value == mandate.reference {
                field.value = ids.reference.clone();
            }
        }
        let sha256 = document.sha256();
        if let Some(fingerprint) = document.fingerprint.as_mut() {
            fingerprint.value = sha256.clone();
        }
        document_sha256 = Some(sha256);
    }
    if let (Some(signature), Some(sha256)) = (copy_mandate.signature.as_mut(), &document_sha256) {
        signature.document_sha256 = sha256.clone();
    }

    let mut all_renames = vec![
        (plan.id.0.clone(), ids.plan_id.clone()),
        (mandate.id.0.clone(), ids.mandate_id.clone()),
        (mandate.reference.clone(), ids.reference.clone()),
    ];
    if let (Some(old), Some(new)) = (&mandate.signature, &document_sha256) {
        all_renames.push((old.document_sha256.clone(), new.clone()));
    }
    all_renames.extend_from_slice(renames);
    let mut events = rechain(plan_events, &ids.plan_id, &all_renames);
    let mut copy = plan.clone();
    copy.id = PlanId(ids.plan_id.clone());
    copy.mandate_id = Some(ids.mandate_id.clone());
    copy.event_head = events.last().map(Event::head);
    events.extend(rechain(mandate_events, &ids.mandate_id, &all_renames));
    SignedCopy {
        plan: copy,
        mandate: copy_mandate,
        events,
        renames: all_renames,
    }
}

/// The events of one aggregate again, for another aggregate id, with the ids and references in
/// their data renamed, chained anew.
pub fn rechain(events: &[Event], aggregate_id: &str, renames: &[(String, String)]) -> Vec<Event> {
    let mut chain: Vec<Event> = Vec::with_capacity(events.len());
    for event in events {
        let mut data = event.data.clone();
        if let Some(fields) = data.as_object_mut() {
            for value in fields.values_mut() {
                if let Some((_, new)) = renames.iter().find(|(old, _)| value.as_str() == Some(old))
                {
                    *value = Value::String(new.clone());
                }
            }
        }
        let next = Event::after(
            chain.last().map(Event::head).as_ref(),
            aggregate_id,
            &event.kind,
            event.at,
            &event.actor,
            data,
        );
        chain.push(next);
    }
    chain
}
