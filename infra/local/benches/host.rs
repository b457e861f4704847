//! Figures for the local host, printed, not asserted:
//!
//! - plan previews per second: the use case in-process, and through HTTP with a keep-alive
//!   client (sequential, then 4 concurrent clients);
//! - the time from starting `tranche serve` to its first answer, on a fresh and on an
//!   existing data folder.
//!
//! Run with `cargo bench -p tranche-local --bench host`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tranche_domain::use_cases;
use tranche_local::host;

const MEASURE_FOR: Duration = Duration::from_secs(3);
const STARTS: usize = 10;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/api/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON")
}

#[tokio::main]
async fn main() {
    let today = chrono::NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
    let creditor = fixture("creditor-acme.json");
    let plan = fixture("plan-monthly-consumer.json");

    // In-process: the use case on the embedded store.
    let folder = tempfile::tempdir().unwrap();
    let ports = host::open_ports(folder.path(), host::clock_for(Some(today))).unwrap();
    use_cases::put_creditor(&ports, "acme", &creditor)
        .await
        .unwrap();
    let (n, elapsed) = repeat(|| async {
        use_cases::preview_plan(&ports, &plan).await.unwrap();
    })
    .await;
    report("plan previews, use case in-process", n, elapsed);

    // Over HTTP, through the real router and a loopback socket.
    let http_folder = tempfile::tempdir().unwrap();
    let listening = host::bind(host::ServeConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        data: http_folder.path().to_owned(),
        today: Some(today),
        public_url: None,
        api_key: Some("tk_bench".into()),
        mail_from: None,
    })
    .await
    .unwrap();
    let base = format!("http://{}", listening.addr);
    tokio::spawn(listening.serve(std::future::pending()));
    let client = reqwest::Client::new();
    client
        .put(format!("{base}/v1/creditors/acme"))
        .bearer_auth("tk_bench")
        .json(&creditor)
        .send()
        .await
        .unwrap();
    let preview = |client: reqwest::Client, base: String, plan: Value| async move {
        let response = client
            .post(format!("{base}/v1/plans/preview"))
            .bearer_auth("tk_bench")
            .json(&plan)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        response.bytes().await.unwrap();
    };
    let (n, elapsed) = repeat(|| preview(client.clone(), base.clone(), plan.clone())).await;
    report("plan previews, HTTP, 1 client", n, elapsed);

    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (client, base, plan) = (client.clone(), base.clone(), plan.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < MEASURE_FOR {
                preview(client.clone(), base.clone(), plan.clone()).await;
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap();
    }
    report("plan previews, HTTP, 4 clients", total, started.elapsed());

    // Start-to-first-answer of the real binary.
    let binary = env!("CARGO_BIN_EXE_tranche");
    let data = tempfile::tempdir().unwrap();
    let mut fresh = Vec::new();
    let mut existing = Vec::new();
    for i in 0..STARTS {
        let folder = data.path().join(format!("fresh-{i}"));
        fresh.push(time_to_first_answer(binary, &folder, &client).await);
        existing.push(time_to_first_answer(binary, &data.path().join("fresh-0"), &client).await);
    }
    report_times(
        "tranche serve, start to first answer, new data folder",
        &mut fresh,
    );
    report_times(
        "tranche serve, start to first answer, existing data folder",
        &mut existing,
    );
}

async fn repeat<F, Fut>(mut once: F) -> (u64, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..50 {
        once().await;
    }
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < MEASURE_FOR {
        once().await;
        n += 1;
    }
    (n, started.elapsed())
}

fn report(what: &str, n: u64, elapsed: Duration) {
    println!(
        "{what}: {:.0} per second ({n} in {:.2} s)",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}

async fn time_to_first_answer(
    binary: &str,
    data: &std::path::Path,
    client: &reqwest::Client,
) -> Duration {
    let started = Instant::now();
    let mut child = Command::new(binary)
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("TRANCHE_API_KEY", "tk_bench")
        .env("TRANCHE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tranche starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned();
    loop {
        if let Ok(r) = client.get(format!("http://{addr}/healthz")).send().await
            && r.status().is_success()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

fn report_times(what: &str, times: &mut [Duration]) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: median {:.1} ms, min {:.1} ms, max {:.1} ms ({} starts)",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len()
    );
}
