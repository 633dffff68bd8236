//! `into_case!`: turning a `select!` operand into a case by autoref
//! specialisation on its type.
//!
//! # Design
//!
//! The operand is wrapped in [`Wrap`] and the macro calls
//! `(&wrap).__goro_case_kind()`. Method lookup tries the receiver type
//! `&Wrap<E>` first, where [`ChanKind`] is implemented for every `Wrap<E>`
//! with `E: IntoChanCase` (a `Recv` or `Send` future, a `&Chan`, a
//! `&Receiver`, `&&` of those, or an owned `Chan`/`Receiver`); only if that
//! fails does it autoref to `&&Wrap<E>`, where [`FutureKind`] applies to
//! everything. The returned zero-sized tag then converts the operand by value.
//! An operand that is neither gets the [`FutureOperand`] error, which names
//! its type.

use std::future::Future;

use super::chan_case::{ChanRef, RecvCase, SendCase};
use super::future_case::FutureCase;
use crate::{Chan, Receiver, Recv, Send};

/// Wraps an operand for autoref specialisation.
#[doc(hidden)]
#[derive(Debug)]
pub struct Wrap<E>(pub E);

/// An operand that is a channel case.
#[doc(hidden)]
pub trait IntoChanCase {
    /// The case type.
    type Case;
    /// Builds the case.
    fn into_chan_case(self) -> Self::Case;
}

impl<'a, T> IntoChanCase for Recv<'a, T> {
    type Case = RecvCase<'a, T>;
    #[inline]
    fn into_chan_case(self) -> RecvCase<'a, T> {
        let (chan, _at) = self.into_parts();
        RecvCase::new(ChanRef::borrowed(chan))
    }
}

impl<'a, T> IntoChanCase for Send<'a, T> {
    type Case = SendCase<'a, T>;
    #[inline]
    fn into_chan_case(self) -> SendCase<'a, T> {
        let (chan, _at, v) = self.into_parts();
        SendCase::new(chan, v)
    }
}

impl<'a, T> IntoChanCase for &'a Chan<T> {
    type Case = RecvCase<'a, T>;
    #[inline]
    fn into_chan_case(self) -> RecvCase<'a, T> {
        self.hchan();
        RecvCase::new(ChanRef::borrowed(self))
    }
}

impl<'a, T> IntoChanCase for &'a Receiver<T> {
    type Case = RecvCase<'a, T>;
    #[inline]
    fn into_chan_case(self) -> RecvCase<'a, T> {
        self.chan().hchan();
        RecvCase::new(ChanRef::borrowed(self.chan()))
    }
}

/// `&&rx`, `&&&rx`, ...: a reference to a reference is the same operand.
impl<'a, 'b: 'a, X: ?Sized> IntoChanCase for &'a &'b X
where
    &'a X: IntoChanCase,
{
    type Case = <&'a X as IntoChanCase>::Case;
    #[inline]
    fn into_chan_case(self) -> Self::Case {
        let inner: &'a X = self;
        inner.into_chan_case()
    }
}

impl<T: 'static> IntoChanCase for Chan<T> {
    type Case = RecvCase<'static, T>;
    #[inline]
    fn into_chan_case(self) -> RecvCase<'static, T> {
        RecvCase::new(match self.into_inner() {
            Some(h) => ChanRef::Owned(h),
            None => ChanRef::Nil,
        })
    }
}

impl<T: 'static> IntoChanCase for Receiver<T> {
    type Case = RecvCase<'static, T>;
    #[inline]
    fn into_chan_case(self) -> RecvCase<'static, T> {
        self.chan().clone().into_chan_case()
    }
}

/// Tag: the operand is a channel case.
#[doc(hidden)]
#[derive(Debug)]
pub struct ChanTag;

impl ChanTag {
    /// Builds the channel case.
    #[inline]
    pub fn __goro_into_case<E: IntoChanCase>(self, e: E) -> E::Case {
        e.into_chan_case()
    }
}

/// First-priority lookup: channel operands.
#[doc(hidden)]
pub trait ChanKind {
    /// The tag.
    fn __goro_case_kind(&self) -> ChanTag {
        ChanTag
    }
}

impl<E: IntoChanCase> ChanKind for Wrap<E> {}

/// An operand that can be a future case.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a select! case",
    label = "expected a channel receive (`ch.recv()`, a channel, a receiver), a send (`ch.send(v)`), or a future",
    note = "a channel used as a receive case must be a path (`rx`) or a reference (`&rx`)"
)]
pub trait FutureOperand: Future {}

impl<F: Future> FutureOperand for F {}

/// Tag: the operand is a future case.
#[doc(hidden)]
#[derive(Debug)]
pub struct FutureTag;

impl FutureTag {
    /// Builds the future case.
    pub fn __goro_into_case<F: FutureOperand>(self, f: F) -> FutureCase<F> {
        FutureCase::new(f)
    }
}

/// Second-priority lookup: anything else (must be a future).
#[doc(hidden)]
pub trait FutureKind {
    /// The tag.
    fn __goro_case_kind(&self) -> FutureTag {
        FutureTag
    }
}

impl<E> FutureKind for &Wrap<E> {}

/// Turns a `select!` operand into a case (see [`crate::select`]).
///
/// `Recv` future, `&Chan`, `&Receiver` (also `&&`, or owned) -> receive case;
/// `Send` future -> send case; any other future -> future case.
///
/// ```
/// use goro_chan::select::{RecvCase, SendCase, FutureCase};
/// let ch = goro_chan::make::<i32>(1);
/// let _: RecvCase<'_, i32> = goro_chan::select::into_case!(ch.recv());
/// let _: RecvCase<'_, i32> = goro_chan::select::into_case!(&ch);
/// let _: RecvCase<'_, i32> = goro_chan::select::into_case!(&&&ch);
/// let _: RecvCase<'_, i32> = goro_chan::select::into_case!(ch.receiver());
/// let _: SendCase<'_, i32> = goro_chan::select::into_case!(ch.send(1));
/// let _: FutureCase<_> = goro_chan::select::into_case!(async { 1 });
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! __into_case {
    ($e:expr $(,)?) => {
        match $crate::select::__spec::Wrap($e) {
            __goro_wrapped => {
                #[allow(unused_imports)]
                use $crate::select::__spec::{ChanKind as _, FutureKind as _};
                let __goro_kind = (&__goro_wrapped).__goro_case_kind();
                __goro_kind.__goro_into_case(__goro_wrapped.0)
            }
        }
    };
}
