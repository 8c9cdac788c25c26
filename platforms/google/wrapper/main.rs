// Generated into .build/src by faaset from functions/<fn>/google/wrapper/main.rs.
// The function's source is included as written, so compiler messages point at its lines.
use faaset_runtime::prelude::*;

include!("function.rs");

fn main() {
    faaset_runtime::run({{function}});
}
