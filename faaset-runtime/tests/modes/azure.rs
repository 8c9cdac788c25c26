//! Azure Functions' custom handler contract, as the host drives it
//! (`DefaultHttpWorkerService`): a port of its choosing in `FUNCTIONS_CUSTOMHANDLER_PORT`,
//! readiness by polling `GET /`, the caller's request proxied to `/api/<fn>` with
//! `X-Azure-Functions-InvocationId`.

use std::net::{Ipv4Addr, SocketAddr};

use crate::support::{free_port, listening_ip, post, probe, wait_ready, Running};

#[test]
fn proxied_calls_carry_the_invocation_id_and_saaf_names_azure() {
    let port = free_port();
    let mut running = Running::spawn(
        probe()
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("WEBSITE_SITE_NAME", "faaset-hello-app")
            .env("REGION_NAME", "East US")
            .env("FAASET_MEMORY_MB", "2048")
            .env("FAASET_PLATFORM", "azure")
            // Azure's worker may inherit a PORT too: FUNCTIONS_CUSTOMHANDLER_PORT wins.
            .env("PORT", "1")
            .current_dir(std::env::temp_dir()),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_ready(&mut running, addr);
    // Only the host on the same machine may reach a custom handler.
    assert_eq!(listening_ip(port), Some(Ipv4Addr::LOCALHOST));

    let invocation = "7b3f6c1e-2a4d-4e5f-9a8b-0c1d2e3f4a5b";
    let answer = post(
        addr,
        "/api/hello",
        &[
            ("X-Azure-Functions-InvocationId", invocation),
            ("X-Azure-Functions-HostVersion", "4.1040.300.0"),
            ("User-Agent", "Azure-Functions-Host/4.1040.300.0"),
            ("Content-Type", "application/json"),
        ],
        r#"{"name":"Grace"}"#,
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    let answer = answer.json();
    assert_eq!(answer["message"], "Hello Grace!");
    assert_eq!(answer["context"]["requestId"], invocation);
    assert_eq!(answer["context"]["functionName"], "hello");
    assert_eq!(answer["context"]["memoryLimitMb"], 2048);
    assert_eq!(answer["platform"], "Azure Functions");
    assert_eq!(answer["functionName"], "faaset-hello-app");
    assert_eq!(answer["functionRegion"], "East US");
    assert_eq!(answer["functionMemory"], 2048);
    assert_eq!(answer["newcontainer"], 1);

    let failed = post(
        addr,
        "/api/hello",
        &[("X-Azure-Functions-InvocationId", "i-2")],
        r#"{"action":"fail"}"#,
    );
    assert_eq!(failed.status, 500, "{failed:?}");
    assert_eq!(failed.json()["errorType"], "String");
    let again = post(addr, "/api/hello", &[], "{}").json();
    assert_eq!(again["newcontainer"], 0);
    assert_eq!(again["uuid"], answer["uuid"]);
}
