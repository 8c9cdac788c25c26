// calc_service: a CPU-bound service (FaaSET's "calcs" example). Each of `threads` threads
// runs `loops` loops of `calcs` calculations: pick a random slot, draw three random operands,
// multiply two and divide by the third, store the results. Runtime grows with
// threads × loops × calcs, so it shows how CPU share (memory setting) changes performance.
//
// Payload: {"threads": 1, "calcs": 100000, "loops": 100}

/// Defaults: one call takes about 110-170 ms when release-built on a 2.5 GHz AMD EPYC core.
const DEFAULT_THREADS: u64 = 1;
const DEFAULT_CALCS: u64 = 100_000;
const DEFAULT_LOOPS: u64 = 100;
/// Upper bound on `threads`, so a payload cannot exhaust the environment.
const MAX_THREADS: u64 = 256;

fn calc_service(request: Value, _context: Context) -> Value {
    let mut inspector = Inspector::new();
    inspector.inspect_all();

    let param =
        |key: &str, default: u64| request.get(key).and_then(Value::as_u64).unwrap_or(default);
    let threads = param("threads", DEFAULT_THREADS).clamp(1, MAX_THREADS);
    let calcs = param("calcs", DEFAULT_CALCS);
    let loops = param("loops", DEFAULT_LOOPS);

    let workers: Vec<_> = (0..threads)
        .map(|t| std::thread::spawn(move || calc_worker(calcs as usize, loops, t + 1)))
        .collect();
    let checksum: f64 = workers
        .into_iter()
        .map(|w| w.join().expect("calc worker panicked"))
        .sum();

    inspector.inspect_all_deltas();
    inspector.add_attribute("threads", threads);
    inspector.add_attribute("calcs", calcs);
    inspector.add_attribute("loops", loops);
    // The sum of all results: keeps the work from being optimised away.
    inspector.add_attribute("checksum", checksum);
    inspector.finish()
}

/// One thread's work: `loops` × `calcs` random multiply/divide steps over three operand
/// arrays; returns the sum of the stored results.
fn calc_worker(calcs: usize, loops: u64, seed: u64) -> f64 {
    if calcs == 0 {
        return 0.0;
    }
    let mut rng = XorShift64::new(seed);
    let mut a = vec![0.0f64; calcs];
    let mut b = vec![0.0f64; calcs];
    let mut c = vec![0.0f64; calcs];
    for _ in 0..loops {
        for _ in 0..calcs {
            let j = rng.below(calcs as u64) as usize;
            let x = (rng.below(99_999) + 1) as f64;
            let y = (rng.below(99_999) + 1) as f64;
            let z = (rng.below(99_999) + 1) as f64;
            a[j] = x * y;
            b[j] = y / z;
            c[j] = a[j] / b[j];
        }
    }
    a.iter().zip(&b).zip(&c).map(|((a, b), c)| a + b + c).sum()
}

/// Marsaglia's xorshift64: a tiny, fast PRNG (quality is not the point here).
struct XorShift64(u64);

impl XorShift64 {
    fn new(seed: u64) -> Self {
        // Spread small seeds over the bits; the state must never be zero.
        XorShift64((seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
