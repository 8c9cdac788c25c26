//! Keep-alive HTTP/1.1 connections to one loopback address, each carrying one request at a
//! time — the invoke path to the local engine, where every call is a small POST.
//!
//! Built on hyper's connection API rather than a general client (reqwest): on this path a
//! general client's pool and middleware cost about as much as the engine's own work
//! (`bench/run.sh`, rows 1 and 2a–2h). Each connection is driven by the task that uses it
//! (not a task of its own), so a call takes no cross-thread wake-up on the client side.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;

type Body = Full<Bytes>;

/// One keep-alive connection: the request half and the connection future that does its I/O.
struct Pooled {
    sender: SendRequest<Body>,
    connection: Pin<Box<Connection<TokioIo<tokio::net::TcpStream>, Body>>>,
}

/// Idle connections, most recently used last.
#[derive(Clone)]
pub struct Connections {
    address: SocketAddr,
    idle: Arc<Mutex<Vec<Pooled>>>,
}

/// A response with its whole body.
pub struct Answer {
    pub status: hyper::StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Connections {
    pub fn new(address: SocketAddr) -> Self {
        Connections {
            address,
            idle: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Sends the request `make` builds on an idle connection (or a new one) and reads the
    /// whole answer. Only a request that provably was not sent (the pooled connection had
    /// closed) is sent again, on a new connection: a call is never made twice.
    pub async fn send(&self, make: impl Fn() -> hyper::Request<Body>) -> Result<Answer, SendError> {
        if let Some(pooled) = self.take_idle() {
            match self.exchange(pooled, make()).await {
                Err(Failure::Unsent(_)) => {}
                Err(Failure::Failed(e)) => return Err(SendError::Failed(e)),
                Ok(answer) => return Ok(answer),
            }
        }
        let fresh = self.connect().await.map_err(SendError::Unreachable)?;
        self.exchange(fresh, make()).await.map_err(|f| match f {
            Failure::Unsent(e) => SendError::Unreachable(e),
            Failure::Failed(e) => SendError::Failed(e),
        })
    }

    async fn exchange(
        &self,
        mut pooled: Pooled,
        request: hyper::Request<Body>,
    ) -> Result<Answer, Failure> {
        let address = self.address;
        let Pooled { sender, connection } = &mut pooled;
        let call = async {
            if let Err(e) = sender.ready().await {
                return Err(Failure::Unsent(format!(
                    "connection to {address} closed: {e}"
                )));
            }
            let response = sender.try_send_request(request).await.map_err(|mut e| {
                let message = format!("request to {address} failed: {}", e.error());
                match e.take_message() {
                    Some(_) => Failure::Unsent(message),
                    None => Failure::Failed(message),
                }
            })?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| {
                    Failure::Failed(format!("reading the answer of {address} failed: {e}"))
                })?
                .to_bytes();
            Ok((parts, body))
        };
        // Drive the connection here while the request and its answer are in flight.
        let (outcome, reusable) = {
            let mut call = std::pin::pin!(call);
            let mut reusable = true;
            let outcome = tokio::select! {
                biased;
                outcome = &mut call => outcome,
                ended = connection.as_mut() => {
                    // The connection can end in the same poll that delivered the answer (a
                    // server closing after its last response, e.g. an engine stopping): the
                    // call has that answer, or fails for want of one.
                    reusable = false;
                    match call.await {
                        Ok(answer) => Ok(answer),
                        Err(Failure::Unsent(message)) => Err(Failure::Unsent(message)),
                        Err(Failure::Failed(_)) => Err(Failure::Failed(match ended {
                            Ok(()) => format!("{address} closed the connection"),
                            Err(e) => format!("connection to {address} failed: {e}"),
                        })),
                    }
                }
            };
            (outcome, reusable)
        };
        let (parts, body) = outcome?;
        if reusable {
            self.idle.lock().unwrap().push(pooled);
        }
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    fn take_idle(&self) -> Option<Pooled> {
        // (Most recently used first: the least likely to have been closed.)
        self.idle.lock().unwrap().pop()
    }

    async fn connect(&self) -> Result<Pooled, String> {
        let stream = tokio::net::TcpStream::connect(self.address)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.address))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("cannot talk HTTP to {}: {e}", self.address))?;
        Ok(Pooled {
            sender,
            connection: Box::pin(connection),
        })
    }
}

/// Why a request got no answer.
#[derive(Debug)]
pub enum SendError {
    /// Nothing answers at the address (or it closed before taking the request): the call was
    /// not made, and may be made elsewhere.
    Unreachable(String),
    /// The request may have been taken: sending it again could run the call twice.
    Failed(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Unreachable(m) | SendError::Failed(m) => f.write_str(m),
        }
    }
}

/// Why an exchange failed, and whether its request can be sent again safely.
enum Failure {
    /// The request never left: sending it on another connection cannot run the call twice.
    Unsent(String),
    Failed(String),
}
