//! rmcp with the system allocator (see the library).

#[tokio::main]
async fn main() {
    mcpgen_bench_peers::serve().await;
}
