//! Prints what the Inspector sees on this machine: `cargo run -p saaf --example inspect`.

fn main() {
    let mut inspector = saaf::Inspector::new();
    inspector.inspect_all();
    inspector.inspect_all_deltas();
    let result = inspector.finish();
    println!("{}", serde_json::to_string_pretty(&result).expect("JSON"));
}
