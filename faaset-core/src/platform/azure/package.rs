//! The package OneDeploy uploads: a zip of `host.json` (a custom handler whose HTTP requests
//! the host proxies), `<fn>/function.json` (an HTTP trigger at `/api/<fn>`, function auth
//! level) and the static `bootstrap`, its Unix mode 0755 stored in the entry. Zips without Unix
//! modes make the handler fail to start on Linux (the host cannot execute it), so the
//! executable bit is not optional. Fixed times: the same binary always gives the same bytes.

use std::io::Write;

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// The executable's name in the package, and host.json's `defaultExecutablePath`.
pub const EXECUTABLE: &str = "bootstrap";

/// `host.json`: Functions runtime 2.0 (hosts 4.x), the custom handler in proxy mode, so the
/// handler gets the caller's request at its path (faaset-runtime's HTTP mode). No
/// `functionTimeout`: it is an app setting (a timeout change is a configuration change).
pub fn host_json() -> Value {
    json!({
        "version": "2.0",
        "customHandler": {
            "description": {
                "defaultExecutablePath": EXECUTABLE,
                "workingDirectory": "",
                "arguments": [],
            },
            "enableProxyingHttpRequest": true,
        },
        "extensionBundle": {
            "id": "Microsoft.Azure.Functions.ExtensionBundle",
            "version": "[4.*, 5.0.0)",
        },
    })
}

/// `<fn>/function.json`: POST calls the function; GET is answered by faaset-runtime without
/// calling it (`{"ready": true}`), which is how publish checks that the host loaded the
/// package, with no call of the user's code.
pub fn function_json() -> Value {
    json!({
        "bindings": [
            {
                "type": "httpTrigger",
                "authLevel": "function",
                "direction": "in",
                "name": "req",
                "methods": ["get", "post"],
            },
            {"type": "http", "direction": "out", "name": "res"},
        ],
    })
}

/// The zip's bytes for function `function` running `bootstrap`.
pub fn zip(function: &str, bootstrap: &[u8]) -> Result<Vec<u8>> {
    let fail =
        |e: &dyn std::fmt::Display| Error::Internal(format!("writing the Azure package: {e}"));
    let time = zip::DateTime::default(); // 1980-01-01 00:00:00, the format's first day
    let file = |mode: u32| {
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(time)
            .unix_permissions(mode)
    };
    let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let pretty = |v: &Value| serde_json::to_vec_pretty(v).expect("JSON");
    for (name, bytes, mode) in [
        ("host.json".to_string(), pretty(&host_json()), 0o644),
        (
            format!("{function}/function.json"),
            pretty(&function_json()),
            0o644,
        ),
        (EXECUTABLE.to_string(), bootstrap.to_vec(), 0o755),
    ] {
        archive.start_file(name, file(mode)).map_err(|e| fail(&e))?;
        archive.write_all(&bytes).map_err(|e| fail(&e))?;
    }
    Ok(archive.finish().map_err(|e| fail(&e))?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_modes_and_reproducible_bytes() {
        let bytes = zip("hello_az", b"\x7fELF not really").unwrap();
        assert_eq!(bytes, zip("hello_az", b"\x7fELF not really").unwrap());
        let mut archive = ::zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
        let names: Vec<String> = archive.file_names().map(String::from).collect();
        assert_eq!(names, ["host.json", "hello_az/function.json", "bootstrap"]);
        let entry = archive.by_name("bootstrap").unwrap();
        assert_eq!(entry.unix_mode(), Some(0o100755));
        drop(entry);
        let host: Value = serde_json::from_reader(archive.by_name("host.json").unwrap()).unwrap();
        assert_eq!(
            host["customHandler"]["description"]["defaultExecutablePath"],
            "bootstrap"
        );
        assert_eq!(host["customHandler"]["enableProxyingHttpRequest"], true);
    }
}
