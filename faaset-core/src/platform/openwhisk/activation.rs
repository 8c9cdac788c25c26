//! OpenWhisk's activation record (the body of a blocking invoke, 200 or 502, and of
//! `GET …/activations/{id}`) into a call's answer and row fields.
//!
//! The record (swagger `Activation`; the controller's `WhiskActivation`) has `activationId`,
//! `start`/`end` (epoch ms), `duration` (ms: init + run on a cold start), `response`
//! (`{status, statusCode, success, result}`) and `annotations`, a list of `{key, value}`:
//! `initTime` (ms, **only on a cold start**), `waitTime` (ms from the controller's receipt to
//! the start of init or run), `limits` (`{memory, timeout, …}`), `timeout` (true when the
//! action ran out of time), `kind`, `path`.

use serde_json::{json, Map, Value};

/// The row fields this module fills (all in `platform::REPORT_FIELDS`).
pub const FIELDS: &[&str] = &[
    "duration",
    "initDuration",
    "waitTime",
    "coldStart",
    "activationId",
    "memorySize",
];

/// One activation, as far as FaaSET uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Activation {
    pub id: String,
    pub success: bool,
    /// `success`, `application error`, `action developer error`, `whisk internal error`.
    pub status: String,
    /// What the action returned (its JSON, or `{"error": …}`).
    pub result: Value,
    pub duration: Option<f64>,
    pub init_time: Option<f64>,
    pub wait_time: Option<f64>,
    pub memory: Option<u64>,
    pub timed_out: bool,
}

impl Activation {
    /// Reads a record; `Err` names what is missing (a body that is not a record at all).
    pub fn parse(record: &Value) -> Result<Activation, String> {
        let id = record
            .get("activationId")
            .and_then(Value::as_str)
            .ok_or("the answer has no activationId")?
            .to_string();
        let response = record
            .get("response")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("activation {id} has no response"))?;
        let annotation = |key: &str| -> Option<&Value> {
            record
                .get("annotations")?
                .as_array()?
                .iter()
                .find(|a| a.get("key").and_then(Value::as_str) == Some(key))?
                .get("value")
        };
        let status = response
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        // `success` is in every record the controller writes; the status code (0 = success)
        // and the status text stand in for records that lack it.
        let success = response
            .get("success")
            .and_then(Value::as_bool)
            .or_else(|| {
                response
                    .get("statusCode")
                    .and_then(Value::as_i64)
                    .map(|c| c == 0)
            })
            .unwrap_or(status == "success");
        Ok(Activation {
            success,
            status,
            result: response.get("result").cloned().unwrap_or(Value::Null),
            duration: record.get("duration").and_then(Value::as_f64),
            init_time: annotation("initTime").and_then(Value::as_f64),
            wait_time: annotation("waitTime").and_then(Value::as_f64),
            memory: annotation("limits")
                .and_then(|l| l.get("memory"))
                .and_then(Value::as_u64),
            timed_out: annotation("timeout").and_then(Value::as_bool) == Some(true),
            id,
        })
    }

    /// The row fields: `duration`, `initDuration` and `coldStart` (init time present),
    /// `waitTime`, `activationId`, `memorySize` (the action's memory limit).
    pub fn report(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        if let Some(d) = self.duration {
            fields.insert("duration".into(), d.into());
        }
        if let Some(init) = self.init_time {
            fields.insert("initDuration".into(), init.into());
        }
        fields.insert("coldStart".into(), self.init_time.is_some().into());
        if let Some(wait) = self.wait_time {
            fields.insert("waitTime".into(), wait.into());
        }
        fields.insert("activationId".into(), self.id.clone().into());
        if let Some(memory) = self.memory {
            fields.insert("memorySize".into(), memory.into());
        }
        fields
    }

    /// The answer's body: the action's result, or for a failed activation a Lambda-style
    /// error object carrying the action's message (what a row's `error` shows).
    pub fn body(&self) -> Value {
        if self.success {
            return self.result.clone();
        }
        let message = match self.result.get("error") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None if self.result.is_null() => format!("activation {} failed", self.id),
            None => self.result.to_string(),
        };
        let error_type = if self.timed_out {
            "Timeout"
        } else {
            match self.status.as_str() {
                "application error" => "ApplicationError",
                "action developer error" => "ActionDeveloperError",
                "whisk internal error" => "WhiskInternalError",
                _ => "ActivationFailed",
            }
        };
        json!({ "errorType": error_type, "errorMessage": message, "activationId": self.id })
    }
}

/// The id of a 202 answer (`{"activationId": …}`: the call outlived the blocking window).
pub fn accepted_id(body: &Value) -> Option<&str> {
    body.get("activationId")
        .and_then(Value::as_str)
        .filter(|_| body.get("response").is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record in the controller's shape; `annotations` as written by
    /// `ContainerProxy.constructWhiskActivation`.
    fn record(response: Value, annotations: Value, duration: u64) -> Value {
        json!({
            "namespace": "guest", "name": "hello", "version": "0.0.2", "subject": "guest",
            "publish": false, "activationId": "8b1ab5bd12ec4e3f9ab5bd12ec9e3f4d",
            "start": 1764748800000u64, "end": 1764748800000u64 + duration, "duration": duration,
            "logs": [], "response": response, "annotations": annotations,
        })
    }

    fn limits() -> Value {
        json!({"key": "limits", "value": {"concurrency": 1, "logs": 10, "memory": 256, "timeout": 60000}})
    }

    #[test]
    fn cold_start_has_init_time() {
        let r = record(
            json!({"status": "success", "statusCode": 0, "success": true, "result": {"message": "hi"}}),
            json!([{"key": "path", "value": "guest/hello"}, {"key": "waitTime", "value": 523},
                   {"key": "kind", "value": "rust:1.34"}, {"key": "timeout", "value": false},
                   limits(), {"key": "initTime", "value": 37}]),
            45,
        );
        let a = Activation::parse(&r).unwrap();
        assert!(a.success);
        assert_eq!(a.body(), json!({"message": "hi"}));
        assert_eq!(
            Value::Object(a.report()),
            json!({"duration": 45.0, "initDuration": 37.0, "coldStart": true, "waitTime": 523.0,
                   "activationId": "8b1ab5bd12ec4e3f9ab5bd12ec9e3f4d", "memorySize": 256})
        );
    }

    #[test]
    fn warm_call_has_none() {
        let r = record(
            json!({"status": "success", "statusCode": 0, "success": true, "result": {"n": 1}}),
            json!([{"key": "waitTime", "value": 4}, limits(), {"key": "timeout", "value": false}]),
            2,
        );
        let report = Activation::parse(&r).unwrap().report();
        assert_eq!(report["coldStart"], json!(false));
        assert!(!report.contains_key("initDuration"));
        assert_eq!(report["waitTime"], json!(4.0));
        assert_eq!(report["duration"], json!(2.0));
    }

    #[test]
    fn application_error_carries_the_actions_message() {
        let r = record(
            json!({"status": "application error", "statusCode": 1, "success": false,
                   "result": {"error": "function panicked: boom"}}),
            json!([limits(), {"key": "waitTime", "value": 3}]),
            1,
        );
        let a = Activation::parse(&r).unwrap();
        assert!(!a.success);
        let body = a.body();
        assert_eq!(body["errorType"], "ApplicationError");
        assert_eq!(body["errorMessage"], "function panicked: boom");
        assert_eq!(a.report()["activationId"], json!(a.id));
    }

    #[test]
    fn timeout_is_a_developer_error_named_timeout() {
        let r = record(
            json!({"status": "action developer error", "statusCode": 2, "success": false,
                   "result": {"error": "The action exceeded its time limits of 3000 milliseconds."}}),
            json!([limits(), {"key": "timeout", "value": true}, {"key": "initTime", "value": 12}]),
            3012,
        );
        let a = Activation::parse(&r).unwrap();
        assert!(a.timed_out && !a.success);
        assert_eq!(a.body()["errorType"], "Timeout");
        assert!(a.body()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("exceeded its time limits"));
        assert_eq!(a.report()["coldStart"], json!(true));
    }

    #[test]
    fn accepted_then_polled() {
        // 202: only the id; the record comes later from GET …/activations/{id}.
        let accepted = json!({"activationId": "a1b2c3"});
        assert_eq!(accepted_id(&accepted), Some("a1b2c3"));
        assert!(
            Activation::parse(&accepted).is_err(),
            "an id is not a record"
        );
        let polled = record(
            json!({"status": "success", "statusCode": 0, "success": true, "result": {"slept": 70000}}),
            json!([limits(), {"key": "waitTime", "value": 9}]),
            70000,
        );
        assert_eq!(accepted_id(&polled), None, "a record is not a 202");
        assert_eq!(
            Activation::parse(&polled).unwrap().report()["duration"],
            json!(70000.0)
        );
    }

    #[test]
    fn odd_records() {
        // No `success`: the status code decides; a non-object error is shown as JSON.
        let r = json!({"activationId": "x", "response": {"statusCode": 3, "result": {"error": {"code": 7}}}});
        let a = Activation::parse(&r).unwrap();
        assert!(!a.success);
        assert_eq!(a.body()["errorMessage"], r#"{"code":7}"#);
        assert_eq!(a.body()["errorType"], "ActivationFailed");
        assert!(Activation::parse(&json!({"activationId": "x"})).is_err());
        assert!(
            Activation::parse(&json!({"error": "The requested resource does not exist."})).is_err()
        );
    }
}
