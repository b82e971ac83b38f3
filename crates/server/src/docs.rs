//! `/docs`: the interactive API reference (Swagger UI) over `/openapi.json`.
//!
//! The renderer is the npm package `swagger-ui-dist` (Apache-2.0), its files
//! committed under `crates/server/assets/swagger-ui/` with their licence and
//! refreshed by `scripts/refresh-swagger-ui`; they are compiled into the binary
//! here, so the page needs no CDN and nothing is downloaded at build or run
//! time.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Path of the reference page.
pub const DOCS_PATH: &str = "/docs";

const BUNDLE_JS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js");
const UI_CSS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui.css");
const LICENSE: &[u8] = include_bytes!("../assets/swagger-ui/LICENSE");

/// The page: Swagger UI pointed at `/openapi.json`, script and style from this site.
const INDEX_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>einvoice API reference</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"#;

/// Start-up script (a file of its own so the page needs no inline script).
const INIT_JS: &str = r##"window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  tryItOutEnabled: false
});
"##;

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// The `/docs` routes (the page and the renderer's files).
pub fn routes() -> Router {
    Router::new()
        .route(
            DOCS_PATH,
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML.as_bytes()) }),
        )
        .route(
            "/docs/init.js",
            get(|| async { asset("text/javascript; charset=utf-8", INIT_JS.as_bytes()) }),
        )
        .route(
            "/docs/swagger-ui-bundle.js",
            get(|| async { asset("text/javascript; charset=utf-8", BUNDLE_JS) }),
        )
        .route(
            "/docs/swagger-ui.css",
            get(|| async { asset("text/css; charset=utf-8", UI_CSS) }),
        )
        .route(
            "/docs/LICENSE",
            get(|| async { asset("text/plain; charset=utf-8", LICENSE) }),
        )
}
