//! rmcp with mimalloc, as mcpgen's example server (see the library).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    mcpgen_bench_peers::serve().await;
}
