//! The Lambda HTTP API (control plane and Invoke) over reqwest, every request signed with
//! SigV4 by `aws-sigv4`, AWS's own implementation (never by hand).
//!
//! Only the calls FaaSET needs: GetFunction, CreateFunction, UpdateFunctionConfiguration,
//! UpdateFunctionCode, GetFunctionConfiguration (waiting for updates), Invoke, and the
//! function-URL calls. Errors name the call and AWS's error code; they never contain a
//! secret (a refused signature is reported by its code only, because AWS's message quotes
//! the signed request).

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::credentials::{masked_key_id, Resolved};
use crate::error::chain as error_chain;
use crate::error::{Error, Result};

/// The signing name of Lambda, for the API and for function URLs alike.
const SERVICE: &str = "lambda";

/// A signed client of one region's Lambda API.
#[derive(Clone)]
pub struct Lambda {
    http: reqwest::Client,
    /// `https://lambda.<region>.amazonaws.com`, or the `endpoint_url` config key.
    endpoint: reqwest::Url,
    signer: Signer,
}

/// Signs requests with one set of credentials for one region.
#[derive(Clone)]
pub struct Signer {
    credentials: Credentials,
    /// Where the credentials came from, for messages ("profile dev").
    source: String,
    region: String,
}

/// An HTTP answer, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: bytes::Bytes,
}

impl Signer {
    pub fn new(resolved: &Resolved, region: &str) -> Self {
        Signer {
            credentials: resolved.credentials.clone(),
            source: resolved.source.clone(),
            region: region.to_string(),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The headers that sign a request (`authorization`, `x-amz-date`, and the session
    /// token when there is one). `headers` are the request's own headers to include.
    pub fn headers(
        &self,
        method: &Method,
        url: &reqwest::Url,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(&'static str, String)>> {
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SERVICE)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| Error::Internal(format!("SigV4 parameters: {e}")))?
            .into();
        let request = SignableRequest::new(
            method.as_str(),
            url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| Error::Internal(format!("cannot sign a request to {url}: {e}")))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| Error::Internal(format!("cannot sign a request to {url}: {e}")))?
            .into_parts();
        let (headers, _params) = instructions.into_parts();
        Ok(headers
            .into_iter()
            .map(|h| (h.name(), h.value().to_string()))
            .collect())
    }

    /// What to say when AWS refuses these credentials: where they came from and the key's
    /// last characters, never the secret.
    fn describe(&self) -> String {
        format!(
            "the credentials from {} (access key {})",
            self.source,
            masked_key_id(self.credentials.access_key_id())
        )
    }
}

impl Lambda {
    pub fn new(http: reqwest::Client, endpoint: reqwest::Url, signer: Signer) -> Self {
        Lambda {
            http,
            endpoint,
            signer,
        }
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    pub fn endpoint(&self) -> &reqwest::Url {
        &self.endpoint
    }

    /// Sends one signed request; `Err` only when the endpoint could not be reached.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Answer> {
        let url = self
            .endpoint
            .join(path)
            .map_err(|e| Error::Internal(format!("bad Lambda path {path}: {e}")))?;
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut headers: Vec<(&str, &str)> = extra.to_vec();
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        let signed = self.signer.headers(&method, &url, &headers, &body)?;
        let mut request = self.http.request(method, url.clone()).timeout(timeout);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        for (name, value) in signed {
            request = request.header(name, value);
        }
        let response = request.body(body).send().await.map_err(|e| {
            Error::Aws(format!(
                "cannot reach {} ({}); check your network, the region, or the config key \
                 \"endpoint_url\"",
                self.endpoint,
                error_chain(&e)
            ))
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| {
            Error::Aws(format!(
                "reading the answer of {} failed: {}",
                self.endpoint,
                error_chain(&e)
            ))
        })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Sends a control-plane request and turns a non-2xx answer into an error naming `call`.
    async fn call(
        &self,
        call: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer> {
        let answer = self
            .send(method, path, body, &[], Duration::from_secs(120))
            .await?;
        if answer.status.is_success() {
            Ok(answer)
        } else {
            Err(self.refusal(call, &answer))
        }
    }

    /// GetFunction: the function's description, or `None` when it does not exist.
    pub async fn get_function(&self, name: &str) -> Result<Option<Value>> {
        self.get_if_exists(&format!("2015-03-31/functions/{name}"), "GetFunction")
            .await
    }

    /// A GET whose 404 means "not there" (`None`); other failures are refusals of `call`.
    async fn get_if_exists(&self, path: &str, call: &str) -> Result<Option<Value>> {
        let answer = self
            .send(Method::GET, path, None, &[], Duration::from_secs(60))
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(self.refusal(call, &answer));
        }
        json(&answer, call).map(Some)
    }

    pub async fn create_function(&self, body: &Value) -> Result<()> {
        self.call(
            "CreateFunction",
            Method::POST,
            "2015-03-31/functions",
            Some(body),
        )
        .await
        .map(drop)
    }

    pub async fn update_configuration(&self, name: &str, body: &Value) -> Result<()> {
        self.call(
            "UpdateFunctionConfiguration",
            Method::PUT,
            &format!("2015-03-31/functions/{name}/configuration"),
            Some(body),
        )
        .await
        .map(drop)
    }

    pub async fn update_code(&self, name: &str, body: &Value) -> Result<()> {
        self.call(
            "UpdateFunctionCode",
            Method::PUT,
            &format!("2015-03-31/functions/{name}/code"),
            Some(body),
        )
        .await
        .map(drop)
    }

    /// Waits until the function is `Active` and its last update finished (Lambda refuses a
    /// new update while one is in progress, and calls a new version only when it is done).
    pub async fn wait_until_ready(&self, name: &str, limit: Duration) -> Result<()> {
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(200);
        loop {
            let answer = self
                .call(
                    "GetFunctionConfiguration",
                    Method::GET,
                    &format!("2015-03-31/functions/{name}/configuration"),
                    None,
                )
                .await?;
            let config = json(&answer, "GetFunctionConfiguration")?;
            let field = |key: &str| config.get(key).and_then(Value::as_str).unwrap_or("");
            if field("State") == "Failed" || field("LastUpdateStatus") == "Failed" {
                let reason = [field("StateReason"), field("LastUpdateStatusReason")]
                    .into_iter()
                    .find(|r| !r.is_empty())
                    .unwrap_or("no reason given");
                return Err(Error::Aws(format!(
                    "function {name} failed to update: {reason}"
                )));
            }
            // An endpoint that reports no status (older APIs, emulators) counts as ready.
            if field("State") != "Pending" && field("LastUpdateStatus") != "InProgress" {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(Error::Aws(format!(
                    "function {name} was still updating after {} s; run the command again later",
                    limit.as_secs()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Invoke (RequestResponse, with the log tail). Never an `Err`: a failure is an answer
    /// the caller turns into an error row.
    pub async fn invoke(&self, name: &str, payload: &[u8], timeout: Duration) -> Invocation {
        let url = match self
            .endpoint
            .join(&format!("2015-03-31/functions/{name}/invocations"))
        {
            Ok(url) => url,
            Err(e) => return Invocation::failed(format!("bad function name {name}: {e}")),
        };
        let headers = [
            ("x-amz-invocation-type", "RequestResponse"),
            ("x-amz-log-type", "Tail"),
        ];
        let signed = match self.signer.headers(&Method::POST, &url, &headers, payload) {
            Ok(signed) => signed,
            Err(e) => return Invocation::failed(e.to_string()),
        };
        let mut request = self.http.post(url).timeout(timeout);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        for (name, value) in signed {
            request = request.header(name, value);
        }
        let response = match request.body(payload.to_vec()).send().await {
            Ok(response) => response,
            Err(e) => {
                return Invocation::failed(format!(
                    "cannot reach {} ({})",
                    self.endpoint,
                    error_chain(&e)
                ))
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        match response.bytes().await {
            Ok(body) => self.invocation(Answer {
                status,
                headers,
                body,
            }),
            Err(e) => Invocation::failed(format!(
                "reading the answer of {} failed: {}",
                self.endpoint,
                error_chain(&e)
            )),
        }
    }

    /// Reads Invoke's answer: a 200 carries the function's result (or, with
    /// `X-Amz-Function-Error`, its error object) and the log tail; anything else means the
    /// call did not reach the function (throttled, refused, not found).
    fn invocation(&self, answer: Answer) -> Invocation {
        if !answer.status.is_success() {
            return Invocation::failed(self.refusal("Invoke", &answer).to_string());
        }
        Invocation {
            function_error: answer.headers.contains_key("x-amz-function-error"),
            log_tail: answer
                .headers
                .get("x-amz-log-result")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: answer.body,
            failure: None,
        }
    }

    /// GetFunctionUrlConfig: `(url, auth type)`, or `None` when the function has no URL.
    pub async fn get_function_url(&self, name: &str) -> Result<Option<(String, String)>> {
        let Some(config) = self
            .get_if_exists(
                &format!("2021-10-31/functions/{name}/url"),
                "GetFunctionUrlConfig",
            )
            .await?
        else {
            return Ok(None);
        };
        let field = |key: &str| {
            config
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        Ok(Some((field("FunctionUrl"), field("AuthType"))))
    }

    /// CreateFunctionUrlConfig (`create`) or UpdateFunctionUrlConfig.
    pub async fn put_function_url(&self, name: &str, auth: &str, create: bool) -> Result<()> {
        let (call, method) = if create {
            ("CreateFunctionUrlConfig", Method::POST)
        } else {
            ("UpdateFunctionUrlConfig", Method::PUT)
        };
        let body = serde_json::json!({ "AuthType": auth });
        self.call(
            call,
            method,
            &format!("2021-10-31/functions/{name}/url"),
            Some(&body),
        )
        .await
        .map(drop)
    }

    /// AddPermission; an existing statement of the same id is left as it is.
    pub async fn add_permission(&self, name: &str, statement: &Value) -> Result<()> {
        let path = format!("2015-03-31/functions/{name}/policy");
        self.policy_change(
            "AddPermission",
            Method::POST,
            &path,
            Some(statement),
            StatusCode::CONFLICT,
        )
        .await
    }

    /// RemovePermission; a missing statement is fine.
    pub async fn remove_permission(&self, name: &str, statement_id: &str) -> Result<()> {
        let path = format!("2015-03-31/functions/{name}/policy/{statement_id}");
        self.policy_change(
            "RemovePermission",
            Method::DELETE,
            &path,
            None,
            StatusCode::NOT_FOUND,
        )
        .await
    }

    /// A change of the resource policy; `already` (the statement is there already, or
    /// gone already) counts as done.
    async fn policy_change(
        &self,
        operation: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        already: StatusCode,
    ) -> Result<()> {
        let answer = self
            .send(method, path, body, &[], Duration::from_secs(60))
            .await?;
        if answer.status.is_success() || answer.status == already {
            Ok(())
        } else {
            Err(self.refusal(operation, &answer))
        }
    }

    /// The error for a non-2xx answer to `call`.
    fn refusal(&self, call: &str, answer: &Answer) -> Error {
        let (code, message) = aws_error(answer);
        if is_credentials_error(answer.status, &code) {
            // AWS's message for a bad signature quotes the canonical request (with the session
            // token): report the code only.
            return Error::Aws(format!(
                "{call} refused {} ({code}): check the keys, or choose other ones with \
                 AWS_PROFILE or the config key \"profile\"",
                self.signer.describe()
            ));
        }
        if code.contains("AccessDenied") {
            return Error::Aws(format!(
                "{call} was denied for {} ({code}): {message}; the IAM user or role needs \
                 lambda:{call} (and iam:PassRole for the function's role)",
                self.signer.describe()
            ));
        }
        Error::Aws(format!(
            "{call} failed ({} {code}): {message}",
            answer.status.as_u16()
        ))
    }
}

/// Whether an error answer means the credentials themselves were refused.
fn is_credentials_error(status: StatusCode, code: &str) -> bool {
    const CODES: &[&str] = &[
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
    ];
    CODES.iter().any(|c| code.contains(c)) || (status == StatusCode::FORBIDDEN && code.is_empty())
}

/// AWS's error code and message from an error answer (JSON `__type`/`Type`/`code` and
/// `message`/`Message`, or the `x-amzn-ErrorType` header), message cut to one short line.
fn aws_error(answer: &Answer) -> (String, String) {
    let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| parsed.get(*k).and_then(Value::as_str))
            .map(str::to_string)
    };
    let header_code = answer
        .headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or(v).to_string());
    let code = header_code
        .or_else(|| text(&["__type", "code", "Code"]))
        .map(|c| c.rsplit('#').next().unwrap_or(&c).to_string())
        .unwrap_or_default();
    let message = text(&["message", "Message", "errorMessage"]).unwrap_or_else(|| {
        // XML or plain-text answers (IAM-style errors): the <Message> element, else the text.
        let body = String::from_utf8_lossy(&answer.body);
        match (body.find("<Message>"), body.find("</Message>")) {
            (Some(a), Some(b)) if a < b => body[a + 9..b].to_string(),
            _ => body.into_owned(),
        }
    });
    let code = if code.is_empty() {
        String::from_utf8_lossy(&answer.body)
            .split("<Code>")
            .nth(1)
            .and_then(|rest| rest.split("</Code>").next())
            .unwrap_or("")
            .to_string()
    } else {
        code
    };
    let message: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let message = if message.chars().count() > 300 {
        format!("{}…", message.chars().take(300).collect::<String>())
    } else {
        message
    };
    (code, message)
}

fn json(answer: &Answer, call: &str) -> Result<Value> {
    serde_json::from_slice(&answer.body)
        .map_err(|e| Error::Aws(format!("{call} answered something that is not JSON: {e}")))
}

/// The answer to one Invoke.
pub struct Invocation {
    pub body: bytes::Bytes,
    /// `X-Amz-Function-Error` was set: the body is the function's error object.
    pub function_error: bool,
    /// `X-Amz-Log-Result`: the base64 tail of the call's log.
    pub log_tail: Option<String>,
    /// The call did not reach the function (network, throttling, a refused request).
    pub failure: Option<String>,
}

impl Invocation {
    fn failed(message: String) -> Self {
        Invocation {
            body: bytes::Bytes::new(),
            function_error: false,
            log_tail: None,
            failure: Some(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client of an endpoint that answers nothing (these tests read answers built by hand).
    fn unreachable_lambda(resolved: &Resolved) -> Lambda {
        Lambda::new(
            crate::platform::http_client().build().unwrap(),
            "http://127.0.0.1:1/".parse().unwrap(),
            Signer::new(resolved, "us-east-1"),
        )
    }

    fn answer(status: u16, header: Option<&str>, body: &str) -> Answer {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(h) = header {
            headers.insert("x-amzn-errortype", h.parse().unwrap());
        }
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: bytes::Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn aws_errors_are_read_from_json_headers_and_xml() {
        let a = answer(
            404,
            Some("ResourceNotFoundException:http://internal.amazon.com/"),
            r#"{"Type":"User","Message":"Function not found: arn:aws:lambda:..."}"#,
        );
        assert_eq!(
            aws_error(&a),
            (
                "ResourceNotFoundException".to_string(),
                "Function not found: arn:aws:lambda:...".to_string()
            )
        );
        let a = answer(
            400,
            None,
            r#"{"__type":"com.amazon#InvalidParameterValueException","message":"bad\n role"}"#,
        );
        assert_eq!(aws_error(&a).0, "InvalidParameterValueException");
        assert_eq!(aws_error(&a).1, "bad role");
        let a = answer(
            403,
            None,
            "<ErrorResponse><Error><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error></ErrorResponse>",
        );
        assert_eq!(aws_error(&a).0, "InvalidClientTokenId");
        assert!(is_credentials_error(a.status, &aws_error(&a).0));
        assert!(!is_credentials_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException"
        ));
    }

    #[test]
    fn refusals_of_credentials_never_quote_the_request() {
        let resolved = Resolved {
            credentials: Credentials::new(
                "AKIAEXAMPLE9876",
                "s3cr3t",
                Some("tok3n".into()),
                None,
                "t",
            ),
            source: "the environment".into(),
            profile_region: None,
        };
        let lambda = unreachable_lambda(&resolved);
        let a = answer(
            403,
            Some("InvalidSignatureException"),
            r#"{"message":"The canonical String for this request should have been 'x-amz-security-token:tok3n'"}"#,
        );
        let m = lambda.refusal("GetFunction", &a).to_string();
        assert!(m.contains("GetFunction refused the credentials from the environment (access key …9876) (InvalidSignatureException)"), "{m}");
        assert!(
            !m.contains("tok3n") && !m.contains("s3cr3t") && !m.contains("AKIAEXAMPLE"),
            "{m}"
        );
    }

    #[test]
    fn invoke_answers_become_results_errors_or_failures() {
        use base64::Engine as _;
        let resolved = Resolved {
            credentials: Credentials::new("AKIAEXAMPLE9876", "s", None, None, "t"),
            source: "the environment".into(),
            profile_region: None,
        };
        let lambda = unreachable_lambda(&resolved);
        let log = "START RequestId: r\nEND RequestId: r\nREPORT RequestId: r\tDuration: 4.20 ms\tBilled Duration: 5 ms\tMemory Size: 128 MB\tMax Memory Used: 18 MB\tInit Duration: 25.00 ms\t\n";
        let mut a = answer(200, None, r#"{"errorType":"Panic","errorMessage":"boom"}"#);
        a.headers
            .insert("x-amz-function-error", "Unhandled".parse().unwrap());
        a.headers.insert(
            "x-amz-log-result",
            base64::engine::general_purpose::STANDARD
                .encode(log)
                .parse()
                .unwrap(),
        );
        let i = lambda.invocation(a);
        assert!(i.function_error && i.failure.is_none());
        let report = super::super::report::fields_from_log_tail(i.log_tail.as_deref().unwrap());
        assert_eq!(report["initDuration"], 25.0);
        assert_eq!(report["coldStart"], true);
        let i = lambda.invocation(answer(200, None, r#"{"ok":1}"#));
        assert!(!i.function_error && i.failure.is_none() && i.log_tail.is_none());
        let i = lambda.invocation(answer(
            429,
            Some("TooManyRequestsException"),
            r#"{"message":"Rate exceeded"}"#,
        ));
        let failure = i.failure.unwrap();
        assert!(
            failure.contains("Invoke failed (429 TooManyRequestsException): Rate exceeded"),
            "{failure}"
        );
    }

    #[test]
    fn signing_adds_sigv4_headers_for_lambda() {
        let resolved = Resolved {
            credentials: Credentials::new("AKIDEXAMPLE", "secret", Some("token".into()), None, "t"),
            source: "test".into(),
            profile_region: None,
        };
        let signer = Signer::new(&resolved, "eu-west-1");
        let url: reqwest::Url = "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/f"
            .parse()
            .unwrap();
        let headers = signer.headers(&Method::GET, &url, &[], b"").unwrap();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let authorization = get("authorization");
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{authorization}"
        );
        assert!(
            authorization.contains("/eu-west-1/lambda/aws4_request"),
            "{authorization}"
        );
        assert_eq!(get("x-amz-security-token"), "token");
        assert_eq!(get("x-amz-date").len(), 16);
    }
}
