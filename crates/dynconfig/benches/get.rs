//! `cargo bench -p sundial-dynconfig`: nanoseconds per `DynamicConfig::get` on the request
//! path (plain std::time loop; no benchmark framework to compile).

use std::hint::black_box;
use std::time::{Duration, Instant};
use sundial_dynconfig::{DynamicConfig, Scope, TaskType, keys};

const CONFIG: &str = r#"
workflow.workflowTaskTimeout:
  - value: 20s
  - value: "10s"
    constraints: {namespace: "order-service"}
  - value: "15s"
    constraints: {namespace: "billing"}
  - value: "5s"
    constraints: {namespace: "search"}
limit.maxTaskQueuePollers:
  - value: 100
  - value: 10
    constraints: {namespace: "order-service", taskQueueName: "order-service-task-queue"}
  - value: 5
    constraints: {namespace: "order-service", taskQueueName: "order-service-task-queue", taskType: Activity}
  - value: 20
    constraints: {namespace: "billing"}
"#;

fn measure<F: FnMut() -> u64>(name: &str, iterations: u64, mut f: F) {
    for _ in 0..iterations / 10 {
        black_box(f());
    }
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..iterations {
            black_box(f());
        }
        best = best.min(start.elapsed());
    }
    let ns = best.as_nanos() as f64 / iterations as f64;
    println!("{name:<55} {ns:>7.1} ns/get (best of 5 × {iterations})");
}

fn main() {
    let dc = DynamicConfig::from_yaml_str(CONFIG).expect("bench config");
    let n = 2_000_000;
    let ns = String::from("order-service");
    let tq = String::from("order-service-task-queue");
    measure("get duration, namespace match", n, || {
        dc.get(&keys::WORKFLOW_TASK_TIMEOUT, black_box(&Scope::namespace(&ns)))
            .as_secs()
    });
    measure("get duration, fallback entry", n, || {
        dc.get(&keys::WORKFLOW_TASK_TIMEOUT, black_box(&Scope::namespace("other")))
            .as_secs()
    });
    measure("get int, task queue {ns,tq,type} match", n, || {
        dc.get(
            &keys::MAX_TASK_QUEUE_POLLERS,
            black_box(&Scope::task_queue(&ns, &tq, TaskType::Activity)),
        ) as u64
    });
    measure("get bool, key not in file (default)", n, || {
        u64::from(dc.get(&keys::ENABLE_STICKY_QUERY, black_box(&Scope::namespace(&ns))))
    });
    let snap = dc.snapshot();
    measure("snapshot.get (snapshot held by caller)", n, || {
        snap.get(&keys::WORKFLOW_TASK_TIMEOUT, black_box(&Scope::namespace(&ns)))
            .as_secs()
    });
    // Several threads reading at once (wall time per thread; more threads than cores inflate it).
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let threads: Vec<_> = (0..parallel)
        .map(|_| {
            let dc = dc.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut acc = 0u64;
                for _ in 0..n {
                    acc += dc
                        .get(
                            &keys::WORKFLOW_TASK_TIMEOUT,
                            black_box(&Scope::namespace("order-service")),
                        )
                        .as_secs();
                }
                black_box(acc);
                start.elapsed().as_nanos() as f64 / n as f64
            })
        })
        .collect();
    let per: Vec<f64> = threads.into_iter().map(|t| t.join().expect("thread")).collect();
    let worst = per.iter().copied().fold(0.0, f64::max);
    println!(
        "{:<55} {worst:>7.1} ns/get (worst thread)",
        format!("get, {parallel} threads concurrently")
    );
}
