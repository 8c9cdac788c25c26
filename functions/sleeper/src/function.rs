// sleeper: sleeps `ms` milliseconds and reports how long it slept. Useful to study
// concurrency, cold starts and billing without using the CPU.
//
// Payload: {"ms": 200}

use std::time::{Duration, Instant};

fn sleeper(request: Value, _context: Context) -> Value {
    let mut inspector = Inspector::new();
    inspector.inspect_container();
    inspector.inspect_platform();

    let ms = request.get("ms").and_then(Value::as_u64).unwrap_or(200);
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(ms));
    let slept = started.elapsed().as_secs_f64() * 1000.0;

    inspector.add_attribute("ms", ms);
    // Milliseconds actually slept, to the microsecond.
    inspector.add_attribute("slept", (slept * 1000.0).round() / 1000.0);
    inspector.finish()
}
