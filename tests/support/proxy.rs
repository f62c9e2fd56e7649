//! A TCP relay between a server under test and its real database, that a
//! test can cut and restore: the database "goes away" (every open
//! connection is severed, new ones are reset) and "comes back", while the
//! database server itself keeps serving the other tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A relay from a loopback port to `upstream`. Runs on its own thread, so
/// it serves sync and async tests alike; stops when dropped.
pub struct Relay {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Relay {
    /// Start relaying to `upstream` (e.g. `127.0.0.1:5432`).
    pub fn start(upstream: SocketAddr) -> Self {
        let up = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0u64);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let flag = Arc::clone(&up);
        let cut = generation.subscribe();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("relay runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
                ready_tx.send(listener.local_addr().unwrap()).unwrap();
                let accept = async {
                    loop {
                        let Ok((client, _)) = listener.accept().await else {
                            continue;
                        };
                        // The generation first, then the flag: a cut between
                        // the two is seen by the pipe as a newer generation.
                        let generation = *cut.borrow();
                        if !flag.load(Ordering::SeqCst) {
                            // Down: closed at once, like a host that is gone.
                            drop(client);
                            continue;
                        }
                        tokio::spawn(pipe(client, upstream, cut.clone(), generation));
                    }
                };
                tokio::select! {
                    () = accept => {}
                    _ = stopped => {}
                }
            });
        });
        let addr = ready_rx.recv().expect("relay address");
        Self {
            addr,
            up,
            generation,
            stop: Some(stop),
        }
    }

    /// Where to connect instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The database goes away: open connections are severed, new ones reset.
    pub fn cut(&self) {
        // The flag first, then the generation (see the accept loop).
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// The database comes back.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Relay one connection until it closes or any cut after `generation`
/// (including one that happened while connecting upstream).
async fn pipe(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut cut: watch::Receiver<u64>,
    generation: u64,
) {
    let severed = async move {
        let _ = cut.wait_for(|g| *g != generation).await;
    };
    tokio::select! {
        () = severed => {}
        () = async {
            if let Ok(mut server) = TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        } => {}
    }
}
