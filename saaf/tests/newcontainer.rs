//! `newcontainer` is about the process, so this test has a test binary (process) of its own:
//! nothing else may create an Inspector before it.

use saaf::Inspector;

#[test]
fn first_inspector_is_new_container_then_warm_with_the_same_uuid() {
    let mut first = Inspector::new();
    first.inspect_container();
    first.inspect_platform();
    let first = first.finish();

    let mut second = Inspector::new();
    second.inspect_container();
    let second = second.finish();

    let third = std::thread::spawn(Inspector::new).join().unwrap().finish();

    assert_eq!(first["newcontainer"], 1, "{first}");
    assert_eq!(second["newcontainer"], 0, "{second}");
    assert_eq!(third["newcontainer"], 0, "{third}");
    assert_eq!(first["invocations"], 1);
    assert_eq!(second["invocations"], 2);
    assert_eq!(third["invocations"], 3);

    let uuid = first["uuid"].as_str().expect("uuid is a string");
    assert_eq!(uuid.len(), 36, "{uuid}");
    assert_eq!(second["uuid"], uuid);
    assert_eq!(third["uuid"], uuid);
    assert_eq!(first["initializationTime"], second["initializationTime"]);
}
