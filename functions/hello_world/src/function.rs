// hello_world: the smallest FaaSET function. Says hello to `name` (default "World") and
// reports which execution environment and platform answered.
//
// Payload: {"name": "Steve"}

fn hello_world(request: Value, _context: Context) -> Value {
    let mut inspector = Inspector::new();
    inspector.inspect_container();
    inspector.inspect_platform();

    let name = match request.get("name") {
        Some(Value::String(name)) => name.clone(),
        Some(Value::Null) | None => "World".to_string(),
        Some(other) => other.to_string(),
    };
    inspector.add_attribute("message", format!("Hello {name}!"));
    inspector.finish()
}
