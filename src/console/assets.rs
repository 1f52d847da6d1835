//! The console's static files, embedded in the binary (a fresh clone's `cargo build`
//! produces the whole console; nothing is read from disk or fetched at run time).
//! htmx and its SSE extension are vendored from the npm registry, pinned (licences
//! beside them in `assets/`).

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// `(name, content type, bytes)` of every asset served under `/assets/`.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "htmx-2.0.4.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/htmx-2.0.4.min.js"),
    ),
    (
        "htmx-ext-sse-2.2.2.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/htmx-ext-sse-2.2.2.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/console.css"),
    ),
];

/// `GET /assets/{file}`: an embedded asset, cacheable for a day (names carry versions).
pub async fn serve(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
