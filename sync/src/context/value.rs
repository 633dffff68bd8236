//! `with_value`: request-scoped values keyed by type (Go: `valueCtx`).

use std::any::{type_name, Any, TypeId};
use std::sync::Arc;

use super::{Context, Repr};

/// A key type for [`with_value`]: the type itself is the key (Go uses a
/// key *value* of an unexported type for the same purpose), and `Value` is
/// the type stored under it, so a lookup needs no cast.
///
/// ```
/// use goro_sync::context::{self, Key};
/// struct User;
/// impl Key for User { type Value = String; }
/// let ctx = context::with_value(&context::background(), User, "gopher".to_string());
/// assert_eq!(ctx.value::<User>().map(String::as_str), Some("gopher"));
/// ```
pub trait Key: Send + Sync + 'static {
    /// The type of the value stored under this key.
    type Value: Send + Sync + 'static;
}

/// A context with one value (Go: `valueCtx`). `V` is unsized
/// (`dyn Any + Send + Sync`) once stored, so the value lives in the same
/// allocation as the node.
pub(super) struct ValueCtx<V: ?Sized> {
    pub(super) parent: Context,
    pub(super) key: TypeId,
    pub(super) key_name: &'static str,
    pub(super) value_name: &'static str,
    pub(super) value: V,
}

/// A child of `parent` carrying `value` under key type `K`; lookups with
/// [`Context::value`] find the nearest one (Go: `context.WithValue`). The
/// child is done exactly when `parent` is.
///
/// ```
/// use goro_sync::context::{self, Key};
/// struct Depth;
/// impl Key for Depth { type Value = u32; }
/// let a = context::with_value(&context::background(), Depth, 1);
/// let b = context::with_value(&a, Depth, 2);
/// assert_eq!((a.value::<Depth>(), b.value::<Depth>()), (Some(&1), Some(&2)));
/// ```
pub fn with_value<K: Key>(parent: &Context, key: K, value: K::Value) -> Context {
    drop(key);
    let node: Arc<ValueCtx<dyn Any + Send + Sync>> = Arc::new(ValueCtx {
        parent: parent.clone(),
        key: TypeId::of::<K>(),
        key_name: type_name::<K>(),
        value_name: type_name::<K::Value>(),
        value,
    });
    Context {
        repr: Repr::Value(node),
    }
}
