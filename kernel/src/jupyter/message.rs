//! One Jupyter message: routing identities, the four JSON parts, signed with HMAC-SHA256.
//!
//! Wire format (messaging spec 5.3): `[identities…, "<IDS|MSG>", signature, header,
//! parent_header, metadata, content, buffers…]`, the signature being the hex HMAC of the four
//! JSON parts in that order.

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use hmac::{KeyInit, Mac};
use serde_json::{json, Value};
use zeromq::ZmqMessage;

const DELIMITER: &[u8] = b"<IDS|MSG>";
pub const PROTOCOL_VERSION: &str = "5.3";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Signs and verifies messages with the connection's key (no key: no signatures).
#[derive(Clone)]
pub struct Signer {
    mac: Option<HmacSha256>,
}

impl Signer {
    pub fn new(key: &str) -> Self {
        let mac = (!key.is_empty())
            .then(|| HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key"));
        Signer { mac }
    }

    fn sign(&self, parts: &[&[u8]]) -> String {
        match &self.mac {
            None => String::new(),
            Some(mac) => {
                let mut mac = mac.clone();
                for part in parts {
                    mac.update(part);
                }
                hex::encode(mac.finalize().into_bytes())
            }
        }
    }

    fn verify(&self, signature: &[u8], parts: &[&[u8]]) -> Result<()> {
        let Some(mac) = &self.mac else {
            return Ok(());
        };
        let expected = hex::decode(signature).map_err(|_| anyhow!("signature is not hex"))?;
        let mut mac = mac.clone();
        for part in parts {
            mac.update(part);
        }
        // Constant-time comparison: a forged message learns nothing from timing.
        mac.verify_slice(&expected)
            .map_err(|_| anyhow!("bad message signature"))
    }
}

#[derive(Debug, Clone)]
pub struct Message {
    pub identities: Vec<Bytes>,
    pub header: Value,
    pub parent_header: Value,
    pub metadata: Value,
    pub content: Value,
}

impl Message {
    pub fn decode(frames: ZmqMessage, signer: &Signer) -> Result<Message> {
        let frames = frames.into_vec();
        let split = frames
            .iter()
            .position(|f| f.as_ref() == DELIMITER)
            .ok_or_else(|| anyhow!("message without the <IDS|MSG> delimiter"))?;
        if frames.len() < split + 6 {
            bail!("message with {} frames is too short", frames.len());
        }
        let parts: Vec<&[u8]> = frames[split + 2..split + 6]
            .iter()
            .map(|f| f.as_ref())
            .collect();
        signer.verify(&frames[split + 1], &parts)?;
        let parse = |bytes: &[u8]| -> Result<Value> { Ok(serde_json::from_slice(bytes)?) };
        Ok(Message {
            identities: frames[..split].to_vec(),
            header: parse(parts[0])?,
            parent_header: parse(parts[1])?,
            metadata: parse(parts[2])?,
            content: parse(parts[3])?,
        })
    }

    pub fn encode(&self, signer: &Signer) -> ZmqMessage {
        let parts: Vec<Vec<u8>> = [
            &self.header,
            &self.parent_header,
            &self.metadata,
            &self.content,
        ]
        .iter()
        .map(|v| serde_json::to_vec(v).expect("JSON values serialise"))
        .collect();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let signature = signer.sign(&refs);
        let mut frames: Vec<Bytes> = self.identities.clone();
        frames.push(Bytes::from_static(DELIMITER));
        frames.push(Bytes::from(signature));
        frames.extend(parts.into_iter().map(Bytes::from));
        ZmqMessage::try_from(frames).expect("a message has frames")
    }

    pub fn msg_type(&self) -> &str {
        self.header["msg_type"].as_str().unwrap_or("")
    }

    pub fn session(&self) -> &str {
        self.header["session"].as_str().unwrap_or("")
    }

    /// A message caused by this one (same routing, this one as parent): `status`, `stream`,
    /// `display_data`, … on iopub.
    pub fn child(&self, msg_type: &str, content: Value) -> Message {
        Message {
            identities: self.identities.clone(),
            header: header(msg_type, self.session()),
            parent_header: self.header.clone(),
            metadata: json!({}),
            content,
        }
    }

    /// The reply to a `…_request`.
    pub fn reply(&self, content: Value) -> Message {
        let msg_type = self.msg_type().replace("_request", "_reply");
        self.child(&msg_type, content)
    }
}

fn header(msg_type: &str, session: &str) -> Value {
    json!({
        "msg_id": uuid::Uuid::new_v4().to_string(),
        "session": session,
        "username": "faaset",
        "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "msg_type": msg_type,
        "version": PROTOCOL_VERSION,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(signer: &Signer) -> ZmqMessage {
        let message = Message {
            identities: vec![Bytes::from_static(b"client-1")],
            header: json!({"msg_id": "m1", "session": "s1", "msg_type": "execute_request"}),
            parent_header: json!({}),
            metadata: json!({}),
            content: json!({"code": "1 + 1"}),
        };
        message.encode(signer)
    }

    #[test]
    fn round_trips_and_replies_keep_routing_and_parent() {
        let signer = Signer::new("secret");
        let decoded = Message::decode(request(&signer), &signer).unwrap();
        assert_eq!(decoded.msg_type(), "execute_request");
        assert_eq!(decoded.content["code"], "1 + 1");
        let reply = decoded.reply(json!({"status": "ok"}));
        assert_eq!(reply.msg_type(), "execute_reply");
        assert_eq!(reply.parent_header["msg_id"], "m1");
        assert_eq!(reply.identities, decoded.identities);
        assert_eq!(reply.session(), "s1");
    }

    #[test]
    fn a_message_signed_with_another_key_is_refused() {
        let frames = request(&Signer::new("other"));
        let error = Message::decode(frames, &Signer::new("secret")).unwrap_err();
        assert!(error.to_string().contains("signature"), "{error}");
        // Without a key, nothing is checked.
        assert!(Message::decode(request(&Signer::new("x")), &Signer::new("")).is_ok());
    }
}
