// Spins until it has made `cpu_ms` of progress, recording every gap in its progress longer
// than 1 ms (it was not running): what a function sees of CPU throttling. Used by the CPU
// test (tests/cli/limits.rs) and the fidelity benchmark.
fn spin_timeline(request: Value, _context: Context) -> Value {
    let cpu_ms = request["cpu_ms"].as_f64().unwrap_or(100.0);
    let start = std::time::Instant::now();
    let mut last = start;
    let mut progress = 0.0f64;
    let mut stalls: Vec<f64> = Vec::new();
    while progress < cpu_ms {
        let now = std::time::Instant::now();
        let gap = now.duration_since(last).as_secs_f64() * 1e3;
        if gap > 1.0 {
            stalls.push(gap);
        } else {
            progress += gap;
        }
        last = now;
    }
    json!({"wall": start.elapsed().as_secs_f64() * 1e3, "stalls": stalls})
}
