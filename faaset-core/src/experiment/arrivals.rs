//! When the calls of an open-loop experiment are meant to start: a [`Phase`] list (steady
//! rates, linear ramps, bursts) and an [`Arrival`] process turned into the intended start
//! time of every call, in seconds from the start of the run, before the first call is made.
//!
//! Both processes are built on the phases' cumulative rate Λ(t) = ∫₀ᵗ rate(s) ds (the expected
//! number of calls by time t): `uniform` puts call k at Λ(t) = k (equally spaced at a steady
//! rate, spacing 1/rate, first call at 0), `poisson` puts calls at the points of a unit-rate
//! Poisson process in Λ — cumulative sums of Exp(1) draws — which by the time-rescaling
//! theorem is a Poisson process of the asked rate, inhomogeneous on a ramp. So `poisson` has
//! exponential inter-arrival times and a random number of calls (mean: the sum of
//! rate × duration), `uniform` exactly ⌈Λ(end)⌉. The draws come from a SplitMix64 stream
//! derived from the experiment's seed: the same seed gives the same schedule everywhere.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::random::SplitMix64;

/// How arrivals are spread in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrival {
    /// Equally spaced at the current rate.
    #[default]
    Uniform,
    /// A Poisson process: independent arrivals, exponential gaps (real traffic's model).
    Poisson,
}

impl Arrival {
    pub const NAMES: [&'static str; 2] = ["uniform", "poisson"];

    pub fn name(self) -> &'static str {
        match self {
            Arrival::Uniform => "uniform",
            Arrival::Poisson => "poisson",
        }
    }
}

impl std::str::FromStr for Arrival {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "uniform" => Ok(Arrival::Uniform),
            "poisson" => Ok(Arrival::Poisson),
            _ => Err(Error::Usage(format!(
                "unknown arrival {text:?}: use arrival=uniform (equally spaced) or arrival=poisson (exponential gaps)"
            ))),
        }
    }
}

/// A stretch of an open-loop run: `rate` calls/s for `duration` seconds, or a linear ramp
/// from `rate` to `to_rate`. A burst is a short phase of a high rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Calls per second at the phase's start.
    pub rate: f64,
    /// Seconds.
    pub duration: f64,
    /// Calls per second at its end, reached linearly; absent: steady at `rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_rate: Option<f64>,
}

/// The highest rate one run may ask for: each call is a tokio task and a row, and beyond
/// about 10⁵ calls/s one client process cannot even issue them (`bench/open_loop.sh`).
pub const MAX_RATE: f64 = 100_000.0;
/// The longest open-loop run: a day.
pub const MAX_DURATION_S: f64 = 86_400.0;

impl Phase {
    pub fn steady(rate: f64, duration: f64) -> Self {
        Phase {
            rate,
            duration,
            to_rate: None,
        }
    }

    fn end_rate(&self) -> f64 {
        self.to_rate.unwrap_or(self.rate)
    }

    /// Expected calls in the phase: Λ over its duration.
    pub fn expected_calls(&self) -> f64 {
        (self.rate + self.end_rate()) / 2.0 * self.duration
    }

    /// The time into the phase by which `lambda` calls are expected (the inverse of Λ).
    fn time_at(&self, lambda: f64) -> f64 {
        let (r0, r1, d) = (self.rate, self.end_rate(), self.duration);
        // Λ(t) = r0 t + a t², a = (r1 − r0) / 2d. The root in the form without cancellation
        // (also right for a = 0 and for r0 = 0).
        let a = (r1 - r0) / (2.0 * d);
        let root = (r0 * r0 + 4.0 * a * lambda).max(0.0).sqrt();
        let t = if r0 + root > 0.0 {
            2.0 * lambda / (r0 + root)
        } else {
            0.0
        };
        t.clamp(0.0, d)
    }

    /// Checks one phase; `which` names it in the message (`rate=`, or `phase 2`).
    pub fn check(&self, which: &str) -> Result<()> {
        let rate_ok = |r: f64| r.is_finite() && (0.0..=MAX_RATE).contains(&r);
        if !rate_ok(self.rate) || self.to_rate.is_some_and(|r| !rate_ok(r)) {
            return Err(Error::Usage(format!(
                "{which}: a rate must be a number of calls per second from 0 to {MAX_RATE} (e.g. rate=200), got {}",
                describe(self.rate, self.to_rate)
            )));
        }
        if !(self.duration.is_finite() && self.duration > 0.0 && self.duration <= MAX_DURATION_S) {
            return Err(Error::Usage(format!(
                "{which}: duration must be more than 0 and at most {MAX_DURATION_S} seconds (e.g. duration=10), got {}",
                self.duration
            )));
        }
        Ok(())
    }
}

fn describe(rate: f64, to: Option<f64>) -> String {
    match to {
        Some(to) => format!("{rate} to {to}"),
        None => rate.to_string(),
    }
}

/// `phases=`: a JSON array of phases, as both front ends take it.
pub fn parse_phases(value: &serde_json::Value) -> Result<Vec<Phase>> {
    let example =
        r#"[{"rate": 100, "duration": 5}, {"rate": 100, "to_rate": 1000, "duration": 5}]"#;
    let serde_json::Value::Array(items) = value else {
        return Err(Error::Usage(format!(
            "phases must be a JSON array of phases like {example}"
        )));
    };
    if items.is_empty() {
        return Err(Error::Usage(format!(
            "phases is empty: give at least one phase, like {example}"
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value::<Phase>(item.clone()).map_err(|e| {
                Error::Usage(format!(
                    "phase {} is not a phase ({e}): each is {{\"rate\": calls/s, \"duration\": s}} with an optional \"to_rate\", e.g. {example}",
                    i + 1
                ))
            })
        })
        .collect()
}

/// Expected calls of all phases.
pub fn expected_calls(phases: &[Phase]) -> f64 {
    phases.iter().map(Phase::expected_calls).sum()
}

/// Total seconds of all phases.
pub fn duration(phases: &[Phase]) -> f64 {
    phases.iter().map(|p| p.duration).sum()
}

/// Salt of the arrivals' stream (see [`SplitMix64::derived`]).
const ARRIVALS: u64 = 2;

/// The intended start of every call, seconds from the run's start, ascending.
pub fn schedule(phases: &[Phase], arrival: Arrival, seed: u64) -> Vec<f64> {
    match arrival {
        Arrival::Uniform => {
            let mut k = -1.0;
            points(phases, || {
                k += 1.0;
                k
            })
        }
        Arrival::Poisson => {
            let mut rng = SplitMix64::derived(seed, ARRIVALS);
            let mut lambda = 0.0;
            points(phases, || {
                lambda += rng.exponential();
                lambda
            })
        }
    }
}

/// Maps the increasing points `next` yields on the Λ axis to times, through the phases.
fn points(phases: &[Phase], mut next: impl FnMut() -> f64) -> Vec<f64> {
    let mut times = Vec::with_capacity(expected_calls(phases).ceil() as usize + 16);
    let (mut start, mut before) = (0.0, 0.0);
    let mut lambda = next();
    for phase in phases {
        let calls = phase.expected_calls();
        while lambda < before + calls {
            times.push(start + phase.time_at(lambda - before));
            lambda = next();
        }
        start += phase.duration;
        before += calls;
    }
    times
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{ContinuousCDF, Exp};

    /// The Kolmogorov–Smirnov distance of `sample` from `cdf`.
    fn ks(sample: &mut [f64], cdf: impl Fn(f64) -> f64) -> f64 {
        sample.sort_by(f64::total_cmp);
        let n = sample.len() as f64;
        sample
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = cdf(x);
                (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
            })
            .fold(0.0, f64::max)
    }

    fn gaps(times: &[f64]) -> Vec<f64> {
        std::iter::once(times[0])
            .chain(times.windows(2).map(|w| w[1] - w[0]))
            .collect()
    }

    #[test]
    fn uniform_is_equally_spaced_at_the_rate() {
        let times = schedule(&[Phase::steady(200.0, 10.0)], Arrival::Uniform, 1);
        assert_eq!(times.len(), 2000);
        assert_eq!(times[0], 0.0);
        for gap in gaps(&times).iter().skip(1) {
            assert!((gap - 0.005).abs() < 1e-9, "{gap}");
        }
        assert!(times[1999] < 10.0);
    }

    #[test]
    fn poisson_gaps_are_exponential_and_seeded() {
        let times = schedule(&[Phase::steady(200.0, 10.0)], Arrival::Poisson, 42);
        // Poisson(2000) counts: within 4 sd (4 × 44.7).
        assert!(
            (times.len() as f64 - 2000.0).abs() < 180.0,
            "{}",
            times.len()
        );
        let mut g = gaps(&times);
        let exp = Exp::new(200.0).unwrap();
        // The KS critical value at α = 0.001 is 1.95/√n; a generator that is not exponential
        // (uniform spacing, a wrong rate) is far beyond it.
        let d = ks(&mut g, |x| exp.cdf(x));
        assert!(d < 1.95 / (g.len() as f64).sqrt(), "KS distance {d}");
        let wrong = Exp::new(150.0).unwrap();
        assert!(ks(&mut g, |x| wrong.cdf(x)) > 1.95 / (g.len() as f64).sqrt());
        assert_eq!(
            times,
            schedule(&[Phase::steady(200.0, 10.0)], Arrival::Poisson, 42)
        );
        assert_ne!(
            times,
            schedule(&[Phase::steady(200.0, 10.0)], Arrival::Poisson, 7)
        );
    }

    #[test]
    fn a_ramp_follows_its_cumulative_rate() {
        // 0 → 400 calls/s over 10 s: Λ(t) = 20 t², 2000 calls, half of them after t = √50.
        let ramp = Phase {
            rate: 0.0,
            duration: 10.0,
            to_rate: Some(400.0),
        };
        let times = schedule(std::slice::from_ref(&ramp), Arrival::Uniform, 1);
        assert_eq!(times.len(), 2000);
        for (k, t) in times.iter().enumerate() {
            assert!((20.0 * t * t - k as f64).abs() < 1e-6, "call {k} at {t}");
        }
        let poisson = schedule(&[ramp], Arrival::Poisson, 3);
        let late = poisson.iter().filter(|&&t| t > 50f64.sqrt()).count() as f64;
        assert!((late / poisson.len() as f64 - 0.5).abs() < 0.05);
    }

    #[test]
    fn phases_follow_one_another() {
        let phases = [
            Phase::steady(10.0, 1.0),
            Phase::steady(1000.0, 0.5),
            Phase::steady(10.0, 1.0),
        ];
        let times = schedule(&phases, Arrival::Uniform, 1);
        assert_eq!(times.len(), 10 + 500 + 10);
        assert!(times[..10].iter().all(|&t| t < 1.0));
        assert!(times[10..510].iter().all(|&t| (1.0..1.5).contains(&t)));
        assert!(times[510..].iter().all(|&t| (1.5..2.5).contains(&t)));
        assert_eq!(expected_calls(&phases), 520.0);
        assert_eq!(duration(&phases), 2.5);
    }

    #[test]
    fn bad_phases_say_what_to_fix() {
        let err = |p: Phase| p.check("rate=").unwrap_err().to_string();
        assert!(err(Phase::steady(-1.0, 1.0)).contains("a rate must be"));
        assert!(err(Phase::steady(f64::NAN, 1.0)).contains("a rate must be"));
        assert!(err(Phase::steady(1e9, 1.0)).contains("from 0 to 100000"));
        assert!(err(Phase::steady(1.0, 0.0)).contains("duration must be more than 0"));
        assert!(err(Phase::steady(1.0, f64::INFINITY)).contains("duration"));
        assert!("gaussian"
            .parse::<Arrival>()
            .unwrap_err()
            .to_string()
            .contains("arrival=poisson"));
        let phases = |text: &str| parse_phases(&serde_json::from_str(text).unwrap());
        assert_eq!(
            phases(r#"[{"rate": 5, "duration": 2}, {"rate": 5, "to_rate": 50, "duration": 1}]"#)
                .unwrap(),
            vec![
                Phase::steady(5.0, 2.0),
                Phase {
                    rate: 5.0,
                    duration: 1.0,
                    to_rate: Some(50.0)
                }
            ]
        );
        let e = phases(r#"[{"rate": 5, "duration": 2}, {"rate": 5, "secs": 1}]"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("phase 2 is not a phase") && e.contains("secs"),
            "{e}"
        );
        assert!(phases("[]")
            .unwrap_err()
            .to_string()
            .contains("phases is empty"));
        assert!(phases("{}").unwrap_err().to_string().contains("JSON array"));
    }
}
