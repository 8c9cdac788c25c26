//! The example functions in `functions/` compiled the way a FaaSET build compiles them (the
//! prelude in scope, the source `include!`d) and called directly with `Context::default()`.

use std::path::PathBuf;
use std::time::Instant;

use faaset_runtime::prelude::*;

// Each module is one function's source with the prelude in scope; `call` exposes its
// (private) entry function to the tests.

mod hello_world {
    use faaset_runtime::prelude::*;
    include!("../../functions/hello_world/src/function.rs");
    pub fn call(request: Value) -> Value {
        hello_world(request, Context::default())
    }
}

mod cpu_test {
    use faaset_runtime::prelude::*;
    include!("../../functions/cpu_test/src/function.rs");
    pub fn call(request: Value) -> Value {
        cpu_test(request, Context::default())
    }
}

mod calc_service {
    use faaset_runtime::prelude::*;
    include!("../../functions/calc_service/src/function.rs");
    pub fn call(request: Value) -> Value {
        calc_service(request, Context::default())
    }
}

mod page_rank {
    use faaset_runtime::prelude::*;
    include!("../../functions/page_rank/src/function.rs");
    pub fn call(request: Value) -> Value {
        page_rank(request, Context::default())
    }
}

mod sleeper {
    use faaset_runtime::prelude::*;
    include!("../../functions/sleeper/src/function.rs");
    pub fn call(request: Value) -> Value {
        sleeper(request, Context::default())
    }
}

const EXAMPLES: [&str; 5] = [
    "hello_world",
    "cpu_test",
    "calc_service",
    "page_rank",
    "sleeper",
];

fn functions_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../functions")
}

fn f64_of(response: &Value, key: &str) -> f64 {
    response[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {response}"))
}

#[test]
fn hello_world_greets_by_name() {
    let r = hello_world::call(json!({"name": "Steve"}));
    assert_eq!(r["message"], "Hello Steve!");
    assert_eq!(r["lang"], "rust");
    assert!(r["uuid"].is_string(), "{r}");
    assert!(r["platform"].is_string(), "{r}");
    assert!(r["containerID"].is_string(), "{r}");
    assert!(f64_of(&r, "runtime") >= 0.0);
}

#[test]
fn hello_world_defaults_to_world() {
    assert_eq!(hello_world::call(json!({}))["message"], "Hello World!");
    assert_eq!(hello_world::call(Value::Null)["message"], "Hello World!");
    assert_eq!(hello_world::call(json!({"name": 7}))["message"], "Hello 7!");
}

#[test]
fn cpu_test_reports_the_cpu() {
    let r = cpu_test::call(json!({"name": "Steve"}));
    assert_eq!(r["message"], "Hello from the cloud Steve!");
    let cpu_type = r["cpuType"].as_str().expect("cpuType is a string");
    assert!(!cpu_type.is_empty());
    assert!(r["cpuCores"].as_u64().unwrap() >= 1);
    assert!(r["architecture"].is_string());
}

#[test]
fn calc_service_returns_its_parameters_and_saaf_deltas() {
    let r = calc_service::call(json!({"threads": 2, "calcs": 2000, "loops": 3}));
    assert_eq!(r["threads"], 2);
    assert_eq!(r["calcs"], 2000);
    assert_eq!(r["loops"], 3);
    let checksum = f64_of(&r, "checksum");
    assert!(checksum.is_finite() && checksum > 0.0, "{checksum}");
    for key in ["cpuType", "cpuUserDelta", "pageFaultsDelta", "userRuntime"] {
        assert!(r.get(key).is_some(), "missing {key} in {r}");
    }
}

#[test]
fn calc_service_is_deterministic_and_its_work_depends_on_the_payload() {
    let payload = json!({"threads": 1, "calcs": 500, "loops": 2});
    let a = f64_of(&calc_service::call(payload.clone()), "checksum");
    let b = f64_of(&calc_service::call(payload), "checksum");
    assert_eq!(a, b);
    let c = f64_of(
        &calc_service::call(json!({"calcs": 500, "loops": 3})),
        "checksum",
    );
    assert_ne!(a, c);
}

#[test]
fn calc_service_defaults_and_limits() {
    let r = calc_service::call(json!({"calcs": 10, "loops": 1}));
    assert_eq!(r["threads"], 1, "default threads");
    let r = calc_service::call(json!({"threads": 0, "calcs": 0, "loops": 1}));
    assert_eq!(r["threads"], 1, "at least one thread");
    assert_eq!(f64_of(&r, "checksum"), 0.0, "no calcs, no work");
    let r = calc_service::call(json!({"threads": 100000, "calcs": 1, "loops": 1}));
    assert_eq!(r["threads"], 256, "threads are capped");
}

#[test]
fn sleeper_sleeps_at_least_ms() {
    let started = Instant::now();
    let r = sleeper::call(json!({"ms": 120}));
    let wall = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(r["ms"], 120);
    assert!(f64_of(&r, "slept") >= 120.0, "{r}");
    assert!(f64_of(&r, "runtime") >= 120.0, "{r}");
    assert!(wall >= 120.0, "{wall}");
    assert!(r["uuid"].is_string() && r["platform"].is_string());
}

#[test]
fn sleeper_defaults_to_200_ms() {
    let r = sleeper::call(json!({}));
    assert_eq!(r["ms"], 200);
    assert!(f64_of(&r, "slept") >= 200.0, "{r}");
}

/// PageRank of the 10-ary tree computed independently: the tree's edges are generated from
/// the children side (vertex p's children are 10p+1 … 10p+10), and the ranks solve the linear
/// system (I − d·M)·r = (1 − d)/n · 1 by Gaussian elimination with partial pivoting, where
/// M[i][j] = 1/deg(j) when i and j are linked.
fn pagerank_by_linear_solve(n: usize, d: f64) -> Vec<f64> {
    let mut links: Vec<Vec<usize>> = vec![Vec::new(); n];
    for p in 0..n {
        for c in (10 * p + 1)..=(10 * p + 10) {
            if c < n {
                links[p].push(c);
                links[c].push(p);
            }
        }
    }
    // Augmented matrix [A | b].
    let mut a = vec![vec![0.0f64; n + 1]; n];
    for (i, row) in a.iter_mut().enumerate() {
        row[i] = 1.0;
        row[n] = (1.0 - d) / n as f64;
    }
    for (j, linked) in links.iter().enumerate() {
        assert!(
            !linked.is_empty(),
            "the test uses trees without dangling vertices"
        );
        for &i in linked {
            a[i][j] -= d / linked.len() as f64;
        }
    }
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))
            .unwrap();
        a.swap(col, pivot);
        let pivot_row = a[col].clone();
        for (row, values) in a.iter_mut().enumerate() {
            let factor = values[col] / pivot_row[col];
            if row != col && factor != 0.0 {
                for (value, p) in values.iter_mut().zip(&pivot_row).skip(col) {
                    *value -= factor * p;
                }
            }
        }
    }
    (0..n).map(|i| a[i][n] / a[i][i]).collect()
}

#[test]
fn the_independent_solver_is_right_on_a_case_known_by_hand() {
    // Two linked vertices: by symmetry each has rank 1/2.
    let r = pagerank_by_linear_solve(2, 0.85);
    assert!((r[0] - 0.5).abs() < 1e-12 && (r[1] - 0.5).abs() < 1e-12);
    // A star (root + 10 leaves), by hand: leaf = (1-d)/n + d·root/10,
    // root = (1-d)/n + d·10·leaf  ⇒  root = (1-d)/n·(1+10d) / (1-d²).
    let (n, d) = (11.0, 0.85);
    let root = (1.0 - d) / n * (1.0 + 10.0 * d) / (1.0 - d * d);
    let r = pagerank_by_linear_solve(11, d);
    assert!((r[0] - root).abs() < 1e-12, "{} vs {root}", r[0]);
}

fn check_page_rank(size: usize) {
    let r = page_rank::call(json!({"size": size, "loops": 2}));
    assert_eq!(r["size"], size);
    assert_eq!(r["loops"], 2);
    let iterations = r["iterations"].as_u64().unwrap();
    assert!(iterations > 1 && iterations < 10_000, "{iterations}");

    let expected = pagerank_by_linear_solve(size, 0.85);
    assert!((f64_of(&r, "rootRank") - expected[0]).abs() < 1e-6, "{r}");
    assert!((f64_of(&r, "rankSum") - 1.0).abs() < 1e-6, "{r}");

    let top3 = r["top3"].as_array().expect("top3 is an array");
    assert_eq!(top3.len(), 3);
    let mut best = expected.clone();
    best.sort_by(|x, y| y.total_cmp(x));
    for (i, entry) in top3.iter().enumerate() {
        let vertex = entry["vertex"].as_u64().unwrap() as usize;
        let rank = entry["rank"].as_f64().unwrap();
        // The reported rank is that vertex's rank, and the i-th largest rank overall.
        assert!(
            (rank - expected[vertex]).abs() < 1e-6,
            "vertex {vertex}: {rank}"
        );
        assert!((rank - best[i]).abs() < 1e-6, "#{i}: {rank} vs {}", best[i]);
    }
}

#[test]
fn page_rank_agrees_with_a_linear_solve_on_57_vertices() {
    check_page_rank(57);
}

#[test]
fn page_rank_agrees_with_a_linear_solve_on_111_vertices() {
    check_page_rank(111);
}

#[test]
fn page_rank_of_a_single_vertex_is_one() {
    let r = page_rank::call(json!({"size": 1}));
    assert!((f64_of(&r, "rootRank") - 1.0).abs() < 1e-12, "{r}");
    assert_eq!(r["top3"].as_array().unwrap().len(), 1);
}

#[test]
fn page_rank_defaults() {
    let r = page_rank::call(Value::Null);
    assert_eq!(r["size"], 1000);
    assert_eq!(r["loops"], 1);
    assert!((f64_of(&r, "rankSum") - 1.0).abs() < 1e-9);
}

#[test]
fn every_example_has_a_matching_faaset_json_and_entry_function() {
    for name in EXAMPLES {
        let dir = functions_dir().join(name);
        let text = std::fs::read_to_string(dir.join("FAASET.json"))
            .unwrap_or_else(|e| panic!("{name}/FAASET.json: {e}"));
        let config: Value = serde_json::from_str(&text).expect("FAASET.json is JSON");
        assert_eq!(config["name"], name);
        assert_eq!(config["platform"], "local");
        let source = std::fs::read_to_string(dir.join("src/function.rs")).unwrap();
        assert!(
            source.contains(&format!("fn {name}(request: Value, _context: Context)")),
            "{name}: entry function"
        );
    }
}
