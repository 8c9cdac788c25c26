//! Keep-alive HTTP/1.1 connections to one loopback address, each carrying one request at a
//! time — the invoke path to the local engine, where every call is a small POST.
//!
//! Built on hyper's connection API rather than a general client (reqwest): on this path a
//! general client's pool and middleware cost about as much as the engine's own work
//! (`bench/run.sh`, rows 1 and 2a–2h).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

/// Idle connections, most recently used last.
#[derive(Clone)]
pub struct Connections {
    address: SocketAddr,
    idle: Arc<Mutex<Vec<SendRequest<Full<Bytes>>>>>,
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

    /// Sends a request on an idle connection (or a new one) and reads the whole answer.
    pub async fn send(&self, request: hyper::Request<Full<Bytes>>) -> Result<Answer, String> {
        let mut sender = match self.take_idle() {
            Some(sender) => sender,
            None => self.connect().await?,
        };
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(e) => return Err(format!("request to {} failed: {e}", self.address)),
        };
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("reading the answer of {} failed: {e}", self.address))?
            .to_bytes();
        // The answer is read whole, so the connection is free for the next request.
        if !sender.is_closed() {
            self.idle.lock().unwrap().push(sender);
        }
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    fn take_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.idle.lock().unwrap();
        while let Some(sender) = idle.pop() {
            if sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = tokio::net::TcpStream::connect(self.address)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.address))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("cannot talk HTTP to {}: {e}", self.address))?;
        tokio::spawn(connection);
        Ok(sender)
    }
}
