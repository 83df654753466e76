//! What callers and the writer thread share: one lane per logging thread, a byte budget for all
//! of them, and the few flags that wake the writer.
//!
//! A caller appends its line to its own thread's lane under that lane's lock, which only the
//! writer ever takes besides it, once per batch; nothing on the path of an event is shared with
//! the other logging threads. Memory stays bounded by one budget for the whole writer, handed to
//! lanes in chunks so that taking from it is rare (DESIGN.md, "Why a lane per thread?").

use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering::{Acquire, Relaxed, SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::sync::{lane_local, AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Condvar, Mutex};
use super::Overflow;
use crate::diag::Counters;

/// The writer is writing or about to look at the lanes again: callers leave it alone.
pub(super) const BUSY: u8 = 0;
/// The writer looks again shortly; a caller wakes it early only when its lane holds a batch
/// worth writing, so lingering never caps throughput.
pub(super) const LINGERING: u8 = 1;
/// The writer sleeps until woken: the next line wakes it.
pub(super) const IDLE: u8 = 2;

/// How long a caller blocked for room sleeps before looking again. Room is always announced
/// (under `ctl`, by the writer's pass); the recheck is a bound on waiting should a change to that
/// protocol ever lose an announcement, which the model tests would report as a deadlock.
const ROOM_RECHECK: Duration = Duration::from_millis(100);

lane_local! {
    /// Set on writer threads: a line logged from inside a sink must not wait on its own thread.
    static ON_WRITER_THREAD: Cell<bool> = Cell::new(false);
}

lane_local! {
    /// This thread's lane in each writer it has logged to, by writer id.
    static LANES: RefCell<Vec<(u64, Arc<Lane>)>> = RefCell::new(Vec::new());
}

pub(super) fn enter_writer_thread() {
    ON_WRITER_THREAD.with(|c| c.set(true));
}

fn on_writer_thread() -> bool {
    ON_WRITER_THREAD.try_with(Cell::get).unwrap_or(false)
}

/// Writer ids, so a thread finds its lane for the writer it logs to.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// One thread's lines waiting for the writer.
#[derive(Debug, Default)]
pub(super) struct Lane {
    state: Mutex<LaneState>,
    /// Set when the writer has stopped: a thread forgets the lane at its next new lane.
    retired: AtomicBool,
    /// The capacity the buffer this lane gets back is given: twice the most the lane has held,
    /// at most the budget, until the writer goes idle. Read and written by the writer only.
    want: AtomicUsize,
    /// The lane's second buffer, swapped in when the writer takes the first: each lane keeps
    /// its own, so buffers keep the size their thread needs. Locked by the writer only.
    spare: Mutex<Vec<u8>>,
}

#[derive(Debug, Default)]
struct LaneState {
    bytes: Vec<u8>,
    /// Records in `bytes`.
    records: u64,
    /// Bytes of the budget this lane holds and has not used yet.
    credit: usize,
    /// Bytes of `bytes` paid from the budget (all but a line larger than the whole budget).
    paid: usize,
}

/// What the writer takes from the lanes in one pass.
#[derive(Debug, Default)]
pub(super) struct Taken {
    pub(super) records: u64,
    pub(super) bytes: usize,
}

pub(crate) struct Shared {
    id: u64,
    /// Every thread's lane, for the writer to visit. Locked by a thread's first line and by the
    /// writer once per pass, never per event.
    lanes: Mutex<Vec<Arc<Lane>>>,
    /// For a line logged where the thread's lane cannot be reached (while the thread's locals
    /// are being destroyed): shared by such lines. Taken before the other lanes and written
    /// after them, so that a thread's last lines, logged from its locals' destructors, follow
    /// the lines of its own lane.
    fallback: Arc<Lane>,
    /// Bytes of the budget no lane holds.
    free: AtomicUsize,
    /// The writer's state (`BUSY`, `LINGERING`, `IDLE`), read by callers after each line;
    /// written only under `ctl`.
    mode: AtomicU8,
    /// No line is accepted any more: the writer has taken its last pass or has died.
    closed: AtomicBool,
    /// Lines dropped since the writer last reported it.
    dropped_unreported: AtomicU64,
    pub(super) ctl: Mutex<Control>,
    /// The writer waits here for lines.
    pub(super) wake: Condvar,
    /// Blocked callers wait here for room.
    room: Condvar,
    /// Flushes and shutdown wait here for the writer's progress.
    pub(super) progress: Condvar,
    pub(super) capacity: usize,
    /// How much of the budget a lane takes at once.
    chunk: usize,
    overflow: Overflow,
    pub(super) counters: Arc<Counters>,
}

/// The writer's bookkeeping, changed rarely: per pass, per flush, per wake-up.
#[derive(Debug, Default)]
pub(super) struct Control {
    /// Passes over the lanes begun and finished; a flush waits for a pass begun after it.
    pub(super) begun: u64,
    pub(super) finished: u64,
    /// Someone needs the writer now (a line for an idle writer, a caller out of room).
    pub(super) kicked: bool,
    /// A flush is waiting: write what there is now, however little.
    pub(super) urgent: bool,
    pub(super) shutdown: bool,
    /// The guard's deadline, for background work the sink finishes at shutdown (compression).
    pub(super) deadline: Option<Instant>,
    pub(super) exited: bool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("capacity", &self.capacity)
            .field("overflow", &self.overflow)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(super) fn new(capacity: usize, overflow: Overflow, counters: Arc<Counters>) -> Shared {
        let capacity = capacity.max(1);
        Shared {
            id: NEXT_ID.fetch_add(1, Relaxed),
            lanes: Mutex::new(Vec::new()),
            fallback: Arc::default(),
            free: AtomicUsize::new(capacity),
            mode: AtomicU8::new(BUSY),
            closed: AtomicBool::new(false),
            dropped_unreported: AtomicU64::new(0),
            ctl: Mutex::new(Control::default()),
            wake: Condvar::new(),
            room: Condvar::new(),
            progress: Condvar::new(),
            capacity,
            chunk: (capacity / 16).clamp(1, 64 * 1024),
            overflow,
            counters,
        }
    }

    /// How much a lane gathers before it wakes a lingering writer.
    pub(super) fn gather(&self) -> usize {
        (self.capacity / 8).max(1)
    }

    /// Queues one record (one event's whole line). Never fails: what cannot be queued is counted.
    pub(crate) fn push(&self, line: &[u8]) {
        if on_writer_thread() {
            self.dropped(false);
            return;
        }
        let mut line = Some(line);
        // Fails only while this thread's locals are being destroyed: the line takes the fallback.
        let _ = LANES.try_with(|lanes| {
            let Ok(mut lanes) = lanes.try_borrow_mut() else {
                return;
            };
            let lane = match lanes.iter().position(|(id, _)| *id == self.id) {
                Some(i) => &lanes[i].1,
                None => {
                    lanes.retain(|(_, lane)| !lane.retired.load(Relaxed));
                    let Some(lane) = self.register() else {
                        line = None;
                        self.dropped(false);
                        return;
                    };
                    lanes.push((self.id, lane));
                    &lanes[lanes.len() - 1].1
                }
            };
            if let Some(line) = line.take() {
                self.push_to(lane, line);
            }
        });
        if let Some(line) = line {
            self.push_to(&self.fallback, line);
        }
    }

    /// A new lane for this thread, or `None` once the writer has stopped.
    fn register(&self) -> Option<Arc<Lane>> {
        let mut lanes = self.lanes.lock();
        // Checked under the lock the writer's last pass holds: a lane added after that pass
        // would never be read.
        if self.closed.load(SeqCst) {
            return None;
        }
        let lane = Arc::new(Lane::default());
        lanes.push(Arc::clone(&lane));
        Some(lane)
    }

    fn push_to(&self, lane: &Lane, line: &[u8]) {
        let len = line.len();
        let mut st = lane.state.lock();
        loop {
            // Under the lane's lock, which the writer's last pass takes after closing: a line
            // that finds the lane open is taken by that pass.
            if self.closed.load(SeqCst) {
                drop(st);
                self.dropped(false);
                return;
            }
            if st.credit >= len {
                st.credit -= len;
                st.paid += len;
                break;
            }
            let need = len - st.credit;
            if len > self.capacity {
                // A line larger than the whole budget could never be paid for: an empty lane
                // takes it anyway (memory: the budget plus one such line per thread).
                if st.bytes.is_empty() {
                    break;
                }
            } else if let Some(got) = self.take_budget(need) {
                st.credit += got;
                continue;
            }
            drop(st);
            if !self.overflow.is_block() {
                self.dropped(true);
                // Out of room: a lingering writer takes the lanes now rather than in 2 ms, even
                // if no lane alone holds enough to wake it.
                self.kick();
                return;
            }
            if len > self.capacity {
                self.wait_for_room(|| lane.state.lock().bytes.is_empty());
            } else {
                self.wait_for_room(|| self.free.load(SeqCst) >= need);
            }
            st = lane.state.lock();
        }
        st.bytes.extend_from_slice(line);
        st.records += 1;
        let queued = st.bytes.len();
        drop(st);
        // Read after the lane's lock is released: a writer going idle sets `IDLE` before it
        // looks at the lanes, so either it sees this line or this thread sees `IDLE`.
        match self.mode.load(SeqCst) {
            IDLE => self.kick(),
            LINGERING if queued >= self.gather() => self.kick(),
            _ => {}
        }
    }

    /// Takes at least `need` bytes of the budget, or none. A chunk while more than half the
    /// budget is free; once less is, exactly `need`, so that lanes holding credit they have not
    /// used (many threads, each with a chunk) cannot leave a thread without room while little
    /// is queued.
    fn take_budget(&self, need: usize) -> Option<usize> {
        let mut free = self.free.load(Relaxed);
        loop {
            if free < need {
                return None;
            }
            let take = if free > self.capacity / 2 {
                need.max(self.chunk).min(free)
            } else {
                need
            };
            match self
                .free
                .compare_exchange_weak(free, free - take, Acquire, Relaxed)
            {
                Ok(_) => return Some(take),
                Err(now) => free = now,
            }
        }
    }

    /// Blocks until `ready` (checked under `ctl`, which the writer takes to announce room) or
    /// the writer has stopped. Waits in steps of [`ROOM_RECHECK`], looking again after each.
    fn wait_for_room(&self, ready: impl Fn() -> bool) {
        let mut ctl = self.ctl.lock();
        while !ready() && !self.closed.load(SeqCst) {
            // Whether idle, lingering or busy, the writer is needed now.
            ctl.kicked = true;
            self.wake.notify_one();
            self.room.wait_for(&mut ctl, ROOM_RECHECK);
        }
    }

    /// Wakes the writer, whatever it is doing; a busy writer's next wait returns at once.
    pub(super) fn kick(&self) {
        let mut ctl = self.ctl.lock();
        ctl.kicked = true;
        drop(ctl);
        // Notified after unlocking: notified under the lock, the writer would be queued on the
        // mutex and handed it while still waking up.
        self.wake.notify_one();
    }

    fn dropped(&self, report: bool) {
        Counters::add(&self.counters.lines_dropped, 1);
        if report {
            self.dropped_unreported.fetch_add(1, Relaxed);
        }
    }

    pub(super) fn take_dropped(&self) -> u64 {
        self.dropped_unreported.swap(0, Relaxed)
    }

    /// Sets the writer's state; `ctl` must be held.
    pub(super) fn set_mode(&self, mode: u8) {
        self.mode.store(mode, SeqCst);
    }

    /// No more lines: what is in the lanes now is the last the writer takes.
    pub(super) fn close(&self) {
        self.closed.store(true, SeqCst);
    }

    /// Whether any lane holds a line.
    pub(super) fn anything_queued(&self) -> bool {
        let queued = |lane: &Lane| !lane.state.lock().bytes.is_empty();
        self.lanes.lock().iter().any(|lane| queued(lane)) || queued(&self.fallback)
    }

    /// Takes every lane's lines: each non-empty lane's buffer is swapped for the lane's spare
    /// (so a lane's lock is held for a swap, never a copy) and pushed onto `full` with its lane,
    /// for [`give_back`]; each lane's lines in their order. Gives their budget back; forgets the
    /// lanes of threads that ended.
    pub(super) fn take_all(&self, full: &mut Vec<(Arc<Lane>, Vec<u8>)>, retire: bool) -> Taken {
        let mut pass = Pass {
            full,
            retire,
            capacity: self.capacity,
            taken: Taken::default(),
            returned: 0,
        };
        // First, and written last: a line in it was logged after its thread's lane was last
        // appended to, so every line of that lane is in this pass or an earlier one.
        let fallback = pass.take(&self.fallback, false);
        let mut lanes = self.lanes.lock();
        lanes.retain(|lane| {
            // Held only here: its thread has ended (its locals are gone), so no line can enter
            // it any more. Checked before taking its lines, or a last line could be left behind.
            let orphan = Arc::strong_count(lane) == 1;
            if let Some(lines) = pass.take(lane, orphan) {
                pass.full.push((Arc::clone(lane), lines));
            }
            !orphan
        });
        drop(lanes);
        if let Some(lines) = fallback {
            pass.full.push((Arc::clone(&self.fallback), lines));
        }
        let (taken, returned) = (pass.taken, pass.returned);
        self.free.fetch_add(returned, SeqCst);
        if returned > 0 || taken.bytes > 0 {
            // Under `ctl`, where blocked callers check for room before they wait.
            let _ctl = self.ctl.lock();
            self.room.notify_all();
        }
        taken
    }

    /// Releases lanes' buffers above `keep` bytes: an idle service holds no large buffer.
    pub(super) fn shrink_lanes(&self, keep: usize) {
        let shrink = |lane: &Lane| {
            lane.want.store(0, Relaxed);
            let mut spare = lane.spare.lock();
            if spare.capacity() > keep {
                *spare = Vec::new();
            }
            let mut st = lane.state.lock();
            if st.bytes.is_empty() && st.bytes.capacity() > keep {
                st.bytes = Vec::new();
            }
        };
        self.lanes.lock().iter().for_each(|lane| shrink(lane));
        shrink(&self.fallback);
    }

    /// Wakes every caller waiting for room or progress: the writer is gone.
    pub(super) fn wake_all(&self) {
        self.progress.notify_all();
        self.room.notify_all();
    }

    /// Waits until every line accepted before the call is written (or counted lost), at most
    /// until `deadline`. Returns whether it got there.
    pub(crate) fn flush_until(&self, deadline: Instant) -> bool {
        let mut ctl = self.ctl.lock();
        // A pass begun after this point takes every line queued before the call.
        let target = ctl.begun + 1;
        if ctl.exited {
            // No pass will come: done if the last one left nothing behind.
            return !self.anything_queued();
        }
        while ctl.finished < target && !ctl.exited {
            ctl.urgent = true;
            ctl.kicked = true;
            // Always: flushes are rare.
            self.wake.notify_one();
            if self.progress.wait_until(&mut ctl, deadline).timed_out() {
                return ctl.finished >= target;
            }
        }
        ctl.finished >= target || !self.anything_queued()
    }
}

/// Gives a buffer the writer has written back to its lane, as the lane's next spare; a lane
/// no thread will use again keeps none.
pub(super) fn give_back(lane: &Arc<Lane>, mut lines: Vec<u8>) {
    // Held by `full` alone once the pass has forgotten it.
    if !lane.retired.load(Relaxed) && Arc::strong_count(lane) > 1 {
        lines.clear();
        *lane.spare.lock() = lines;
    }
}

/// One pass of the writer over the lanes.
struct Pass<'a> {
    full: &'a mut Vec<(Arc<Lane>, Vec<u8>)>,
    retire: bool,
    capacity: usize,
    taken: Taken,
    /// Budget given back by the lanes.
    returned: usize,
}

impl Pass<'_> {
    /// Takes `lane`'s lines, if it has any.
    fn take(&mut self, lane: &Lane, orphan: bool) -> Option<Vec<u8>> {
        let done = orphan || self.retire;
        // The buffer the lane gets back, prepared before its lock is taken: room for what the
        // lane has needed, so that in a steady state callers never grow it. A lane that no
        // thread will use again gets none.
        let mut spare = std::mem::take(&mut *lane.spare.lock());
        if done {
            spare = Vec::new();
        } else {
            spare.reserve(lane.want.load(Relaxed));
        }
        let mut st = lane.state.lock();
        self.returned += std::mem::take(&mut st.credit) + std::mem::take(&mut st.paid);
        if self.retire {
            lane.retired.store(true, Relaxed);
        }
        if st.bytes.is_empty() {
            if done {
                st.bytes = Vec::new();
            }
            drop(st);
            *lane.spare.lock() = spare;
            return None;
        }
        std::mem::swap(&mut st.bytes, &mut spare);
        self.taken.records += std::mem::take(&mut st.records);
        drop(st);
        let want = (2 * spare.len()).max(spare.capacity()).min(self.capacity);
        lane.want.fetch_max(want, Relaxed);
        self.taken.bytes += spare.len();
        Some(spare)
    }
}
