//! Prints one record in each layout: `cargo run --example formats`.
//!
//! The same events, as logwarden's own record and as Elastic (ECS), Google Cloud Logging and
//! Datadog read them, to stdout.

use std::fmt;

use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct Reset;

impl fmt::Display for Reset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset by peer")
    }
}

impl std::error::Error for Reset {}

#[derive(Debug)]
struct PaymentFailed(Reset);

impl fmt::Display for PaymentFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("payment provider failed")
    }
}

impl std::error::Error for PaymentFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn main() {
    for format in [
        logwarden::record::Format::LOGWARDEN,
        logwarden::record::Format::ECS,
        logwarden::record::Format::GCP,
        logwarden::record::Format::DATADOG,
    ] {
        println!("{format:?}:");
        let layer = logwarden::JsonLayer::new(std::io::stdout)
            .service("orders")
            .env("production")
            .format(format)
            .field("version", "1.4.2");
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let _span = tracing::info_span!("request", trace_id = "4bf92f3577b34da6").entered();
            let e = PaymentFailed(Reset);
            tracing::error!(
                error = &e as &dyn std::error::Error,
                user_id = 42,
                "checkout failed"
            );
        });
        println!();
    }
}
