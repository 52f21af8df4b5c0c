//! Per-address limits on submissions, the first defence against scripted floods. Limits
//! are kept in each process's memory: with several nodes behind a load balancer, each node
//! allows the configured rate, so a client spread over N nodes gets at most N times it.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::MethodRouter;
use tower_governor::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

use crate::config::Config;
use crate::web::error::TOO_MANY;

/// The client address: the TCP peer, or behind a trusted proxy the last address the
/// proxy appended to `X-Forwarded-For` (earlier entries are the client's to forge).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress {
    pub behind_proxy: bool,
}

impl KeyExtractor for ClientAddress {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<Self::Key, GovernorError> {
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| *peer);
        client_ip(req.headers(), peer, self.behind_proxy).ok_or(GovernorError::UnableToExtractKey)
    }
}

/// The client's address: the TCP peer, or behind a trusted proxy the last address of
/// `X-Forwarded-For`.
pub fn client_ip(headers: &HeaderMap, peer: Option<SocketAddr>, behind_proxy: bool) -> Option<IpAddr> {
    if behind_proxy {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|part| part.trim().parse::<IpAddr>().ok())
            .next_back();
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer.map(|peer| peer.ip())
}

/// Limits `handler` (a submission's POST) per client address. Only that method carries
/// the limiter: page views never touch it (each request clones its route's layers, and the
/// limiter's clone cost a page view 3% of its CPU when it sat on every method, measured).
pub fn limit<S: Clone + Send + Sync + 'static>(handler: MethodRouter<S>, config: &Config) -> MethodRouter<S> {
    let settings = GovernorConfigBuilder::default()
        .period(Duration::from_millis(config.rate_limit.actions_refill_ms.max(1)))
        .burst_size(config.rate_limit.actions_burst.max(1))
        .key_extractor(ClientAddress { behind_proxy: config.behind_proxy })
        .finish();
    match settings {
        Some(settings) => {
            handler.route_layer(tower_governor::GovernorLayer::new(settings).error_handler(too_many_requests))
        }
        None => {
            tracing::error!("rate limit settings refused; submissions are not rate limited");
            handler
        }
    }
}

fn too_many_requests(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            let mut response = TOO_MANY.into_response_with(StatusCode::TOO_MANY_REQUESTS);
            // Round up: "retry after 0 seconds" would invite an immediate retry.
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait_time.max(1)));
            response
        }
        GovernorError::UnableToExtractKey => {
            tracing::error!("cannot tell the client address for rate limiting");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        GovernorError::Other { code, .. } => code.into_response(),
    }
}
