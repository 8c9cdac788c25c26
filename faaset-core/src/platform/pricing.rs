//! What a call costs on a platform: prices per GB-second and per request, for the sweep's
//! cost column ([`crate::platform::Driver::pricing`]).

use serde_json::Value;

use crate::config::Config;
use crate::error::{Error, Result};

/// Config key a platform may set to its price per GB-second (US dollars).
pub const PRICE_PER_GB_SECOND_KEY: &str = "price_per_gb_second";
/// Config key a platform may set to its price per request (US dollars).
pub const PRICE_PER_REQUEST_KEY: &str = "price_per_request";

/// Prices of a platform, US dollars.
#[derive(Debug, Clone, PartialEq)]
pub struct Pricing {
    pub per_gb_second: f64,
    pub per_request: f64,
    /// Where the prices come from, for the user.
    pub source: String,
}

impl Pricing {
    // AWS Lambda list prices, US East (N. Virginia), first tier (the first 6 billion
    // GB-seconds a month on x86, 7.5 billion on arm64), from
    // https://aws.amazon.com/lambda/pricing/ (the list prices since 1 ms billing began in
    // December 2020; as published in 2024, taken over here in 2026-11). Requests: $0.20 per
    // 1M on both architectures. Free tier and Savings Plans are left out: the sweep
    // compares settings, not bills.
    /// Lambda x86_64 duration price, USD per GB-second.
    pub const LAMBDA_X86_PER_GB_SECOND: f64 = 0.000_016_666_7;
    /// Lambda arm64 duration price, USD per GB-second.
    pub const LAMBDA_ARM_PER_GB_SECOND: f64 = 0.000_013_333_4;
    /// Lambda request price, USD per request ($0.20 per million).
    pub const LAMBDA_PER_REQUEST: f64 = 0.000_000_2;

    /// AWS Lambda's x86_64 list price.
    pub fn lambda_x86() -> Self {
        Pricing {
            per_gb_second: Self::LAMBDA_X86_PER_GB_SECOND,
            per_request: Self::LAMBDA_PER_REQUEST,
            source: "AWS Lambda x86_64 list price, us-east-1".into(),
        }
    }

    /// AWS Lambda's arm64 list price.
    pub fn lambda_arm() -> Self {
        Pricing {
            per_gb_second: Self::LAMBDA_ARM_PER_GB_SECOND,
            per_request: Self::LAMBDA_PER_REQUEST,
            source: "AWS Lambda arm64 list price, us-east-1".into(),
        }
    }

    /// The prices in a deployed configuration ([`PRICE_PER_GB_SECOND_KEY`],
    /// [`PRICE_PER_REQUEST_KEY`]) where present, else Lambda's list price for the configured
    /// `architecture` (x86_64 unless it says arm64). No platform sets price keys yet.
    pub fn for_config(config: &Config) -> Self {
        let lambda = if config.get("architecture").and_then(Value::as_str) == Some("arm64") {
            Self::lambda_arm()
        } else {
            Self::lambda_x86()
        };
        let price = |key| {
            config
                .get(key)
                .and_then(Value::as_f64)
                .filter(|p| p.is_finite() && *p >= 0.0)
        };
        match (price(PRICE_PER_GB_SECOND_KEY), price(PRICE_PER_REQUEST_KEY)) {
            (None, None) => lambda,
            (gb_second, request) => Pricing {
                per_gb_second: gb_second.unwrap_or(lambda.per_gb_second),
                per_request: request.unwrap_or(lambda.per_request),
                source: "the function's deployed configuration".into(),
            },
        }
    }

    /// Cost of one call billed `billed_ms` at `memory_mb`: GB-seconds (MB / 1024 × s) ×
    /// price per GB-second + price per request.
    pub fn cost(&self, memory_mb: u32, billed_ms: f64) -> f64 {
        f64::from(memory_mb) / 1024.0 * billed_ms / 1000.0 * self.per_gb_second + self.per_request
    }

    pub(crate) fn check(&self) -> Result<()> {
        for (what, price) in [
            ("price per GB-second", self.per_gb_second),
            ("price per request", self.per_request),
        ] {
            if !price.is_finite() || price < 0.0 {
                return Err(Error::Usage(format!(
                    "the {what} must be a finite number of US dollars, 0 or more; got {price}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lambda_prices_and_cost_per_call() {
        let p = Pricing::lambda_x86();
        // 512 MB for 300 ms = 0.15 GB-s.
        let cost = p.cost(512, 300.0);
        assert!(
            (cost - (0.15 * 0.0000166667 + 0.0000002)).abs() < 1e-15,
            "{cost}"
        );
        assert_eq!(p.cost(1024, 0.0), 0.0000002);
        let config = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(Pricing::for_config(&config(json!({"memory": 512}))), p);
        assert_eq!(
            Pricing::for_config(&config(json!({"architecture": "arm64"}))).per_gb_second,
            0.0000133334
        );
        let own = Pricing::for_config(&config(json!({"price_per_gb_second": 0.00001})));
        assert_eq!((own.per_gb_second, own.per_request), (0.00001, 0.0000002));
    }
}
