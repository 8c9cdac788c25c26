# Reference values for the tests of faaset-core/src/analysis/bootstrap.rs (run once, pasted there).
# Needs scipy and numpy (this was run with scipy 1.15.3, numpy 2.4.6 in a scratch venv):
#   python3 -m venv /tmp/v && /tmp/v/bin/pip install scipy==1.15.3 numpy && /tmp/v/bin/python bootstrap_reference.py
import numpy as np, scipy
from scipy.stats import bootstrap
PHI = 0.6180339887498949
SQRT2 = 1.4142135623730951
x = np.array([5.0 + 10.0 * -np.log(1.0 - (((i + 1) * PHI) % 1.0)) for i in range(300)])
y = np.array([6.0 + 8.0 * -np.log(1.0 - (((i + 1) * SQRT2) % 1.0)) for i in range(200)])
print("scipy", scipy.__version__, "numpy", np.__version__)
stats = {
  "mean": lambda a, axis: np.mean(a, axis=axis),
  "median": lambda a, axis: np.median(a, axis=axis),
  "p95": lambda a, axis: np.percentile(a, 95, axis=axis),
  "p99": lambda a, axis: np.percentile(a, 99, axis=axis),
}
def ci(data, f, n, seed, paired=False):
    r = bootstrap(data, f, n_resamples=n, method="percentile", confidence_level=0.95,
                  random_state=np.random.default_rng(seed), vectorized=True, axis=-1, batch=10000, paired=paired)
    return r.confidence_interval.low, r.confidence_interval.high
def report(name, data, f, paired=False):
    lo, hi = ci(data, f, 200000, 12345, paired)
    # Monte-Carlo spread of the ends at 20,000 resamples (what the Rust test draws).
    ends = np.array([ci(data, f, 20000, s, paired) for s in range(20)])
    sd = ends.std(axis=0, ddof=1)
    print(f"{name}: ({lo!r}, {hi!r}) sd@20000 = ({sd[0]:.4g}, {sd[1]:.4g})")
for k, f in stats.items():
    report(k, (x,), f)
report("diff_mean", (x, y), lambda a, b, axis: np.mean(a, axis=axis) - np.mean(b, axis=axis))
report("diff_median", (x, y), lambda a, b, axis: np.median(a, axis=axis) - np.median(b, axis=axis))
report("paired_mean", (x[:200], y), lambda a, b, axis: np.mean(a, axis=axis) - np.mean(b, axis=axis), True)
report("paired_median", (x[:200], y), lambda a, b, axis: np.median(a, axis=axis) - np.median(b, axis=axis), True)
