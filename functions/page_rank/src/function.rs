// page_rank: PageRank of an undirected 10-ary tree of `size` vertices (vertex i's parent is
// (i - 1) / 10; every tree edge links both ways), damping 0.85, by power iteration until the
// ranks change by less than 1e-12 (L1), repeated `loops` times. A CPU- and memory-bound
// graph workload whose cost grows with `size`.
//
// Payload: {"size": 1000, "loops": 1}

const DAMPING: f64 = 0.85;
const TOLERANCE: f64 = 1e-12;
const MAX_ITERATIONS: usize = 10_000;

fn page_rank(request: Value, _context: Context) -> Value {
    let mut inspector = Inspector::new();
    inspector.inspect_all();

    let size = request
        .get("size")
        .and_then(Value::as_u64)
        .unwrap_or(1000)
        .max(1) as usize;
    let loops = request
        .get("loops")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1);

    let mut ranks = Vec::new();
    let mut iterations = 0;
    for _ in 0..loops {
        let graph = tree_graph(size);
        (ranks, iterations) = pagerank(&graph, DAMPING, TOLERANCE, MAX_ITERATIONS);
    }

    // Highest rank first; equal ranks by vertex number.
    let mut order: Vec<usize> = (0..size).collect();
    order.sort_by(|&x, &y| ranks[y].total_cmp(&ranks[x]).then(x.cmp(&y)));
    let top3: Vec<Value> = order
        .iter()
        .take(3)
        .map(|&v| json!({"vertex": v, "rank": ranks[v]}))
        .collect();

    inspector.inspect_all_deltas();
    inspector.add_attribute("size", size);
    inspector.add_attribute("loops", loops);
    inspector.add_attribute("iterations", iterations);
    inspector.add_attribute("rootRank", ranks[0]);
    inspector.add_attribute("rankSum", ranks.iter().sum::<f64>());
    inspector.add_attribute("top3", top3);
    inspector.finish()
}

/// Adjacency lists of the undirected 10-ary tree on `size` vertices.
fn tree_graph(size: usize) -> Vec<Vec<u32>> {
    let mut graph = vec![Vec::new(); size];
    for child in 1..size {
        let parent = (child - 1) / 10;
        graph[parent].push(child as u32);
        graph[child].push(parent as u32);
    }
    graph
}

/// Power iteration of r = (1 - d)/n + d (M r + dangling/n), where M spreads each vertex's
/// rank evenly over its links and a vertex without links (dangling) spreads it over all.
/// Returns the ranks and the number of iterations.
fn pagerank(
    graph: &[Vec<u32>],
    damping: f64,
    tolerance: f64,
    max_iterations: usize,
) -> (Vec<f64>, usize) {
    let n = graph.len();
    let mut rank = vec![1.0 / n as f64; n];
    let mut next = vec![0.0; n];
    for iteration in 1..=max_iterations {
        let dangling: f64 = (0..n)
            .filter(|&v| graph[v].is_empty())
            .map(|v| rank[v])
            .sum();
        let base = (1.0 - damping) / n as f64 + damping * dangling / n as f64;
        next.iter_mut().for_each(|r| *r = base);
        for (v, links) in graph.iter().enumerate() {
            if !links.is_empty() {
                let share = damping * rank[v] / links.len() as f64;
                for &w in links {
                    next[w as usize] += share;
                }
            }
        }
        let change: f64 = rank.iter().zip(&next).map(|(a, b)| (a - b).abs()).sum();
        std::mem::swap(&mut rank, &mut next);
        if change < tolerance {
            return (rank, iteration);
        }
    }
    (rank, max_iterations)
}
