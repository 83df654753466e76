//! See an alert fire without a Slack account: the example starts a tiny local "Slack" on
//! 127.0.0.1 that prints what it receives, points logwarden at it, and makes a payment provider
//! fail five times in a row.
//!
//! `cargo run --example alerting`. To post to a real channel instead, run it with
//! `SLACK_WEBHOOK_URL=https://hooks.slack.com/services/…` (the environment wins over the local
//! receiver). Without any webhook, logwarden prints alerts on stderr.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

/// A one-thread HTTP receiver that accepts webhook posts and forwards their bodies.
fn local_slack() -> std::io::Result<(String, mpsc::Receiver<String>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!(
        "http://{}/services/T000/B000/local-demo",
        listener.local_addr()?
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok() {
                let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
            }
            let _ = (&stream)
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    Ok((url, rx))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (url, received) = local_slack()?;
    let guard = logwarden::builder()
        .service("orders")
        .env("demo")
        .dir("logs")
        .slack_webhook(url)
        .alert_threshold(5)
        .alert_window(Duration::from_secs(60))
        .mention("<!here>")
        .from_env()
        .init()?;

    for attempt in 1..=5 {
        let span = tracing::info_span!("request", trace_id = %format!("{:032x}", 0xfeed_u128 + attempt), user_id = 42);
        let _entered = span.enter();
        tracing::info!(attempt, "charging card");
        // Log content with Slack markup arrives as text: no @channel ping from a log line.
        tracing::error!(
            provider = "acme-pay",
            status = 502,
            "payment provider failed <!channel>"
        );
    }

    match received.recv_timeout(Duration::from_secs(5)) {
        Ok(body) => {
            let payload: serde_json::Value = serde_json::from_str(&body)?;
            println!("The local Slack received this alert (the `text` fallback):\n");
            println!("{}", payload["text"].as_str().unwrap_or_default());
            println!("\nand {} Block Kit blocks.", payload["blocks"].as_array().map_or(0, Vec::len));
        }
        Err(_) => println!("No alert reached the local receiver (is SLACK_WEBHOOK_URL set? then look in the channel)."),
    }
    // The receiver printed the body before the delivery thread saw the answer: wait for it.
    let mut incidents = guard.incidents();
    for _ in 0..100 {
        if incidents.alerts_sent > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        incidents = guard.incidents();
    }
    println!(
        "\nincidents opened: {}, alerts sent: {}; the alert is also a WARN record in {}",
        incidents.opened,
        incidents.alerts_sent,
        guard
            .log_path()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    Ok(())
}
