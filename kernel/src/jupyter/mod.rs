//! The Jupyter messaging protocol (5.3) over ZeroMQ: the connection file, signed multipart
//! messages, and the five sockets. Nothing here knows about Rust, evcxr or FaaSET.

pub mod connection;
pub mod message;
pub mod sockets;

pub use connection::ConnectionInfo;
pub use message::{Message, Signer};
pub use sockets::{Iopub, Sockets};
