//! The `tracing` layer that turns each event into one JSON line.

use std::cell::RefCell;
use std::fmt;
use std::io::Write;

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Metadata, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use std::sync::Arc;

use super::callsite::Callsites;
use super::current;
use super::fields::{push_text, same_key, Entry, Recorder, Rendered};
use super::keys::COLLISION_PREFIX;
use super::notice::Notice;
use super::policy::{
    Policy, DEFAULT_MAX_FIELD_BYTES, DEFAULT_MAX_LINE_BYTES, DROPPED_FIELDS_KEY, MIN_FIELD_BYTES,
};
use super::schema::{Format, Key, Layout, Schema, TimeFormat};
use super::spans::{self, SpanFields, SpanStore};
use crate::clock::Clock;
use crate::redact::Redaction;

/// A [`Layer`] that writes every event as one JSON object per line, with the fields of the
/// enclosing spans flattened in.
///
/// [`init()`](crate::init) and [`Builder::build`](crate::Builder::build) assemble it with the
/// rotating file for you; construct it directly to send the same records to any
/// [`MakeWriter`] (a socket, `io::stdout`, a test buffer):
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let layer = logwarden::JsonLayer::new(std::io::stdout).service("orders").env("staging");
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("request", trace_id = "4bf92f3577b34da6").entered();
///     tracing::info!(items = 3, "order placed");
/// });
/// ```
///
/// Each event is formatted into a reusable per-thread buffer and handed to the writer with a
/// single `write_all`, so a writer sees whole lines only.
pub struct JsonLayer<W> {
    make_writer: W,
    /// The keys, level names, time format and fixed fields, as asked for.
    layout: Layout,
    /// `layout` rendered into the pieces each record copies.
    schema: Arc<Schema>,
    service: String,
    env: String,
    clock: Clock,
    /// The caps as asked for; `policy` holds them brought into range, so the order of the two
    /// setters does not matter.
    caps: (usize, usize),
    policy: Arc<Policy>,
    /// Which of a span's stored field sets is this layer's (see [`SpanStore`]).
    view: u64,
    /// The dispatcher this layer is part of, to ask `tracing-opentelemetry` for a span's ids.
    #[cfg(feature = "opentelemetry")]
    dispatch: std::sync::OnceLock<tracing_core::dispatcher::WeakDispatch>,
}

/// Numbers the layers, for [`JsonLayer::view`].
static NEXT_VIEW: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl<W> fmt::Debug for JsonLayer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLayer")
            .field("service", &self.service)
            .field("env", &self.env)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<W> JsonLayer<W> {
    /// A layer writing to `make_writer`, with `service` set to the executable's name and `env` to
    /// `development` until told otherwise.
    pub fn new(make_writer: W) -> Self {
        let layout = Layout::default();
        let policy = Policy::new(layout.reserved());
        let mut layer = JsonLayer {
            schema: Arc::new(Schema::new(&layout, "", "", &policy)),
            layout,
            make_writer,
            service: crate::host::executable_name().to_owned(),
            env: "development".to_owned(),
            clock: Clock::System,
            caps: (DEFAULT_MAX_FIELD_BYTES, DEFAULT_MAX_LINE_BYTES),
            policy: Arc::new(policy),
            view: NEXT_VIEW.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            #[cfg(feature = "opentelemetry")]
            dispatch: std::sync::OnceLock::new(),
        };
        layer.render_schema();
        layer
    }

    /// Sets the `service` field of every record.
    #[must_use]
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self.render_schema();
        self
    }

    /// Sets the `env` field of every record.
    #[must_use]
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = env.into();
        self.render_schema();
        self
    }

    /// Sets the record layout: logwarden's own (the default) or a log platform's
    /// ([`Format`]). Renames made with [`JsonLayer::rename`] apply on top of the preset.
    #[must_use]
    pub fn format(self, format: Format) -> Self {
        let layout = Layout {
            format,
            ..self.layout.clone()
        };
        // A rename or fixed field made for the old preset that clashes with the new one's keys
        // is dropped (the builder reports it instead).
        self.layout(layout.settled())
    }

    /// Writes one of the record's own keys under another name: `rename(Key::LEVEL, "severity")`.
    ///
    /// An empty name, or one the record already writes, is ignored here (the preset's name is
    /// kept); [`Builder::rename`](crate::Builder::rename) reports it as an error instead.
    #[must_use]
    pub fn rename(self, key: Key, name: impl Into<String>) -> Self {
        let mut layout = self.layout.clone();
        layout.renames.retain(|(k, _)| *k != key);
        layout.renames.push((key, name.into()));
        self.layout_if_valid(layout)
    }

    /// Adds a fixed field to every record, after the record's own keys:
    /// `field("version", "1.4.2")`. The key is protected like the record's own: a span or event
    /// field of that name is written as `fields.<name>`.
    ///
    /// An empty key, or one the record already has, is ignored here;
    /// [`Builder::field`](crate::Builder::field) reports it as an error instead.
    #[must_use]
    pub fn field(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let mut layout = self.layout.clone();
        layout.statics.push((key.into(), value.into()));
        self.layout_if_valid(layout)
    }

    /// Sets how the time is written (RFC 3339 text by default).
    #[must_use]
    pub fn timestamp(self, time: TimeFormat) -> Self {
        let layout = Layout {
            time,
            ..self.layout.clone()
        };
        self.layout(layout.settled())
    }

    fn layout_if_valid(self, layout: Layout) -> Self {
        if layout.check().is_ok() {
            self.layout(layout)
        } else {
            self
        }
    }

    /// Sets the whole layout at once (the builder, which has checked it).
    pub(crate) fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self.render_schema();
        self
    }

    /// Sets which keys and value shapes are redacted ([`Redaction::default`] until told otherwise).
    #[must_use]
    pub fn redaction(mut self, redaction: Redaction) -> Self {
        Arc::make_mut(&mut self.policy).redaction = redaction;
        // Fixed fields are redacted and capped when rendered.
        self.render_schema();
        self
    }

    /// Caps each value's JSON text (and the message) at `bytes`; a longer value is cut on a
    /// character boundary and ends with `…[truncated N bytes]`. Default 32 KiB; brought into
    /// 64 bytes ..= half the line cap.
    #[must_use]
    pub fn max_field_bytes(mut self, bytes: usize) -> Self {
        self.caps.0 = bytes;
        self.apply_caps()
    }

    /// Caps each line at `bytes` (default 96 KiB, at least 1 KiB): fields that would not fit are
    /// left out and counted in `logwarden.dropped_fields`; when the message and the target alone
    /// would overflow it, both are cut shorter. Only a service, env, host or span name of
    /// kilobytes, or dozens of long fixed fields, could still exceed it.
    #[must_use]
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.caps.1 = bytes;
        self.apply_caps()
    }

    fn apply_caps(mut self) -> Self {
        let policy = Arc::make_mut(&mut self.policy);
        (policy.max_field, policy.max_line) = self.caps;
        *policy = policy.clone().clamped();
        self.render_schema();
        self
    }

    /// Renders span fields into the thread's scratch buffer (no allocation once it has grown),
    /// then hands the result to `keep`, which copies what it stores.
    fn render_span_fields<R>(
        &self,
        meta: &'static Metadata<'static>,
        record: impl FnOnce(&mut dyn tracing_core::field::Visit),
        keep: impl FnOnce(&Rendered) -> R,
    ) -> R {
        let render = |bufs: &mut Buffers| {
            let Buffers {
                fields, callsites, ..
            } = bufs;
            fields.clear();
            let site = callsites.get(meta, &self.policy, || false);
            record(&mut Recorder::new(
                fields,
                None,
                &self.policy,
                self.policy.max_field,
                site.known(),
            ));
            keep(fields)
        };
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut bufs) => render(&mut bufs),
            // Re-entered (a span created while this thread formats): a scratch of its own.
            Err(_) => render(&mut Buffers::default()),
        })
    }

    /// The rules shared with the alert layer and the pretty output.
    pub(crate) fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy)
    }

    pub(crate) fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn render_schema(&mut self) {
        Arc::make_mut(&mut self.policy).reserved = self.layout.reserved();
        self.schema = Arc::new(Schema::new(
            &self.layout,
            &self.service,
            &self.env,
            &self.policy,
        ));
    }

    /// The renderer for the crate's own records, with this layer's constant fields.
    pub(crate) fn notice(&self) -> Notice {
        Notice::new(Arc::clone(&self.schema), self.clock.clone())
    }

    /// Replaces the writer, keeping everything else (the builder makes the writer last).
    pub(crate) fn with_writer<W2>(self, make_writer: W2) -> JsonLayer<W2> {
        JsonLayer {
            make_writer,
            layout: self.layout,
            schema: self.schema,
            service: self.service,
            env: self.env,
            clock: self.clock,
            caps: self.caps,
            policy: self.policy,
            view: self.view,
            #[cfg(feature = "opentelemetry")]
            dispatch: self.dispatch,
        }
    }

    /// The OpenTelemetry trace and span ids of span `id`, if a `tracing-opentelemetry` layer
    /// tracks it. Must be called with none of the span's extensions borrowed.
    #[cfg(feature = "opentelemetry")]
    fn otel_ids(&self, id: &Id) -> Option<([u8; 16], [u8; 8])> {
        use opentelemetry::trace::TraceContextExt;
        let dispatch = self.dispatch.get()?.upgrade()?;
        let cx = tracing_opentelemetry::get_otel_context(id, &dispatch)?;
        let span = cx.span();
        let ids = span.span_context();
        ids.is_valid()
            .then(|| (ids.trace_id().to_bytes(), ids.span_id().to_bytes()))
    }

    /// The key of this layer's field sets in each span, shared with the alert layer that reads
    /// them.
    pub(crate) fn view(&self) -> u64 {
        self.view
    }

    /// Formats `event` into `bufs.line` and hands it to the writer.
    fn write_event<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>, bufs: &mut Buffers)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        W: for<'a> MakeWriter<'a> + 'static,
    {
        let policy = &*self.policy;
        let site = bufs
            .callsites
            .find(event.metadata(), policy, || event.is_log());
        let normalized = if bufs.callsites.at(site).bridged() {
            event.normalized_metadata()
        } else {
            None
        };
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut text_cap = policy.max_field;
        for pass in 1.. {
            // Looked up again after a pass: the span's lookup in the same table may have moved
            // the event's entry.
            let site = if pass == 1 {
                site
            } else {
                bufs.callsites
                    .find(event.metadata(), policy, || event.is_log())
            };
            self.format_capped(event, meta, site, ctx, bufs, text_cap);
            // Fields are left out to respect the line cap, but the message and the target are
            // always written: when they alone overflow (a huge message next to a huge `log`
            // target), format again with both cut shorter. Rare, and at most a few passes.
            let over = bufs.line.len().saturating_sub(policy.max_line);
            if over == 0 || text_cap == MIN_FIELD_BYTES {
                break;
            }
            text_cap = if pass < 3 {
                text_cap.saturating_sub(over / 2 + 64).max(MIN_FIELD_BYTES)
            } else {
                MIN_FIELD_BYTES
            };
        }
        // The writer reports its own failures (counted, printed once); a layer has nobody to
        // return an error to.
        let _ = self.make_writer.make_writer_for(meta).write_all(&bufs.line);
    }

    /// One formatting pass, with the message and the target cut at `text_cap`.
    fn format_capped<S>(
        &self,
        event: &Event<'_>,
        meta: &Metadata<'_>,
        site: usize,
        ctx: &Context<'_, S>,
        bufs: &mut Buffers,
        text_cap: usize,
    ) where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        bufs.clear();
        let Buffers {
            line,
            message,
            fields,
            chain,
            callsites,
        } = bufs;

        let policy = &*self.policy;
        let site = callsites.at(site);
        let bridged = site.bridged();
        event.record(&mut Recorder::new(
            fields,
            Some(message),
            policy,
            text_cap,
            site.known(),
        ));

        let schema = &*self.schema;
        let panic = schema.ranks_panics()
            && *meta.level() == Level::ERROR
            && meta.target() == crate::panic::TARGET;
        schema.head(line, self.clock.now_micros(), meta.level(), panic);
        line.extend_from_slice(message);
        schema.after_message(line);
        if bridged || text_cap != policy.max_field {
            // `log` records bring arbitrary targets: capped like any value.
            push_text(line, text_cap, policy, meta.target());
        } else {
            site.target().push_to(line);
        }
        schema.after_target(line, Some(meta), (!bridged).then(|| event.metadata()));

        // Fields that would take the line past its cap are left out, and counted. The reserve
        // keeps room for that count and the closing brace.
        const RESERVE: usize = DROPPED_FIELDS_KEY.len() + 32;
        let budget = policy.max_line.saturating_sub(RESERVE);
        let mut dropped = 0usize;
        // A user field under the same key as the OpenTelemetry ids written here (a span field
        // `trace_id` next to the OTel `trace_id`) is kept as `fields.<name>`.
        #[cfg_attr(not(feature = "opentelemetry"), allow(unused_mut))]
        let mut otel_keys: Option<(&str, &str)> = None;
        let collides = |otel: Option<(&str, &str)>, name: &str| {
            otel.is_some_and(|(trace, span)| name == trace || name == span)
        };
        let mut push = |line: &mut Vec<u8>, fragment: &[u8], rename: bool| {
            let extra = if rename { COLLISION_PREFIX.len() } else { 0 };
            if line.len() + 1 + extra + fragment.len() <= budget {
                line.push(b',');
                if rename {
                    // `"name":…` → `"fields.name":…`
                    line.push(b'"');
                    line.extend_from_slice(COLLISION_PREFIX.as_bytes());
                    line.extend_from_slice(&fragment[1..]);
                } else {
                    line.extend_from_slice(fragment);
                }
            } else {
                dropped += 1;
            }
        };

        // The innermost span: its name (and OpenTelemetry ids), then its fields, which hold its
        // ancestors' too, joined in one block: copied whole unless an event field shadows one of
        // them or the line cap is near.
        let mut span_head = |line: &mut Vec<u8>, meta: &'static Metadata<'static>, id: &Id| {
            schema.span_key().push_to(line);
            callsites
                .get(meta, policy, || false)
                .quoted_name()
                .push_to(line);
            #[cfg(feature = "opentelemetry")]
            if let Some((trace, span)) = self.otel_ids(id) {
                schema.push_otel_ids(line, trace, span);
                return Some(schema.otel_names());
            }
            let _ = id;
            None
        };
        let mut span_block =
            |line: &mut Vec<u8>, stored: &SpanFields, otel_keys: Option<(&str, &str)>| {
                let block = stored.block();
                let shadows = |e: &Entry| fields.has(e.name);
                let plain = |e: &Entry| !shadows(e) && !collides(otel_keys, e.name);
                if stored.entries().all(plain) && line.len() + 1 + block.len() <= budget {
                    if !block.is_empty() {
                        line.push(b',');
                        line.extend_from_slice(block);
                    }
                } else {
                    for e in stored.entries().filter(|e| !shadows(e)) {
                        push(line, stored.fragment(e), collides(otel_keys, e.name));
                    }
                }
            };
        let view = self.view;
        let contextual = event.is_contextual();
        let copied = contextual
            && current::with_copy(view, |meta, id, stored| {
                otel_keys = span_head(line, meta, id);
                span_block(line, stored, otel_keys);
            });
        if !copied {
            let records = current::records();
            let leaf = ctx.event_span(event);
            if let Some(leaf) = &leaf {
                // Before the extensions are borrowed: the OpenTelemetry layer reads them.
                otel_keys = span_head(line, leaf.metadata(), &leaf.id());
                let mut ext = leaf.extensions();
                let current = |ext: &tracing_subscriber::registry::Extensions<'_>| {
                    ext.get::<SpanStore>()
                        .and_then(|s| s.view(view))
                        .is_some_and(SpanFields::is_fresh)
                };
                if !current(&ext) {
                    drop(ext);
                    refresh(leaf, chain, view);
                    ext = leaf.extensions();
                }
                if let Some(stored) = ext.get::<SpanStore>().and_then(|s| s.view(view)) {
                    span_block(line, stored, otel_keys);
                    if contextual {
                        current::observe(
                            view,
                            records,
                            Some((&leaf.id(), leaf.metadata(), stored)),
                        );
                    }
                }
            } else if contextual {
                current::observe(view, records, None);
            }
        }

        for e in fields.entries() {
            push(line, fields.fragment(e), collides(otel_keys, e.name));
        }
        if dropped > 0 {
            line.extend_from_slice(b",\"");
            line.extend_from_slice(DROPPED_FIELDS_KEY.as_bytes());
            line.extend_from_slice(b"\":");
            line.extend_from_slice(itoa::Buffer::new().format(dropped).as_bytes());
        }
        line.extend_from_slice(b"}\n");
    }
}

/// The per-thread scratch space: reused across events so steady-state formatting allocates nothing.
#[derive(Default)]
struct Buffers {
    line: Vec<u8>,
    message: Vec<u8>,
    fields: Rendered,
    /// The ancestors' own fields while a span's stored copy is rebuilt.
    chain: Rendered,
    callsites: Callsites,
}

impl Buffers {
    fn clear(&mut self) {
        self.line.clear();
        self.message.clear();
        self.fields.clear();
    }

    /// Drops buffers that one huge event blew up, so a thread does not hold megabytes forever.
    fn shrink(&mut self) {
        const KEEP: usize = 64 * 1024;
        for v in [&mut self.line, &mut self.message] {
            if v.capacity() > KEEP {
                *v = Vec::new();
            }
        }
        self.fields.shrink(KEEP);
        self.chain.shrink(KEEP);
    }
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

impl<S, W> Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    #[cfg(feature = "opentelemetry")]
    fn on_register_dispatch(&self, dispatch: &tracing::Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let view = self.view;
        let fields = self.render_span_fields(
            attrs.metadata(),
            |visitor| attrs.record(visitor),
            |own| {
                let Some(parent) = span.parent() else {
                    return SpanFields::new(own, None);
                };
                if let Some(stored) = parent.extensions().get::<SpanStore>() {
                    if let Some(fields) = stored.view(view) {
                        return SpanFields::new(own, Some(fields));
                    }
                }
                // The parent was created before this layer joined the registry: give it an
                // empty set that knows it has children, so its later records reach this one,
                // and take a copy that is rebuilt before first use.
                let mut ext = parent.extensions_mut();
                let store = store_mut(&mut ext);
                match store.view(view) {
                    Some(fields) => fields.adopt(),
                    None => store.set(view, SpanFields::orphan(&Rendered::default(), true)),
                }
                SpanFields::new(own, store.view(view))
            },
        );
        // One lookup: the store is usually new, and put in whole.
        let mut ext = span.extensions_mut();
        match ext.get_mut::<SpanStore>() {
            Some(store) => store.set(view, fields),
            None => ext.insert(SpanStore::of(view, fields)),
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let view = self.view;
        self.render_span_fields(
            span.metadata(),
            |visitor| values.record(visitor),
            |update| {
                if update.is_empty() {
                    return;
                }
                let mut ext = span.extensions_mut();
                let store = store_mut(&mut ext);
                match store.view_mut(view) {
                    Some(existing) => existing.record(update),
                    None => store.set(view, SpanFields::orphan(update, false)),
                }
                current::recorded();
            },
        );
    }

    fn on_enter(&self, id: &Id, _ctx: Context<'_, S>) {
        current::entered(self.view, id);
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        current::exited(self.view, id);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut bufs) => {
                self.write_event(event, &ctx, &mut bufs);
                bufs.shrink();
            }
            // Re-entered: something logged while this thread was formatting (a Debug impl that
            // logs). Use a fresh buffer rather than corrupt the one in use.
            Err(_) => self.write_event(event, &ctx, &mut Buffers::default()),
        });
    }
}

/// The span's [`SpanStore`], created on first use.
fn store_mut<'a>(
    ext: &'a mut tracing_subscriber::registry::ExtensionsMut<'_>,
) -> &'a mut SpanStore {
    if ext.get_mut::<SpanStore>().is_none() {
        ext.insert(SpanStore::default());
    }
    ext.get_mut::<SpanStore>().expect("just inserted")
}

/// Rebuilds `leaf`'s stored copy of its ancestors' fields (layer `view`'s) from their own,
/// root first.
fn refresh<'a, R>(
    leaf: &tracing_subscriber::registry::SpanRef<'a, R>,
    chain: &mut Rendered,
    view: u64,
) where
    R: LookupSpan<'a>,
{
    let at = spans::epoch();
    chain.clear();
    if let Some(parent) = leaf.parent() {
        for span in parent.scope().from_root() {
            let ext = span.extensions();
            if let Some(stored) = ext.get::<SpanStore>().and_then(|s| s.view(view)) {
                for e in stored.own() {
                    chain.push_fragment(e.name, stored.fragment(e));
                }
            }
        }
    }
    let mut ext = leaf.extensions_mut();
    let store = store_mut(&mut ext);
    match store.view_mut(view) {
        Some(stored) => stored.rebuild(chain, at),
        None => {
            let mut stored = SpanFields::default();
            stored.rebuild(chain, at);
            store.set(view, stored);
        }
    }
}

/// The span context of an event for an alert: the value of a `trace_id` field (the event's own
/// first, then the innermost span's), and the spans' flattened fields as a JSON fragment.
/// Reads what this layer stored at span creation; empty when `JsonLayer` is not in the stack.
pub(crate) fn span_context<S>(
    event: &Event<'_>,
    ctx: &Context<'_, S>,
    view: u64,
) -> (Option<String>, Option<String>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let mut trace_id = None;
    let mut context = Vec::new();
    let mut names: Vec<&'static str> = Vec::new();
    if let Some(scope) = ctx.event_scope(event) {
        for span in scope {
            let ext = span.extensions();
            let Some(rendered) = ext.get::<SpanStore>().and_then(|s| s.view(view)) else {
                continue;
            };
            for e in rendered.own() {
                if names.iter().any(|n| same_key(n, e.name)) {
                    continue;
                }
                names.push(e.name);
                let fragment = rendered.fragment(e);
                // `fields.trace_id`: the user's own, renamed where the record writes the
                // OpenTelemetry id under `trace_id` (feature `opentelemetry`).
                if trace_id.is_none() && matches!(e.name, "trace_id" | "fields.trace_id") {
                    trace_id = json_value_text(fragment);
                }
                if !context.is_empty() {
                    context.push(b',');
                }
                context.extend_from_slice(fragment);
            }
        }
    }
    let context = (!context.is_empty()).then(|| String::from_utf8_lossy(&context).into_owned());
    (trace_id, context)
}

/// The value of a `"key":value` fragment as text (strings unquoted).
fn json_value_text(fragment: &[u8]) -> Option<String> {
    let colon = fragment.iter().rposition(|&b| b == b':')?;
    // Keys are escaped, so the first `":` after the opening quote ends the key.
    let value_start = fragment
        .windows(2)
        .position(|w| w == b"\":")
        .map_or(colon + 1, |i| i + 2);
    match serde_json::from_slice::<serde_json::Value>(&fragment[value_start..]).ok()? {
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_setters_do_not_depend_on_their_order() {
        let a = JsonLayer::new(std::io::sink)
            .max_field_bytes(60_000)
            .max_line_bytes(200_000);
        let b = JsonLayer::new(std::io::sink)
            .max_line_bytes(200_000)
            .max_field_bytes(60_000);
        for layer in [a, b] {
            assert_eq!(
                (layer.policy.max_field, layer.policy.max_line),
                (60_000, 200_000)
            );
        }
        // Out of range: brought back in.
        let c = JsonLayer::new(std::io::sink)
            .max_line_bytes(10)
            .max_field_bytes(1 << 30);
        assert_eq!((c.policy.max_field, c.policy.max_line), (512, 1024));
    }
}
