//! A per-process request counter on tokio's multi-thread runtime: the body is the number of
//! requests this process has served, so in ephemeral mode every new connection must read "1".
//! The runtime starts one worker thread per CPU plus blocking-pool threads, parked on futexes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() {
    let port: u16 = match std::env::args().nth(1).and_then(|p| p.parse().ok()) {
        Some(p) if p > 0 => p,
        _ => {
            eprintln!("usage: tokio-counter PORT");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_io()
        .build()
        .expect("tokio runtime");
    runtime.block_on(serve(port));
}

async fn serve(port: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    println!("listening on 127.0.0.1:{port}");
    let served = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let served = Arc::clone(&served);
        tokio::spawn(async move {
            if let Err(e) = answer(stream, &served).await {
                eprintln!("connection: {e}");
            }
        });
    }
}

/// Reads one request head and answers it with the new count, then closes.
async fn answer(mut stream: TcpStream, served: &AtomicU64) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() + n > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let body = (served.fetch_add(1, Ordering::SeqCst) + 1).to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        body
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
