//! The function's container image: one gzip tar layer holding `/bootstrap` (the static binary
//! `build.sh` made), an OCI config whose entrypoint is that binary, and an OCI manifest; and
//! its push to a registry (Artifact Registry, or any OCI registry) with `oci-client`.
//!
//! Reproducible on purpose: the tar entry has mtime 0, owner 0:0 and no user names, the gzip
//! header no time or file name, the config no `created` date, and the JSON is serialized with
//! sorted keys. So the same binary always gives the same manifest digest, and a digest the
//! registry already has means nothing needs pushing.

use std::io::Write as _;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// An image ready to push: its three blobs and their digests.
#[derive(Debug, Clone)]
pub struct Image {
    pub layer: Vec<u8>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl Image {
    /// The image of `bootstrap` (the binary's bytes).
    pub fn of(bootstrap: &[u8]) -> Result<Image> {
        let tar = layer_tar(bootstrap)?;
        let diff_id = digest(&tar);
        let mut gz = flate2::GzBuilder::new()
            .mtime(0)
            .write(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar)
            .and_then(|_| gz.flush())
            .map_err(|e| Error::Internal(format!("gzip of the image layer: {e}")))?;
        let layer = gz
            .finish()
            .map_err(|e| Error::Internal(format!("gzip of the image layer: {e}")))?;
        // serde_json's map is ordered by key, so this text is the same every time.
        let config = json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Entrypoint": ["/bootstrap"],
                "Env": ["PATH=/"],
                "WorkingDir": "/",
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        })
        .to_string()
        .into_bytes();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": digest(&config), "size": config.len()},
            "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": digest(&layer), "size": layer.len()}],
        })
        .to_string()
        .into_bytes();
        Ok(Image {
            layer,
            config,
            manifest,
        })
    }

    /// The manifest's digest: what the service's image reference pins.
    pub fn digest(&self) -> String {
        digest(&self.manifest)
    }
}

/// A tar holding `bootstrap` (mode 0755) and an empty `tmp/` (mode 1777, for functions that
/// write temporary files), with fixed times and owners.
fn layer_tar(bootstrap: &[u8]) -> Result<Vec<u8>> {
    let fail = |e: std::io::Error| Error::Internal(format!("tar of the image layer: {e}"));
    let mut tar = tar::Builder::new(Vec::new());
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h
    };
    let mut tmp = header(tar::EntryType::Directory, 0o1777, 0);
    tar.append_data(&mut tmp, "tmp/", std::io::empty())
        .map_err(fail)?;
    let mut entry = header(tar::EntryType::Regular, 0o755, bootstrap.len() as u64);
    tar.append_data(&mut entry, "bootstrap", bootstrap)
        .map_err(fail)?;
    tar.into_inner().map_err(fail)
}

/// Where images go: a registry host (`us-central1-docker.pkg.dev`, or `127.0.0.1:5000` over
/// plain http for tests) and a repository path in it (`project/repository/service`).
#[derive(Debug, Clone)]
pub struct Destination {
    pub registry: String,
    /// Plain http (a loopback test registry) instead of https.
    pub http: bool,
    pub repository: String,
}

impl Destination {
    /// `registry/repository@sha256:…`: the image reference a service runs.
    pub fn by_digest(&self, digest: &str) -> String {
        format!("{}/{}@{digest}", self.registry, self.repository)
    }

    fn reference(&self, tag_or_digest: &str) -> Result<Reference> {
        let separator = if tag_or_digest.starts_with("sha256:") {
            "@"
        } else {
            ":"
        };
        let text = format!(
            "{}/{}{separator}{tag_or_digest}",
            self.registry, self.repository
        );
        text.parse::<Reference>().map_err(|e| {
            Error::Config(format!(
                "{text} is not a valid image reference ({e}): check the config keys \
                 \"project\", \"repository\" and the function's name"
            ))
        })
    }
}

/// What a push did.
#[derive(Debug, Clone, PartialEq)]
pub enum Pushed {
    /// The registry had the manifest already: nothing was sent.
    AlreadyThere,
    /// Blobs and manifest were uploaded; how many bytes of blobs were sent.
    Uploaded { bytes: usize },
}

/// Pushes `image` to `to` (blobs the registry lacks, then the manifest under the tag
/// `latest`), unless the registry has its digest already. `auth` is Artifact Registry's
/// `oauth2accesstoken` + access token (Basic, traded for a registry token by the Docker token
/// flow), or anonymous.
pub async fn push(image: &Image, to: &Destination, auth: &RegistryAuth) -> Result<Pushed> {
    let client = Client::new(ClientConfig {
        protocol: if to.http {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        connect_timeout: Some(std::time::Duration::from_secs(30)),
        read_timeout: Some(std::time::Duration::from_secs(300)),
        ..ClientConfig::default()
    });
    let failed = |what: &str, e: oci_client::errors::OciDistributionError| {
        Error::Usage(format!(
            "pushing the image to {}/{} failed ({what}): {e}: check the registry (and for \
             Artifact Registry the deploying account's roles/artifactregistry.writer)",
            to.registry, to.repository
        ))
    };
    let digest = image.digest();
    let pinned = to.reference(&digest)?;
    client
        .auth(&pinned, auth, RegistryOperation::Push)
        .await
        .map_err(|e| failed("authenticating", e))?;
    if client.fetch_manifest_digest(&pinned, auth).await.is_ok() {
        return Ok(Pushed::AlreadyThere);
    }
    let mut bytes = 0;
    for blob in [&image.layer, &image.config] {
        let blob_digest = self::digest(blob);
        let exists = client
            .blob_exists(&pinned, &blob_digest)
            .await
            .map_err(|e| failed("checking a blob", e))?;
        if !exists {
            client
                .push_blob(&pinned, blob.clone(), &blob_digest)
                .await
                .map_err(|e| failed("uploading a blob", e))?;
            bytes += blob.len();
        }
    }
    let tagged = to.reference("latest")?;
    client
        .push_manifest_raw(
            &tagged,
            image.manifest.clone(),
            reqwest::header::HeaderValue::from_static(MANIFEST_MEDIA_TYPE),
        )
        .await
        .map_err(|e| failed("uploading the manifest", e))?;
    Ok(Pushed::Uploaded { bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_binary_gives_the_same_digest() {
        let a = Image::of(b"\x7fELF binary one").unwrap();
        let b = Image::of(b"\x7fELF binary one").unwrap();
        let c = Image::of(b"\x7fELF binary two").unwrap();
        assert_eq!(a.digest(), b.digest());
        assert_eq!(a.layer, b.layer);
        assert_ne!(a.digest(), c.digest());
        assert!(a.digest().starts_with("sha256:") && a.digest().len() == 71);
    }

    #[test]
    fn the_layer_holds_bootstrap_0755_with_fixed_times() {
        let image = Image::of(b"binary").unwrap();
        let tar = {
            let mut out = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(&image.layer[..]),
                &mut out,
            )
            .unwrap();
            out
        };
        let mut archive = tar::Archive::new(&tar[..]);
        let entries: Vec<(String, u32, u64, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    h.uid().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            vec![
                ("tmp/".to_string(), 0o1777, 0, 0),
                ("bootstrap".to_string(), 0o755, 0, 0)
            ]
        );
        let config: serde_json::Value = serde_json::from_slice(&image.config).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][0], digest(&tar));
        assert_eq!(config["config"]["Entrypoint"], json!(["/bootstrap"]));
        let manifest: serde_json::Value = serde_json::from_slice(&image.manifest).unwrap();
        assert_eq!(manifest["layers"][0]["digest"], digest(&image.layer));
        assert_eq!(manifest["config"]["size"], image.config.len());
    }

    #[test]
    fn references_pin_the_digest() {
        let to = Destination {
            registry: "us-central1-docker.pkg.dev".into(),
            http: false,
            repository: "proj/faaset/hello-world".into(),
        };
        assert_eq!(
            to.by_digest("sha256:ab"),
            "us-central1-docker.pkg.dev/proj/faaset/hello-world@sha256:ab"
        );
        let r = to.reference(&format!("sha256:{}", "0".repeat(64))).unwrap();
        assert_eq!(r.registry(), "us-central1-docker.pkg.dev");
        assert_eq!(r.repository(), "proj/faaset/hello-world");
    }
}
