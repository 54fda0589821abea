//! Handlers: plain async functions whose arguments are extractors and whose result is
//! anything `IntoResponse`, type-erased into `Endpoint`s the router can store.
//!
//! `Handler` is implemented for functions of zero to twelve extractor arguments. Extractors run
//! in argument order and may await; the first rejection answers the request. A handler's
//! future need not be `Send`: it runs on the worker that owns the connection.

use super::context::RequestContext;
use super::extract::FromRequest;
use super::response::IntoResponse;
use crate::http::Response;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, not-necessarily-`Send` future of a response.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Response>>>;

/// A type-erased request handler: what routes and middleware store.
pub type Endpoint<S> = Arc<dyn Fn(RequestContext<S>) -> ResponseFuture + Send + Sync>;

/// An async function usable as a route handler. `T` is the tuple of its extractor types.
pub trait Handler<T, S>: Clone + Send + Sync + Sized + 'static {
    fn call(&self, cx: RequestContext<S>) -> ResponseFuture;

    /// Erases the handler's type.
    fn into_endpoint(self) -> Endpoint<S>
    where
        S: 'static,
    {
        Arc::new(move |cx| self.call(cx))
    }
}

macro_rules! impl_handler {
    ($($extractor:ident),*) => {
        #[allow(non_snake_case, unused_mut, unused_variables)]
        impl<S, F, Fut, R, $($extractor,)*> Handler<($($extractor,)*), S> for F
        where
            S: 'static,
            F: Fn($($extractor),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + 'static,
            R: IntoResponse,
            $($extractor: FromRequest<S> + 'static,)*
        {
            fn call(&self, mut cx: RequestContext<S>) -> ResponseFuture {
                let handler = self.clone();
                Box::pin(async move {
                    $(
                        let $extractor = match $extractor::from_request(&mut cx).await {
                            Ok(value) => value,
                            Err(rejection) => return rejection.into_response(),
                        };
                    )*
                    drop(cx);
                    handler($($extractor),*).await.into_response()
                })
            }
        }
    };
}

impl_handler!();
impl_handler!(T1);
impl_handler!(T1, T2);
impl_handler!(T1, T2, T3);
impl_handler!(T1, T2, T3, T4);
impl_handler!(T1, T2, T3, T4, T5);
impl_handler!(T1, T2, T3, T4, T5, T6);
impl_handler!(T1, T2, T3, T4, T5, T6, T7);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12);
