//! The kernel's five sockets. Shell and control are served by the caller's loops; heartbeat
//! echoes on its own task; iopub is owned by one task fed through a channel, so any part of
//! the kernel (the executor, the bridge, a progress bar) can publish without a lock.

use anyhow::{Context, Result};
use bytes::Bytes;
use tokio::sync::mpsc;
use zeromq::{PubSocket, RepSocket, RouterSocket, Socket, SocketRecv, SocketSend};

use super::{ConnectionInfo, Message, Signer};

pub struct Sockets {
    pub shell: RouterSocket,
    pub control: RouterSocket,
    pub stdin: RouterSocket,
    pub iopub: Iopub,
    pub signer: Signer,
}

impl Sockets {
    pub async fn bind(info: &ConnectionInfo) -> Result<Sockets> {
        let signer = Signer::new(&info.key);
        let shell = bound::<RouterSocket>(info, info.shell_port).await?;
        let control = bound::<RouterSocket>(info, info.control_port).await?;
        let stdin = bound::<RouterSocket>(info, info.stdin_port).await?;
        let iopub = bound::<PubSocket>(info, info.iopub_port).await?;
        let heartbeat = bound::<RepSocket>(info, info.hb_port).await?;
        tokio::spawn(echo(heartbeat));
        Ok(Sockets {
            shell,
            control,
            stdin,
            iopub: Iopub::spawn(iopub, signer.clone()),
            signer,
        })
    }
}

async fn bound<S: Socket>(info: &ConnectionInfo, port: u16) -> Result<S> {
    let mut socket = S::new();
    let endpoint = info.endpoint(port);
    socket
        .bind(&endpoint)
        .await
        .with_context(|| format!("cannot listen on {endpoint}"))?;
    Ok(socket)
}

/// Heartbeat: whatever arrives goes straight back.
async fn echo(mut socket: RepSocket) {
    while let Ok(message) = socket.recv().await {
        if socket.send(message).await.is_err() {
            break;
        }
    }
}

pub async fn recv(socket: &mut RouterSocket, signer: &Signer) -> Result<Message> {
    let frames = socket.recv().await.context("socket closed")?;
    Message::decode(frames, signer)
}

pub async fn send(socket: &mut RouterSocket, signer: &Signer, message: &Message) -> Result<()> {
    socket
        .send(message.encode(signer))
        .await
        .context("cannot send a reply")
}

/// Publishes on iopub. Cheap to clone; messages keep their order.
#[derive(Clone)]
pub struct Iopub {
    sender: mpsc::UnboundedSender<Message>,
}

impl Iopub {
    fn spawn(mut socket: PubSocket, signer: Signer) -> Iopub {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(mut message) = receiver.recv().await {
                // On iopub the routing frames are a topic; clients subscribe to everything.
                message.identities = vec![Bytes::from(message.msg_type().to_string())];
                if let Err(error) = socket.send(message.encode(&signer)).await {
                    eprintln!("faaset-kernel: iopub send failed: {error}");
                }
            }
        });
        Iopub { sender }
    }

    pub fn send(&self, message: Message) {
        // Fails only when the publishing task ended, i.e. the kernel is shutting down.
        let _ = self.sender.send(message);
    }

    /// `status: busy|idle` for the request being handled.
    pub fn status(&self, parent: &Message, state: &str) {
        self.send(parent.child("status", serde_json::json!({ "execution_state": state })));
    }
}
