// cpu_test: which CPU runs the function? (The tutorial's cpu_test_cloud.) Run it locally and
// on a cloud platform and compare `cpuType`.
//
// Payload: {"name": "Steve"}

fn cpu_test(request: Value, _context: Context) -> Value {
    let mut inspector = Inspector::new();
    inspector.inspect_cpu_info();

    let name = match request.get("name") {
        Some(Value::String(name)) => name.clone(),
        Some(Value::Null) | None => "World".to_string(),
        Some(other) => other.to_string(),
    };
    inspector.add_attribute("message", format!("Hello from the cloud {name}!"));
    inspector.finish()
}
