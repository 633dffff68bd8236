//! [`WaitReason`]: why a goroutine parks, in Go's words.
//!
//! Go: `runtime.waitReason` and its `waitReasonStrings`.

use std::fmt;

/// Why a goroutine is parked, in Go's words (`runtime.waitReason`).
///
/// The [`Display`](fmt::Display) form is exactly the text Go prints in a
/// goroutine traceback header, e.g. `chan receive`.
///
/// ```
/// use goro_hook::WaitReason;
/// assert_eq!(WaitReason::ChanReceive.to_string(), "chan receive");
/// assert_eq!(WaitReason::Select.as_str(), "select");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitReason {
    /// Blocked sending on a channel.
    ChanSend,
    /// Blocked receiving from a channel.
    ChanReceive,
    /// Blocked forever sending on a nil channel.
    ChanSendNilChan,
    /// Blocked forever receiving from a nil channel.
    ChanReceiveNilChan,
    /// Blocked in a `select!` with at least one case.
    Select,
    /// Blocked forever in `select! {}`.
    SelectNoCases,
    /// `sync.Mutex.Lock`.
    MutexLock,
    /// `sync.RWMutex.RLock`.
    RwMutexRLock,
    /// `sync.RWMutex.Lock`.
    RwMutexLock,
    /// `sync.WaitGroup.Wait`.
    WaitGroupWait,
    /// `sync.Cond.Wait`.
    CondWait,
    /// `sync.Once.Do` (waiting for another caller's function to finish).
    OnceDo,
    /// `time.Sleep`.
    Sleep,
    /// Waiting for a socket to become ready.
    IoWait,
    /// Awaiting a goroutine's `JoinHandle`.
    JoinWait,
    /// Awaiting a future that did not say why it is pending.
    FutureWait,
}

impl WaitReason {
    /// Every reason, in declaration order (`ALL[r.as_u8() as usize] == r`).
    const ALL: [WaitReason; 16] = [
        WaitReason::ChanSend,
        WaitReason::ChanReceive,
        WaitReason::ChanSendNilChan,
        WaitReason::ChanReceiveNilChan,
        WaitReason::Select,
        WaitReason::SelectNoCases,
        WaitReason::MutexLock,
        WaitReason::RwMutexRLock,
        WaitReason::RwMutexLock,
        WaitReason::WaitGroupWait,
        WaitReason::CondWait,
        WaitReason::OnceDo,
        WaitReason::Sleep,
        WaitReason::IoWait,
        WaitReason::JoinWait,
        WaitReason::FutureWait,
    ];

    /// Go's text for this wait reason.
    ///
    /// ```
    /// assert_eq!(goro_hook::WaitReason::MutexLock.as_str(), "sync.Mutex.Lock");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSendNilChan => "chan send (nil chan)",
            WaitReason::ChanReceiveNilChan => "chan receive (nil chan)",
            WaitReason::Select => "select",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::MutexLock => "sync.Mutex.Lock",
            WaitReason::RwMutexRLock => "sync.RWMutex.RLock",
            WaitReason::RwMutexLock => "sync.RWMutex.Lock",
            WaitReason::WaitGroupWait => "sync.WaitGroup.Wait",
            WaitReason::CondWait => "sync.Cond.Wait",
            WaitReason::OnceDo => "sync.Once.Do",
            WaitReason::Sleep => "sleep",
            WaitReason::IoWait => "IO wait",
            WaitReason::JoinWait => "join wait",
            WaitReason::FutureWait => "future wait",
        }
    }

    /// A compact code for this reason, for an executor that stores wait
    /// states in an atomic cell; [`from_u8`](Self::from_u8) inverts it.
    ///
    /// ```
    /// use goro_hook::WaitReason;
    /// let r = WaitReason::CondWait;
    /// assert_eq!(WaitReason::from_u8(r.as_u8()), Some(r));
    /// ```
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The reason whose [`as_u8`](Self::as_u8) is `v`, if any.
    ///
    /// ```
    /// assert_eq!(goro_hook::WaitReason::from_u8(u8::MAX), None);
    /// ```
    pub fn from_u8(v: u8) -> Option<WaitReason> {
        Self::ALL.get(usize::from(v)).copied()
    }
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::WaitReason;

    #[test]
    fn wait_reason_round_trips_through_u8() {
        for r in WaitReason::ALL {
            assert_eq!(WaitReason::from_u8(r.as_u8()), Some(r));
        }
        assert_eq!(WaitReason::from_u8(WaitReason::ALL.len() as u8), None);
    }
}
